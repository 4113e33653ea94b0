//! The security layer over any site's routes: headers on every answer, forms from another
//! site refused before the handler runs, reads never refused.

#![allow(
    clippy::unwrap_used,
    reason = "a failed assumption in a test is a failed test"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use tower::ServiceExt as _;

fn site(calls: Arc<AtomicUsize>) -> Router {
    let counted = move || {
        let calls = Arc::clone(&calls);
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            "fatto"
        }
    };
    combipat_web::Site::secure(Router::new().route("/modulo", get(counted.clone()).post(counted)))
}

async fn send(router: &Router, method: &str, headers: &[(&str, &str)]) -> axum::response::Response {
    let mut request = Request::builder()
        .method(method)
        .uri("/modulo")
        .header("host", "127.0.0.1:8081");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn forms_from_another_site_never_reach_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let router = site(Arc::clone(&calls));
    let refused = send(&router, "POST", &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.headers()["x-frame-options"], "DENY");
    let refused = send(&router, "POST", &[("origin", "http://127.0.0.1:9999")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let same = send(&router, "POST", &[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(same.status(), StatusCode::OK);
    let same = send(&router, "POST", &[("origin", "http://127.0.0.1:8081")]).await;
    assert_eq!(same.status(), StatusCode::OK);
    // A link followed from another site only reads.
    let read = send(&router, "GET", &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let policy = read.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'"));
    assert_eq!(read.headers()["x-content-type-options"], "nosniff");
    assert_eq!(read.headers()["referrer-policy"], "same-origin");
}
