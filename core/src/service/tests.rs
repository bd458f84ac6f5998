//! Unit tests of the service over the in-memory ports.

use super::*;
use crate::audit::{AuditFilter, AuditKind};
use crate::flow::account::{NewTenant, ProfileInput};
use crate::flow::login::{LoginStep, Session};
use crate::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use crate::policy::HashParams;

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
async fn a_failed_mail_leaves_the_state_stored_and_the_request_retryable() {
    // SPEC: L-3
    // GIVEN an admin with a known password and a mailer that fails
    let Fixture {
        mailer, svc, temp, ..
    } = with_tenant().await;
    mailer.set_failing(true);
    let req = LoginRequest {
        tenant: Some("999999999".into()),
        identifier: Some("999999999".into()),
        password: Some(temp.clone()),
        ..Default::default()
    };
    // WHEN the OTP mail cannot be sent
    let e = svc.login(req.clone()).await.unwrap_err();
    // THEN the caller hears mail_failed, and a retry once mail works succeeds
    assert_eq!(e.code(), "mail_failed");
    mailer.set_failing(false);
    assert!(matches!(
        svc.login(req).await.unwrap(),
        LoginStep::SecondFactor(_)
    ));
    let failed = svc
        .audit_events(
            &AuditFilter {
                kind: Some(AuditKind::OtpSent),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert!(
        failed
            .items
            .iter()
            .any(|e| e.outcome == crate::audit::Outcome::Failure("mail_failed".into()))
    );
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
