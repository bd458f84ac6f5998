//! The 9-digit login-ID account service (seed 002) with `Policy::identity_reset()`: individual
//! and organization accounts, reset by identity verification (login ID, name, phone and e-mail
//! must all match), and the "forgot login ID" notification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::Policy;
use monban_core::flow::account::{NewTenant, NewUser, ProfileInput};
use monban_core::flow::login::{ChangeReason, Session};
use monban_core::flow::recovery::IdentityClaim;
use monban_core::mail::{MailKind, extract_login_id, extract_secret};
use monban_core::model::{AccountKind, LoginMethod};
use monban_core::role::Role;
use monban_core::service::{ForgotLoginId, LoginRequest};
use monban_tests::{Harness, code, err, secret};

const TENANT: &str = "accounts";
const DESK: &str = "desk@accounts.example";
const TARO: &str = "taro@example.jp";
const TARO_ID: &str = "123456789";
const ORG: &str = "sato@company.example";
const ORG_ID: &str = "987654321";
const PW: &str = "Quiet-Lantern-42";

fn by_login_id(id: &str, password: &str) -> LoginRequest {
    LoginRequest {
        identifier: Some(id.to_owned()),
        password: Some(secret(password)),
        ..Default::default()
    }
}

fn account(id: &str, kind: AccountKind, name: &str, phone: &str, email: &str) -> NewUser {
    NewUser {
        user_id: id.to_owned(),
        role: Role::General,
        login_method: LoginMethod::MailOtp,
        same_as_admin: false,
        profile: ProfileInput {
            name: name.to_owned(),
            family_name: None,
            email: Some(email.to_owned()),
            phone: Some(phone.to_owned()),
            kind,
            lang: None,
        },
    }
}

/// The service with its desk admin, Taro Koku's individual account and an organization whose
/// person in charge is Hanako Sato; the desk's session.
async fn service() -> (Harness, Session) {
    let h = Harness::new(Policy::identity_reset());
    h.svc
        .support_create_tenant(&NewTenant {
            code: TENANT.into(),
            name: "Account service".into(),
            corporate_number: None,
            logistics: false,
            access_key: None,
            lang: None,
            admin: ProfileInput {
                name: "Service Desk".into(),
                email: Some(DESK.into()),
                ..Default::default()
            },
            admin_login_method: LoginMethod::MailOtp,
            welcome_mail: true,
        })
        .await
        .unwrap();
    let temp = h.temp_password(DESK);
    let s = h
        .login_with_otp(by_login_id(TENANT, temp.expose()), DESK)
        .await;
    let desk = h.forced_change(&s, &secret(PW)).await;
    for a in [
        account(
            TARO_ID,
            AccountKind::Individual,
            "Taro\u{3000}Koku",
            "03-1234-5678",
            TARO,
        ),
        account(
            ORG_ID,
            AccountKind::Organization,
            "Hanako Sato",
            "06-9876-5432",
            ORG,
        ),
    ] {
        h.svc
            .admin_create_user(desk.token.expose(), &a)
            .await
            .unwrap();
    }
    (h, desk)
}

fn claim(login_id: &str, name: &str, phone: &str, email: &str) -> IdentityClaim {
    IdentityClaim {
        login_id: login_id.to_owned(),
        name: name.to_owned(),
        phone: phone.to_owned(),
        email: email.to_owned(),
    }
}

#[tokio::test]
async fn login_ids_are_nine_digits_and_accounts_individual_or_organization() {
    // SPEC: T-5, T-6, T-4, L-1
    // GIVEN the service with an individual account (Taro Koku) and an organization (person in charge Hanako Sato)
    let (h, desk) = service().await;
    // THEN the two kinds of account are kept
    let taro = h.view(TENANT, TARO_ID).await.unwrap();
    assert_eq!(taro.kind, AccountKind::Individual);
    let org = h.view(TENANT, ORG_ID).await.unwrap();
    assert_eq!(org.kind, AccountKind::Organization);
    assert_eq!(org.name, "Hanako Sato", "the person in charge");
    assert_eq!(org.phone.as_deref(), Some("06-9876-5432"));
    // WHEN login IDs that are not nine half-width digits are registered
    for bad in [
        "12345678",
        "1234567890",
        "１２３４５６７８９",
        "12345678a",
        "123-45678",
        "",
    ] {
        let e = err(h
            .svc
            .admin_create_user(
                desk.token.expose(),
                &account(
                    bad,
                    AccountKind::Individual,
                    "Someone",
                    "0311112222",
                    "x@example.jp",
                ),
            )
            .await);
        // THEN invalid_input
        assert_eq!(e.code(), "invalid_input", "{bad:?}");
    }
    // WHEN Taro logs in with its login ID, the mailed password and the mailed code
    let temp = h.temp_password(TARO);
    let s = h
        .login_with_otp(by_login_id(TARO_ID, temp.expose()), TARO)
        .await;
    // THEN it is signed in, for a password change first
    assert_eq!(s.claims.user_id, TARO_ID);
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    // AND the organization logs in the same way, its codes going to the person in charge
    let temp = h.temp_password(ORG);
    let s = h
        .login_with_otp(by_login_id(ORG_ID, temp.expose()), ORG)
        .await;
    assert_eq!(s.claims.user_id, ORG_ID);
}

#[tokio::test]
async fn identity_reset_needs_every_field_to_match() {
    // SPEC: RS-4, P-5, RS-3, RS-9, T-6, M-1
    // GIVEN Taro Koku (stored as "Taro　Koku", phone 03-1234-5678) with a password of its own
    let (h, _desk) = service().await;
    let temp = h.temp_password(TARO);
    let s = h
        .login_with_otp(by_login_id(TARO_ID, temp.expose()), TARO)
        .await;
    let s = h.forced_change(&s, &secret(PW)).await;
    let mails = h.total_mails();

    // WHEN any one of login ID, name, phone or e-mail does not match
    for (what, c) in [
        (
            "unknown login ID",
            claim("123456780", "Taro KOKU", "0312345678", TARO),
        ),
        (
            "another account's ID",
            claim(ORG_ID, "Taro KOKU", "0312345678", TARO),
        ),
        (
            "other name",
            claim(TARO_ID, "Jiro KOKU", "0312345678", TARO),
        ),
        (
            "name run together",
            claim(TARO_ID, "TaroKOKU", "0312345678", TARO),
        ),
        (
            "other phone",
            claim(TARO_ID, "Taro KOKU", "0312345679", TARO),
        ),
        (
            "other e-mail",
            claim(TARO_ID, "Taro KOKU", "0312345678", "taro@example.com"),
        ),
        (
            "new e-mail",
            claim(TARO_ID, "Taro KOKU", "0312345678", "new@example.jp"),
        ),
        ("empty name", claim(TARO_ID, "", "0312345678", TARO)),
    ] {
        let r = h.svc.identity_reset(&c).await;
        // THEN the answer is the same as for a match (RS-3), and nothing is mailed
        assert_eq!(r, Ok(()), "{what}");
    }
    assert_eq!(h.total_mails(), mails);
    // AND the form could not set a new address: the account keeps its own, and works as before
    assert_eq!(
        h.view(TENANT, TARO_ID).await.unwrap().email.as_deref(),
        Some(TARO)
    );
    assert_eq!(h.mail_count("new@example.jp"), 0);
    assert!(h.svc.whoami(s.token.expose()).await.is_ok());

    // (an hour on: those requests used up the account's recovery requests of this hour, AB-2)
    h.advance_secs(3600);
    // (and signed in again: the session of an hour ago ended idle, S-3)
    let s = h.login_with_otp(by_login_id(TARO_ID, PW), TARO).await;
    let mails = h.total_mails();
    // WHEN every field matches, the name typed "Taro KOKU" against the stored "Taro　Koku" and
    // the phone without hyphens (P-5), the address in another case
    h.svc
        .identity_reset(&claim(
            TARO_ID,
            "Taro KOKU",
            "0312345678",
            "Taro@Example.JP",
        ))
        .await
        .unwrap();
    // THEN a temporary password goes to the registered address
    assert_eq!(h.total_mails(), mails + 1);
    let m = h.last_mail_of(TARO, MailKind::TemporaryPassword);
    let temp = secret(&extract_secret(&m).unwrap());
    // AND (RS-10; this test used to expect the old password and sessions void at once, which
    // let anyone who knows the four facts take the password away) the current password and
    // session keep working beside it
    h.svc.whoami(s.token.expose()).await.unwrap();
    let current = h.login_with_otp(by_login_id(TARO_ID, PW), TARO).await;
    assert_eq!(current.must_change_password, None);
    // AND that login with the current password voided the temporary one
    assert_eq!(
        code(h.svc.login(by_login_id(TARO_ID, temp.expose())).await),
        "login_failed"
    );
    // WHEN Taro asks again and signs in with the new temporary password
    h.svc
        .identity_reset(&claim(TARO_ID, "Taro Koku", "0312345678", TARO))
        .await
        .unwrap();
    let temp = secret(&extract_secret(&h.last_mail_of(TARO, MailKind::TemporaryPassword)).unwrap());
    let s = h
        .login_with_otp(by_login_id(TARO_ID, temp.expose()), TARO)
        .await;
    // THEN the reset completes: forced change, the old password and sessions void (RS-9)
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    assert_eq!(
        code(h.svc.whoami(current.token.expose()).await),
        "session_invalid"
    );
    assert_eq!(
        code(h.svc.login(by_login_id(TARO_ID, PW)).await),
        "login_failed"
    );
    h.forced_change(&s, &secret("Quiet-Lantern-43")).await;
    // AND other spellings of the same name and phone match too (P-5) — an hour later, since
    // one account gets at most 3 recovery mails an hour (AB-2)
    h.advance_secs(3601);
    for (name, phone) in [
        ("taro  koku", "03 1234 5678"),
        ("Taro\u{3000}KOKU", "03-1234-5678"),
    ] {
        h.svc
            .identity_reset(&claim(TARO_ID, name, phone, TARO))
            .await
            .unwrap();
        assert_eq!(h.last_mail(TARO).kind, MailKind::TemporaryPassword);
    }
    assert_eq!(
        h.total_mails(),
        mails + 6,
        "two codes, one more temporary password, two more resets"
    );

    // WHEN the organization's person in charge asks, with their own data (T-6)
    h.svc
        .identity_reset(&claim(ORG_ID, "hanako sato", "0698765432", ORG))
        .await
        .unwrap();
    // THEN the temporary password goes to the person in charge
    assert_eq!(h.last_mail(ORG).kind, MailKind::TemporaryPassword);
}

#[tokio::test]
async fn forgot_login_id_mails_the_id_to_the_registered_address() {
    // SPEC: RS-5, RS-3, M-1, M-2
    // GIVEN Taro Koku's account (123456789)
    let (h, _desk) = service().await;
    let mails = h.total_mails();
    // WHEN the e-mail, name and phone do not all match, or the address is unknown
    for (what, req) in [
        (
            "unknown address",
            ForgotLoginId {
                email: "nobody@example.jp".into(),
                name: Some("Taro Koku".into()),
                phone: Some("0312345678".into()),
            },
        ),
        (
            "other name",
            ForgotLoginId {
                email: TARO.into(),
                name: Some("Jiro Koku".into()),
                phone: Some("0312345678".into()),
            },
        ),
        (
            "other phone",
            ForgotLoginId {
                email: TARO.into(),
                name: Some("Taro Koku".into()),
                phone: Some("0399999999".into()),
            },
        ),
        (
            "no name or phone",
            ForgotLoginId {
                email: TARO.into(),
                name: None,
                phone: None,
            },
        ),
    ] {
        // THEN the answer is the same, and nothing is mailed
        assert_eq!(h.svc.forgot_login_id(&req).await, Ok(()), "{what}");
    }
    assert_eq!(h.total_mails(), mails);
    // (an hour on: those requests used up the account's recovery requests of this hour, AB-2)
    h.advance_secs(3600);
    // WHEN they match
    h.svc
        .forgot_login_id(&ForgotLoginId {
            email: "TARO@example.jp".into(),
            name: Some("taro koku".into()),
            phone: Some("03-1234-5678".into()),
        })
        .await
        .unwrap();
    // THEN the login ID is mailed to the registered address, and nothing else secret
    assert_eq!(h.total_mails(), mails + 1);
    let m = h.last_mail_of(TARO, MailKind::LoginIdNotice);
    assert_eq!(extract_login_id(&m).as_deref(), Some(TARO_ID));
    assert_eq!(extract_secret(&m), None);
    assert_eq!(m.subject, "Your login ID - monban");
    // AND the account is unchanged: its mailed password still signs in
    let temp = h
        .mails_to(TARO)
        .iter()
        .find(|m| m.kind == MailKind::UserRegistered)
        .and_then(extract_secret)
        .unwrap();
    let s = h.login_with_otp(by_login_id(TARO_ID, &temp), TARO).await;
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
}
