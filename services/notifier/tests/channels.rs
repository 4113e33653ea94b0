//! Each event reaches each channel once: the inbox of the filer's office, the e-mail addresses
//! of the operator and the office, and the patronato's endpoint (signature verified with the
//! secret) — and a redelivered event adds nothing. (An office event that arrives before
//! router's decision is in `inbox.rs`: its notices would count in this process's metrics.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::collections::HashMap;

use combipat_proto::notifier::v1::PreferenceScope;
use common::*;
use serde_json::Value;

#[tokio::test]
async fn each_event_reaches_the_inbox_the_mail_and_the_endpoint_once() {
    let mut harness = start().await;
    harness.register(&[]).await;
    harness
        .set_email(
            PreferenceScope::Operator,
            &operator(),
            "mario.rossi@inca.example",
            false,
        )
        .await;
    harness
        .set_email(
            PreferenceScope::Office,
            &operator(),
            "milano@inca.example",
            false,
        )
        .await;

    let request = request("CP-2026-00000001");
    let events = [
        routed(&request),
        info_requested(&request, "Serve il modulo AP70 firmato."),
        answered(&request, "La domanda è stata accolta il 3 marzo."),
    ];
    for event in &events {
        harness.publish(event).await;
    }
    // Redeliveries (the broker's at-least-once): the same events again.
    for event in &events {
        harness.publish(event).await;
    }

    harness.wait_for_notices(&operator(), 3).await;
    harness.wait_for_hooks(3).await;
    // By e-mail: what asks for attention (the question, the answer), to both addresses.
    harness.wait_for_mail(4).await;
    // Whatever was still to come has come by now.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let notices = harness.notices(&operator()).await;
    let kinds: Vec<&str> = notices
        .iter()
        .map(|notice| notice.event_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "request.answered",
            "request.info_requested",
            "request.routed"
        ],
        "newest first, once each"
    );
    assert!(notices.iter().all(
        |notice| notice.protocol_number == "CP-2026-00000001" && notice.operator_id == OPERATOR
    ));
    let asked = &notices[1];
    assert!(
        asked.action_needed && asked.text.contains("AP70"),
        "{asked:?}"
    );
    assert_eq!(
        notices[0].title,
        "Risposta della sede alla richiesta CP-2026-00000001"
    );

    let hooks = harness.hooks.received();
    assert_eq!(hooks.len(), 3, "one delivery per event: {hooks:?}");
    let mut by_type: HashMap<String, Value> = HashMap::new();
    for hook in &hooks {
        assert_eq!(
            hook.verified_by,
            vec![0],
            "the signature verifies with the secret: {hook:?}"
        );
        let body: Value = serde_json::from_str(&hook.body).unwrap();
        assert!(hook.body.len() < 20 * 1024);
        assert_eq!(body["data"]["request_id"], request.request_id.as_str());
        by_type.insert(body["type"].as_str().unwrap().to_owned(), body);
    }
    assert_eq!(
        by_type["request.answered"]["data"]["answer"],
        "La domanda è stata accolta il 3 marzo."
    );
    assert_eq!(
        by_type["request.info_requested"]["data"]["question"],
        "Serve il modulo AP70 firmato."
    );
    assert_eq!(
        by_type["request.routed"]["data"]["office"]["code"],
        "SEDE-MI"
    );
    assert!(
        by_type["request.answered"]
            .to_string()
            .contains("/richieste/"),
        "a link to the request"
    );
    assert!(
        !by_type["request.answered"].to_string().contains("anna"),
        "no official's name"
    );

    let mails = harness.mail.messages();
    assert_eq!(
        mails.len(),
        4,
        "{:#?}",
        mails
            .iter()
            .map(|mail| (&mail.to, subject(&mail.data)))
            .collect::<Vec<_>>()
    );
    let mut recipients: Vec<(String, String)> = mails
        .iter()
        .map(|mail| (mail.to.join(","), subject(&mail.data)))
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        vec![
            (
                "mario.rossi@inca.example".to_owned(),
                "[COMBIPAT] La sede chiede informazioni sulla richiesta CP-2026-00000001"
                    .to_owned()
            ),
            (
                "mario.rossi@inca.example".to_owned(),
                "[COMBIPAT] Risposta della sede alla richiesta CP-2026-00000001".to_owned()
            ),
            (
                "milano@inca.example".to_owned(),
                "[COMBIPAT] La sede chiede informazioni sulla richiesta CP-2026-00000001"
                    .to_owned()
            ),
            (
                "milano@inca.example".to_owned(),
                "[COMBIPAT] Risposta della sede alla richiesta CP-2026-00000001".to_owned()
            ),
        ]
    );
    let mail = &mails[0].data;
    assert!(
        mail.contains("List-Unsubscribe: <http://notifier.test/unsubscribe/"),
        "{mail}"
    );
    assert!(
        mail.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{mail}"
    );
    assert!(
        mail.contains("multipart/alternative")
            && mail.contains("text/html")
            && mail.contains("text/plain")
    );

    // Counted once per channel.
    let metrics = harness.service.metrics().await.unwrap();
    assert!(
        metrics.contains("combipat_notifications_total{channel=\"inbox\",outcome=\"created\"} 3"),
        "{metrics}"
    );
}

/// The Subject header, unfolded, its encoded words (RFC 2047, as lettre writes non-ASCII) decoded.
fn subject(data: &str) -> String {
    use base64::Engine as _;
    let mut lines = data
        .lines()
        .skip_while(|line| !line.starts_with("Subject: "));
    let mut raw = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("Subject: ")
        .to_owned();
    for continuation in lines.take_while(|line| line.starts_with(' ') || line.starts_with('\t')) {
        raw.push_str(continuation);
    }
    raw.split_whitespace()
        .map(|word| {
            match word
                .strip_prefix("=?utf-8?b?")
                .and_then(|rest| rest.strip_suffix("?="))
            {
                Some(inner) => String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(inner)
                        .unwrap(),
                )
                .unwrap(),
                None => word.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
