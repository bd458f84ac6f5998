//! SECOM Passport for Web (seed 003) with `Policy::secom_passport()`: the customer account is
//! a tenant admin with an 8-digit access key; it logs in with its login certificate, then the
//! access key and the password; the initial password lives 30 days and must be changed; support
//! re-initializes passwords and re-binds the certificate to a new person in charge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::audit::{Actor, AuditKind};
use monban_core::cert::ClientCert;
use monban_core::flow::account::{NewTenant, ProfileInput};
use monban_core::flow::login::{ChangeReason, Session};
use monban_core::mail::MailKind;
use monban_core::model::{LoginMethod, UserRef};
use monban_core::secret::Secret;
use monban_core::service::LoginRequest;
use monban_core::{Lang, Policy};
use monban_tests::{Harness, cert, code, err, secret};

const CODE: &str = "SP0012345";
const KEY: &str = "12345678";
const TANAKA: &str = "tanaka@corp.example";
const PW: &str = "Secom-2024-pass";
const SEED_LOGIN_FAILED: &str = "ログインに失敗しました。入力内容を確認してください。";

fn account() -> UserRef {
    UserRef::new(CODE, CODE)
}

/// Certificate, then access key and password.
fn login(c: &ClientCert, key: Option<&str>, password: &str) -> LoginRequest {
    LoginRequest {
        tenant: None,
        identifier: None,
        password: Some(secret(password)),
        access_key: key.map(Secret::new),
        certificate: Some(c.clone()),
    }
}

/// Support opens the account (access key 12345678, person in charge 田中 一郎) and binds the
/// login certificate 0x31; the initial password as mailed.
async fn open_account(h: &Harness) -> Secret {
    h.svc
        .support_create_tenant(&NewTenant {
            code: CODE.into(),
            name: "株式会社サンプル".into(),
            corporate_number: None,
            logistics: false,
            access_key: Some(secret(KEY)),
            lang: None,
            admin: ProfileInput {
                name: "田中 一郎".into(),
                email: Some(TANAKA.into()),
                ..Default::default()
            },
            admin_login_method: LoginMethod::MailOtp,
            welcome_mail: true,
        })
        .await
        .unwrap();
    h.svc
        .support_bind_certificate(&account(), &cert(0x31), false)
        .await
        .unwrap();
    let m = h.last_mail_of(TANAKA, MailKind::UserRegistered);
    assert_eq!(m.lang, Lang::Ja);
    assert!(
        m.body.contains("30日間"),
        "the initial password lives 30 days: {}",
        m.body
    );
    h.temp_password(TANAKA)
}

async fn signed_in(h: &Harness) -> Session {
    let temp = open_account(h).await;
    let s = h
        .session(login(&cert(0x31), Some(KEY), temp.expose()))
        .await;
    h.forced_change(&s, &secret(PW)).await
}

#[tokio::test]
async fn certificate_then_access_key_and_password() {
    // SPEC: L-8, T-2, T-5, T-1, PW-4, L-5, L-1
    let h = Harness::new(Policy::secom_passport());
    // GIVEN support opened the account with an 8-digit access key and bound its certificate
    let temp = open_account(&h).await;
    // WHEN the certificate is presented with the access key and the initial password
    let s = h
        .session(login(&cert(0x31), Some(KEY), temp.expose()))
        .await;
    // THEN the account is signed in (no second factor here), only to change the password
    assert_eq!(s.claims.user_id, CODE);
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    assert_eq!(
        code(h.svc.admin_list_users(s.token.expose(), None, 10).await),
        "password_change_required"
    );
    let s = h.forced_change(&s, &secret(PW)).await;
    assert!(h.svc.whoami(s.token.expose()).await.is_ok());
    // AND afterwards the certificate, the key and the new password give a full session
    let s = h.session(login(&cert(0x31), Some(KEY), PW)).await;
    assert_eq!(s.must_change_password, None);

    // WHEN any of the three is wrong or missing
    let no_cert = LoginRequest {
        tenant: Some(CODE.into()),
        identifier: Some(CODE.into()),
        password: Some(secret(PW)),
        access_key: Some(secret(KEY)),
        certificate: None,
    };
    for (what, req) in [
        ("no certificate", no_cert),
        ("unknown certificate", login(&cert(0x32), Some(KEY), PW)),
        ("wrong access key", login(&cert(0x31), Some("12345679"), PW)),
        ("short access key", login(&cert(0x31), Some("1234567"), PW)),
        ("no access key", login(&cert(0x31), None, PW)),
        (
            "wrong password",
            login(&cert(0x31), Some(KEY), "Secom-2024-pasS"),
        ),
    ] {
        let e = err(h.svc.login(req).await);
        // THEN the same answer every time (L-5, T-2)
        assert_eq!(e.code(), "login_failed", "{what}");
        assert_eq!(e.message(Lang::Ja), SEED_LOGIN_FAILED, "{what}");
    }
    // AND an access key that is not 8 digits cannot be set (T-1)
    let e = err(h
        .svc
        .support_create_tenant(&NewTenant {
            code: "SP0099999".into(),
            name: "別会社".into(),
            corporate_number: None,
            logistics: false,
            access_key: Some(secret("1234567")),
            lang: None,
            admin: ProfileInput {
                name: "佐藤 次郎".into(),
                email: Some("sato@corp.example".into()),
                ..Default::default()
            },
            admin_login_method: LoginMethod::MailOtp,
            welcome_mail: true,
        })
        .await);
    assert_eq!(e.code(), "invalid_input");
}

#[tokio::test]
async fn the_initial_password_lives_30_days() {
    // SPEC: PW-4, L-5
    let h = Harness::new(Policy::secom_passport());
    // GIVEN an account whose initial password was mailed at T0
    let temp = open_account(&h).await;
    // WHEN it is used a second before 30 days have passed
    h.advance_secs(30 * 86_400 - 1);
    // THEN it still works (for a password change only)
    let s = h
        .session(login(&cert(0x31), Some(KEY), temp.expose()))
        .await;
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    // WHEN 30 days have passed
    h.advance_secs(1);
    let e = err(h
        .svc
        .login(login(&cert(0x31), Some(KEY), temp.expose()))
        .await);
    // THEN it fails exactly like a wrong password
    let wrong = err(h
        .svc
        .login(login(&cert(0x31), Some(KEY), "Wrong-2024-pass"))
        .await);
    assert_eq!(e.code(), "login_failed");
    assert_eq!(e, wrong);
    assert_eq!(e.message(Lang::Ja), wrong.message(Lang::Ja));
    // AND it counted as a failure, like a wrong password
    assert_eq!(h.view(CODE, CODE).await.unwrap().failures, 2);
    drop(s);
}

#[tokio::test]
async fn support_reinitializes_the_password_and_clears_the_lock() {
    // SPEC: RS-8, R-4, L-6, RS-9, PW-4
    let h = Harness::new(Policy::secom_passport());
    let s = signed_in(&h).await;
    // GIVEN the account locked itself out with five wrong passwords
    for _ in 0..5 {
        err(h
            .svc
            .login(login(&cert(0x31), Some(KEY), "Wrong-2024-pass"))
            .await);
    }
    assert_eq!(
        code(h.svc.login(login(&cert(0x31), Some(KEY), PW)).await),
        "locked"
    );
    // WHEN support re-initializes the password
    let handed = h.svc.support_reset_password(&account()).await.unwrap();
    // THEN a new initial password is mailed, the lock is cleared, and the old password and
    // sessions are void
    assert!(handed.is_none());
    let m = h.last_mail_of(TANAKA, MailKind::TemporaryPassword);
    assert!(m.body.contains("30日間"));
    let temp = h.temp_password(TANAKA);
    let v = h.view(CODE, CODE).await.unwrap();
    assert!(!v.locked);
    assert!(v.temporary_password);
    assert_eq!(
        code(h.svc.whoami(s.token.expose()).await),
        "session_invalid"
    );
    assert_eq!(
        code(h.svc.login(login(&cert(0x31), Some(KEY), PW)).await),
        "login_failed"
    );
    // AND the new initial password must be changed at the next login
    let s = h
        .session(login(&cert(0x31), Some(KEY), temp.expose()))
        .await;
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    h.forced_change(&s, &secret("Secom-2025-pass")).await;
    // AND support's part is audited
    assert!(
        h.audit()
            .await
            .iter()
            .any(|e| e.kind == AuditKind::ResetCompleted
                && e.actor == Actor::Support
                && e.subject.as_deref() == Some(CODE))
    );
}

#[tokio::test]
async fn rebinding_the_certificate_to_a_new_person_retires_the_old_one() {
    // SPEC: LC-4, R-4, L-8, A-1
    // GIVEN the account signed in with certificate 0x31
    let h = Harness::new(Policy::secom_passport());
    signed_in(&h).await;
    // WHEN the person in charge changes: support moves the address and re-binds the login
    // certificate to the new person's, replacing the old one
    h.svc
        .support_change_admin_email(CODE, "suzuki@corp.example")
        .await
        .unwrap();
    h.svc
        .support_bind_certificate(&account(), &cert(0x32), true)
        .await
        .unwrap();
    // THEN the old certificate stops working
    assert_eq!(
        code(h.svc.login(login(&cert(0x31), Some(KEY), PW)).await),
        "login_failed"
    );
    // AND the new one works with the same access key and password
    let s = h.session(login(&cert(0x32), Some(KEY), PW)).await;
    assert_eq!(s.claims.user_id, CODE);
    let v = h.view(CODE, CODE).await.unwrap();
    assert_eq!(v.certificates.len(), 1);
    assert_eq!(v.email.as_deref(), Some("suzuki@corp.example"));
    // AND a certificate identified by serial number and subject DN works as well
    let by_serial = ClientCert {
        sha256: None,
        serial: Some("0A:1B:2C".into()),
        subject_dn: Some("CN=Suzuki Hanako, O=Sample Corp".into()),
    };
    h.svc
        .support_bind_certificate(&account(), &by_serial, true)
        .await
        .unwrap();
    let same_serial_other_spelling = ClientCert {
        serial: Some("0a1b2c".into()),
        ..by_serial.clone()
    };
    h.session(login(&same_serial_other_spelling, Some(KEY), PW))
        .await;
    assert_eq!(
        code(h.svc.login(login(&cert(0x32), Some(KEY), PW)).await),
        "login_failed"
    );
    // AND each binding is audited as support's
    let bound = h
        .audit()
        .await
        .into_iter()
        .filter(|e| e.kind == AuditKind::CertificateBound && e.actor == Actor::Support)
        .count();
    assert_eq!(bound, 3);
}
