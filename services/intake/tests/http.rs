//! Intake as JSON over HTTP: the OpenAPI documents, problem details naming every field, the
//! Idempotency-Key header, and 429 with Retry-After.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{operator, start_with};

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn an_operator_submits_over_http_with_an_idempotency_key() {
    let harness = start_with(&[("rate_limit.calls_per_window", "3")]).await;
    let base = format!("http://{}", harness.service.http_addr);
    let http = reqwest::Client::new();
    let mine = operator("INCA-MI-01");

    let (status, _, document) = send(http.get(format!("{base}/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        document["paths"]["/v1/requests"]["post"]["operationId"],
        "SubmitRequest"
    );
    assert!(document["paths"]["/v1/attachments"]["post"].is_object());
    let (_, _, registry) = send(http.get(format!("{base}/openapi/mandates.json"))).await;
    assert_eq!(
        registry["paths"]["/v1/mandates"]["post"]["operationId"],
        "PutMandates"
    );

    // Every wrong field at once, as problem details.
    let (status, headers, problem) = send(
        http.post(format!("{base}/v1/requests"))
            .bearer_auth(&mine)
            .json(&json!({
                "motivo": "MOTIVO_SOLLECITO_PRATICA",
                "codice_fiscale": "RSSMRA85T10A562X",
                "comune_residenza": "A003",
                "subject": "Sollecito",
                "body": "Nessuna notizia"
            })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(headers["content-type"], "application/problem+json");
    let fields: Vec<&str> = problem["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|violation| violation["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "codice_fiscale",
            "comune_residenza",
            "prestazione",
            "pratica_protocol_number"
        ]
    );
    assert!(
        problem["violations"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("ceased")
    );

    // The same Idempotency-Key twice: one request, the first result twice.
    let body = json!({
        "motivo": "MOTIVO_INFO_PAGAMENTI",
        "codice_fiscale": "RSSMRA85T10A562S",
        "comune_residenza": "F205",
        "prestazione": "assegno_unico",
        "subject": "Pagamento di ottobre",
        "body": "L'assegno di ottobre non risulta pagato."
    });
    let submit = || {
        http.post(format!("{base}/v1/requests"))
            .bearer_auth(&mine)
            .header("Idempotency-Key", "0b6f0c7e-form-42")
            .json(&body)
    };
    let (status, _, first) = send(submit()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["replayed"], false);
    let (_, _, again) = send(submit()).await;
    assert_eq!(again["request_id"], first["request_id"]);
    assert_eq!(again["replayed"], true);
    let (status, _, read) = send(
        http.get(format!(
            "{base}/v1/requests/{}",
            first["request_id"].as_str().unwrap()
        ))
        .bearer_auth(&mine),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["status"], "SUBMITTED");
    assert_eq!(read["request"]["topic"], "assegno_unico");

    // The fourth write within the window (the invalid one counted too): 429 and when to retry.
    let (status, headers, problem) = send(submit()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}
