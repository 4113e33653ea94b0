//! E-mail against the test's SMTP sink: a bounce (a 5xx at RCPT) puts the address on the
//! suppression list and nothing more is sent to it; the one-click unsubscribe link (RFC 8058)
//! does the same; an admin records a complaint; an office with a daily digest gets one message
//! at its hour (on the moved clock) while notices that need action still go at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_platform::auth::Role;
use combipat_proto::notifier::v1::{PreferenceScope, RecordSuppressionRequest, SuppressionReason};
use combipat_testkit::{eventually, token, with_token};
use common::*;
use tonic::Code;

async fn status_of(pool: &sqlx::PgPool, address: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT status FROM emails WHERE address = $1 ORDER BY created_at")
        .bind(address)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bounce_and_an_unsubscription_stop_the_mail() {
    let mut harness = start().await;
    let pool = harness.db().await;
    harness.mail.refuse("gone@inca.example");
    harness
        .set_email(
            PreferenceScope::Operator,
            &operator(),
            "gone@inca.example",
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
    let request = request("CP-2026-00000030");
    harness.publish(&routed(&request)).await;
    harness.publish(&answered(&request, "Prima risposta")).await;

    // The office's address gets it; the operator's bounces and is suppressed.
    let mail = harness.wait_for_mail(1).await.remove(0);
    assert_eq!(mail.to, vec!["milano@inca.example"]);
    assert!(
        readable(&mail.data).contains("Prima risposta"),
        "{}",
        mail.data
    );
    eventually(WAIT, || async {
        let suppressed: Option<String> = sqlx::query_scalar(
            "SELECT reason FROM suppressions WHERE address = 'gone@inca.example'",
        )
        .fetch_optional(&pool)
        .await?;
        Ok(suppressed.filter(|reason| reason == "bounce"))
    })
    .await
    .unwrap();
    assert_eq!(status_of(&pool, "gone@inca.example").await, vec!["failed"]);

    // The office unsubscribes with the link its e-mail carries.
    let link = mail
        .data
        .lines()
        .find_map(|line| line.strip_prefix("List-Unsubscribe: <"))
        .and_then(|rest| rest.strip_suffix('>'))
        .unwrap()
        .replace(
            "http://notifier.test",
            &format!("http://{}", harness.service.http_addr),
        );
    let response = reqwest::Client::new()
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");

    harness
        .publish(&answered(&request, "Seconda risposta"))
        .await;
    harness.wait_for_notices(&operator(), 3).await;
    harness
        .service
        .wait_for_metric("combipat_notifications_total{channel=\"email\",outcome=\"suppressed\"} 2")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        status_of(&pool, "milano@inca.example").await,
        vec!["sent"],
        "no message for a suppressed address"
    );
    assert_eq!(harness.mail.messages().len(), 1, "nothing more was sent");

    // Complaints come from the mail provider's reports: an admin records them.
    let refused = harness
        .inbox
        .record_suppression(
            with_token(
                RecordSuppressionRequest {
                    email: "x@inca.example".into(),
                    reason: SuppressionReason::Complaint as i32,
                    detail: String::new(),
                },
                &operator(),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let recorded = harness
        .inbox
        .record_suppression(
            with_token(
                RecordSuppressionRequest {
                    email: "X@inca.example".into(),
                    reason: SuppressionReason::Complaint as i32,
                    detail: "abuse report".into(),
                },
                &token(Role::Admin, &[]).unwrap(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(recorded.email, "x@inca.example");
}

#[tokio::test]
async fn an_office_with_a_daily_digest_gets_one_message_at_its_hour() {
    let mut harness = start().await;
    harness
        .set_email(
            PreferenceScope::Office,
            &operator(),
            "milano@inca.example",
            true,
        )
        .await;
    let first = request("CP-2026-00000031");
    let second = request("CP-2026-00000032");
    for event in [
        routed(&first),
        routed(&second),
        answered(&first, "Accolta"),
        answered(&second, "Respinta"),
    ] {
        harness.publish(&event).await;
    }
    harness.wait_for_notices(&operator(), 4).await;
    // An information request goes at once, digest or not.
    harness
        .publish(&info_requested(&second, "Manca la delega"))
        .await;
    let at_once = harness.wait_for_mail(1).await;
    assert!(
        readable(&at_once[0].data).contains("Manca la delega"),
        "{}",
        at_once[0].data
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        harness.mail.messages().len(),
        1,
        "the rest waits for the digest"
    );

    // The digest hour comes within a day.
    harness
        .clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    let mails = harness.wait_for_mail(2).await;
    let digest = &mails[1];
    assert_eq!(digest.to, vec!["milano@inca.example"]);
    let text = readable(&digest.data);
    assert!(text.contains("Riepilogo del"), "{text}");
    for protocol in ["CP-2026-00000031", "CP-2026-00000032"] {
        assert!(text.contains(protocol), "{protocol} in the digest");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(harness.mail.messages().len(), 2, "one digest");
}
