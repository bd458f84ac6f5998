//! `/openapi.json` is OpenAPI 3.1, documents exactly the routes the router serves, and lists
//! the error schema with every error code (DESIGN principle 7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Every route of the API: (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/openapi.json"),
    ("get", "/policy/password"),
    ("post", "/login"),
    ("post", "/login/otp"),
    ("post", "/login/otp/resend"),
    ("post", "/logout"),
    ("get", "/me"),
    ("patch", "/me"),
    ("post", "/me/password"),
    ("post", "/me/totp"),
    ("post", "/me/totp/confirm"),
    ("get", "/me/permissions/{permission}"),
    ("get", "/admin/users"),
    ("post", "/admin/users"),
    ("get", "/admin/users/{id}"),
    ("patch", "/admin/users/{id}"),
    ("delete", "/admin/users/{id}"),
    ("post", "/admin/users/{id}/unlock"),
    ("post", "/admin/users/{id}/reset-password"),
    ("post", "/admin/users/{id}/reset-authenticator"),
    ("post", "/support/tenants"),
    ("get", "/support/tenants"),
    ("get", "/support/tenants/{code}"),
    ("patch", "/support/tenants/{code}"),
    ("delete", "/support/tenants/{code}"),
    ("get", "/support/tenants/{code}/users"),
    ("post", "/support/tenants/{code}/users"),
    ("get", "/support/tenants/{code}/users/{id}"),
    ("delete", "/support/tenants/{code}/users/{id}"),
    ("post", "/support/tenants/{code}/users/{id}/end-sessions"),
    ("get", "/me/sessions"),
    ("delete", "/me/sessions/{id}"),
    ("post", "/me/sessions/end-others"),
    ("post", "/admin/users/{id}/end-sessions"),
    ("post", "/support/tenants/{code}/users/{id}/unlock"),
    ("post", "/support/tenants/{code}/users/{id}/reset-password"),
    ("put", "/support/tenants/{code}/admin-email"),
    ("post", "/support/tenants/{code}/users/{id}/certificates"),
    ("post", "/support/sweep"),
    ("get", "/support/audit"),
    ("get", "/support/limits"),
    ("delete", "/support/limits/{address}"),
    ("get", "/support/mail"),
    ("post", "/support/mail/{id}/retry"),
    ("post", "/reset"),
    ("post", "/reset/open"),
    ("get", "/reset/{token}"),
    ("post", "/reset/identity"),
    ("post", "/forgot-login-id"),
    ("post", "/password-notification"),
];

async fn document(h: &Harness) -> Value {
    let a = h.call("GET", "/openapi.json", None, None).await;
    a.expect(200);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    a.json
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_route() {
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "{version}");
    let want: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented(&doc), want);
}

#[tokio::test]
async fn every_documented_route_is_served() {
    // The router answers each documented (method, path) with something other than "no such
    // route" or "wrong method", so the document and the router cannot drift apart.
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    for (method, path) in documented(&doc) {
        let concrete = path
            .replace("{permission}", "edit_self")
            .replace("{id}", "someone")
            .replace("{code}", TENANT)
            .replace("{token}", "not-a-token");
        let body = matches!(method.as_str(), "post" | "put" | "patch").then(|| json!({}));
        let a = h.call(&method.to_uppercase(), &concrete, body, None).await;
        assert!(
            !matches!(a.code(), "route_not_found" | "method_not_allowed"),
            "{method} {path}: {}",
            a.json
        );
        assert!(!a.status.is_server_error(), "{method} {path}: {}", a.json);
    }
}

#[tokio::test]
async fn the_error_schema_lists_every_code() {
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    let schema = &doc["components"]["schemas"]["ErrorBody"];
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "message"]));
    let codes: BTreeSet<&str> = schema["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let listed: BTreeSet<&str> = monban_server::ERROR_CODES.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, listed);
    for c in [
        "invalid_request",
        "payload_too_large",
        "route_not_found",
        "method_not_allowed",
        "login_failed",
        "locked",
        "password_rejected",
    ] {
        assert!(codes.contains(c), "{c}");
    }
}

#[tokio::test]
async fn every_error_response_uses_the_error_schema_and_bodies_are_described() {
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{m} {path}"
            );
            if matches!(m, "post" | "put" | "patch") {
                let has_body = op.get("requestBody").is_some();
                let bodyless = matches!(
                    path.as_str(),
                    "/logout"
                        | "/me/totp"
                        | "/support/sweep"
                        | "/admin/users/{id}/unlock"
                        | "/admin/users/{id}/reset-password"
                        | "/admin/users/{id}/reset-authenticator"
                        | "/support/tenants/{code}/users/{id}/unlock"
                        | "/support/tenants/{code}/users/{id}/reset-password"
                        | "/support/tenants/{code}/users/{id}/end-sessions"
                        | "/admin/users/{id}/end-sessions"
                        | "/me/sessions/end-others"
                        | "/support/mail/{id}/retry"
                );
                assert_eq!(has_body, !bodyless, "{m} {path}");
            }
            for (status, resp) in op["responses"].as_object().unwrap() {
                let s: u16 = status.parse().unwrap();
                if s >= 400 {
                    let refs = resp["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .unwrap_or("");
                    assert_eq!(refs, "#/components/schemas/ErrorBody", "{m} {path} {s}");
                }
            }
        }
    }
    // Session and support security schemes are declared.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["scheme"], "bearer");
    assert_eq!(schemes["support"]["scheme"], "bearer");
    // Request DTOs are in the document, with secrets marked as passwords.
    let login = &doc["components"]["schemas"]["LoginRequest"];
    assert_eq!(login["properties"]["password"]["format"], "password");
    assert!(login["properties"].get("certificate").is_none());
}

#[tokio::test]
async fn operation_ids_are_unique() {
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{m} {path}"));
            assert!(
                seen.insert(id.to_owned()),
                "{m} {path}: operationId {id} twice"
            );
        }
    }
}

#[tokio::test]
async fn audit_times_are_rfc3339() {
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    let at = &doc["components"]["schemas"]["AuditRecord"]["properties"]["at"];
    assert_eq!(at["type"], "string", "{at}");
    assert_eq!(at["format"], "date-time", "{at}");
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_resolves() {
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling {r}"
        );
    }
}

#[tokio::test]
async fn every_operation_id_is_unique() {
    // Code generators name a client method after the operationId: a duplicate makes two routes
    // one method (issue 11: list_users, reset_password and unlock appeared twice).
    let h = Harness::kuroneko();
    let doc = document(&h).await;
    let mut seen = BTreeSet::new();
    let mut dups = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                .to_owned();
            if !seen.insert(id.clone()) {
                dups.push(format!("{id} ({method} {path})"));
            }
        }
    }
    assert!(dups.is_empty(), "duplicate operationIds: {dups:?}");
}
