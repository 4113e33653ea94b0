//! The same operations as JSON over HTTP: the OpenAPI document, the calls, and refusals as
//! problem details that name the field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

use common::{filed, official_named, start};

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, String, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, content_type, json)
    }
}

fn violated_fields(problem: &Value) -> Vec<String> {
    problem["violations"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|violation| violation["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_openapi_document_describes_every_operation_from_the_proto() {
    let harness = start().await;
    let http = Http {
        base: format!("http://{}", harness.service.http_addr),
        client: reqwest::Client::new(),
    };
    let (status, _, document) = http
        .call(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let claim = &document["paths"]["/v1/items/{request_id}/claim"]["post"];
    assert_eq!(claim["operationId"], "Claim");
    assert!(
        claim["summary"]
            .as_str()
            .unwrap()
            .contains("exclusive lease"),
        "the proto comment is the summary: {claim}"
    );
    let list = &document["paths"]["/v1/offices/{office_code}/items"]["get"];
    let parameters: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|parameter| parameter["name"].as_str().unwrap())
        .collect();
    for expected in [
        "office_code",
        "status",
        "sla_state",
        "min_solleciti",
        "page_token",
    ] {
        assert!(parameters.contains(&expected), "{parameters:?}");
    }
    let item = &document["components"]["schemas"]["combipat.officequeue.v1.Item"];
    assert!(item["properties"]["priority"].is_object(), "{item}");
    let states = &document["components"]["schemas"]["combipat.officequeue.v1.Priority"]["properties"]
        ["sla_state"];
    assert!(states.to_string().contains("SLA_STATE_OVERDUE"), "{states}");
    // Every route of the document answers (without a token: 401, never 404 or 405).
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let concrete = path
                .replace("{request_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{office_code}", "SEDE-MI");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, content_type, _) = http.call(method, &concrete, None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(content_type, "application/problem+json");
        }
    }
}

#[tokio::test]
async fn an_official_works_an_item_over_http_and_refusals_name_the_field() {
    let mut harness = start().await;
    let item = filed(&mut harness).await;
    let http = Http {
        base: format!("http://{}", harness.service.http_addr),
        client: reqwest::Client::new(),
    };
    let anna = official_named("SEDE-MI", "anna");
    let bruno = official_named("SEDE-MI", "bruno");
    let item_path = format!("/v1/items/{}", item.request_id);

    // The queue, filtered with repeated and enum query parameters.
    let (status, content_type, page) = http
        .call(
            reqwest::Method::GET,
            "/v1/offices/SEDE-MI/items?status=NEW&status=INFO_REQUESTED&sla_state=SLA_STATE_ON_TRACK&page_size=10",
            Some(&anna),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(content_type, "application/json");
    assert_eq!(page["items"][0]["request_id"], json!(item.request_id));
    assert_eq!(
        page["items"][0]["priority"]["sla_state"],
        "SLA_STATE_ON_TRACK"
    );
    assert_eq!(page["next_page_token"], "", "defaults are shown");

    // Claim with the version read; 64-bit integers travel as strings or numbers.
    let (status, _, claimed) = http
        .call(
            reqwest::Method::POST,
            &format!("{item_path}/claim"),
            Some(&anna),
            Some(&format!(r#"{{"expected_version": "{}"}}"#, item.version)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["claimed_by"], "anna");
    let version: u64 = claimed["version"].as_str().unwrap().parse().unwrap();

    // Someone else cannot answer it: a conflict, said as a problem.
    let (status, content_type, problem) = http
        .call(
            reqwest::Method::POST,
            &format!("{item_path}/answer"),
            Some(&bruno),
            Some(&format!(
                r#"{{"expected_version": {version}, "text": "Fatto"}}"#
            )),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["code"], "FAILED_PRECONDITION");
    assert!(
        problem["detail"].as_str().unwrap().contains("claim"),
        "{problem}"
    );

    // Invalid input: 422 with every wrong field named, whatever layer finds it.
    let (status, _, problem) = http
        .call(
            reqwest::Method::POST,
            &format!("{item_path}/answer"),
            Some(&anna),
            Some(r#"{"expected_version": "seven", "text": 12, "colour": "red"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let mut fields = violated_fields(&problem);
    fields.sort();
    assert_eq!(
        fields,
        vec!["colour", "expected_version", "text"],
        "{problem}"
    );
    let (status, _, problem) = http
        .call(
            reqwest::Method::POST,
            &format!("{item_path}/claim"),
            Some(&anna),
            Some(&format!(
                r#"{{"expected_version": {version}, "lease_seconds": 99999}}"#
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(violated_fields(&problem), vec!["lease_seconds"]);
    let (status, _, problem) = http
        .call(
            reqwest::Method::GET,
            "/v1/offices/SEDE-MI/items?colour=red",
            Some(&anna),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(violated_fields(&problem), vec!["colour"]);
    let (status, _, problem) = http
        .call(
            reqwest::Method::POST,
            &format!("{item_path}/answer"),
            Some(&anna),
            Some("{not json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    let (status, _, _) = http
        .call(
            reqwest::Method::GET,
            "/v1/items/not-a-uuid",
            Some(&anna),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The answer, and the item as GetItem shows it, history included.
    let (status, _, answered) = http
        .call(
            reqwest::Method::POST,
            &format!("{item_path}/answer"),
            Some(&anna),
            Some(&format!(
                r#"{{"expected_version": {version}, "text": "Pratica definita"}}"#
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["status"], "ANSWERED");
    let (status, _, read) = http
        .call(reqwest::Method::GET, &item_path, Some(&anna), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = read["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["filed", "claimed", "answered"]);

    // Another office's queue is forbidden, as over gRPC.
    let (status, _, problem) = http
        .call(
            reqwest::Method::GET,
            "/v1/offices/SEDE-TO/items",
            Some(&anna),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
}

#[tokio::test]
async fn a_caller_without_a_token_is_refused_before_the_body_is_read() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let harness = start().await;
    // Headers announcing seven megabytes, and no body at all: the refusal must not wait for
    // it (nor make the service hold it).
    let mut stream = tokio::net::TcpStream::connect(harness.service.http_addr)
        .await
        .unwrap();
    let item = uuid::Uuid::now_v7();
    stream
        .write_all(
            format!(
                "POST /v1/items/{item}/notes HTTP/1.1\r\nhost: localhost\r\n\
                 content-type: application/json\r\ncontent-length: 7000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}
