//! Bad input never gets past the HTTP layer as anything but a 4xx JSON `{code, message}`, never
//! a 5xx, and nothing is stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{HeaderValue, Request};
use common::*;
use serde_json::json;

/// One bad request: what it is, how it is sent, and the answer expected.
struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    auth: Auth,
    status: u16,
    code: &'static str,
}

#[derive(Clone, Copy)]
enum Auth {
    None,
    Admin,
    Support,
    Raw(&'static [u8]),
}

fn case(
    what: &'static str,
    method: &'static str,
    path: impl Into<String>,
    body: impl Into<Vec<u8>>,
    auth: Auth,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.into(),
        content_type: Some("application/json"),
        body: body.into(),
        auth,
        status,
        code,
    }
}

fn cases() -> Vec<Case> {
    let long = "a".repeat(5000);
    let oversized = format!(
        "{{\"identifier\":\"{}\",\"password\":\"x\"}}",
        "9".repeat(70 * 1024)
    );
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let user = |extra: serde_json::Value| {
        let mut u = json!({"user_id": "clerk09", "role": "general",
            "profile": {"name": "山田", "email": "c9@example.com"}});
        for (k, v) in extra.as_object().unwrap() {
            if k == "name" {
                u["profile"]["name"] = v.clone();
            } else {
                u[k] = v.clone();
            }
        }
        u.to_string()
    };
    let mut v = vec![
        // The body cannot be read: 400 invalid_request.
        case("malformed JSON", "POST", "/login", "{\"tenant\": ", Auth::None, 400, "invalid_request"),
        case("not JSON at all", "POST", "/login", "tenant=1&password=2", Auth::None, 400, "invalid_request"),
        case("empty body", "POST", "/login", "", Auth::None, 400, "invalid_request"),
        case("JSON null", "POST", "/login", "null", Auth::None, 400, "invalid_request"),
        case("JSON array", "POST", "/login", "[]", Auth::None, 400, "invalid_request"),
        case("wrong type", "POST", "/login", r#"{"identifier": 123}"#, Auth::None, 400, "invalid_request"),
        case("wrong type (bool for string)", "POST", "/reset", r#"{"user_id": true}"#, Auth::None, 400, "invalid_request"),
        case("missing required field", "POST", "/reset", r#"{"tenant": "123456789"}"#, Auth::None, 400, "invalid_request"),
        case("unknown field", "POST", "/login", r#"{"identifier": "a", "password": "b", "admin": true}"#, Auth::None, 400, "invalid_request"),
        // SPEC: L-8 — a certificate is never taken from the body.
        case("certificate in the body", "POST", "/login",
            format!(r#"{{"certificate": {{"sha256": "{}"}}}}"#, "ab".repeat(32)), Auth::None, 400, "invalid_request"),
        case("duplicate field", "POST", "/login", r#"{"identifier": "a", "identifier": "b"}"#, Auth::None, 400, "invalid_request"),
        case("unknown enum value", "POST", "/admin/users", user(json!({"role": "root"})), Auth::Admin, 400, "invalid_request"),
        case("unknown nested field", "POST", "/admin/users",
            r#"{"user_id": "u1", "role": "general", "profile": {"name": "x", "is_admin": true}}"#, Auth::Admin, 400, "invalid_request"),
        case("lone surrogate escape", "POST", "/login", r#"{"identifier": "\ud800"}"#, Auth::None, 400, "invalid_request"),
        case("deeply nested", "POST", "/login", nested, Auth::None, 400, "invalid_request"),
        case("non-UTF-8 bytes", "POST", "/login", b"{\"identifier\": \"\xff\xfe\xfd\"}".to_vec(), Auth::None, 400, "invalid_request"),
        case("non-UTF-8 bytes (support)", "POST", "/support/tenants", b"{\"code\": \"\xc3\x28\"}".to_vec(), Auth::Support, 400, "invalid_request"),
        case("oversized body", "POST", "/login", oversized.clone(), Auth::None, 413, "payload_too_large"),
        case("oversized body (admin)", "POST", "/admin/users", oversized, Auth::Admin, 413, "payload_too_large"),
        case("unknown permission", "GET", "/me/permissions/root", "", Auth::Admin, 400, "invalid_request"),
        case("negative limit", "GET", "/admin/users?limit=-1", "", Auth::Admin, 400, "invalid_request"),
        case("huge limit", "GET", "/admin/users?limit=99999999999999999999999", "", Auth::Admin, 400, "invalid_request"),
        case("unknown audit kind", "GET", "/support/audit?kind=everything", "", Auth::Support, 400, "invalid_request"),
        // SPEC: T-1 — the tenant routes: bad paging, bad fields, unknown tenants, the admin.
        case("tenant page of 0", "GET", "/support/tenants?limit=0", "", Auth::Support, 400, "invalid_request"),
        case("tenant page over 500", "GET", "/support/tenants?limit=501", "", Auth::Support, 400, "invalid_request"),
        case("tenant page not a number", "GET", "/support/tenants?limit=ten", "", Auth::Support, 400, "invalid_request"),
        case("tenant cursor with a control character", "GET", "/support/tenants?after=%07", "", Auth::Support, 400, "invalid_request"),
        case("over-long tenant cursor", "GET", format!("/support/tenants?after={long}"), "", Auth::Support, 400, "invalid_request"),
        case("tenants with a session token", "GET", "/support/tenants", "", Auth::Admin, 401, "unauthorized"),
        case("tenant edit with an unknown field", "PATCH", format!("/support/tenants/{TENANT}"), r#"{"code": "1"}"#, Auth::Support, 400, "invalid_request"),
        case("tenant edit with a wrong type", "PATCH", format!("/support/tenants/{TENANT}"), r#"{"logistics": "yes"}"#, Auth::Support, 400, "invalid_request"),
        case("corporate number with a wrong check digit", "PATCH", format!("/support/tenants/{TENANT}"),
            r#"{"corporate_number": "1234567890123"}"#, Auth::Support, 422, "invalid_input"),
        case("6-digit access key", "PATCH", format!("/support/tenants/{TENANT}"), r#"{"access_key": "123456"}"#, Auth::Support, 422, "invalid_input"),
        case("empty tenant name", "PATCH", format!("/support/tenants/{TENANT}"), r#"{"name": " "}"#, Auth::Support, 422, "invalid_input"),
        case("edit of an unknown tenant", "PATCH", "/support/tenants/999999990", "{}", Auth::Support, 404, "not_found"),
        case("read of an unknown tenant", "GET", "/support/tenants/999999990", "", Auth::Support, 404, "not_found"),
        case("delete of an unknown tenant", "DELETE", "/support/tenants/999999990", "", Auth::Support, 404, "not_found"),
        case("over-long code in a tenant path", "DELETE", format!("/support/tenants/{long}"), "", Auth::Support, 422, "invalid_input"),
        case("support user create with an unknown field", "POST", format!("/support/tenants/{TENANT}/users"),
            r#"{"user_id": "a1", "role": "general", "profile": {"name": "a"}, "x": 1}"#, Auth::Support, 400, "invalid_request"),
        case("support user create in an unknown tenant", "POST", "/support/tenants/999999990/users",
            r#"{"user_id": "a1", "role": "general", "profile": {"name": "a", "email": "a1@example.com"}}"#, Auth::Support, 404, "not_found"),
        case("support deletes the admin alone", "DELETE", format!("/support/tenants/{TENANT}/users/{TENANT}"), "", Auth::Support, 403, "forbidden"),
        case("support reads an unknown user", "GET", format!("/support/tenants/{TENANT}/users/nobody"), "", Auth::Support, 404, "not_found"),
        case("end sessions of an unknown user", "POST", format!("/support/tenants/{TENANT}/users/nobody/end-sessions"), "", Auth::Support, 404, "not_found"),
        // The body was read; the rules refuse it: 422.
        case("over-long user ID", "POST", "/admin/users", user(json!({"user_id": long})), Auth::Admin, 422, "invalid_input"),
        case("over-long login ID", "POST", "/login",
            json!({"tenant": TENANT, "identifier": "a".repeat(2000), "password": "x"}).to_string(), Auth::None, 422, "invalid_input"),
        case("over-long password", "POST", "/login",
            json!({"tenant": TENANT, "identifier": "a", "password": "p".repeat(2000)}).to_string(), Auth::None, 422, "invalid_input"),
        case("over-long ID in the path", "GET", format!("/admin/users/{}", "a".repeat(2000)), "", Auth::Admin, 422, "invalid_input"),
        case("over-long ID in a support path", "POST",
            format!("/support/tenants/{TENANT}/users/{}/unlock", "a".repeat(2000)), "", Auth::Support, 422, "invalid_input"),
        case("control character in the path", "DELETE", "/admin/users/a%00b", "", Auth::Admin, 422, "invalid_input"),
        case("new line in the path", "POST", "/support/tenants/1%0A2/users/x/unlock", "", Auth::Support, 422, "invalid_input"),
        // SPEC: T-1 — half-width digits only.
        case("full-width digits in a tenant code", "POST", "/support/tenants",
            json!({"code": "１２３４５６７８９", "name": "x", "admin": {"name": "y", "email": "y@example.com"}}).to_string(),
            Auth::Support, 422, "invalid_input"),
        case("full-width digits in the login tenant", "POST", "/login",
            json!({"tenant": "１２３４５６７８９", "identifier": "a", "password": "x"}).to_string(), Auth::None, 422, "invalid_input"),
        case("full-width digits in the reset tenant", "POST", "/reset",
            json!({"tenant": "１２３４５６７８９", "user_id": "a"}).to_string(), Auth::None, 422, "invalid_input"),
        case("tenant code too short", "POST", "/support/tenants",
            json!({"code": "12345", "name": "x", "admin": {"name": "y", "email": "y@example.com"}}).to_string(),
            Auth::Support, 422, "invalid_input"),
        // SPEC: T-4 — alphanumerics only, no symbols.
        case("SQL-ish user ID", "POST", "/admin/users", user(json!({"user_id": "x'; DROP TABLE users;--"})), Auth::Admin, 422, "invalid_input"),
        case("SQL-ish tenant code", "POST", "/support/tenants",
            json!({"code": "1' OR '1'='1", "name": "x", "admin": {"name": "y"}}).to_string(), Auth::Support, 422, "invalid_input"),
        case("control character in a user ID", "POST", "/admin/users", user(json!({"user_id": "ab\ncd"})), Auth::Admin, 422, "invalid_input"),
        case("control character in a name", "POST", "/admin/users", user(json!({"name": "山田\u{0}花子"})), Auth::Admin, 422, "invalid_input"),
        case("name too wide", "POST", "/admin/users", user(json!({"name": "あ".repeat(31)})), Auth::Admin, 422, "invalid_input"),
        case("malformed e-mail", "POST", "/admin/users",
            r#"{"user_id": "u1", "role": "general", "profile": {"name": "x", "email": "not-an-email"}}"#, Auth::Admin, 422, "invalid_input"),
        case("header injection in an e-mail", "PUT", format!("/support/tenants/{TENANT}/admin-email"),
            json!({"email": "a@example.com\r\nBcc: evil@example.com"}).to_string(), Auth::Support, 422, "invalid_input"),
        case("certificate without fingerprint or serial", "POST",
            format!("/support/tenants/{TENANT}/users/{TENANT}/certificates"), r#"{"certificate": {}}"#, Auth::Support, 422, "invalid_input"),
        case("bad fingerprint", "POST",
            format!("/support/tenants/{TENANT}/users/{TENANT}/certificates"), r#"{"certificate": {"sha256": "zz"}}"#, Auth::Support, 422, "invalid_input"),
        // Credentials that cannot be read are credentials that are wrong.
        case("garbage bearer token", "GET", "/me", "", Auth::Raw(b"Bearer \xff\xfe"), 401, "session_invalid"),
        case("huge bearer token", "GET", "/me", "", Auth::Raw(b"Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 401, "session_invalid"),
        case("basic instead of bearer", "GET", "/admin/users", "", Auth::Raw(b"Basic YWRtaW46YWRtaW4="), 401, "session_invalid"),
        case("support token as a session", "GET", "/me", "", Auth::Support, 401, "session_invalid"),
        case("session token as the support token", "POST", "/support/sweep", "", Auth::Admin, 401, "unauthorized"),
        case("unknown challenge", "POST", "/login/otp", r#"{"challenge": "'; --", "code": "123456"}"#, Auth::None, 401, "challenge_expired"),
        case("unknown reset link", "POST", "/reset/open", json!({"token": "x".repeat(5000)}).to_string(), Auth::None, 410, "reset_link_invalid"),
        case("unknown route", "GET", "/admin/users/x/y/z", "", Auth::Admin, 404, "route_not_found"),
        case("wrong method", "PUT", "/login", "{}", Auth::None, 405, "method_not_allowed"),
    ];
    let mut no_type = case(
        "no content type",
        "POST",
        "/login",
        r#"{"identifier": "a"}"#,
        Auth::None,
        400,
        "invalid_request",
    );
    no_type.content_type = None;
    let mut text = case(
        "text/plain",
        "POST",
        "/reset",
        r#"{"user_id": "a"}"#,
        Auth::None,
        400,
        "invalid_request",
    );
    text.content_type = Some("text/plain");
    let mut form = case(
        "form content type",
        "POST",
        "/support/tenants",
        "code=1",
        Auth::Support,
        400,
        "invalid_request",
    );
    form.content_type = Some("application/x-www-form-urlencoded");
    v.extend([no_type, text, form]);
    v
}

#[tokio::test]
async fn bad_input_is_a_4xx_json_error_and_stores_nothing() {
    // GIVEN a tenant with a signed-in admin
    let h = Harness::kuroneko();
    let admin = h.admin_session().await;
    let users_before = h.all_users().await;
    let commits_before = h.store.commits();
    let huge_token = format!("Bearer {}", "A".repeat(10_000));
    for c in cases() {
        // WHEN the bad request is sent
        let mut b = Request::builder().method(c.method).uri(&c.path);
        if let Some(ct) = c.content_type {
            b = b.header("content-type", ct);
        }
        b = match c.auth {
            Auth::None => b,
            Auth::Admin => b.header("authorization", format!("Bearer {admin}")),
            Auth::Support => b.header("authorization", format!("Bearer {SUPPORT}")),
            Auth::Raw(_) if c.what == "huge bearer token" => b.header("authorization", &huge_token),
            Auth::Raw(v) => b.header("authorization", HeaderValue::from_bytes(v).unwrap()),
        };
        let a = h.send(b.body(Body::from(c.body)).unwrap()).await;
        // THEN it is the expected 4xx with the JSON error body
        assert!(a.status.is_client_error(), "{}: {}", c.what, a.status);
        assert_eq!(a.status.as_u16(), c.status, "{}: {}", c.what, a.json);
        assert_json_error(&a);
        assert_eq!(a.code(), c.code, "{}: {}", c.what, a.json);
    }
    // AND nothing was stored
    assert_eq!(h.store.commits(), commits_before);
    assert_eq!(h.all_users().await, users_before);
}

#[tokio::test]
async fn odd_recovery_input_gets_the_normal_answer_and_stores_nothing() {
    // SPEC: RS-3, M-4 — SQL-ish or unknown IDs in a reset request are answered like any
    // unknown account: accepted, queued, resolved by the courier to nothing: no record
    // changed, nothing mailed, nothing left in the queue.
    let h = Harness::kuroneko();
    h.create_tenant().await;
    let users_before = h.all_users().await;
    let mails_before = h.mailer.mails().len();
    for id in [
        "x'; DROP TABLE users;--",
        "<script>",
        "a\u{3000}b",
        "%00",
        "１２３",
    ] {
        let a = h
            .call(
                "POST",
                "/reset",
                Some(json!({"tenant": TENANT, "user_id": id, "access_key": ACCESS_KEY})),
                None,
            )
            .await;
        a.expect(202);
        assert_eq!(a.json, json!({"status": "accepted"}));
    }
    assert!(
        h.service
            .outbox(None, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(h.all_users().await, users_before);
    assert_eq!(h.mailer.mails().len(), mails_before);
}

#[tokio::test]
async fn malformed_paging_cursors_are_400_invalid_request_on_every_paged_route() {
    // Issue 11: `GET /support/audit?after=abc` answered 503 store_unavailable. A cursor the
    // service never issued is the client's mistake: 400 invalid_request, never a 5xx.
    let h = Harness::kuroneko();
    let admin = h.admin_session().await;
    let long = "a".repeat(2000);
    let audit = "/support/audit";
    let support_users = format!("/support/tenants/{TENANT}/users");
    let admin_users = "/admin/users";
    // GIVEN values no store ever hands out as a cursor
    let mut bad: Vec<(String, String, Auth)> = Vec::new();
    for v in ["abc", "", "99999999999999999999", "-1", "%00", "1%0A"] {
        bad.push((audit.to_owned(), v.to_owned(), Auth::Support));
    }
    bad.push((audit.to_owned(), long.clone(), Auth::Support));
    // A user list's cursor is a position in user-ID order: any user-ID-like text is one, but
    // an empty one, control characters or one longer than any ID are not.
    for (route, auth) in [
        (support_users.as_str(), Auth::Support),
        (admin_users, Auth::Admin),
    ] {
        for v in ["", "%00", "a%0Ab", long.as_str()] {
            bad.push((route.to_owned(), v.to_owned(), auth));
        }
    }
    for (route, after, auth) in bad {
        // WHEN a page is asked for after it
        let path = format!("{route}?after={after}");
        let bearer = match auth {
            Auth::Admin => Some(admin.as_str()),
            Auth::Support => Some(SUPPORT),
            _ => None,
        };
        let a = h.call("GET", &path, None, bearer).await;
        // THEN 400 invalid_request
        assert_eq!(
            a.status.as_u16(),
            400,
            "{route} after={after:.40}: {}",
            a.json
        );
        assert_json_error(&a);
        assert_eq!(a.code(), "invalid_request", "{route} after={after:.40}");
    }
    // AND well-formed positions in a user list page on from there
    for (route, bearer) in [
        (support_users.as_str(), SUPPORT),
        (admin_users, admin.as_str()),
    ] {
        for v in ["abc", "99999999999999999999", "0"] {
            let a = h
                .call("GET", &format!("{route}?after={v}"), None, Some(bearer))
                .await;
            a.expect(200);
        }
    }
    // AND the cursor the service hands out works
    let first = h
        .call("GET", &format!("{audit}?limit=1"), None, Some(SUPPORT))
        .await;
    first.expect(200);
    let next = first.str("next");
    h.call("GET", &format!("{audit}?after={next}"), None, Some(SUPPORT))
        .await
        .expect(200);
}
