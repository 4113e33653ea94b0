//! The same refusal in the caller's language: `Accept-Language: it` gets Italian reasons over
//! gRPC and in problem+json, with the same codes and field paths; without it, English.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_proto::intake::v1::SubmitRequestRequest;
use combipat_testkit::with_token;
use common::{good_request, operator, start, stored_rows};
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt as _;

fn bad_request() -> SubmitRequestRequest {
    SubmitRequestRequest {
        codice_fiscale: "RSSMRA85T10A562X".to_owned(),
        comune_residenza: "Z999".to_owned(),
        ..good_request()
    }
}

fn reasons(status: &tonic::Status) -> Vec<(String, String)> {
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations)
        .unwrap_or_default()
        .into_iter()
        .map(|violation| (violation.field, violation.description))
        .collect()
}

#[tokio::test]
async fn a_refusal_speaks_italian_to_whoever_asks_in_grpc_and_json() {
    let mut harness = start().await;
    harness.grant("INCA", "RSSMRA85T10A562S").await;
    let token = operator("INCA-MI-01");

    let english = harness
        .client
        .submit_request(with_token(bad_request(), &token).unwrap())
        .await
        .unwrap_err();
    let mut asked = with_token(bad_request(), &token).unwrap();
    asked.metadata_mut().insert(
        "accept-language",
        "it-IT,it;q=0.9,en;q=0.5".parse().unwrap(),
    );
    let italian = harness.client.submit_request(asked).await.unwrap_err();

    assert_eq!(english.code(), Code::InvalidArgument);
    assert_eq!(italian.code(), Code::InvalidArgument);
    let (english, italian) = (reasons(&english), reasons(&italian));
    let fields = |reasons: &[(String, String)]| -> Vec<String> {
        reasons.iter().map(|(field, _)| field.clone()).collect()
    };
    assert_eq!(fields(&english), fields(&italian), "the same fields");
    assert!(
        fields(&italian).contains(&"codice_fiscale".to_owned())
            && fields(&italian).contains(&"comune_residenza".to_owned()),
        "{italian:?}"
    );
    let reason = |reasons: &[(String, String)], field: &str| -> String {
        reasons
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, reason)| reason.clone())
            .unwrap()
    };
    assert!(
        reason(&english, "codice_fiscale").contains("the check character"),
        "{english:?}"
    );
    assert_eq!(
        reason(&italian, "codice_fiscale"),
        "il carattere di controllo è `X` ma dovrebbe essere `S`"
    );
    assert_eq!(
        reason(&italian, "comune_residenza"),
        "`Z999` non è un comune né uno stato estero noto all'ANPR"
    );

    // The JSON bridge: problem+json's detail and field reasons.
    let http = reqwest::Client::new();
    let body = json!({
        "motivo": "MOTIVO_RICHIESTA_GENERICA",
        "codice_fiscale": "RSSMRA85T10A562X",
        "comune_residenza": "F205",
        "topic": "pensioni",
        "subject": "Domanda",
        "body": "Testo"
    });
    let problem: Value = http
        .post(format!("http://{}/v1/requests", harness.service.http_addr))
        .bearer_auth(&token)
        .header("accept-language", "it")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = problem.to_string();
    assert!(
        text.contains("il carattere di controllo") && !text.contains("the check character"),
        "{problem}"
    );
    assert_eq!(
        stored_rows(&harness.database).await,
        (0, 0),
        "nothing stored"
    );
}
