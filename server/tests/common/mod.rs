//! The HTTP test harness: the real router over MemoryStore + CapturingMailer + ManualClock,
//! driven through `tower::ServiceExt::oneshot`.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use monban_core::mail::{Mail, MailKind, extract_secret};
use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use monban_core::model::User;
use monban_core::ports::Store;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret, Timestamp};
use monban_server::{AppState, router};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

/// The support API token the harness configures.
pub const SUPPORT: &str = "support-token-0123456789abcdef";
/// A Kuroneko tenant code (T-1: 9 half-width digits) and its access key (7 digits).
pub const TENANT: &str = "123456789";
pub const ACCESS_KEY: &str = "1234567";
pub const ADMIN_MAIL: &str = "admin@example.com";
/// A password that satisfies the Kuroneko rules (PW-1).
pub const ADMIN_PW: &str = "Kuro2024neko";

pub type Svc = AuthService<Arc<MemoryStore>, Arc<CapturingMailer>>;

pub struct Harness {
    pub app: Router,
    pub service: Arc<Svc>,
    pub store: Arc<MemoryStore>,
    pub mailer: Arc<CapturingMailer>,
    pub clock: Arc<ManualClock>,
    pub policy: Policy,
}

/// An answer: status, headers and the body as JSON (`Value::Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
    pub json: Value,
}

impl Answer {
    /// A string field of the JSON body.
    #[track_caller]
    pub fn str(&self, field: &str) -> String {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.json))
            .to_owned()
    }
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        self
    }
    /// Asserts an error answer: status, JSON content type and `{code, message}`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect(status);
        assert_json_error(self);
        assert_eq!(self.code(), code, "body: {}", self.json);
        self
    }
}

/// An error answer has a JSON content type and a non-empty `code` and `message`.
#[track_caller]
pub fn assert_json_error(a: &Answer) {
    let ct = a
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
    assert!(
        a.json["code"].as_str().is_some_and(|c| !c.is_empty())
            && a.json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "not an error body: {}",
        String::from_utf8_lossy(&a.bytes)
    );
}

/// A courier round (M-4) run after each request of an [`Http`].
pub type Courier =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// The courier round of `svc`.
pub fn courier<S, M>(svc: Arc<AuthService<S, M>>) -> Courier
where
    S: Store + 'static,
    M: monban_core::ports::Mailer + 'static,
{
    Arc::new(move || {
        let svc = Arc::clone(&svc);
        Box::pin(async move {
            svc.deliver_pending().await.unwrap();
        })
    })
}

/// Requests through an app (the router, or the app the Lambda serves), in process; with a
/// courier, it delivers what each request queued before the answer is handed back.
#[derive(Clone)]
pub struct Http {
    pub app: Router,
    pub courier: Option<Courier>,
}

impl Http {
    /// Requests to `app`, with no courier.
    pub fn new(app: Router) -> Self {
        Self { app, courier: None }
    }

    /// Sends a raw request.
    pub async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.app.clone().oneshot(req).await.unwrap();
        if let Some(c) = &self.courier {
            c().await;
        }
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            bytes,
            json,
        }
    }

    /// Sends `body` as JSON (or nothing) with an optional bearer token.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Answer {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(t) = bearer {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }
}

impl Harness {
    pub fn kuroneko() -> Self {
        Self::with(Policy::kuroneko().with_test_hashing(), |s| s)
    }

    pub fn with(
        policy: Policy,
        configure: impl FnOnce(
            AppState<Arc<MemoryStore>, Arc<CapturingMailer>>,
        ) -> AppState<Arc<MemoryStore>, Arc<CapturingMailer>>,
    ) -> Self {
        Self::build(policy, Some(Secret::new(SUPPORT)), configure)
    }

    pub fn build(
        policy: Policy,
        support: Option<Secret>,
        configure: impl FnOnce(
            AppState<Arc<MemoryStore>, Arc<CapturingMailer>>,
        ) -> AppState<Arc<MemoryStore>, Arc<CapturingMailer>>,
    ) -> Self {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(CapturingMailer::new());
        let clock = Arc::new(ManualClock::at(Timestamp(1_800_000_000)));
        let svc: Svc = AuthService::new(
            policy.clone(),
            SessionKey::new(vec![7u8; 32]).unwrap(),
            Arc::clone(&store),
            Arc::clone(&mailer),
            Arc::clone(&clock),
            SeededRandom::new(42),
        )
        .unwrap();
        let state = configure(AppState::new(svc, support));
        let service = state.shared_service();
        let app = router(state);
        Self {
            app,
            service,
            store,
            mailer,
            clock,
            policy,
        }
    }

    /// Sends a raw request; then the courier delivers what it queued (M-4), as the courier
    /// task of `monban serve` would right after.
    pub async fn send(&self, req: Request<Body>) -> Answer {
        let a = self.http().send(req).await;
        self.service.deliver_pending().await.unwrap();
        a
    }

    /// Sends `body` as JSON (or nothing) with an optional bearer token; then the courier runs.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Answer {
        let a = self.http().call(method, path, body, bearer).await;
        self.service.deliver_pending().await.unwrap();
        a
    }

    fn http(&self) -> Http {
        Http::new(self.app.clone())
    }

    pub async fn support(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, body, Some(SUPPORT)).await
    }

    /// The last mail to `to`.
    pub fn last_mail(&self, to: &str) -> Mail {
        self.mailer
            .last_to(to)
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    /// The secret the last mail to `to` delivers (code, temporary password, URL).
    pub fn last_secret(&self, to: &str) -> String {
        extract_secret(&self.last_mail(to)).expect("the mail delivers a secret")
    }

    /// The last mail to `to`, which must be of `kind`.
    #[track_caller]
    pub fn last_of(&self, to: &str, kind: MailKind) -> String {
        let m = self.last_mail(to);
        assert_eq!(m.kind, kind);
        extract_secret(&m).expect("the mail delivers a secret")
    }

    /// Every user in the store, for before / after comparisons.
    pub async fn all_users(&self) -> Vec<User> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.scan_users(after.as_deref(), 100).await.unwrap();
            out.extend(page.items);
            match page.next {
                Some(n) => after = Some(n),
                None => return out,
            }
        }
    }

    // ---- the Kuroneko walk, in reusable steps ------------------------------------------------

    /// Support creates the tenant (the admin starts with the reset link).
    pub async fn create_tenant(&self) {
        self.support(
            "POST",
            "/support/tenants",
            Some(json!({
                "code": TENANT,
                "name": "黒猫堂",
                "logistics": true,
                "access_key": ACCESS_KEY,
                "admin": {"name": "黒猫太郎", "email": ADMIN_MAIL}
            })),
        )
        .await
        .expect(201);
    }

    /// First factor + mail OTP for `user_id` with `password`; returns the session JSON.
    pub async fn login_otp(&self, user_id: &str, mail: &str, password: &str) -> Value {
        let a = self
            .call(
                "POST",
                "/login",
                Some(json!({"tenant": TENANT, "identifier": user_id, "password": password, "access_key": ACCESS_KEY})),
                None,
            )
            .await;
        a.expect(200);
        assert_eq!(a.json["next"], "second_factor", "{}", a.json);
        let challenge = a.json["challenge"].as_str().unwrap().to_owned();
        let code = self.last_of(mail, MailKind::Otp);
        let s = self
            .call(
                "POST",
                "/login/otp",
                Some(json!({"challenge": challenge, "code": code})),
                None,
            )
            .await;
        s.expect(200);
        s.json
    }

    /// The reset link → temporary password → login → OTP → forced change: a full admin session.
    pub async fn admin_session(&self) -> String {
        self.create_tenant().await;
        self.call(
            "POST",
            "/reset",
            Some(json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
            None,
        )
        .await
        .expect(202);
        let url = self.last_of(ADMIN_MAIL, MailKind::ResetStarted);
        let token = url.rsplit('/').next().unwrap().to_owned();
        self.call("POST", "/reset/open", Some(json!({"token": token})), None)
            .await
            .expect(200);
        let temp = self.last_of(ADMIN_MAIL, MailKind::TemporaryPassword);
        let s = self.login_otp(TENANT, ADMIN_MAIL, &temp).await;
        let t = s["token"].as_str().unwrap();
        let full = self
            .call(
                "POST",
                "/me/password",
                Some(json!({"new": ADMIN_PW, "confirm": ADMIN_PW})),
                Some(t),
            )
            .await;
        full.expect(200);
        full.json["token"].as_str().unwrap().to_owned()
    }
}
