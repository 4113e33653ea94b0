//! An SMTP sink: speaks enough SMTP for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
//! keeps each message, and refuses the recipients it is told to with a 550 (a bounce).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed.
    pub data: String,
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<ReceivedMail>>,
    refused: Mutex<HashSet<String>>,
}

pub struct MailSink {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MailSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MailSink {
    /// Listens on `addr` (`127.0.0.1:0` for a free port).
    pub async fn start(addr: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    if let Err(error) = session(stream, &state).await {
                        tracing::debug!(error = %error, "an SMTP session ended badly");
                    }
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.state
            .received
            .lock()
            .map(|received| received.clone())
            .unwrap_or_default()
    }

    /// RCPT TO this address is answered 550 from now on.
    pub fn refuse(&self, address: &str) {
        if let Ok(mut refused) = self.state.refused.lock() {
            refused.insert(address.to_lowercase());
        }
    }
}

fn angle(text: &str) -> String {
    let start = text.find('<').map_or(0, |at| at + 1);
    let end = text.rfind('>').unwrap_or(text.len());
    text.get(start..end).unwrap_or_default().to_owned()
}

async fn session(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 combipat-sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" => b"250-combipat-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 ok\r\n",
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 ok\r\n"
            }
            "MAIL" => {
                from = angle(&line);
                b"250 ok\r\n"
            }
            "RCPT" => {
                let recipient = angle(&line);
                let refused = state
                    .refused
                    .lock()
                    .map(|refused| refused.contains(&recipient.to_lowercase()))
                    .unwrap_or(false);
                if refused {
                    b"550 5.1.1 no such user\r\n"
                } else {
                    to.push(recipient);
                    b"250 ok\r\n"
                }
            }
            "DATA" => {
                write.write_all(b"354 end with .\r\n").await?;
                let mut data = String::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    data.push_str(
                        line.strip_prefix('.')
                            .filter(|_| line.starts_with(".."))
                            .unwrap_or(&line),
                    );
                    data.push('\n');
                }
                if let Ok(mut received) = state.received.lock() {
                    received.push(ReceivedMail {
                        from: from.clone(),
                        to: std::mem::take(&mut to),
                        data,
                    });
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(answer).await?;
    }
    Ok(())
}
