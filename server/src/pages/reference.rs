//! The API reference page: `/openapi.json` rendered in the browser by Redoc, served from this
//! binary (a vendored, pinned copy of the npm package `redoc` 2.5.0's standalone bundle, MIT,
//! in `server/assets/redoc/`), so it needs no other network.

use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};

/// Redoc 2.5.0's standalone bundle.
const BUNDLE: &str = include_str!("../../assets/redoc/redoc.standalone.js");

/// The page: Redoc reads the running server's own document.
const PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>monban API reference</title></head>\n<body><redoc spec-url=\"/openapi.json\"></redoc>\
<script src=\"/docs/redoc.standalone.js\"></script></body></html>\n";

/// Redoc's needs and no more: its own script, the styles it injects, the document it fetches,
/// the search worker it starts from a blob; no eval, no frames, no forms.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; \
form-action 'none'";

fn secured(mut res: Response, content_type: &'static str) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// `GET /docs`.
pub(crate) async fn page() -> Response {
    secured(PAGE.into_response(), "text/html; charset=utf-8")
}

/// `GET /docs/redoc.standalone.js`.
pub(crate) async fn bundle() -> Response {
    let mut res = secured(
        BUNDLE.into_response(),
        "application/javascript; charset=utf-8",
    );
    // Pinned: the same URL always holds the same bytes for this binary's version.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    res
}
