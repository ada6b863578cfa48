//! An SMTP server on 127.0.0.1 that keeps what it receives: the real conversation
//! (greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT),
//! so the mail outbox is tested through lettre's own client. It can refuse the next
//! N messages with a transient `451` after DATA, as a mail server that is down or
//! overloaded would.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

/// One message as the sink accepted it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The whole message (headers and body), CRLF line ends, dot-unstuffed.
    pub data: String,
}

impl ReceivedMail {
    /// The value of a header (first occurrence, unfolded only on one line).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .split("\r\n")
            .take_while(|line| !line.is_empty())
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_string())
    }
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    refusals: Arc<AtomicUsize>,
    /// Messages refused so far.
    refused: Arc<AtomicUsize>,
    /// Connections accepted so far.
    connections: Arc<AtomicUsize>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            refusals: Arc::default(),
            refused: Arc::default(),
            connections: Arc::default(),
        };
        let served = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                served.connections.fetch_add(1, Ordering::SeqCst);
                let session = served.clone();
                tokio::spawn(async move {
                    let _ = session.converse(stream).await;
                });
            }
        });
        sink
    }

    /// `SMTP_URL` for this sink (plain SMTP, no authentication).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The next `count` messages are refused with `451` after their DATA.
    pub fn refuse_next(&self, count: usize) {
        self.refusals.store(count, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().unwrap().clone()
    }

    /// Waits up to `timeout` until at least `count` messages arrived.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn converse(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
        let mut from = String::new();
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_string();
            let verb = command
                .split([' ', ':'])
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" => {
                    write
                        .write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                        .await?
                }
                "HELO" => write.write_all(b"250 sink.test\r\n").await?,
                "MAIL" => {
                    from = between_angles(&command);
                    to.clear();
                    write.write_all(b"250 2.1.0 ok\r\n").await?;
                }
                "RCPT" => {
                    to.push(between_angles(&command));
                    write.write_all(b"250 2.1.5 ok\r\n").await?;
                }
                "DATA" => {
                    write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        let content = line.trim_end_matches(['\r', '\n']);
                        if content == "." {
                            break;
                        }
                        data.push_str(content.strip_prefix('.').unwrap_or(content));
                        data.push_str("\r\n");
                    }
                    let refuse = self
                        .refusals
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if refuse {
                        self.refused.fetch_add(1, Ordering::SeqCst);
                        write.write_all(b"451 4.3.0 try again later\r\n").await?;
                    } else {
                        self.received.lock().unwrap().push(ReceivedMail {
                            from: from.clone(),
                            to: std::mem::take(&mut to),
                            data,
                        });
                        write.write_all(b"250 2.0.0 queued\r\n").await?;
                    }
                }
                "RSET" => {
                    from.clear();
                    to.clear();
                    write.write_all(b"250 2.0.0 ok\r\n").await?;
                }
                "NOOP" => write.write_all(b"250 2.0.0 ok\r\n").await?,
                "QUIT" => {
                    write.write_all(b"221 2.0.0 bye\r\n").await?;
                    return Ok(());
                }
                _ => write.write_all(b"502 5.5.2 unknown command\r\n").await?,
            }
        }
    }
}

fn between_angles(command: &str) -> String {
    match (command.find('<'), command.find('>')) {
        (Some(start), Some(end)) if end > start => command[start + 1..end].to_string(),
        _ => String::new(),
    }
}
