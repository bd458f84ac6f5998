//! The other presets and policy values, end to end: the PCI DSS profile (lock for 30 minutes,
//! history of 4), the NIST secure default (any character, long passwords, blocklist, not the
//! user ID), re-hashing at stronger parameters, and an admin reset that keeps the lock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::error::PasswordProblem;
use monban_core::flow::account::{NewTenant, ProfileInput};
use monban_core::flow::login::{ChangeReason, Session};
use monban_core::memory::SeededRandom;
use monban_core::model::{LoginMethod, UserRef};
use monban_core::policy::HashParams;
use monban_core::ports::Store;
use monban_core::role::Role;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Error, Policy};
use monban_tests::{Harness, TenantSpec, code, err, secret};
use std::sync::Arc;

const MAIL: &str = "owner@example.org";
const CODE: &str = "acmecorp1";

/// A tenant `CODE` (no access key) whose admin has signed in and set `password`.
async fn acme(h: &Harness, password: &str) -> Session {
    h.svc
        .support_create_tenant(&NewTenant {
            code: CODE.into(),
            name: "Acme".into(),
            corporate_number: None,
            logistics: false,
            access_key: None,
            lang: None,
            admin: ProfileInput {
                name: "Owner".into(),
                email: Some(MAIL.into()),
                ..Default::default()
            },
            admin_login_method: LoginMethod::MailOtp,
            welcome_mail: true,
        })
        .await
        .unwrap();
    let temp = h.temp_password(MAIL);
    let s = h.kuro_login(CODE, CODE, &temp, None, MAIL).await;
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    h.forced_change(&s, &secret(password)).await
}

fn rejected_for(e: &Error, problem: PasswordProblem) -> bool {
    matches!(e, Error::PasswordRejected(p) if p.contains(&problem))
}

#[tokio::test]
async fn pci_dss_locks_for_30_minutes_and_remembers_four_passwords() {
    // SPEC: L-6, PW-5, PW-1, L-7
    // GIVEN a PCI DSS tenant whose admin set a password
    let h = Harness::new(Policy::pci_dss());
    let pw = |i: u32| format!("Pci{i}secret-pass");
    let mut s = acme(&h, &pw(0)).await;
    let login = |p: &str| Harness::request(CODE, CODE, &secret(p), None);

    // WHEN the password is changed four times
    for i in 1..=4 {
        s = h
            .svc
            .change_password(
                s.token.expose(),
                Some(&secret(&pw(i - 1))),
                &secret(&pw(i)),
                &secret(&pw(i)),
            )
            .await
            .unwrap();
    }
    // THEN none of the last four may come back (PW-5: PCI DSS 4)
    for back in 0..=3 {
        let e = err(h
            .svc
            .change_password(
                s.token.expose(),
                Some(&secret(&pw(4))),
                &secret(&pw(back)),
                &secret(&pw(back)),
            )
            .await);
        assert!(rejected_for(&e, PasswordProblem::Reused), "{back}: {e}");
    }
    // AND a fifth is fine, after which the oldest is allowed again
    s = h
        .svc
        .change_password(
            s.token.expose(),
            Some(&secret(&pw(4))),
            &secret(&pw(5)),
            &secret(&pw(5)),
        )
        .await
        .unwrap();
    s = h
        .svc
        .change_password(
            s.token.expose(),
            Some(&secret(&pw(5))),
            &secret(&pw(0)),
            &secret(&pw(0)),
        )
        .await
        .unwrap();
    // AND PCI DSS asks for 12+ characters with letters and digits (PW-1)
    for (bad, problem) in [
        ("Short1pass", PasswordProblem::TooShort { min: 12 }),
        (
            "no-digits-at-all",
            PasswordProblem::MissingClass {
                class: monban_core::error::CharClass::Digit,
            },
        ),
    ] {
        let e = err(h
            .svc
            .change_password(
                s.token.expose(),
                Some(&secret(&pw(0))),
                &secret(bad),
                &secret(bad),
            )
            .await);
        assert!(rejected_for(&e, problem), "{bad}: {e}");
    }

    // WHEN the password is wrong ten times
    for _ in 0..10 {
        assert_eq!(
            code(h.svc.login(login("Wrong-password-1")).await),
            "login_failed"
        );
    }
    // THEN the account is locked, also for the right password
    assert_eq!(code(h.svc.login(login(&pw(0))).await), "locked");
    // AND it stays locked for 30 minutes
    h.advance_secs(30 * 60 - 1);
    assert_eq!(code(h.svc.login(login(&pw(0))).await), "locked");
    // AND then lifts by itself, and a success resets the count (L-7)
    h.advance_secs(1);
    h.advance_secs(600);
    let s = h.login_with_otp(login(&pw(0)), MAIL).await;
    assert_eq!(s.must_change_password, None);
    let v = h.view(CODE, CODE).await.unwrap();
    assert_eq!((v.locked, v.failures), (false, 0));
}

#[tokio::test]
async fn the_nist_default_takes_any_character_and_refuses_the_obvious() {
    // SPEC: PW-1
    // GIVEN a tenant under the NIST default whose admin set a 16-character password
    let h = Harness::new(Policy::nist());
    let mut current = "Sixteen-chars-ok".to_owned();
    let mut s = acme(&h, &current).await;
    // WHEN a common password, the user ID, or 7 characters are chosen
    for (bad, problem) in [
        ("password123", PasswordProblem::Common),
        ("iloveyou", PasswordProblem::Common),
        ("qwertyuiop", PasswordProblem::Common),
        ("seven77", PasswordProblem::TooShort { min: 8 }),
    ] {
        let e = err(h
            .svc
            .change_password(
                s.token.expose(),
                Some(&secret(&current)),
                &secret(bad),
                &secret(bad),
            )
            .await);
        // THEN each is refused with its reason
        assert!(rejected_for(&e, problem), "{bad}: {e}");
    }
    // AND a password equal to the user ID (in any case) is refused
    for same in ["acmecorp1", "ACMECorp1"] {
        let e = err(h
            .svc
            .change_password(
                s.token.expose(),
                Some(&secret(&current)),
                &secret(same),
                &secret(same),
            )
            .await);
        assert!(
            rejected_for(&e, PasswordProblem::SameAsUserId),
            "{same}: {e}"
        );
    }
    // WHEN long passphrases with spaces, symbols and any script are chosen, without
    // composition rules
    for good in [
        "correct horse battery staple".to_owned(),
        "ねこ と いぬ の ぱすわーど です".to_owned(),
        "x".repeat(64),
        "all lower case no digits".to_owned(),
    ] {
        // THEN they are accepted
        s = h
            .svc
            .change_password(
                s.token.expose(),
                Some(&secret(&current)),
                &secret(&good),
                &secret(&good),
            )
            .await
            .unwrap_or_else(|e| panic!("{good}: {e}"));
        current = good;
    }
    // AND the last one signs in
    let s = h
        .login_with_otp(Harness::request(CODE, CODE, &secret(&current), None), MAIL)
        .await;
    assert_eq!(s.must_change_password, None);
}

#[tokio::test]
async fn weaker_hashes_are_upgraded_at_the_next_login() {
    // SPEC: PW-6
    // GIVEN an admin whose password was hashed at the test parameters
    let h = Harness::new(Policy::kuroneko());
    let t = TenantSpec::kuroneko();
    h.tenant_with_admin(&t, &secret("Kuro2024neko")).await;
    let r = UserRef::new("999999999", "999999999");
    let before = h.store.user(&r).await.unwrap().unwrap().password.phc;
    assert!(
        before.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{before}"
    );
    // WHEN a service with stronger parameters signs the admin in
    let mut stronger = Policy::kuroneko().with_test_hashing();
    stronger.password.hash = HashParams {
        m_cost: 256,
        t_cost: 2,
        p_cost: 1,
    };
    let svc = AuthService::new(
        stronger,
        SessionKey::new(vec![0x5a; 32]).unwrap(),
        Arc::clone(&h.store),
        Arc::clone(&h.mailer),
        Arc::clone(&h.clock),
        SeededRandom::new(7),
    )
    .unwrap();
    h.advance_secs(601);
    let req = Harness::request(
        "999999999",
        "999999999",
        &secret("Kuro2024neko"),
        Some("7777777"),
    );
    let ch = match svc.login(req.clone()).await.unwrap() {
        monban_core::flow::login::LoginStep::SecondFactor(c) => c,
        other => panic!("{other:?}"),
    };
    svc.verify_second_factor(ch.token.expose(), &h.otp_code("123@a.com"))
        .await
        .unwrap();
    // THEN the stored hash is argon2id at the new parameters, and still verifies
    let after = h.store.user(&r).await.unwrap().unwrap().password.phc;
    assert!(
        after.starts_with("$argon2id$v=19$m=256,t=2,p=1$"),
        "{after}"
    );
    assert!(!after.contains("Kuro2024neko"));
    h.advance_secs(601);
    assert!(svc.login(req).await.is_ok());
}

#[tokio::test]
async fn an_admin_reset_may_keep_the_lock_when_the_policy_says_so() {
    // SPEC: RS-7, L-6
    // GIVEN a Kuroneko policy whose admin resets do not unlock
    let mut p = Policy::kuroneko();
    p.lockout.admin_reset_unlocks = false;
    let h = Harness::new(p);
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret("Kuro2024neko")).await;
    let temp = h
        .create_user(&admin, "User1", Role::General, "黒田 猫太", "kuroda@a.com")
        .await;
    h.user_first_login(&t, "User1", &temp, "kuroda@a.com", &secret("Neko2025kuro"))
        .await;
    for _ in 0..5 {
        err(h
            .svc
            .login(Harness::request(
                "999999999",
                "User1",
                &secret("Wrong2024pass"),
                Some("7777777"),
            ))
            .await);
    }
    // WHEN the admin resets the user's password
    h.svc
        .admin_reset_password(admin.token.expose(), "User1")
        .await
        .unwrap();
    let temp = h.temp_password("kuroda@a.com");
    // THEN the lock stays until the admin unlocks
    assert!(h.view("999999999", "User1").await.unwrap().locked);
    let req = Harness::request("999999999", "User1", &temp, Some("7777777"));
    assert_eq!(code(h.svc.login(req.clone()).await), "locked");
    h.svc
        .admin_unlock(admin.token.expose(), "User1")
        .await
        .unwrap();
    h.advance_secs(601);
    let s = h.login_with_otp(req, "kuroda@a.com").await;
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
}
