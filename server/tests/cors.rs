//! CORS for single-page apps on other origins (`--cors-origin`): only the configured origins,
//! never credentials, never for the pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{HeaderValue, Request};
use common::*;
use monban_core::Policy;

const APP: &str = "https://app.example.com";

fn harness(origins: &[&str]) -> Harness {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .map(|o| HeaderValue::from_str(o).unwrap())
        .collect();
    Harness::with(Policy::kuroneko().with_test_hashing(), |s| {
        s.cors_origins(origins)
    })
}

fn preflight(path: &str, origin: &str) -> Request<Body> {
    Request::options(path)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_configured_origin_may_call_the_api_and_no_other() {
    let h = harness(&[APP]);
    // The preflight of a login from the app.
    let a = h.send(preflight("/login", APP)).await;
    assert!(a.status.is_success(), "{}", a.status);
    assert_eq!(a.headers["access-control-allow-origin"], APP);
    let methods = a.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed = a.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    // Never credentials: the API's credential is the Authorization header, not a cookie.
    assert!(a.headers.get("access-control-allow-credentials").is_none());
    // The answer itself carries the origin, also on an error (read as JSON by the app).
    let a = h
        .send(
            Request::post("/login")
                .header("origin", APP)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.headers["access-control-allow-origin"], APP);
    assert_eq!(a.code(), "login_failed");
    // Another origin: no CORS header, so the browser keeps the answer from it.
    let a = h.send(preflight("/login", "https://evil.example")).await;
    assert!(a.headers.get("access-control-allow-origin").is_none());
    // The pages are same-origin only, whatever the configuration.
    let a = h.send(preflight("/ui/login", APP)).await;
    assert!(a.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_configuration_there_are_no_cors_headers() {
    let h = harness(&[]);
    let a = h.send(preflight("/login", APP)).await;
    assert!(a.headers.get("access-control-allow-origin").is_none());
    let a = h
        .send(
            Request::get("/health")
                .header("origin", APP)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(a.headers.get("access-control-allow-origin").is_none());
}
