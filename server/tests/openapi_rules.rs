//! Issue 11, item 4: `/openapi.json` states the input rules the running server enforces, with an
//! example on every request body and a discriminator on tagged unions, and the server refuses
//! what the document forbids the same way on every route (scripts/test-openapi runs schemathesis
//! on the same promise against `monban serve`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use monban_core::Policy;
use serde_json::{Value, json};

async fn document(h: &Harness) -> Value {
    let a = h.call("GET", "/openapi.json", None, None).await;
    a.expect(200);
    a.json
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

#[tokio::test]
async fn every_request_body_has_an_example_of_the_running_policy() {
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(content) = op["requestBody"]["content"].as_object() else {
                continue;
            };
            for (media, c) in content {
                assert!(c.get("example").is_some(), "{method} {path} {media}");
            }
        }
    }
    // The Kuroneko tenant example has its 9-digit code and 7-digit access key.
    let ex = &doc["paths"]["/support/tenants"]["post"]["requestBody"]["content"]["application/json"]
        ["example"];
    assert_eq!(ex["code"].as_str().unwrap().len(), 9, "{ex}");
    assert_eq!(ex["access_key"].as_str().unwrap().len(), 7, "{ex}");
}

#[tokio::test]
async fn the_login_response_has_a_discriminator() {
    // SPEC: L-1 — a client tells "second factor next" from "signed in" by `next`.
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    assert_eq!(
        schema(&doc, "LoginResponse")["discriminator"]["propertyName"],
        "next"
    );
}

#[tokio::test]
async fn the_document_states_the_policy_rules() {
    // SPEC: T-1, T-4, P-1, P-2 — Kuroneko: 9-digit tenant codes, 7-digit access keys, user IDs
    // of at most 20 letters and digits, e-mail of at most 64 characters, names of 60 columns.
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    let code = &schema(&doc, "NewTenant")["properties"]["code"];
    assert_eq!(code["pattern"], "^[0-9]{9}$");
    assert_eq!(
        schema(&doc, "NewTenant")["properties"]["access_key"]["pattern"],
        "^[0-9]{7}$"
    );
    let user_id = &schema(&doc, "NewUser")["properties"]["user_id"];
    assert_eq!(user_id["maxLength"], 20);
    let email = &schema(&doc, "ProfileInput")["properties"]["email"];
    assert_eq!(email["maxLength"], 64);
    assert_eq!(
        schema(&doc, "ProfileInput")["properties"]["name"]["maxLength"],
        60
    );
    // The login needs the tenant code (no default tenant).
    let login = schema(&doc, "LoginRequest");
    assert!(
        login["required"]
            .as_array()
            .unwrap()
            .contains(&json!("tenant"))
    );
    // Every listing's `limit` is 1..=500.
    for path in [
        "/admin/users",
        "/support/tenants",
        "/support/tenants/{code}/users",
        "/support/audit",
        "/support/limits",
    ] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(limit["schema"]["minimum"], 1, "{path}");
        assert_eq!(limit["schema"]["maximum"], 500, "{path}");
    }
    // Another policy, another document: the NIST default has no tenant-code digits.
    let nist = Harness::with(Policy::nist().with_test_hashing(), |s| s);
    let doc = document(&nist).await;
    let code = &schema(&doc, "NewTenant")["properties"]["code"];
    assert_eq!(code["maxLength"], 32, "{code}");
}

#[tokio::test]
async fn every_listing_refuses_a_limit_outside_1_to_500_and_an_empty_cursor() {
    // Issue 11: `limit=0` was served on three listings, `after=` ignored on two and refused on
    // the others. Now every listing answers 400 `invalid_request` for both.
    let h = Harness::kuroneko();
    let admin = h.admin_session().await;
    for path in [
        "/admin/users",
        "/support/tenants",
        "/support/tenants/123456789/users",
        "/support/audit",
        "/support/limits",
    ] {
        let token = if path.starts_with("/admin") {
            admin.as_str()
        } else {
            SUPPORT
        };
        for q in ["limit=0", "limit=501", "after="] {
            let a = h
                .call("GET", &format!("{path}?{q}"), None, Some(token))
                .await;
            a.expect_error(400, "invalid_request");
        }
        for q in ["limit=1", "limit=500"] {
            h.call("GET", &format!("{path}?{q}"), None, Some(token))
                .await
                .expect(200);
        }
    }
}

#[tokio::test]
async fn a_user_id_with_white_space_is_not_found_rather_than_a_cursor_error() {
    // GET /admin/users/{id} read the listing from just before `id`; an ID whose prefix held a
    // space answered 400 with the paging-cursor message, for a cursor the client never sent.
    let h = Harness::kuroneko();
    let admin = h.admin_session().await;
    let a = h
        .call("GET", "/admin/users/%20ab", None, Some(&admin))
        .await;
    a.expect_error(404, "not_found");
}

#[tokio::test]
async fn the_link_form_refuses_unknown_fields_as_the_json_body_does() {
    // SPEC: RS-1 — the page's form posts `token` alone.
    let h = Harness::kuroneko();
    let req = Request::builder()
        .method("POST")
        .uri("/reset/open")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("token=abc&other=1"))
        .unwrap();
    h.send(req).await.expect_error(400, "invalid_request");
    let a = h
        .call(
            "POST",
            "/reset/open",
            Some(json!({"token": "abc", "other": 1})),
            None,
        )
        .await;
    a.expect_error(400, "invalid_request");
}
