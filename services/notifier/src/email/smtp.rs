//! The SMTP side: the transport (a local relay, STARTTLS or TLS, with credentials when set)
//! and the message (multipart plain text and HTML, a stable Message-ID, List-Unsubscribe and
//! List-Unsubscribe-Post for one-click unsubscription, RFC 8058).

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::settings::{SmtpSecurity, SmtpSettings};

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

pub fn transport(settings: &SmtpSettings) -> anyhow::Result<Transport> {
    let builder = match settings.security {
        SmtpSecurity::None => Transport::builder_dangerous(&settings.host),
        SmtpSecurity::Starttls => Transport::starttls_relay(&settings.host)
            .map_err(|error| anyhow::anyhow!("smtp.host `{}`: {error}", settings.host))?,
        SmtpSecurity::Tls => Transport::relay(&settings.host)
            .map_err(|error| anyhow::anyhow!("smtp.host `{}`: {error}", settings.host))?,
    };
    let mut builder = builder
        .port(settings.port)
        .timeout(Some(Duration::from_millis(settings.timeout_ms)));
    if !settings.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            settings.username.clone(),
            settings.password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// One message to send.
pub struct Outgoing<'a> {
    pub id: uuid::Uuid,
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: String,
    pub html: String,
    pub unsubscribe_url: &'a str,
}

/// Why a send failed; `permanent` when the server refused for good (a 5xx: bounce).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

pub fn message(outgoing: &Outgoing<'_>) -> Result<Message, SendError> {
    let bad = |what: &str, error: &dyn std::fmt::Display| SendError {
        message: format!("{what}: {error}"),
        permanent: true,
    };
    let from: Mailbox = outgoing
        .from
        .parse()
        .map_err(|error| bad("email.from", &error))?;
    let to: Mailbox = outgoing
        .to
        .parse()
        .map_err(|error| bad("the address", &error))?;
    let domain = from.email.domain().to_owned();
    let header = |name: &str, value: String| -> Result<HeaderValue, SendError> {
        Ok(HeaderValue::new(
            HeaderName::new_from_ascii(name.to_owned()).map_err(|error| bad(name, &error))?,
            value,
        ))
    };
    Message::builder()
        .from(from)
        .to(to)
        .subject(outgoing.subject)
        // The same id on every retry, so that a receiving server can tell a repeat.
        .message_id(Some(format!("<{}@{domain}>", outgoing.id)))
        .raw_header(header(
            "List-Unsubscribe",
            format!("<{}>", outgoing.unsubscribe_url),
        )?)
        .raw_header(header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_owned(),
        )?)
        .multipart(MultiPart::alternative_plain_html(
            outgoing.text.clone(),
            outgoing.html.clone(),
        ))
        .map_err(|error| bad("the message", &error))
}

pub async fn send(transport: &Transport, message: Message) -> Result<(), SendError> {
    transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|error| SendError {
            permanent: error.is_permanent(),
            message: error.to_string(),
        })
}
