//! E-mail over SMTP: Italian plain-text and HTML, List-Unsubscribe (RFC 8058), an office's
//! daily digest, and the suppression list (bounces, complaints, unsubscriptions).

pub mod digest;
pub mod queue;
pub mod send;
pub mod smtp;
pub mod suppression;
pub mod templates;

pub const SEND_KIND: &str = "email.send";
pub const DIGEST_KIND: &str = "email.digest";
