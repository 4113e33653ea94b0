//! The files the pages load, embedded in the binary (so an image needs nothing beside it) and
//! served by the service itself under `/static/`: Bootstrap Italia's stylesheet, icons and
//! fonts (vendored by `scripts/vendor-bootstrap-italia.sh`), our few additions and the one
//! script that adds live updates. Each page names a file with its content hash
//! ([`url`]), so the files can be cached for a year: a new build changes the address.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

macro_rules! asset {
    ($path:literal, $media:literal) => {
        (
            $path,
            $media,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/", $path)).as_slice(),
        )
    };
}

/// (path under /static/, media type, bytes)
const FILES: &[(&str, &str, &[u8])] = &[
    asset!(
        "bootstrap-italia/bootstrap-italia.min.css",
        "text/css; charset=utf-8"
    ),
    asset!("bootstrap-italia/fonts.css", "text/css; charset=utf-8"),
    asset!("bootstrap-italia/sprites.svg", "image/svg+xml"),
    asset!("bootstrap-italia/LICENSE", "text/plain; charset=utf-8"),
    asset!("site.css", "text/css; charset=utf-8"),
    asset!("live.js", "text/javascript; charset=utf-8"),
    asset!(
        "bootstrap-italia/fonts/titillium-web-v10-latin-ext_latin-300.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/titillium-web-v10-latin-ext_latin-300italic.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/titillium-web-v10-latin-ext_latin-regular.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/titillium-web-v10-latin-ext_latin-italic.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/titillium-web-v10-latin-ext_latin-600.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/titillium-web-v10-latin-ext_latin-600italic.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/titillium-web-v10-latin-ext_latin-700.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/titillium-web-v10-latin-ext_latin-700italic.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/roboto-mono-v13-latin-ext_latin-regular.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/roboto-mono-v13-latin-ext_latin-italic.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/roboto-mono-v13-latin-ext_latin-700.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/roboto-mono-v13-latin-ext_latin-700italic.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/lora-v20-latin-ext_latin-regular.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/lora-v20-latin-ext_latin-italic.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/lora-v20-latin-ext_latin-700.woff2",
        "font/woff2"
    ),
    asset!(
        "bootstrap-italia/fonts/lora-v20-latin-ext_latin-700italic.woff2",
        "font/woff2"
    ),
];

/// A year: the addresses the pages use change with the content.
const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";

/// FNV-1a, 64 bits: enough to tell two builds of a file apart (not a security measure).
fn fingerprint(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:012x}", hash & 0xffff_ffff_ffff)
}

static VERSIONED: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(path, _, bytes)| (*path, format!("/static/{path}?v={}", fingerprint(bytes))))
        .collect()
});

/// The address of an embedded file with its fingerprint, e.g. `/static/site.css?v=…`; a
/// path that is not embedded gets its plain address (and a 404 when asked for).
pub fn url(path: &str) -> String {
    VERSIONED
        .iter()
        .find(|(known, _)| *known == path)
        .map_or_else(|| format!("/static/{path}"), |(_, url)| url.clone())
}

/// The address of an icon of the kit's sprite, e.g. `it-user`.
pub fn icon(name: &str) -> String {
    format!("{}#{name}", url("bootstrap-italia/sprites.svg"))
}

/// `GET /static/{*path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(known, _, _)| *known == path) {
        Some((_, media, bytes)) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_FOREVER),
            );
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_font_the_font_faces_name_is_embedded() {
        let fonts = FILES
            .iter()
            .find(|(path, _, _)| *path == "bootstrap-italia/fonts.css")
            .map(|(_, _, bytes)| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default();
        let named: Vec<&str> = fonts
            .split("url(\"/static/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(named.len() >= 10, "{named:?}");
        for path in named {
            assert!(
                FILES.iter().any(|(known, _, _)| *known == path),
                "{path} is not embedded"
            );
        }
    }

    #[test]
    fn addresses_carry_the_content_fingerprint() {
        let css = url("site.css");
        assert!(css.starts_with("/static/site.css?v="), "{css}");
        assert_eq!(css.len(), "/static/site.css?v=".len() + 12);
        assert_eq!(url("missing.css"), "/static/missing.css");
        assert_ne!(fingerprint(b"a"), fingerprint(b"b"));
    }
}
