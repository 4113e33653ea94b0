//! The API as JSON over HTTP (the same methods, the same token check, an OpenAPI document),
//! refusals as problem+json naming the field, and the CSV exports, the longest streamed
//! straight from the database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use combipat_platform::auth::Role;
use combipat_testkit::token;
use common::{events_of, march_history, start};

#[tokio::test]
async fn the_api_answers_json_refuses_with_problems_and_exports_csv() {
    let mut harness = start().await;
    harness.publish(&events_of(&march_history())).await;
    harness.read_all().await;
    let base = format!("http://{}", harness.service.http_addr);
    let http = reqwest::Client::new();
    let analista = harness.analista();

    let document: serde_json::Value = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/summary",
        "/v1/regions/{region_code}/summary",
        "/v1/tables/{dimension}",
        "/v1/series",
        "/v1/reports",
        "/v1/status",
    ] {
        assert!(
            document["paths"][path].is_object(),
            "{path} in the OpenAPI document"
        );
    }

    let summary: serde_json::Value = http
        .get(format!("{base}/v1/regions/17/summary?period=2026-03"))
        .bearer_auth(&analista)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["label"], "Basilicata");
    assert_eq!(
        summary["figures"]["received"], "9",
        "uint64 as a string, as the JSON mapping says"
    );
    assert_eq!(summary["figures"]["provenance"], "PROVENANCE_PATRONATO");
    assert_eq!(summary["period"]["label"], "marzo 2026");

    let table: serde_json::Value = http
        .get(format!(
            "{base}/v1/tables/DIMENSION_OFFICE?period=2026-03&region_code=17"
        ))
        .bearer_auth(&analista)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let matera = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["key"] == "SEDE-MT")
        .unwrap();
    assert!(
        matera["figures"]["hidden"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("received"))
    );

    let wrong = http
        .get(format!("{base}/v1/regions/17/summary?period=marzo"))
        .bearer_auth(&analista)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert_eq!(wrong.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(problem["violations"][0]["field"], "period");
    let unknown = http
        .get(format!("{base}/v1/regions/42/summary"))
        .bearer_auth(&analista)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
    assert_eq!(
        http.get(format!("{base}/v1/summary"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let operatore = token(
        Role::Operatore,
        &[("patronato", "INCA"), ("patronato_office", "INCA-PZ-01")],
    )
    .unwrap();
    let refused = http
        .get(format!("{base}/v1/summary"))
        .bearer_auth(&operatore)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let refused_csv = http
        .get(format!("{base}/v1/export/tables/DIMENSION_REGION"))
        .bearer_auth(&operatore)
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused_csv.status(),
        403,
        "the CSV is refused as the API is"
    );

    // Every office, every day of March: one line per office and day with requests.
    let days = http
        .get(format!(
            "{base}/v1/export/days/DIMENSION_OFFICE?period=2026-03"
        ))
        .bearer_auth(&analista)
        .send()
        .await
        .unwrap();
    assert_eq!(days.status(), 200);
    let text = days.text().await.unwrap();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let potenza: Vec<&&str> = lines
        .iter()
        .filter(|line| line.starts_with("SEDE-PZ;"))
        .collect();
    assert!(potenza.iter().any(|line| line.contains(";2026-03-02;")));
    let expected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cells WHERE dim = 3 AND span = 1 AND day BETWEEN '2026-03-01' AND '2026-03-31'",
    )
    .fetch_one(&harness.pool)
    .await
    .unwrap();
    assert_eq!(lines.len() as i64, expected, "no row cap, no row lost");
    let series = http
        .get(format!("{base}/v1/export/series?dimension=DIMENSION_REGION&key=17&granularity=month&until=2026-03&count=3"))
        .bearer_auth(&analista)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        series.lines().count(),
        1 + 3 * 2,
        "a heading, then Basilicata and Italia for each month"
    );
}
