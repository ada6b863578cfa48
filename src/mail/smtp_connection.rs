//! The SMTP server of `SMTP_URL` and one connection to it that the mail outbox
//! reuses for every mail of a run.
//!
//! lettre's own transport opens its sockets with Nagle's algorithm on and writes
//! a message's body and its closing `.` in two writes: the second then waits for
//! the server's delayed ACK, 40 ms on Linux, so every mail cost 40 ms whatever the
//! server's speed (23 mails/s against a local sink; fixed upstream in lettre
//! pull request 1159, not released in 0.11.23). So the socket is opened here, with
//! `TCP_NODELAY`, and handed to lettre's SMTP client, which still does the
//! conversation, STARTTLS, implicit TLS and authentication. The URL means what it
//! means to lettre's `from_url`: `smtp://` plain (port 25), `?tls=required` or
//! `?tls=opportunistic` STARTTLS (port 587), `smtps://` implicit TLS (port 465),
//! user and password percent-decoded, a path as the EHLO name.

use std::{net::SocketAddr, pin::Pin, task::Poll};

// `AsyncNetworkStream` is public but deprecated ("not meant to be made public"):
// it is the one way to run lettre's own TLS over a socket opened here. When a
// lettre release sets TCP_NODELAY itself, this module goes.
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::{
    authentication::{Credentials, Mechanism},
    client::{AsyncSmtpConnection, AsyncTokioStream, Tls, TlsParameters},
    extension::ClientId,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

/// lettre's default ports for each way of connecting.
const SMTP_PORT: u16 = 25;
const SUBMISSION_PORT: u16 = 587;
const SUBMISSIONS_PORT: u16 = 465;

/// Why no connection was made.
#[derive(Debug)]
pub enum ConnectError {
    /// The server could not be reached.
    Unreachable(std::io::Error),
    /// The server answered, then refused (or TLS or authentication failed).
    Refused(lettre::transport::smtp::Error),
}

impl From<lettre::transport::smtp::Error> for ConnectError {
    fn from(error: lettre::transport::smtp::Error) -> ConnectError {
        ConnectError::Refused(error)
    }
}

/// Where mail goes and how to reach it.
pub struct SmtpServer {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello_name: ClientId,
}

impl std::fmt::Debug for SmtpServer {
    /// Never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl SmtpServer {
    /// The server of an `SMTP_URL`; `None` when it is not one. The caller's error
    /// must not quote the URL (it holds the password).
    pub fn from_url(url: &str) -> Option<SmtpServer> {
        let url = url::Url::parse(url).ok()?;
        let host = url.host_str()?.to_string();
        let tls_mode = url
            .query_pairs()
            .find(|(name, _)| name == "tls")
            .map(|(_, value)| value.into_owned());
        let parameters = || TlsParameters::new(host.clone()).ok();
        let (default_port, tls) = match (url.scheme(), tls_mode.as_deref()) {
            ("smtp", None) => (SMTP_PORT, Tls::None),
            ("smtp", Some("required")) => (SUBMISSION_PORT, Tls::Required(parameters()?)),
            ("smtp", Some("opportunistic")) => (SUBMISSION_PORT, Tls::Opportunistic(parameters()?)),
            ("smtps", _) => (SUBMISSIONS_PORT, Tls::Wrapper(parameters()?)),
            _ => return None,
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .ok()
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let hello_name = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Some(SmtpServer {
            port: url.port().unwrap_or(default_port),
            host,
            tls,
            credentials,
            hello_name,
        })
    }

    /// A connection, greeted, encrypted as the URL asks and signed in.
    pub async fn connect(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        let socket = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(ConnectError::Unreachable)?;
        socket
            .set_nodelay(true)
            .map_err(ConnectError::Unreachable)?;
        let mut connection = match &self.tls {
            Tls::Wrapper(parameters) => {
                // Implicit TLS: encrypted before the greeting, by lettre's own TLS.
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(socket));
                stream.upgrade_tls(parameters.clone()).await?;
                let encrypted = Encrypted(stream.compat());
                AsyncSmtpConnection::connect_with_transport(Box::new(encrypted), &self.hello_name)
                    .await?
            }
            _ => {
                AsyncSmtpConnection::connect_with_transport(Box::new(socket), &self.hello_name)
                    .await?
            }
        };
        match &self.tls {
            Tls::Required(parameters) => {
                connection
                    .starttls(parameters.clone(), &self.hello_name)
                    .await?
            }
            Tls::Opportunistic(parameters) if connection.can_starttls() => {
                connection
                    .starttls(parameters.clone(), &self.hello_name)
                    .await?
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(connection)
    }
}

/// A TLS stream (lettre's, over our socket) seen as the plain stream lettre's
/// SMTP client reads and writes.
#[allow(deprecated)]
struct Encrypted(Compat<AsyncNetworkStream>);

impl std::fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encrypted")
    }
}

impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.get_ref().peer_addr()
    }
}

impl AsyncRead for Encrypted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Encrypted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_means_what_it_means_to_lettre() {
        let plain = SmtpServer::from_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 2525));
        assert!(matches!(plain.tls, Tls::None));
        assert!(plain.credentials.is_none());

        let starttls = SmtpServer::from_url("smtp://mail.example.com?tls=required").unwrap();
        assert_eq!(starttls.port, SUBMISSION_PORT);
        assert!(matches!(starttls.tls, Tls::Required(_)));
        let maybe = SmtpServer::from_url("smtp://mail.example.com?tls=opportunistic").unwrap();
        assert!(matches!(maybe.tls, Tls::Opportunistic(_)));

        let implicit = SmtpServer::from_url(
            "smtps://mailer%40example.com:p%40ss@mail.example.com/panel.example",
        )
        .unwrap();
        assert_eq!(implicit.port, SUBMISSIONS_PORT);
        assert!(matches!(implicit.tls, Tls::Wrapper(_)));
        assert_eq!(
            implicit.credentials,
            Some(Credentials::new("mailer@example.com".into(), "p@ss".into()))
        );
        assert_eq!(
            implicit.hello_name,
            ClientId::Domain("panel.example".into())
        );
        assert_eq!(SmtpServer::from_url("smtp://h").unwrap().port, SMTP_PORT);
    }

    #[test]
    fn anything_else_is_refused_and_the_password_is_never_shown() {
        for url in [
            "http://mail.example.com",
            "smtp://mail.example.com?tls=sometimes",
            "smtp:///no-host",
            "not a url",
        ] {
            assert!(SmtpServer::from_url(url).is_none(), "{url}");
        }
        let server = SmtpServer::from_url("smtp://user:hunter2@mail.example.com").unwrap();
        let shown = format!("{server:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("user"),
            "{shown}"
        );
    }
}
