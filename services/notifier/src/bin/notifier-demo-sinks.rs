//! `just up`'s stand-ins for a patronato's systems and a mail server: a webhook receiver on
//! 127.0.0.1:9099 that verifies each signature with the secret in `RUN_DIR/webhook-secret`
//! and logs one line per webhook, and an SMTP sink on 127.0.0.1:2525 that writes each message
//! to `RUN_DIR/mail/<n>.eml`. Development only (scripts/demo/20-notifier.sh starts it).
//!
//! Usage: notifier-demo-sinks RUN_DIR

#![allow(clippy::print_stdout, reason = "the log of what arrived is the point")]

use std::path::PathBuf;
use std::time::Duration;

use combipat_notifier::dev::{MailSink, WebhookReceiver};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let run_dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "run".to_owned()));
    let mail_dir = run_dir.join("mail");
    std::fs::create_dir_all(&mail_dir)?;
    let hooks = WebhookReceiver::start("127.0.0.1:9099").await?;
    let mail = MailSink::start("127.0.0.1:2525").await?;
    println!(
        "webhook receiver at {}, SMTP sink at {}, mail in {}",
        hooks.url(),
        mail.addr,
        mail_dir.display()
    );
    let (mut secrets, mut hooks_seen, mut mails_seen) = (Vec::<String>::new(), 0, 0);
    loop {
        if let Ok(secret) = std::fs::read_to_string(run_dir.join("webhook-secret")) {
            let secret = secret.trim().to_owned();
            if !secret.is_empty() && !secrets.contains(&secret) {
                hooks.trust(&secret);
                secrets.push(secret);
            }
        }
        for hook in hooks.received().into_iter().skip(hooks_seen) {
            hooks_seen += 1;
            let verified = if hook.verified_by.is_empty() {
                "SIGNATURE NOT VERIFIED"
            } else {
                "signature ok"
            };
            println!(
                "webhook {} ({verified}, timestamp {}): {}",
                hook.id, hook.timestamp, hook.body
            );
        }
        for message in mail.messages().into_iter().skip(mails_seen) {
            mails_seen += 1;
            let path = mail_dir.join(format!("{mails_seen:04}.eml"));
            std::fs::write(&path, &message.data)?;
            println!(
                "mail to {} written to {}",
                message.to.join(", "),
                path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
