//! Stand-ins for the outside world, for tests and `just up` only (the service never uses
//! them): an SMTP sink that keeps every message, and a webhook receiver that verifies the
//! signatures and answers what it is told to. Both are small real servers on loopback.

mod mail_sink;
mod webhook_receiver;

pub use mail_sink::{MailSink, ReceivedMail};
pub use webhook_receiver::{ReceivedHook, WebhookReceiver};
