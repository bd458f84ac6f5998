//! API Gateway HTTP API (payload 2.0) events through the app the `bootstrap` function serves,
//! the way lambda_http runs it: the event JSON is deserialized into lambda_http's
//! `LambdaRequest`, turned into an `http::Request` with its request context, run through
//! `monban_lambdas::aws::lambda::app` by lambda_http's own adapter, and the answer is the API
//! Gateway response JSON (`statusCode`, `headers`, `body`).
//!
//! L-8 on e-Parcel: a user whose certificate is bound logs in with it only when API Gateway's
//! mutual-TLS context carries that certificate; without it (or with a header claiming it) the
//! same login fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent};
use monban_core::mail::{MailKind, extract_secret};
use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret, Timestamp};
use monban_lambdas::aws::lambda::{app, client_cert};
use monban_server::AppState;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt as _;

const SUPPORT: &str = "support-token-0123456789abcdef-lambda";
const TENANT: &str = "eparcel";
const ADMIN_MAIL: &str = "admin@example.com";
const WITH_CERT: &str = include_str!("fixtures/apigw_v2_login_mtls.json");
const WITHOUT_CERT: &str = include_str!("fixtures/apigw_v2_login.json");
const FINGERPRINT: &str = include_str!("fixtures/client_cert.sha256");

struct Lambda {
    app: Router,
    svc: Arc<AuthService<Arc<MemoryStore>, Arc<CapturingMailer>>>,
    mailer: Arc<CapturingMailer>,
}

/// An API Gateway response: status, headers, body as JSON.
#[derive(Debug)]
struct Answer {
    status: u16,
    raw: Value,
    json: Value,
}

impl Lambda {
    fn e_parcel() -> Self {
        Self::e_parcel_with(false)
    }

    fn e_parcel_with(trust_cert_header: bool) -> Self {
        let mailer = Arc::new(CapturingMailer::new());
        let svc = AuthService::new(
            Policy::e_parcel().with_test_hashing(),
            SessionKey::new(vec![9u8; 32]).unwrap(),
            Arc::new(MemoryStore::new()),
            Arc::clone(&mailer),
            ManualClock::at(Timestamp(1_800_000_000)),
            SeededRandom::new(8),
        )
        .unwrap();
        let state =
            AppState::new(svc, Some(Secret::new(SUPPORT))).trust_cert_header(trust_cert_header);
        Self {
            svc: state.shared_service(),
            app: app(state),
            mailer,
        }
    }

    /// Runs `event` as lambda_http does and answers the API Gateway response.
    async fn invoke(&self, event: Value) -> Answer {
        let request: LambdaRequest = serde_json::from_value(event).unwrap();
        let mut context = Context::default();
        context.request_id = "8f3c5a1e-2d4b-4c6a-9e7f-0a1b2c3d4e5f".into();
        let adapter = lambda_http::Adapter::from(self.app.clone());
        let response = adapter
            .oneshot(LambdaEvent::new(request, context))
            .await
            .unwrap();
        // The courier delivers what the request queued, as the stream-fed courier would.
        self.svc.deliver_pending().await.unwrap();
        let raw = serde_json::to_value(&response).unwrap();
        let status = raw["statusCode"].as_u64().unwrap() as u16;
        let json = raw["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        Answer { status, raw, json }
    }
}

/// The fixture `template` for `method path` with `body` (and a correct content length).
fn event(template: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
    let mut e: Value = serde_json::from_str(template).unwrap();
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    match body {
        Some(b) => {
            let text = b.to_string();
            e["headers"]["content-length"] = json!(text.len().to_string());
            e["body"] = json!(text);
        }
        None => {
            let headers = e["headers"].as_object_mut().unwrap();
            headers.remove("content-type");
            headers.insert("content-length".into(), json!("0"));
            e.as_object_mut().unwrap().remove("body");
        }
    }
    e
}

fn support(mut e: Value) -> Value {
    e["headers"]["authorization"] = json!(format!("Bearer {SUPPORT}"));
    e
}

#[test]
fn the_fixtures_are_http_api_events_with_and_without_a_client_cert() {
    for (fixture, has_cert) in [(WITH_CERT, true), (WITHOUT_CERT, false)] {
        let request: LambdaRequest = serde_json::from_str(fixture).unwrap();
        let req: lambda_http::Request = request.into();
        use lambda_http::RequestExt as _;
        let ctx = req.request_context();
        let cert = client_cert(&ctx);
        assert_eq!(cert.is_some(), has_cert);
        if let Some(c) = cert {
            // SPEC: L-8 — the fingerprint is computed from the PEM API Gateway verified.
            assert_eq!(c.sha256.as_deref(), Some(FINGERPRINT.trim()));
            assert_eq!(c.serial.as_deref(), Some("3a:1f:9c"));
        }
        assert_eq!(req.uri().path(), "/login");
        assert_eq!(req.method(), "POST");
    }
}

#[tokio::test]
async fn a_bound_certificate_logs_in_only_when_api_gateway_presents_it() {
    // SPEC: L-8 (e-Parcel: the certificate logs in alone unless Password Protect is on)
    let l = Lambda::e_parcel();

    // GIVEN support creates the e-Parcel tenant, whose admin gets a temporary password by mail
    create_tenant(&l).await;
    let welcome = l.mailer.last_to(ADMIN_MAIL).unwrap();
    assert_eq!(welcome.kind, MailKind::UserRegistered);
    let temp = extract_secret(&welcome).unwrap();
    // AND binds the certificate of the fixture to the admin (by its SHA-256 fingerprint)
    bind_cert(&l).await;

    // WHEN the admin logs in with ID and password but no client certificate
    let login = json!({"identifier": ADMIN_MAIL, "password": temp});
    let a = l
        .invoke(event(WITHOUT_CERT, "POST", "/login", Some(&login)))
        .await;
    // THEN it fails like any failed login (L-5)
    assert_eq!(a.status, 401, "{:?}", a.raw);
    assert_eq!(a.json["code"], "login_failed");
    assert!(
        a.raw["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("application/json")
    );

    // WHEN a client claims the certificate in the header a trusted proxy would set
    let mut spoofed = event(WITHOUT_CERT, "POST", "/login", Some(&login));
    spoofed["headers"]["x-client-cert-sha256"] = json!(FINGERPRINT.trim());
    let a = l.invoke(spoofed).await;
    // THEN the header is not believed (the Lambda trusts only API Gateway's context)
    assert_eq!(a.status, 401, "{:?}", a.raw);
    assert_eq!(a.json["code"], "login_failed");

    // WHEN the same login comes through mutual TLS with the bound certificate
    let a = l
        .invoke(event(WITH_CERT, "POST", "/login", Some(&login)))
        .await;
    // THEN it opens a session (which must first change the temporary password, PW-4)
    assert_eq!(a.status, 200, "{:?}", a.raw);
    assert_eq!(a.json["next"], "session", "{}", a.json);
    assert_eq!(a.json["session"]["user_id"], TENANT);
    assert_eq!(a.json["session"]["must_change_password"], "temporary");
    assert_eq!(a.raw["isBase64Encoded"], false);

    // AND the certificate alone (no ID, no password) logs in too: Password Protect is off
    let a = l
        .invoke(event(WITH_CERT, "POST", "/login", Some(&json!({}))))
        .await;
    assert_eq!(a.status, 200, "{:?}", a.raw);
    assert_eq!(a.json["session"]["user_id"], TENANT);
    // AND without the certificate, nothing identifies anyone
    let a = l
        .invoke(event(WITHOUT_CERT, "POST", "/login", Some(&json!({}))))
        .await;
    assert_eq!(a.status, 401, "no certificate, no ID: {:?}", a.raw);
    assert_eq!(a.json["code"], "login_failed");
}

/// Support creates the e-Parcel tenant; its admin is mailed a temporary password.
async fn create_tenant(l: &Lambda) {
    let a = l
        .invoke(support(event(
            WITHOUT_CERT,
            "POST",
            "/support/tenants",
            Some(
                &json!({"code": TENANT, "name": "e-Parcel customer", "welcome_mail": true,
                "admin": {"name": "Admin", "family_name": "Parcel", "email": ADMIN_MAIL}}),
            ),
        )))
        .await;
    assert_eq!(a.status, 201, "{:?}", a.raw);
}

/// Support binds the fixture's certificate to the tenant's admin (by its SHA-256 fingerprint).
async fn bind_cert(l: &Lambda) {
    let a = l
        .invoke(support(event(
            WITHOUT_CERT,
            "POST",
            &format!("/support/tenants/{TENANT}/users/{TENANT}/certificates"),
            Some(&json!({"certificate": {"sha256": FINGERPRINT.trim()}})),
        )))
        .await;
    assert_eq!(a.status, 204, "{:?}", a.raw);
}

/// Support creates the e-Parcel tenant and binds the fixture's certificate to its admin.
async fn tenant_with_bound_cert(l: &Lambda) {
    create_tenant(l).await;
    bind_cert(l).await;
}

#[tokio::test]
async fn the_mutual_tls_certificate_wins_over_a_trusted_header() {
    // SPEC: L-8 — even where the header is trusted, API Gateway's verified certificate decides.
    let l = Lambda::e_parcel_with(true);
    tenant_with_bound_cert(&l).await;
    let mut e = event(WITH_CERT, "POST", "/login", Some(&json!({})));
    e["headers"]["x-client-cert-sha256"] = json!("0f".repeat(32));
    let a = l.invoke(e).await;
    assert_eq!(a.status, 200, "{:?}", a.raw);
    assert_eq!(a.json["session"]["user_id"], TENANT);
    // Without mutual TLS, the trusted header is still read (the local-server behaviour).
    let mut e = event(WITHOUT_CERT, "POST", "/login", Some(&json!({})));
    e["headers"]["x-client-cert-sha256"] = json!(FINGERPRINT.trim());
    let a = l.invoke(e).await;
    assert_eq!(a.status, 200, "{:?}", a.raw);
    let mut e = event(WITHOUT_CERT, "POST", "/login", Some(&json!({})));
    e["headers"]["x-client-cert-sha256"] = json!("0f".repeat(32));
    let a = l.invoke(e).await;
    assert_eq!(a.status, 401, "{:?}", a.raw);
}

#[tokio::test]
async fn other_routes_answer_through_the_adapter() {
    let l = Lambda::e_parcel();
    let a = l.invoke(event(WITHOUT_CERT, "GET", "/health", None)).await;
    assert_eq!(a.status, 200, "{:?}", a.raw);
    // A route that does not exist answers the JSON error, also over mutual TLS.
    let a = l.invoke(event(WITH_CERT, "GET", "/nowhere", None)).await;
    assert_eq!(a.status, 404, "{:?}", a.raw);
}

#[tokio::test]
async fn api_gateways_source_ip_is_the_address_the_limits_count() {
    // SPEC: AB-3, AB-1 — on Lambda the client address is API Gateway's `sourceIp`; a client's
    // X-Forwarded-For is not believed.
    let l = Lambda::e_parcel();
    let wrong = json!({"identifier": "nobody@example.com", "password": "Wrong-Pass-12345"});
    let from = |ip: &str, xff: &str| {
        let mut e = event(WITHOUT_CERT, "POST", "/login", Some(&wrong));
        e["requestContext"]["http"]["sourceIp"] = json!(ip);
        e["headers"]["x-forwarded-for"] = json!(xff);
        e
    };
    for i in 0..20 {
        let a = l.invoke(from("198.51.100.70", &format!("6.6.6.{i}"))).await;
        assert_eq!(
            (a.status, a.json["code"].as_str()),
            (401, Some("login_failed"))
        );
    }
    let blocked = l.invoke(from("198.51.100.70", "7.7.7.7")).await;
    assert_eq!(blocked.status, 429, "{}", blocked.raw);
    assert_eq!(blocked.json["code"], "throttled");
    assert_eq!(blocked.raw["headers"]["retry-after"], "600");
    let other = l.invoke(from("198.51.100.71", "198.51.100.70")).await;
    assert_eq!(other.status, 401, "{}", other.raw);
}
