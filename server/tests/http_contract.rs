//! The HTTP contract around the flows: error language, unknown routes and methods, the support
//! credential, identical answers for unknown accounts, certificates from the transport, the
//! reset link page, the other presets' recovery routes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use monban_core::mail::{MailKind, extract_login_id};
use monban_core::{Policy, Secret};
use serde_json::json;

#[tokio::test]
async fn health_answers_ok() {
    let h = Harness::kuroneko();
    let a = h.call("GET", "/health", None, None).await;
    a.expect(200);
    assert_eq!(a.json, json!({"status": "ok"}));
    assert_eq!(a.headers["cache-control"], "no-store");
    assert_eq!(a.headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let h = Harness::kuroneko();
    let a = h.call("GET", "/nowhere", None, None).await;
    a.expect_error(404, "route_not_found");
    let a = h.call("POST", "/", Some(json!({})), None).await;
    a.expect_error(404, "route_not_found");
    let a = h.call("DELETE", "/login", None, None).await;
    a.expect_error(405, "method_not_allowed");
    assert!(
        a.headers["allow"].to_str().unwrap().contains("POST"),
        "405 keeps axum's Allow header"
    );
    let a = h.call("GET", "/reset/open", None, None).await;
    a.expect_error(405, "method_not_allowed");
}

#[tokio::test]
async fn messages_follow_accept_language_else_the_policy_default() {
    // SPEC: M-2, L-5
    let h = Harness::kuroneko();
    let login = json!({"tenant": TENANT, "identifier": "nobody", "password": "Wrong2024pass"});
    let send = |lang: Option<&'static str>| {
        let mut b = Request::post("/login").header("content-type", "application/json");
        if let Some(l) = lang {
            b = b.header("accept-language", l);
        }
        b.body(Body::from(login.to_string())).unwrap()
    };
    // Kuroneko's default language is Japanese: the seed text.
    let a = h.send(send(None)).await;
    a.expect_error(401, "login_failed");
    assert_eq!(
        a.json["message"],
        "ログインに失敗しました。入力内容を確認してください。"
    );
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    let a = h.send(send(Some("en-US,en;q=0.9"))).await;
    assert_eq!(
        a.json["message"],
        "Login failed. Please check what you entered."
    );
    let a = h.send(send(Some("fr, ja;q=0.5"))).await;
    assert!(a.json["message"].as_str().unwrap().starts_with("ログイン"));
    // HTTP-level errors are localized too.
    let a = h
        .send(
            Request::get("/nowhere")
                .header("accept-language", "en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(a.json["message"], "No such endpoint.");
    let a = h.call("GET", "/nowhere", None, None).await;
    assert_eq!(a.json["message"], "指定されたURLは存在しません。");
    // An English-default policy answers English without the header.
    let h = Harness::with(Policy::identity_reset().with_test_hashing(), |s| s);
    let a = h
        .call("POST", "/login", Some(json!({"identifier": "1"})), None)
        .await;
    a.expect_error(401, "login_failed");
    assert_eq!(
        a.json["message"],
        "Login failed. Please check what you entered."
    );
}

#[tokio::test]
async fn invalid_input_names_its_field() {
    let h = Harness::kuroneko();
    let a = h
        .support(
            "POST",
            "/support/tenants",
            Some(json!({"code": "１２３４５６７８９", "name": "x", "admin": {"name": "y"}})),
        )
        .await;
    a.expect_error(422, "invalid_input");
    assert_eq!(a.json["field"], "tenant_code");
}

#[tokio::test]
async fn the_support_token_guards_the_support_routes() {
    // SPEC: R-4
    let h = Harness::kuroneko();
    let body =
        json!({"code": TENANT, "name": "x", "admin": {"name": "y", "email": "y@example.com"}});
    // Missing or wrong token → 401 unauthorized (nothing created).
    h.call("POST", "/support/tenants", Some(body.clone()), None)
        .await
        .expect_error(401, "unauthorized");
    let a = h
        .call(
            "POST",
            "/support/tenants",
            Some(body.clone()),
            Some("wrong-token"),
        )
        .await;
    a.expect_error(401, "unauthorized");
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    h.call(
        "POST",
        "/support/tenants",
        Some(body.clone()),
        Some(&SUPPORT[..SUPPORT.len() - 1]),
    )
    .await
    .expect_error(401, "unauthorized");
    assert_eq!(h.store.commits(), 0);
    // The scheme is case-insensitive.
    let a = h
        .send(
            Request::get("/support/audit")
                .header("authorization", format!("bearer {SUPPORT}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    a.expect(200);
    // No token configured → every support route is off: 403 forbidden, whatever is sent.
    for token in [None, Some(SUPPORT), Some("")] {
        let h = Harness::build(
            Policy::kuroneko().with_test_hashing(),
            token.filter(|t| t.is_empty()).map(Secret::new),
            |s| s,
        );
        for (m, p) in [
            ("POST", "/support/tenants"),
            ("GET", "/support/audit"),
            ("POST", "/support/sweep"),
        ] {
            let b = (m == "POST").then(|| body.clone());
            h.call(m, p, b, token).await.expect_error(403, "forbidden");
        }
    }
}

/// Everything a client can see of an answer.
fn seen(a: &Answer) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut headers: Vec<(String, String)> = a
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    headers.sort();
    (a.status.as_u16(), headers, a.bytes.to_vec())
}

#[tokio::test]
async fn every_first_factor_failure_answers_the_same() {
    // SPEC: L-5, T-2 — wrong tenant, user, password or access key: one status, one body, the
    // same headers.
    let h = Harness::kuroneko();
    h.admin_session().await;
    let good = json!({"tenant": TENANT, "identifier": TENANT, "password": ADMIN_PW, "access_key": ACCESS_KEY});
    let mut variants = Vec::new();
    for (k, v) in [
        ("tenant", json!("987654321")),
        ("identifier", json!("nobody")),
        ("password", json!("Wrong2024pass")),
        ("access_key", json!("7654321")),
        ("access_key", serde_json::Value::Null),
    ] {
        let mut req = good.clone();
        req[k] = v;
        variants.push(req);
    }
    let mut answers = Vec::new();
    for req in variants {
        let a = h.call("POST", "/login", Some(req), None).await;
        a.expect_error(401, "login_failed");
        answers.push(seen(&a));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
}

#[tokio::test]
async fn a_reset_request_does_not_tell_whether_the_account_exists() {
    // SPEC: RS-3, T-2
    let h = Harness::kuroneko();
    h.create_tenant().await;
    let mut answers = Vec::new();
    for req in [
        json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY}),
        json!({"tenant": TENANT, "user_id": "nobody", "access_key": ACCESS_KEY}),
        json!({"tenant": "987654321", "user_id": TENANT, "access_key": ACCESS_KEY}),
        json!({"tenant": TENANT, "user_id": TENANT, "access_key": "7654321"}),
        json!({"tenant": TENANT, "user_id": TENANT}),
    ] {
        let a = h.call("POST", "/reset", Some(req), None).await;
        a.expect(202);
        answers.push(seen(&a));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // Only the real one was mailed.
    assert_eq!(h.mailer.to(ADMIN_MAIL).len(), 1);
}

#[tokio::test]
async fn a_dead_reset_link_answers_json_or_a_page() {
    // SPEC: RS-1
    let h = Harness::kuroneko();
    h.call("GET", "/reset/nonsense", None, None)
        .await
        .expect_error(410, "reset_link_invalid");
    let a = h
        .send(
            Request::get("/reset/nonsense")
                .header("accept", "text/html")
                .header("accept-language", "en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    a.expect(410);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(a.headers["referrer-policy"], "no-referrer");
    assert_eq!(a.headers["cache-control"], "no-store");
    let page = String::from_utf8(a.bytes.to_vec()).unwrap();
    assert!(page.contains("This link has expired"), "{page}");
    // The JSON form of a live link.
    h.create_tenant().await;
    h.call(
        "POST",
        "/reset",
        Some(json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
        None,
    )
    .await
    .expect(202);
    let url = h.last_of(ADMIN_MAIL, MailKind::ResetStarted);
    let token = url.rsplit('/').next().unwrap();
    // RS-1: opening the link changes nothing and says to press its button (POST the token)
    let a = h.call("GET", &format!("/reset/{token}"), None, None).await;
    a.expect(200);
    assert_eq!(a.json["status"], "confirm");
    let a = h
        .call("POST", "/reset/open", Some(json!({"token": token})), None)
        .await;
    a.expect(200);
    assert_eq!(a.json["status"], "temporary_password_mailed");
    assert!(a.json["message"].as_str().unwrap().contains("仮パスワード"));
}

#[tokio::test]
async fn kuroneko_has_no_identity_reset() {
    // A feature the policy turns off is 404 not_enabled, and the answer names the feature and
    // the policy field that turns it on.
    let h = Harness::kuroneko();
    for (path, body, feature, policy_field) in [
        (
            "/reset/identity",
            json!({"login_id": "1", "name": "a", "phone": "1", "email": "a@example.com"}),
            "identity_reset",
            "reset.identity",
        ),
        (
            "/forgot-login-id",
            json!({"email": "a@example.com"}),
            "forgot_login_id",
            "reset.forgot_login_id",
        ),
        (
            "/password-notification",
            json!({"email": "a@example.com"}),
            "password_notification",
            "reset.notification",
        ),
    ] {
        let a = h.call("POST", path, Some(body), None).await;
        a.expect_error(404, "not_enabled");
        assert_eq!(a.json["feature"], feature, "{path}");
        assert!(a.json.get("field").is_none(), "{path}");
        assert!(
            a.json["message"].as_str().unwrap().contains(policy_field),
            "{path}: {}",
            a.json["message"]
        );
    }
}

#[tokio::test]
async fn an_access_key_under_a_policy_without_one_is_named() {
    // SPEC: T-1 — NIST tenants have no access key; the refusal says which field is off.
    let h = Harness::with(Policy::nist().with_test_hashing(), |s| s);
    let a = h
        .support(
            "POST",
            "/support/tenants",
            Some(
                json!({"code": "acme", "name": "Acme", "access_key": "1234567",
                        "admin": {"name": "Admin", "email": "admin@example.com"}}),
            ),
        )
        .await;
    a.expect_error(404, "not_enabled");
    assert_eq!(a.json["feature"], "access_key");
    assert_eq!(a.json["field"], "access_key");
    assert!(
        a.json["message"]
            .as_str()
            .unwrap()
            .contains("profile.access_key_digits")
    );
    assert_eq!(h.store.commits(), 0);
}

#[tokio::test]
async fn identity_reset_and_forgot_login_id_answer_alike_on_any_mismatch() {
    // SPEC: RS-4, RS-5 (seed 002)
    let h = Harness::with(Policy::identity_reset().with_test_hashing(), |s| s);
    h.support(
        "POST",
        "/support/tenants",
        Some(
            json!({"code": "accounts", "name": "Accounts", "admin_login_method": "mail_otp",
            "admin": {"name": "Taro KOKU", "email": "taro@example.com", "phone": "03-1111-2222",
                "kind": "organization"}}),
        ),
    )
    .await
    .expect(201);
    let claim = json!({"login_id": "accounts", "name": "taro　koku", "phone": "0311112222", "email": "TARO@example.com"});
    let mut answers = Vec::new();
    for (k, v) in [
        ("login_id", "accounts"),
        ("name", "Jiro KOKU"),
        ("phone", "0399999999"),
        ("email", "other@example.com"),
        ("login_id", "123456789"),
    ] {
        let mut c = claim.clone();
        c[k] = json!(v);
        let a = h.call("POST", "/reset/identity", Some(c), None).await;
        a.expect(202);
        answers.push(seen(&a));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    // Only the full match (the first) mailed a temporary password.
    let mails = h.mailer.to("taro@example.com");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].kind, MailKind::TemporaryPassword);

    let mut answers = Vec::new();
    for req in [
        json!({"email": "taro@example.com", "name": "Taro KOKU", "phone": "03-1111-2222"}),
        json!({"email": "nobody@example.com", "name": "Taro KOKU", "phone": "03-1111-2222"}),
        json!({"email": "taro@example.com", "name": "Hanako", "phone": "03-1111-2222"}),
    ] {
        let a = h.call("POST", "/forgot-login-id", Some(req), None).await;
        a.expect(202);
        answers.push(seen(&a));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    let notice = h.last_mail("taro@example.com");
    assert_eq!(extract_login_id(&notice).as_deref(), Some("accounts"));
}

#[tokio::test]
async fn password_notification_answers_alike() {
    // SPEC: RS-6, PW-7 (e-Parcel)
    let h = Harness::with(Policy::e_parcel().with_test_hashing(), |s| s);
    h.support(
        "POST",
        "/support/tenants",
        Some(json!({"code": "eparcel", "name": "e-Parcel", "admin": {"name": "Taro", "family_name": "Yamada", "email": "ep@example.com"}})),
    )
    .await
    .expect(201);
    let known = h
        .call(
            "POST",
            "/password-notification",
            Some(json!({"email": "ep@example.com"})),
            None,
        )
        .await;
    let unknown = h
        .call(
            "POST",
            "/password-notification",
            Some(json!({"email": "no@example.com"})),
            None,
        )
        .await;
    known.expect(202);
    assert_eq!(seen(&known), seen(&unknown));
    assert_eq!(
        h.last_mail("ep@example.com").kind,
        MailKind::TemporaryPassword
    );
}

#[tokio::test]
async fn the_certificate_comes_from_a_trusted_transport_only() {
    // SPEC: L-8 (SECOM: certificate, then access key + password)
    let setup = |trust: bool| async move {
        let h = Harness::with(Policy::secom_passport().with_test_hashing(), |s| {
            s.trust_cert_header(trust)
        });
        h.support(
            "POST",
            "/support/tenants",
            Some(
                json!({"code": "secom1", "name": "SECOM", "access_key": "12345678",
                "welcome_mail": true, "admin": {"name": "Tanto", "email": "tanto@example.com"}}),
            ),
        )
        .await
        .expect(201);
        h.support(
            "POST",
            "/support/tenants/secom1/users/secom1/certificates",
            Some(json!({"certificate": {"sha256": "0f".repeat(32)}})),
        )
        .await
        .expect(204);
        let temp = h.last_of("tanto@example.com", MailKind::UserRegistered);
        (h, temp)
    };
    let login = |temp: &str, header: bool| {
        let mut b = Request::post("/login").header("content-type", "application/json");
        if header {
            b = b.header("x-client-cert-sha256", "0f".repeat(32));
        }
        b.body(Body::from(
            json!({"access_key": "12345678", "password": temp}).to_string(),
        ))
        .unwrap()
    };
    // Trusted: the header names the certificate; access key + password complete the login.
    let (h, temp) = setup(true).await;
    let a = h.send(login(&temp, true)).await;
    a.expect(200);
    assert_eq!(a.json["next"], "session");
    assert_eq!(a.json["session"]["user_id"], "secom1");
    assert_eq!(a.json["session"]["must_change_password"], "temporary");
    // Without the header there is no certificate: the login fails like any other (L-5).
    h.send(login(&temp, false))
        .await
        .expect_error(401, "login_failed");
    // A malformed fingerprint is bad input, not a server error.
    let a = h
        .send(
            Request::post("/login")
                .header("content-type", "application/json")
                .header("x-client-cert-sha256", "not-hex")
                .body(Body::from(json!({"password": "x"}).to_string()))
                .unwrap(),
        )
        .await;
    a.expect_error(422, "invalid_input");
    // Not trusted (the default): the header is ignored.
    let (h, temp) = setup(false).await;
    h.send(login(&temp, true))
        .await
        .expect_error(401, "login_failed");
}

/// argon2 on tokio's blocking pool, as a server does it (monban-embedded's `TokioOffload`
/// also bounds the pool).
struct BlockingPool;

impl monban_core::ports::Offload for BlockingPool {
    fn run(
        &self,
        job: monban_core::ports::Job,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'static>> {
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(job).await;
        })
    }
}

#[test]
fn argon2_runs_on_the_blocking_pool() {
    // DESIGN principle 8: the router serves concurrent logins whose argon2 runs off the workers.
    use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
    use monban_core::token::SessionKey;
    use monban_core::{AuthService, Timestamp};
    use std::sync::Arc;
    use tower::ServiceExt;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mailer = Arc::new(CapturingMailer::new());
        let svc = AuthService::new(
            Policy::kuroneko().with_test_hashing(),
            SessionKey::new(vec![1; 32]).unwrap(),
            MemoryStore::new(),
            Arc::clone(&mailer),
            ManualClock::at(Timestamp(1_800_000_000)),
            SeededRandom::new(3),
        )
        .unwrap()
        .with_offload(BlockingPool);
        let state = monban_server::AppState::new(svc, Some(Secret::new(SUPPORT)));
        let svc = state.shared_service();
        let app = monban_server::router(state);
        let req = |m: &str, p: &str, auth: Option<&str>, body: serde_json::Value| {
            let mut b = Request::builder()
                .method(m)
                .uri(p)
                .header("content-type", "application/json");
            if let Some(t) = auth {
                b = b.header("authorization", format!("Bearer {t}"));
            }
            b.body(Body::from(body.to_string())).unwrap()
        };
        let res = app
            .clone()
            .oneshot(req(
                "POST",
                "/support/tenants",
                Some(SUPPORT),
                json!({"code": TENANT, "name": "x", "welcome_mail": true,
                    "admin": {"name": "y", "email": ADMIN_MAIL}}),
            ))
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        svc.deliver_pending().await.unwrap();
        let temp = monban_core::mail::extract_secret(&mailer.last_to(ADMIN_MAIL).unwrap()).unwrap();
        // Several logins at once, each hashing on the blocking pool.
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let app = app.clone();
            let body = json!({"tenant": TENANT, "identifier": TENANT, "password": temp});
            tasks.push(tokio::spawn(async move {
                app.oneshot(req("POST", "/login", None, body))
                    .await
                    .unwrap()
                    .status()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }
    });
}
