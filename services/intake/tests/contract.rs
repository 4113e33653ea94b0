//! The OpenAPI document declares what intake enforces: the rules the proto fields declare
//! (`combipat.common.v1.rules`) appear as required fields, lengths, patterns and counts, every
//! object is closed, and each declared bound is one the service refuses past, naming the
//! field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use common::{operator, start};
use serde_json::{Value, json};

/// Bad input: 400 (the JSON does not fit the message) or 422 (a field's value is refused).
fn refusal(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 400 | 422)
}

fn good() -> Value {
    json!({
        "motivo": "MOTIVO_RICHIESTA_GENERICA",
        "codice_fiscale": "RSSMRA85T10A562S",
        "comune_residenza": "F205",
        "topic": "pensioni",
        "subject": "Domanda di pensione",
        "body": "Il cittadino chiede lo stato della domanda."
    })
}

#[tokio::test]
async fn the_document_declares_the_rules_and_the_service_keeps_them() {
    let mut harness = start().await;
    harness.grant("INCA", "RSSMRA85T10A562S").await;
    let base = format!("http://{}", harness.service.http_addr);
    let http = reqwest::Client::new();
    let document: Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schema = &document["components"]["schemas"]["combipat.intake.v1.SubmitRequestRequest"];
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        [
            "body",
            "codice_fiscale",
            "comune_residenza",
            "motivo",
            "subject"
        ]
    );
    // The field's own schema, inside the description's `allOf` and, for an optional field,
    // the `anyOf` that also admits null.
    let property = |name: &str| {
        let mut property = schema["properties"][name].clone();
        for wrapper in ["allOf", "anyOf"] {
            if let Some(inner) = property[wrapper][0].as_object() {
                property = Value::Object(inner.clone());
            }
        }
        property
    };
    assert_eq!(property("subject")["maxLength"], 150);
    assert_eq!(property("body")["maxLength"], 4000);
    assert_eq!(property("attachment_ids")["maxItems"], 5);
    assert!(property("comune_residenza")["pattern"].is_string());
    let motivi = property("motivo")["enum"].clone();
    assert!(
        !motivi
            .as_array()
            .unwrap()
            .contains(&json!("MOTIVO_UNSPECIFIED")),
        "{motivi}"
    );

    // Past each declared bound, the service refuses and names the field.
    let refused_field = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/v1/requests:preview");
        let token = operator("INCA-MI-01");
        async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    for (field, value) in [
        ("subject", json!("x".repeat(151))),
        ("body", json!("x".repeat(4001))),
        ("comune_residenza", json!("Milano")),
        ("idempotency_key", json!("k".repeat(101))),
        (
            "attachment_ids",
            json!(vec!["0b6f2a38-6f1e-4c55-9d7a-2f1a6d3c9e01"; 6]),
        ),
    ] {
        let mut body = good();
        body[field] = value;
        let (status, problem) = refused_field(body).await;
        assert!(refusal(status), "{field}: {status} {problem}");
        assert!(
            problem["violations"]
                .as_array()
                .is_some_and(
                    |violations| violations.iter().any(|violation| violation["field"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with(field))
                ),
            "{field}: {problem}"
        );
    }
    for field in required {
        let mut body = good();
        body.as_object_mut().unwrap().remove(field);
        let (status, problem) = refused_field(body).await;
        assert!(refusal(status), "without {field}: {status} {problem}");
    }
    // A property the document does not have.
    let mut body = good();
    body["colore"] = json!("blu");
    let (status, problem) = refused_field(body).await;
    assert!(refusal(status), "{status} {problem}");
}
