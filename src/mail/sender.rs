//! The SMTP client: turns an outbox row into a MIME message and sends it over one
//! connection to the server of `SMTP_URL` (`smtp_connection.rs`), kept open for
//! the next mail and opened again after a failure, and reports whether a failure
//! is worth retrying. Nothing here knows the outbox's schedule; the job decides
//! when to try again.

use std::time::Duration;

use lettre::{
    Message,
    message::{
        Mailbox, MultiPart,
        header::{ContentType, HeaderName, HeaderValue},
    },
    transport::smtp::client::AsyncSmtpConnection,
};

use super::smtp_connection::{ConnectError, SmtpServer};
use crate::{config::MailConfig, db::mail_outbox::MailRow};

/// Longest error text kept in `mail_outbox.last_error` and in logs.
const MAX_ERROR_CHARS: usize = 300;

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The server was unreachable or answered 4xx: try again later.
    Transient(String),
    /// The server refused the mail (5xx) or the mail cannot be built: never retry.
    Permanent(String),
}

impl SendError {
    pub fn message(&self) -> &str {
        match self {
            SendError::Transient(m) | SendError::Permanent(m) => m,
        }
    }

    fn transient(text: &str) -> SendError {
        SendError::Transient(bounded(text))
    }
}

impl From<ConnectError> for SendError {
    /// An unreachable server is worth trying again later; a refusal is judged
    /// like any answer.
    fn from(error: ConnectError) -> SendError {
        match error {
            ConnectError::Unreachable(error) => SendError::transient(&error.to_string()),
            ConnectError::Refused(error) => SendError::from(error),
        }
    }
}

impl From<lettre::transport::smtp::Error> for SendError {
    /// A 5xx answer is permanent; anything else (4xx, the network, TLS) may pass.
    fn from(error: lettre::transport::smtp::Error) -> SendError {
        let text = bounded(&error.to_string());
        if error.is_permanent() {
            SendError::Permanent(text)
        } else {
            SendError::Transient(text)
        }
    }
}

pub struct SmtpSender {
    server: SmtpServer,
    /// How long one mail may take, connecting included (`SMTP_TIMEOUT_SECONDS`).
    timeout: Duration,
    /// The open connection between two mails; `None` before the first and after
    /// a failure.
    connection: tokio::sync::Mutex<Option<AsyncSmtpConnection>>,
    from: Mailbox,
    /// The right-hand side of Message-IDs, from `MAIL_FROM`.
    message_domain: String,
}

impl SmtpSender {
    /// The sender for `config`, or `None` when no SMTP server is configured. The
    /// error never quotes `SMTP_URL` (it holds the password).
    pub fn from_config(config: &MailConfig) -> anyhow::Result<Option<SmtpSender>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let server = SmtpServer::from_url(url.expose())
            .ok_or_else(|| anyhow::anyhow!("SMTP_URL is not a usable SMTP URL"))?;
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| anyhow::anyhow!("MAIL_FROM is not a mail address"))?;
        let message_domain = from.email.domain().to_string();
        Ok(Some(SmtpSender {
            server,
            timeout: config.smtp_timeout,
            connection: tokio::sync::Mutex::new(None),
            from,
            message_domain,
        }))
    }

    /// Sends one queued mail. Its Message-ID is derived from the outbox row, so a
    /// mail re-sent after a crash between the server's acceptance and the row's
    /// update carries the same id and receiving systems can drop the copy.
    pub async fn send(&self, mail: &MailRow) -> Result<(), SendError> {
        let message = self.build(mail)?;
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        let mut slot = self.connection.lock().await;
        // The connection is taken out for the attempt: one that timed out mid-way
        // is dropped with it, never reused in an unknown state.
        let open = slot.take().filter(|connection| !connection.has_broken());
        let attempt = async {
            let mut connection = match open {
                Some(connection) => connection,
                None => self.server.connect().await?,
            };
            connection.send(&envelope, &bytes).await?;
            Ok::<_, SendError>(connection)
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(connection)) => {
                *slot = Some(connection);
                Ok(())
            }
            Ok(Err(error)) => Err(error),
            Err(_) => Err(SendError::transient(
                "the SMTP server did not answer in time",
            )),
        }
    }

    /// Says goodbye (`QUIT`) on the open connection, if any.
    pub async fn close(&self) {
        if let Some(mut connection) = self.connection.lock().await.take() {
            let _ = tokio::time::timeout(self.timeout, connection.quit()).await;
        }
    }

    fn build(&self, mail: &MailRow) -> Result<Message, SendError> {
        let to: Mailbox = mail
            .to_address
            .parse()
            .map_err(|_| SendError::Permanent("the recipient is not a mail address".into()))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!(
                "<outbox-{}-{}@{}>",
                mail.id,
                mail.created_at.timestamp(),
                self.message_domain
            )))
            .date_now();
        let builder = with_list_unsubscribe(builder, mail.list_unsubscribe.as_deref());
        let built = match &mail.html_body {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text_body.clone(),
                html.clone(),
            )),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text_body.clone()),
        };
        built.map_err(|error| SendError::Permanent(bounded(&error.to_string())))
    }
}

/// RFC 2369 / RFC 8058 list headers (checked at compile time).
const LIST_UNSUBSCRIBE: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe");
const LIST_UNSUBSCRIBE_POST: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe-Post");

/// A list mail's one-click unsubscribe headers: `List-Unsubscribe: <url>` and
/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), so mailbox
/// providers offer their own unsubscribe button, which POSTs to the URL.
fn with_list_unsubscribe(
    builder: lettre::message::MessageBuilder,
    url: Option<&str>,
) -> lettre::message::MessageBuilder {
    match url {
        Some(url) => builder
            .raw_header(HeaderValue::new(LIST_UNSUBSCRIBE, format!("<{url}>")))
            .raw_header(HeaderValue::new(
                LIST_UNSUBSCRIBE_POST,
                "List-Unsubscribe=One-Click".into(),
            )),
        None => builder,
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}
