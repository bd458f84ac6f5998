//! DynamoDB faults at every write of the login and reset flows, injected at the SDK's HTTP
//! layer so that `DynamoStore`'s error mapping is what is tested.
//!
//! [`FaultyHttp`] sits between the SDK and DynamoDB Local: it forwards every call, except that
//! while a fault is armed the record writes (`PutItem`, `UpdateItem`, `DeleteItem`,
//! `TransactWriteItems` — not the audit appends, which come after a flow's outcome) are answered
//! with a canned DynamoDB JSON error, exactly as the service would send it. The SDK parses it,
//! retries it or not by its own rules (standard mode, 3 attempts), and `DynamoStore` maps what is
//! left.
//!
//! For each write — the first-factor failure count, the OTP challenge, the second-factor
//! consume, the lockout, the reset request, the reset open, and a user creation (a
//! `TransactWriteItems`) — and each fault:
//!
//! - persistent throttling (`ThrottlingException`, `ProvisionedThroughputExceededException`) and
//!   persistent `InternalServerError` (HTTP 500): the SDK tries 3 times, the flow answers
//!   `store_unavailable` (retryable);
//! - a persistent "conflict" that is not one (`ConditionalCheckFailedException`, or a
//!   `TransactionCanceledException` with `TransactionConflict`): the service re-reads and
//!   re-decides until it gives up with `conflict` (retryable);
//! - each of them once: the flow recovers (the SDK retries throttling and 500s; the service
//!   re-runs the step after a conflict) and its effect happens exactly once;
//!
//! and after a failure nothing is half-done: the user record (and for a creation, the e-mail
//! claim) is unchanged, no mail went out, no audit event was written, and the same step then
//! succeeds once the fault is gone (the same OTP code, the same reset link).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryPartition};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use axum::body::Body;
use axum::http::Request;
use monban_core::audit::AuditFilter;
use monban_core::flow::login::LoginStep;
use monban_core::mail::{MailKind, extract_secret};
use monban_core::memory::{CapturingMailer, ManualClock, SeededRandom};
use monban_core::model::{User, UserRef, Write};
use monban_core::normalize::email_key;
use monban_core::ports::Store;
use monban_core::role::Role;
use monban_core::service::{LoginRequest, ResetRequest};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Error, Policy, Secret, Timestamp};
use monban_lambdas::aws::item;
use monban_lambdas::aws::store::{DynamoStore, create_table, local_config};
use monban_server::{AppState, router};
use monban_tests::{TenantSpec, new_user};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

const T0: Timestamp = Timestamp(1_800_000_000);
const PASSWORD: &str = "Kuro2024neko";
const WRONG: &str = "Wrong2024pass";
const SDK_ATTEMPTS: usize = 3;

// ---- the fault injector -----------------------------------------------------------------------

/// A DynamoDB error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Throttling,
    ThroughputExceeded,
    /// `ConditionalCheckFailedException` for a single write, `TransactionCanceledException`
    /// (reason `TransactionConflict`) for a transaction.
    Conflict,
    ServerError,
}

impl Fault {
    fn response(self, op: &str) -> HttpResponse {
        const NS: &str = "com.amazonaws.dynamodb.v20120810#";
        let (status, body) = match self {
            Fault::Throttling => (
                400,
                serde_json::json!({
                    "__type": format!("{NS}ThrottlingException"),
                    "message": "Rate of requests exceeds the allowed throughput."
                }),
            ),
            Fault::ThroughputExceeded => (
                400,
                serde_json::json!({
                    "__type": format!("{NS}ProvisionedThroughputExceededException"),
                    "message": "The level of configured provisioned throughput for the table was exceeded."
                }),
            ),
            Fault::Conflict if op == "TransactWriteItems" => (
                400,
                serde_json::json!({
                    "__type": format!("{NS}TransactionCanceledException"),
                    "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]",
                    "CancellationReasons": [
                        {"Code": "None"},
                        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                    ]
                }),
            ),
            Fault::Conflict => (
                400,
                serde_json::json!({
                    "__type": format!("{NS}ConditionalCheckFailedException"),
                    "message": "The conditional request failed"
                }),
            ),
            Fault::ServerError => (
                500,
                serde_json::json!({
                    "__type": format!("{NS}InternalServerError"),
                    "message": "Internal server error"
                }),
            ),
        };
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_string()),
        );
        r.headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        r
    }
}

#[derive(Debug, Default)]
struct Armed {
    fault: Option<Fault>,
    /// How many more calls get the fault; `None`: every one.
    remaining: Option<usize>,
}

/// What is armed, and how many calls it answered.
#[derive(Debug, Default)]
struct Injector {
    armed: Mutex<Armed>,
    hits: AtomicUsize,
}

impl Injector {
    fn arm(&self, fault: Fault, times: Option<usize>) {
        *self.armed.lock().unwrap() = Armed {
            fault: Some(fault),
            remaining: times,
        };
        self.hits.store(0, Ordering::SeqCst);
    }

    fn disarm(&self) {
        *self.armed.lock().unwrap() = Armed::default();
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The fault for this call, if any (and counts it).
    fn take(&self, op: &str, body: &[u8]) -> Option<Fault> {
        let record_write = matches!(
            op,
            "PutItem" | "UpdateItem" | "DeleteItem" | "TransactWriteItems"
        );
        // Audit events appended on their own carry the audit index key, and the abuse
        // counters (AB-6) their own partition prefix; they are not the flow's record writes.
        // A record write (a put of a tenant, user, claim or outbox entry, or any delete) may
        // carry audit events with it: it is one.
        let audit_key = format!("\"{}\"", item::AUDIT_INDEX_PK);
        let counter_key = format!("\"S\":\"{}", item::COUNTER_PREFIX);
        let record = [
            item::TYPE_TENANT,
            item::TYPE_USER,
            item::TYPE_EMAIL_OWNERS,
            item::TYPE_CERT_OWNER,
            item::TYPE_OUTBOX,
        ]
        .iter()
        .any(|t| contains(body, format!("{{\"S\":\"{t}\"}}").as_bytes()))
            || (op == "DeleteItem" && !contains(body, counter_key.as_bytes()))
            || contains(body, b"\"Delete\"");
        if !record_write
            || (!record
                && (contains(body, audit_key.as_bytes()) || contains(body, counter_key.as_bytes())))
        {
            return None;
        }
        let mut armed = self.armed.lock().unwrap();
        let fault = armed.fault?;
        match &mut armed.remaining {
            Some(0) => return None,
            Some(n) => *n -= 1,
            None => {}
        }
        self.hits.fetch_add(1, Ordering::SeqCst);
        Some(fault)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// An [`HttpClient`] that forwards to a real one unless the [`Injector`] has a fault armed.
#[derive(Clone, Debug)]
struct FaultyHttp {
    inner: SharedHttpClient,
    injector: Arc<Injector>,
}

#[derive(Debug)]
struct FaultyConnector {
    inner: SharedHttpConnector,
    injector: Arc<Injector>,
}

impl HttpClient for FaultyHttp {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector {
            inner: self.inner.http_connector(settings, components),
            injector: Arc::clone(&self.injector),
        })
    }
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // `x-amz-target: DynamoDB_20120810.PutItem`
        let op = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("")
            .to_owned();
        let body = request.body().bytes().unwrap_or_default();
        match self.injector.take(&op, body) {
            Some(fault) => HttpConnectorFuture::ready(Ok(fault.response(&op))),
            None => self.inner.call(request),
        }
    }
}

// ---- the fixture ------------------------------------------------------------------------------

type Svc = AuthService<Arc<DynamoStore>, Arc<CapturingMailer>>;

struct Fx {
    svc: Arc<Svc>,
    store: Arc<DynamoStore>,
    mailer: Arc<CapturingMailer>,
    injector: Arc<Injector>,
    tenant: String,
    admin_mail: String,
    /// A full admin session.
    token: Secret,
}

static CASES: AtomicUsize = AtomicUsize::new(0);

/// A store on a fresh table of DynamoDB Local behind a [`FaultyHttp`], with a tenant whose
/// admin has the password [`PASSWORD`] and a session.
async fn fixture() -> Fx {
    let n = CASES.fetch_add(1, Ordering::SeqCst);
    let endpoint = tokio::task::spawn_blocking(monban_tests::aws_local::dynamodb_endpoint)
        .await
        .unwrap();
    let injector = Arc::new(Injector::default());
    let http = FaultyHttp {
        inner: monban_lambdas::aws::http_client(),
        injector: Arc::clone(&injector),
    };
    let table = format!("faults-{}-{n}", std::process::id());
    // The SDK's standard retries (3 attempts) with a short first back-off, on a retry
    // partition of its own so one case's throttling does not drain another's retry quota.
    let conf = local_config(&endpoint)
        .http_client(http)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(u32::try_from(SDK_ATTEMPTS).unwrap())
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .retry_partition(RetryPartition::new(table.clone()))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    create_table(&client, &table).await.unwrap();
    let store = Arc::new(DynamoStore::new(client, table));
    let mailer = Arc::new(CapturingMailer::new());
    let svc = Arc::new(
        AuthService::new(
            Policy::kuroneko().with_test_hashing(),
            SessionKey::new(vec![7u8; 32]).unwrap(),
            Arc::clone(&store),
            Arc::clone(&mailer),
            ManualClock::at(T0),
            SeededRandom::new(u64::try_from(n).unwrap()),
        )
        .unwrap(),
    );
    let tenant = format!("{:09}", 100_000_000 + n);
    let admin_mail = format!("admin{n}@example.com");
    let created = svc
        .support_create_tenant(
            &TenantSpec {
                code: &tenant,
                email: &admin_mail,
                access_key: None,
                welcome_mail: true,
                ..TenantSpec::kuroneko()
            }
            .new_tenant(),
        )
        .await;
    assert!(created.is_ok(), "{created:?}");
    let mut fx = Fx {
        svc,
        store,
        mailer,
        injector,
        tenant,
        admin_mail,
        token: Secret::default(),
    };
    let temp = fx.secret(MailKind::UserRegistered).await;
    let Ok(LoginStep::SecondFactor(ch)) = fx.svc.login(fx.login(temp.expose())).await else {
        panic!("second factor expected")
    };
    let code = fx.secret(MailKind::Otp).await;
    let session = fx
        .svc
        .verify_second_factor(ch.token.expose(), &code)
        .await
        .unwrap();
    let pw = Secret::new(PASSWORD);
    fx.token = fx
        .svc
        .change_password(session.token.expose(), None, &pw, &pw)
        .await
        .unwrap()
        .token;
    fx
}

impl Fx {
    fn admin(&self) -> UserRef {
        UserRef::new(self.tenant.clone(), self.tenant.clone())
    }

    async fn admin_record(&self) -> User {
        self.store.user(&self.admin()).await.unwrap().unwrap()
    }

    fn login(&self, password: &str) -> LoginRequest {
        LoginRequest {
            tenant: Some(self.tenant.clone()),
            identifier: Some(self.tenant.clone()),
            password: Some(Secret::new(password)),
            ..Default::default()
        }
    }

    /// Mails of `kind` to the admin, after the courier delivered what was queued (M-4).
    async fn mails(&self, kind: MailKind) -> usize {
        self.svc.deliver_pending().await.unwrap();
        self.mailer
            .to(&self.admin_mail)
            .iter()
            .filter(|m| m.kind == kind)
            .count()
    }

    async fn secret(&self, kind: MailKind) -> Secret {
        self.svc.deliver_pending().await.unwrap();
        let mail = self
            .mailer
            .to(&self.admin_mail)
            .into_iter()
            .rev()
            .find(|m| m.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} mail"));
        Secret::new(extract_secret(&mail).unwrap())
    }

    async fn audit_count(&self) -> usize {
        let filter = AuditFilter {
            tenant: Some(self.tenant.clone()),
            ..Default::default()
        };
        let mut n = 0;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .audit(&filter, after.as_deref(), 1000)
                .await
                .unwrap();
            n += page.items.len();
            match page.next {
                Some(c) => after = Some(c),
                None => return n,
            }
        }
    }
}

// ---- the steps --------------------------------------------------------------------------------

/// The write a step makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// L-6: a wrong password counts a failure.
    FailureCount,
    /// L-1: the right password stores the OTP challenge and mails the code.
    Challenge,
    /// L-3: the code is consumed with the login time.
    Consume,
    /// L-6: the failure that locks.
    Lockout,
    /// RS-1: a reset request stores the link's digest and mails it.
    ResetRequest,
    /// RS-1, PW-4: opening the link consumes it and mails a temporary password.
    ResetOpen,
    /// E-5: a user with an e-mail claim (two records: one `TransactWriteItems`).
    CreateUser,
}

const NEW_USER: &str = "faultuser";
const NEW_MAIL: &str = "fault.user@example.com";

/// What a step needs that an earlier, unfaulted step gives.
enum Prepared {
    None,
    Challenge { token: Secret, code: Secret },
    ResetLink(String),
}

impl Step {
    /// The mail the step sends, if any.
    fn mail(self) -> Option<MailKind> {
        match self {
            Step::Challenge => Some(MailKind::Otp),
            Step::ResetRequest => Some(MailKind::ResetStarted),
            Step::ResetOpen => Some(MailKind::TemporaryPassword),
            _ => None,
        }
    }

    async fn prepare(self, fx: &Fx) -> Prepared {
        match self {
            Step::Consume => {
                let step = fx.svc.login(fx.login(PASSWORD)).await;
                let Ok(LoginStep::SecondFactor(ch)) = step else {
                    panic!("second factor expected: {step:?}")
                };
                Prepared::Challenge {
                    token: ch.token,
                    code: fx.secret(MailKind::Otp).await,
                }
            }
            Step::Lockout => {
                // GIVEN one failure short of the lock (L-6)
                let max = fx.svc.policy().lockout.max_failures.unwrap();
                let mut u = fx.admin_record().await;
                u.lock.failures = max - 1;
                fx.store
                    .commit(vec![Write::PutUser(Box::new(u))])
                    .await
                    .unwrap();
                Prepared::None
            }
            Step::ResetOpen => {
                fx.svc.request_password_reset(&reset(fx)).await.unwrap();
                let url = fx.secret(MailKind::ResetStarted).await;
                let token = url.expose().rsplit('/').next().unwrap().to_owned();
                Prepared::ResetLink(token)
            }
            _ => Prepared::None,
        }
    }

    /// Runs the step: `Ok` when it had its normal outcome (for a wrong password, that is
    /// `login_failed`), else the error.
    async fn act(self, fx: &Fx, prepared: &Prepared) -> Result<(), Error> {
        let failed_login = |r: Result<LoginStep, Error>| match r {
            Err(e) if e.code() == "login_failed" => Ok(()),
            Err(e) => Err(e),
            Ok(step) => panic!("a wrong password logged in: {step:?}"),
        };
        match (self, prepared) {
            (Step::FailureCount | Step::Lockout, _) => {
                failed_login(fx.svc.login(fx.login(WRONG)).await)
            }
            (Step::Challenge, _) => match fx.svc.login(fx.login(PASSWORD)).await? {
                LoginStep::SecondFactor(_) => Ok(()),
                other => panic!("second factor expected: {other:?}"),
            },
            (Step::Consume, Prepared::Challenge { token, code }) => fx
                .svc
                .verify_second_factor(token.expose(), code)
                .await
                .map(|_| ()),
            (Step::ResetRequest, _) => fx.svc.request_password_reset(&reset(fx)).await,
            (Step::ResetOpen, Prepared::ResetLink(token)) => fx.svc.open_reset_link(token).await,
            (Step::CreateUser, _) => fx
                .svc
                .admin_create_user(
                    fx.token.expose(),
                    &new_user(NEW_USER, Role::General, "山田花子", NEW_MAIL),
                )
                .await
                .map(|_| ()),
            (step, _) => panic!("{step:?} was not prepared"),
        }
    }

    /// The step's effect is stored, once (a queued reset request once the courier ran).
    async fn assert_done(self, fx: &Fx, before: &User) {
        fx.svc.deliver_pending().await.unwrap();
        let now = fx.admin_record().await;
        match self {
            Step::FailureCount => assert_eq!(now.lock.failures, before.lock.failures + 1),
            Step::Challenge => assert!(now.pending_login.is_some()),
            Step::Consume => {
                assert_eq!(now.pending_login, None);
                assert_eq!(now.last_login_at, Some(T0));
            }
            Step::Lockout => {
                assert_eq!(now.lock.failures, before.lock.failures + 1);
                assert!(now.lock.locked_at.is_some());
            }
            Step::ResetRequest => assert!(now.pending_reset.is_some()),
            Step::ResetOpen => {
                // RS-10: the temporary password waits beside the current one; sessions stay.
                assert_eq!(now.pending_reset, None);
                assert!(now.pending_password.is_some());
                assert_eq!(now.credential_version, before.credential_version);
            }
            Step::CreateUser => {
                let r = UserRef::new(fx.tenant.clone(), NEW_USER);
                assert!(fx.store.user(&r).await.unwrap().is_some());
                let owners = fx.store.email_owners(&email_key(NEW_MAIL)).await.unwrap();
                assert_eq!(owners.map(|o| o.owners), Some(vec![r]));
            }
        }
        if !matches!(self, Step::CreateUser) {
            assert_eq!(now.version, before.version + 1, "{self:?}: one write");
        }
    }

    /// Nothing of the step is stored.
    async fn assert_untouched(self, fx: &Fx, before: &User) {
        assert_eq!(
            &fx.admin_record().await,
            before,
            "{self:?}: admin record changed"
        );
        if self == Step::CreateUser {
            let r = UserRef::new(fx.tenant.clone(), NEW_USER);
            assert_eq!(fx.store.user(&r).await.unwrap(), None);
            assert_eq!(
                fx.store.email_owners(&email_key(NEW_MAIL)).await.unwrap(),
                None
            );
        }
    }
}

fn reset(fx: &Fx) -> ResetRequest {
    ResetRequest {
        tenant: Some(fx.tenant.clone()),
        user_id: fx.tenant.clone(),
        access_key: None,
    }
}

// ---- the cases --------------------------------------------------------------------------------

/// Every fault, persistent and once, at `step`'s write.
async fn every_fault_at(step: Step) {
    for fault in [
        Fault::Throttling,
        Fault::ThroughputExceeded,
        Fault::ServerError,
        Fault::Conflict,
    ] {
        persistent(step, fault).await;
        once(step, fault).await;
    }
}

/// A fault on every attempt: a clear retryable error, and nothing half-done.
async fn persistent(step: Step, fault: Fault) {
    let fx = fixture().await;
    let prepared = step.prepare(&fx).await;
    let before = fx.admin_record().await;
    let mails = match step.mail() {
        Some(k) => Some(fx.mails(k).await),
        None => None,
    };
    let audited = fx.audit_count().await;
    // WHEN the step's write fails every time
    fx.injector.arm(fault, None);
    let out = step.act(&fx, &prepared).await;
    fx.injector.disarm();
    // THEN the flow answers a retryable error naming the cause
    let err = out.expect_err(&format!("{step:?} under persistent {fault:?}"));
    let want = match fault {
        Fault::Conflict => "conflict",
        _ => "store_unavailable",
    };
    assert_eq!(err.code(), want, "{step:?} under persistent {fault:?}");
    assert!(err.is_retryable(), "{step:?}: {err:?}");
    // AND the SDK retried throttling and 500s (3 attempts), not a failed condition; the
    // service re-ran the step after each conflict
    match fault {
        Fault::Conflict => assert!(fx.injector.hits() > 1, "{step:?}: no re-run"),
        _ => assert_eq!(fx.injector.hits(), SDK_ATTEMPTS, "{step:?} {fault:?}"),
    }
    // AND nothing was stored, mailed or audited
    step.assert_untouched(&fx, &before).await;
    if let (Some(kind), Some(n)) = (step.mail(), mails) {
        assert_eq!(
            fx.mails(kind).await,
            n,
            "{step:?} {fault:?}: a mail went out"
        );
    }
    assert_eq!(
        fx.audit_count().await,
        audited,
        "{step:?} {fault:?}: audited"
    );
    // AND the same step succeeds once the store is back (same code, same link)
    assert_eq!(
        step.act(&fx, &prepared).await,
        Ok(()),
        "{step:?} after {fault:?}"
    );
    step.assert_done(&fx, &before).await;
    if let (Some(kind), Some(n)) = (step.mail(), mails) {
        assert_eq!(fx.mails(kind).await, n + 1);
    }
}

/// A fault once: the SDK (throttling, 500) or the service (conflict) retries, and the step's
/// effect happens exactly once.
async fn once(step: Step, fault: Fault) {
    let fx = fixture().await;
    let prepared = step.prepare(&fx).await;
    let before = fx.admin_record().await;
    let mails = match step.mail() {
        Some(k) => Some(fx.mails(k).await),
        None => None,
    };
    fx.injector.arm(fault, Some(1));
    let out = step.act(&fx, &prepared).await;
    fx.injector.disarm();
    assert_eq!(out, Ok(()), "{step:?} after one {fault:?}");
    assert_eq!(fx.injector.hits(), 1);
    step.assert_done(&fx, &before).await;
    if let (Some(kind), Some(n)) = (step.mail(), mails) {
        assert_eq!(fx.mails(kind).await, n + 1, "{step:?} {fault:?}: one mail");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_factor_failure_count_write() {
    // SPEC: L-6 (every failure counts — or the login answers a retryable error)
    every_fault_at(Step::FailureCount).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_write() {
    // SPEC: L-1, L-3 (no code is mailed for a challenge that was not stored)
    every_fault_at(Step::Challenge).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_consume_write() {
    // SPEC: L-3 (a code works once: a failed consume leaves it usable, never half-used)
    every_fault_at(Step::Consume).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_write() {
    // SPEC: L-6
    every_fault_at(Step::Lockout).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_request_write() {
    // SPEC: RS-1 (no link is mailed that was not stored)
    every_fault_at(Step::ResetRequest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_open_write() {
    // SPEC: RS-1, PW-4 (no temporary password is mailed that was not stored)
    every_fault_at(Step::ResetOpen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_creation_transaction() {
    // SPEC: E-5 (the user and its e-mail claim are written together or not at all)
    every_fault_at(Step::CreateUser).await;
}

/// Over HTTP a throttled store is `503 store_unavailable` with a JSON body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_answers_503_store_unavailable() {
    let fx = fixture().await;
    let app = router(AppState::new(Arc::clone(&fx.svc), None));
    let body = serde_json::json!({
        "tenant": fx.tenant,
        "identifier": fx.tenant,
        "password": WRONG,
    });
    fx.injector.arm(Fault::Throttling, None);
    let res = app
        .oneshot(
            Request::post("/login")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    fx.injector.disarm();
    assert_eq!(res.status().as_u16(), 503);
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["code"], "store_unavailable", "{json}");
}
