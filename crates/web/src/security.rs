//! What every page response carries, and the check every form submission passes.
//!
//! - **CSRF**: a request that changes something (any method but GET, HEAD, OPTIONS) is
//!   refused with 403 when the browser says it comes from another site: `Sec-Fetch-Site`
//!   other than `same-origin` or `none`, or, from a browser that does not send it, an
//!   `Origin` that is not this host. A request with neither header does not come from a
//!   browser's form (a script with a bearer token has nothing to forge), so it passes. The
//!   session cookie is also `SameSite=Strict`.
//! - **Headers**: a Content-Security-Policy that allows scripts, styles, fonts and images from
//!   this origin only (no inline script or style anywhere), no framing (`frame-ancestors
//!   'none'` and `X-Frame-Options: DENY`), `Referrer-Policy: same-origin`,
//!   `X-Content-Type-Options: nosniff`, and `Cache-Control: no-store` on the pages themselves
//!   (they show citizens' data; the static files set their own).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The middleware: `router.layer(axum::middleware::from_fn(security::protect))`
/// ([`crate::Site::secure`] does it).
pub async fn protect(request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let mut response = if changes && from_another_site(request.headers()) {
        tracing::warn!(
            http.route = request.uri().path(),
            "form submission from another site refused"
        );
        (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Richiesta rifiutata: il modulo non è stato inviato da questo sito.",
        )
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// True when the browser says the request was made by another site.
pub fn from_another_site(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match text("origin") {
        None => false,
        Some(origin) => {
            let host = text("host").unwrap_or_default();
            let origin_host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            origin_host != Some(host) || host.is_empty()
        }
    }
}

/// Whether the session cookie may go without `Secure`: only over plain HTTP to this very
/// machine (`localhost`, `127.x.x.x`, `[::1]`), which is how the development sign-in runs.
pub fn plain_http_on_loopback(headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    let loopback = name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback && !forwarded_https
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn forms_from_another_site_are_told_apart() {
        assert!(!from_another_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!from_another_site(&headers(&[("sec-fetch-site", "none")])));
        assert!(from_another_site(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(from_another_site(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        // Without Sec-Fetch-Site, the Origin must be this host.
        let same = headers(&[
            ("origin", "http://127.0.0.1:8081"),
            ("host", "127.0.0.1:8081"),
        ]);
        assert!(!from_another_site(&same));
        let other = headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8081"),
        ]);
        assert!(from_another_site(&other));
        assert!(from_another_site(&headers(&[
            ("origin", "null"),
            ("host", "a")
        ])));
        // Not a browser: nothing to forge with.
        assert!(!from_another_site(&headers(&[("host", "127.0.0.1:8081")])));
    }

    #[test]
    fn only_plain_http_to_this_machine_goes_without_secure() {
        assert!(plain_http_on_loopback(&headers(&[(
            "host",
            "127.0.0.1:8081"
        )])));
        assert!(plain_http_on_loopback(&headers(&[(
            "host",
            "localhost:8083"
        )])));
        assert!(plain_http_on_loopback(&headers(&[("host", "[::1]:8083")])));
        assert!(!plain_http_on_loopback(&headers(&[(
            "host",
            "combipat.inps.it"
        )])));
        assert!(!plain_http_on_loopback(&headers(&[(
            "host",
            "10.0.0.5:8081"
        )])));
        assert!(!plain_http_on_loopback(&headers(&[
            ("host", "127.0.0.1:8081"),
            ("x-forwarded-proto", "https")
        ])));
        assert!(!plain_http_on_loopback(&HeaderMap::new()));
    }
}
