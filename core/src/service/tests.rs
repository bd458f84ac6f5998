//! Unit tests of the service over the in-memory ports.

use super::*;
use crate::Error;
use crate::audit::{AuditFilter, AuditKind};
use crate::flow::account::{NewTenant, ProfileInput};
use crate::flow::login::{LoginStep, Session};
use crate::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use crate::model::UserRef;
use crate::policy::HashParams;
use crate::ports::Store;

type Svc = AuthService<Arc<MemoryStore>, Arc<CapturingMailer>>;

fn service(
    policy: Policy,
    store: &Arc<MemoryStore>,
    mailer: &Arc<CapturingMailer>,
    clock: &Arc<ManualClock>,
) -> Svc {
    let key = SessionKey::new(vec![7u8; 32]).unwrap();
    AuthService::new(
        policy,
        key,
        Arc::clone(store),
        Arc::clone(mailer),
        Arc::clone(clock),
        SeededRandom::new(42),
    )
    .unwrap()
}

fn tenant(code: &str) -> NewTenant {
    NewTenant {
        code: code.into(),
        name: "黒猫堂".into(),
        corporate_number: None,
        logistics: true,
        access_key: None,
        lang: None,
        admin: ProfileInput {
            name: "黒猫太郎".into(),
            email: Some("admin@example.com".into()),
            ..Default::default()
        },
        admin_login_method: LoginMethod::MailOtp,
        welcome_mail: true,
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    mailer: Arc<CapturingMailer>,
    clock: Arc<ManualClock>,
    svc: Svc,
    temp: Secret,
}

/// A Kuroneko service (test hashing) on fresh in-memory ports.
fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(CapturingMailer::new());
    let clock = Arc::new(ManualClock::at(Timestamp(1_800_000_000)));
    let svc = service(
        Policy::kuroneko().with_test_hashing(),
        &store,
        &mailer,
        &clock,
    );
    Fixture {
        store,
        mailer,
        clock,
        svc,
        temp: Secret::default(),
    }
}

/// [`fixture`] with tenant 999999999 created and its admin's mailed temporary password.
async fn with_tenant() -> Fixture {
    let mut f = fixture();
    f.svc
        .support_create_tenant(&tenant("999999999"))
        .await
        .unwrap();
    f.svc.deliver_pending().await.unwrap();
    f.temp = Secret::new(
        crate::mail::extract_secret(&f.mailer.last_to("admin@example.com").unwrap()).unwrap(),
    );
    f
}

async fn first_login(
    svc: &Svc,
    mailer: &CapturingMailer,
    code: &str,
    password: &Secret,
) -> Session {
    let req = LoginRequest {
        tenant: Some(code.into()),
        identifier: Some(code.into()),
        password: Some(password.clone()),
        ..Default::default()
    };
    let LoginStep::SecondFactor(ch) = svc.login(req).await.unwrap() else {
        panic!("second factor expected")
    };
    svc.deliver_pending().await.unwrap();
    let otp = crate::mail::extract_secret(&mailer.last_to("admin@example.com").unwrap()).unwrap();
    svc.verify_second_factor(ch.token.expose(), &Secret::new(otp))
        .await
        .unwrap()
}

#[tokio::test]
async fn weaker_hash_is_replaced_at_the_next_login() {
    // SPEC: PW-6
    // GIVEN a user whose password was hashed at weaker parameters
    let Fixture {
        store,
        mailer,
        clock,
        svc: weak,
        temp,
    } = with_tenant().await;
    let s = first_login(&weak, &mailer, "999999999", &temp).await;
    let pw = Secret::new("Kuro2024neko");
    weak.change_password(s.token.expose(), None, &pw, &pw)
        .await
        .unwrap();
    let r = UserRef::new("999999999", "999999999");
    let before = store.user(&r).await.unwrap().unwrap().password.phc;
    assert!(before.contains("m=64,"), "{before}");
    // WHEN the policy's parameters are raised and the user logs in
    let mut strong_policy = Policy::kuroneko().with_test_hashing();
    strong_policy.password.hash = HashParams {
        m_cost: 128,
        t_cost: 2,
        p_cost: 1,
    };
    let strong = service(strong_policy, &store, &mailer, &clock);
    first_login(&strong, &mailer, "999999999", &pw).await;
    // THEN the stored hash uses the new parameters and still verifies the same password
    let after = store.user(&r).await.unwrap().unwrap().password.phc;
    assert!(after.contains("m=128,t=2,p=1"), "{after}");
    first_login(&strong, &mailer, "999999999", &pw).await;
}

#[tokio::test]
async fn a_failing_mailer_delays_the_mail_and_loses_nothing() {
    // SPEC: M-4, L-3
    // GIVEN an admin with a known password and a mailer that fails
    let Fixture {
        mailer,
        svc,
        temp,
        clock,
        store,
    } = with_tenant().await;
    mailer.set_failing(true);
    let req = LoginRequest {
        tenant: Some("999999999".into()),
        identifier: Some("999999999".into()),
        password: Some(temp.clone()),
        ..Default::default()
    };
    // WHEN a login needs an OTP mail: the request does not wait for the mailer
    assert!(matches!(
        svc.login(req.clone()).await.unwrap(),
        LoginStep::SecondFactor(_)
    ));
    let before = mailer.to("admin@example.com").len();
    // THEN the courier's attempt fails and the mail waits, with the error, for a later one
    let d = svc.deliver_pending().await.unwrap();
    assert_eq!((d.sent, d.retried), (0, 1));
    let queued = svc.outbox(None, None, 10).await.unwrap().items;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].kind, "otp");
    assert_eq!(queued[0].attempts, 1);
    assert!(
        queued[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("told to fail")
    );
    // Not due yet: a second run does nothing.
    assert_eq!(svc.deliver_pending().await.unwrap(), Delivery::default());
    // AND once the mailer works and the back-off passed, it goes out exactly once
    mailer.set_failing(false);
    clock.advance(10);
    assert_eq!(svc.deliver_pending().await.unwrap().sent, 1);
    assert_eq!(mailer.to("admin@example.com").len(), before + 1);
    assert_eq!(svc.deliver_pending().await.unwrap(), Delivery::default());
    assert!(svc.outbox(None, None, 10).await.unwrap().items.is_empty());
    let _ = store;
}

#[tokio::test]
async fn a_mail_that_keeps_failing_is_marked_failed_audited_and_can_be_retried() {
    // SPEC: M-4, A-1
    let Fixture {
        mailer, svc, clock, ..
    } = with_tenant().await;
    let svc = svc.with_courier(crate::outbox::CourierSettings {
        max_attempts: 3,
        ..Default::default()
    });
    mailer.set_failing(true);
    svc.request_password_reset(&ResetRequest {
        tenant: Some("999999999".into()),
        user_id: "999999999".into(),
        access_key: None,
    })
    .await
    .unwrap();
    let mut failed = 0;
    for _ in 0..10 {
        failed += svc.deliver_pending().await.unwrap().failed;
        clock.advance(3600);
    }
    assert_eq!(failed, 1);
    let listed = svc
        .outbox(Some(crate::outbox::OutboxState::Failed), None, 10)
        .await
        .unwrap()
        .items;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].kind.as_str(), listed[0].attempts),
        ("reset_started", 3)
    );
    let events = svc
        .audit_events(
            &AuditFilter {
                kind: Some(AuditKind::DeliveryFailed),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].tenant.as_deref(), Some("999999999"));
    // The operator puts it back once mail works: it goes out, once.
    mailer.set_failing(false);
    let before = mailer.to("admin@example.com").len();
    svc.retry_delivery(&listed[0].id, crate::audit::Actor::Support)
        .await
        .unwrap();
    assert_eq!(svc.deliver_pending().await.unwrap().sent, 1);
    assert_eq!(mailer.to("admin@example.com").len(), before + 1);
    assert_eq!(
        svc.retry_delivery(&listed[0].id, crate::audit::Actor::Support)
            .await,
        Err(Error::NotFound)
    );
}

#[tokio::test]
async fn state_mail_and_audit_are_one_write_and_an_outage_leaves_none() {
    // SPEC: M-4, A-2
    let Fixture {
        mailer,
        svc,
        temp,
        store,
        ..
    } = with_tenant().await;
    let audit_before = svc
        .audit_events(&AuditFilter::default(), None, 1000)
        .await
        .unwrap()
        .items
        .len();
    let user_before = store
        .user(&UserRef::new("999999999", "999999999"))
        .await
        .unwrap();
    let req = LoginRequest {
        tenant: Some("999999999".into()),
        identifier: Some("999999999".into()),
        password: Some(temp.clone()),
        ..Default::default()
    };
    // WHEN the store fails the commit of a login that would mail an OTP
    store.fail_commits(1);
    assert_eq!(svc.login(req).await.unwrap_err(), Error::StoreUnavailable);
    // THEN no mail is queued or sent, no audit event is written, the user is unchanged
    assert!(svc.outbox(None, None, 10).await.unwrap().items.is_empty());
    assert_eq!(svc.deliver_pending().await.unwrap(), Delivery::default());
    let n = mailer.mails().len();
    assert_eq!(mailer.mails().len(), n);
    assert_eq!(
        svc.audit_events(&AuditFilter::default(), None, 1000)
            .await
            .unwrap()
            .items
            .len(),
        audit_before
    );
    assert_eq!(
        store
            .user(&UserRef::new("999999999", "999999999"))
            .await
            .unwrap(),
        user_before
    );
}

#[tokio::test]
async fn a_reset_request_is_one_queued_write_for_any_account() {
    // SPEC: RS-3, M-4
    let Fixture {
        mailer, svc, store, ..
    } = with_tenant().await;
    let ask = |id: &str| ResetRequest {
        tenant: Some("999999999".into()),
        user_id: id.into(),
        access_key: None,
    };
    for id in ["999999999", "nobody"] {
        let commits = store.commits();
        svc.request_password_reset(&ask(id)).await.unwrap();
        assert_eq!(store.commits(), commits + 1, "{id}");
        let queued = svc.outbox(None, None, 10).await.unwrap().items;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].kind, "request:reset");
        assert_eq!(queued[0].tenant, None);
        svc.deliver_pending().await.unwrap();
    }
    // The courier resolved both: the known account got its link, the unknown nothing.
    assert_eq!(
        mailer
            .to("admin@example.com")
            .iter()
            .filter(|m| m.kind == crate::mail::MailKind::ResetStarted)
            .count(),
        1
    );
    assert!(svc.outbox(None, None, 10).await.unwrap().items.is_empty());
    // The queued entry does not hold the request in clear.
    svc.request_password_reset(&ResetRequest {
        access_key: Some(Secret::new("k3y-in-clear")),
        ..ask("999999999")
    })
    .await
    .unwrap();
    let raw = store
        .list_outbox(&crate::outbox::OutboxFilter::default(), None, 10)
        .await
        .unwrap()
        .items;
    let bytes = raw[0].sealed.stored();
    assert!(!bytes.windows(12).any(|w| w == b"k3y-in-clear"));
    assert!(!bytes.windows(9).any(|w| w == b"999999999"));
}

#[tokio::test]
async fn oversized_inputs_are_refused_before_any_work() {
    let Fixture { store, svc, .. } = fixture();
    let huge = "9".repeat(MAX_INPUT + 1);
    let req = LoginRequest {
        tenant: Some("999999999".into()),
        identifier: Some(huge.clone()),
        password: Some(Secret::new("x")),
        ..Default::default()
    };
    assert_eq!(svc.login(req).await.unwrap_err().code(), "invalid_input");
    let req = LoginRequest {
        tenant: Some("999999999".into()),
        identifier: Some("a".into()),
        password: Some(Secret::new(huge)),
        ..Default::default()
    };
    assert_eq!(svc.login(req).await.unwrap_err().code(), "invalid_input");
    assert_eq!(store.commits(), 0);
}
