//! The office console over HTTP, as a browser would speak to it: the development sign-in and
//! its cookie (accepted only while the sign-in is on; `Secure` unless plain HTTP to this
//! machine), the security headers, CSRF refusals, the kit's files with long cache headers, a
//! stale version refused with an Italian message and nothing overwritten, "claimed by me",
//! and the queue's changes as server-sent events.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed assumption in a test is a failed test"
)]

mod common;

use std::time::Duration;

use combipat_testkit::workspace_root;
use common::{Harness, claim, filed, get, start_with};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

fn key() -> String {
    workspace_root()
        .join("dev/keys/dev-jwt-private.pem")
        .display()
        .to_string()
}

async fn console(dev_sign_in: bool) -> Harness {
    let key = key();
    start_with(&[
        (
            "pages.dev_sign_in",
            if dev_sign_in { "true" } else { "false" },
        ),
        ("pages.dev_signing_key_path", &key),
    ])
    .await
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn base(harness: &Harness) -> String {
    format!("http://{}", harness.service.http_addr)
}

/// A form post as a browser makes it from the site's own page.
fn same_origin() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
    headers
}

/// Signs in the demo person at `index` (0 paolo.esposito, 1 sara.greco, 2 franca.colombo)
/// and answers the `Cookie` header that carries the session.
async fn sign_in(harness: &Harness, index: usize) -> String {
    let answer = browser()
        .post(format!("{}/accedi", base(harness)))
        .headers(same_origin())
        .form(&[("persona", index.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

async fn page(harness: &Harness, cookie: &str, path: &str) -> (StatusCode, String) {
    let answer = browser()
        .get(format!("{}{path}", base(harness)))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.text().await.unwrap())
}

#[tokio::test]
async fn signing_in_sets_a_guarded_cookie_and_every_page_carries_the_security_headers() {
    let harness = console(true).await;
    let answer = browser()
        .get(format!("{}/accedi", base(&harness)))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let headers = answer.headers().clone();
    let policy = headers["content-security-policy"].to_str().unwrap();
    for rule in [
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(policy.contains(rule), "{rule} missing from {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    let html = answer.text().await.unwrap();
    assert!(html.contains("<html lang=\"it\">"));
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "inline script or style"
    );
    assert!(html.contains("paolo.esposito"));

    // Over plain HTTP to this machine the cookie goes without Secure; behind TLS with it.
    let session = browser()
        .post(format!("{}/accedi", base(&harness)))
        .headers(same_origin())
        .form(&[("persona", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(session.headers()["location"], "/coda");
    let cookie = session.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("combipat_console_sessione="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    let behind_tls = browser()
        .post(format!("{}/accedi", base(&harness)))
        .headers(same_origin())
        .header("x-forwarded-proto", "https")
        .form(&[("persona", "0")])
        .send()
        .await
        .unwrap();
    assert!(
        behind_tls.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    // A form posted from another site is refused, whatever it carries.
    let cookie = sign_in(&harness, 0).await;
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let forged = browser()
            .post(format!("{}/esci", base(&harness)))
            .header("cookie", &cookie)
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }

    // The kit's files come from the service itself, cached for a year.
    let css = browser()
        .get(format!(
            "{}/static/bootstrap-italia/bootstrap-italia.min.css",
            base(&harness)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    assert!(css.text().await.unwrap().contains("Bootstrap Italia"));
    let (status, queue) = page(&harness, &cookie, "/coda").await;
    assert_eq!(status, StatusCode::OK);
    assert!(queue.contains("/static/bootstrap-italia/bootstrap-italia.min.css?v="));
    assert!(queue.contains("data-live-url=\"/coda/eventi\""));
    assert!(queue.contains("/static/live.js?v="), "the live script");
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_the_development_sign_in_only_the_identity_providers_token_is_accepted() {
    let on = console(true).await;
    let cookie = sign_in(&on, 0).await;
    let off = console(false).await;
    // The same, valid token in the cookie: ignored.
    let (status, body) = page(&off, &cookie, "/coda").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Accedi attraverso il sistema di identità dell'INPS"));
    let (status, _) = page(&off, "", "/accedi").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // As a bearer token from the identity provider in front of the service: the page.
    let token = cookie.split_once('=').unwrap().1;
    let answer = browser()
        .get(format!("{}/coda", base(&off)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body = answer.text().await.unwrap();
    assert!(
        body.contains("SEDE-MI") && body.contains("paolo.esposito"),
        "{body}"
    );
    on.service.shutdown().await.unwrap();
    off.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_change_made_since_the_page_loaded_is_refused_in_italian_and_nothing_is_overwritten() {
    let mut harness = console(true).await;
    let item = filed(&mut harness).await;
    let paolo = sign_in(&harness, 0).await;
    let sara = sign_in(&harness, 1).await;
    let (_, shown) = page(&harness, &paolo, &format!("/coda/{}", item.request_id)).await;
    assert!(
        shown.contains("name=\"versione\" value=\"1\""),
        "the page carries the version"
    );

    // Sara takes the item meanwhile.
    let mut client = harness.client.clone();
    client
        .claim(claim(&item, 1, 0, "sara.greco"))
        .await
        .unwrap();

    // Paolo's claim, from the page he loaded before: refused, said in Italian.
    let answer = browser()
        .post(format!(
            "{}/coda/{}/prendi",
            base(&harness),
            item.request_id
        ))
        .headers(same_origin())
        .header("cookie", &paolo)
        .form(&[("versione", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body = answer.text().await.unwrap();
    assert!(
        body.contains("Qualcun altro ha modificato questa pratica dopo che hai aperto la pagina"),
        "{body}"
    );
    assert!(
        body.contains("In carico a <strong>sara.greco</strong>"),
        "the page read again"
    );
    let now = get(&mut client, &item.request_id).await.item.unwrap();
    assert_eq!((now.claimed_by.as_str(), now.version), ("sara.greco", 2));

    // "Solo in carico a me": Sara's queue has it, Paolo's does not.
    let (_, mine) = page(&harness, &sara, "/coda?miei=si").await;
    assert!(mine.contains(&item.protocol_number));
    let (_, his) = page(&harness, &paolo, "/coda?miei=si").await;
    assert!(!his.contains(&item.protocol_number));
    assert!(his.contains("Nessuna pratica con questi filtri."));

    // Paolo answering from the page: the lease is Sara's, so the refusal says so in Italian.
    let boundary = "combipat-test-boundary";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"versione\"\r\n\r\n2\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"risposta\"\r\n\r\nRisposta\r\n--{boundary}--\r\n"
    );
    let answer = browser()
        .post(format!(
            "{}/coda/{}/rispondi",
            base(&harness),
            item.request_id
        ))
        .headers(same_origin())
        .header("cookie", &paolo)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    let body = answer.text().await.unwrap();
    assert!(
        body.contains("prendi in carico la pratica prima di scrivere al patronato"),
        "{body}"
    );
    assert_eq!(
        get(&mut client, &item.request_id)
            .await
            .item
            .unwrap()
            .status,
        "NEW"
    );
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_queue_sends_its_changes_as_server_sent_events() {
    let mut harness = console(true).await;
    let item = filed(&mut harness).await;
    let paolo = sign_in(&harness, 0).await;
    let mut events = browser()
        .get(format!("{}/coda/eventi", base(&harness)))
        .header("cookie", &paolo)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut client = harness.client.clone();
    client
        .claim(claim(&item, 1, 0, "sara.greco"))
        .await
        .unwrap();
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !received.contains(&item.request_id) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("no change event within 10 s")
            .unwrap()
            .expect("the stream ended");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(received.contains("event: change"), "{received}");
    harness.service.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_form_with_more_files_than_a_message_takes_is_refused_before_any_is_stored() {
    let mut harness = console(true).await;
    let item = filed(&mut harness).await;
    let paolo = sign_in(&harness, 0).await;
    let mut client = harness.client.clone();
    client
        .claim(claim(&item, 1, 0, "paolo.esposito"))
        .await
        .unwrap();
    let boundary = "combipat-test-boundary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"versione\"\r\n\r\n2\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"risposta\"\r\n\r\nRisposta\r\n"
    );
    for n in 0..6 {
        form.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"allegati\"; filename=\"f{n}.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n%PDF-1.7 {n}\r\n"
        ));
    }
    form.push_str(&format!("--{boundary}--\r\n"));
    let answer = browser()
        .post(format!(
            "{}/coda/{}/rispondi",
            base(&harness),
            item.request_id
        ))
        .headers(same_origin())
        .header("cookie", &paolo)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    let body = answer.text().await.unwrap();
    assert!(body.contains("al massimo 5 file per messaggio"), "{body}");
    let pool = harness.database.connect().await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM attachments")
        .fetch_one(&pool)
        .await
        .unwrap();
    // The first five went up before the sixth was seen; none is tied to a message, and the
    // item is not answered.
    assert!(stored <= 5, "{stored} files stored");
    assert_eq!(
        get(&mut client, &item.request_id)
            .await
            .item
            .unwrap()
            .status,
        "NEW",
        "claimed, not answered"
    );
    harness.service.shutdown().await.unwrap();
}
