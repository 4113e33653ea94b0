//! Two patronati that use the same office code (the identity provider of each patronato
//! names its own offices) share nothing in notifier: each one's office preferences are its
//! own, and a notice for one office never goes to the other's address.

#![allow(
    clippy::unwrap_used,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::auth::Role;
use combipat_proto::notifier::v1::{GetPreferencesRequest, PreferenceScope};
use combipat_testkit::{token, with_token};
use common::*;

/// An ACLI operator whose office code is the same as INCA's.
fn acli_operator() -> String {
    token(
        Role::Operatore,
        &[
            ("patronato", "ACLI"),
            ("patronato_office", OFFICE),
            ("sub", "anna.verdi"),
        ],
    )
    .unwrap()
}

#[tokio::test]
async fn two_patronati_with_one_office_code_keep_their_own_office_preferences() {
    let mut harness = start().await;
    harness
        .set_email(
            PreferenceScope::Office,
            &operator(),
            "milano@inca.example",
            false,
        )
        .await;
    harness
        .set_email(
            PreferenceScope::Office,
            &acli_operator(),
            "milano@acli.example",
            false,
        )
        .await;

    let office_email = |caller: String| {
        let mut inbox = harness.inbox.clone();
        async move {
            inbox
                .get_preferences(
                    with_token(
                        GetPreferencesRequest {
                            scope: PreferenceScope::Office as i32,
                            office_code: String::new(),
                        },
                        &caller,
                    )
                    .unwrap(),
                )
                .await
                .unwrap()
                .into_inner()
                .email
        }
    };
    assert_eq!(office_email(operator()).await, "milano@inca.example");
    assert_eq!(office_email(acli_operator()).await, "milano@acli.example");

    // INCA's request asks for information: the office's e-mail goes to INCA's address only.
    let request = request("CP-2026-00000090");
    harness.publish(&routed(&request)).await;
    harness
        .publish(&info_requested(&request, "Serve la delega firmata."))
        .await;
    harness.wait_for_notices(&operator(), 2).await;
    let addresses: Vec<String> = sqlx::query_scalar("SELECT address FROM emails ORDER BY address")
        .fetch_all(&harness.db().await)
        .await
        .unwrap();
    assert_eq!(addresses, ["milano@inca.example"]);
    assert!(
        harness.notices(&acli_operator()).await.is_empty(),
        "ACLI's office sees none of INCA's notices"
    );
}
