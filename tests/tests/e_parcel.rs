//! e-Parcel secure delivery (seeds 000, 001) with `Policy::e_parcel()`: the ID is the e-mail
//! address, a client certificate logs in alone unless "Password Protect" is on, password
//! notification mails a temporary password, passwords are 8–20 half-width alphanumerics, and
//! names have first-name and last-name fields each under 60 characters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::cert::ClientCert;
use monban_core::error::{Field, PasswordProblem};
use monban_core::flow::account::{NewUser, ProfileInput, SelfEdit};
use monban_core::flow::login::{ChangeReason, Session};
use monban_core::mail::{MailKind, extract_secret};
use monban_core::model::{LoginMethod, UserRef};
use monban_core::role::Role;
use monban_core::secret::Secret;
use monban_core::service::LoginRequest;
use monban_core::{Error, Lang, Policy};
use monban_tests::{Harness, cert, code, err, secret};

const TENANT: &str = "eparcel";
const ADMIN_MAIL: &str = "admin@eparcel.example";
const ADMIN_PW: &str = "Parcel2024admin";
const TARO: &str = "taro@example.com";
const TARO_PW: &str = "Kx7mQ2vZp9";

struct Service {
    h: Harness,
    admin: Session,
}

/// A login presenting a certificate, and optionally the ID (e-mail) and a password.
fn with_cert(c: &ClientCert, id: Option<&str>, password: Option<&str>) -> LoginRequest {
    LoginRequest {
        tenant: None,
        identifier: id.map(str::to_owned),
        password: password.map(Secret::new),
        access_key: None,
        certificate: Some(c.clone()),
    }
}

/// A login without a certificate: ID and password only.
fn without_cert(id: &str, password: &str) -> LoginRequest {
    LoginRequest {
        identifier: Some(id.to_owned()),
        password: Some(secret(password)),
        ..Default::default()
    }
}

fn person(id: &str, first: &str, last: &str) -> NewUser {
    NewUser {
        user_id: id.to_owned(),
        role: Role::General,
        login_method: LoginMethod::MailOtp,
        same_as_admin: false,
        profile: ProfileInput {
            name: first.to_owned(),
            family_name: Some(last.to_owned()),
            email: Some(id.to_owned()),
            ..Default::default()
        },
    }
}

impl Service {
    /// Support sets up the service "eparcel" with its admin (certificate 0xa0) and the user
    /// taro@example.com (certificate 0x11), whose temporary password is returned.
    async fn start() -> Self {
        let h = Harness::new(Policy::e_parcel());
        // GIVEN support creates the tenant with a welcome mail for its admin
        h.svc
            .support_create_tenant(&monban_core::flow::account::NewTenant {
                code: TENANT.into(),
                name: "e-Parcel customer".into(),
                corporate_number: None,
                logistics: false,
                access_key: None,
                lang: None,
                admin: ProfileInput {
                    name: "Admin".into(),
                    family_name: Some("Parcel".into()),
                    email: Some(ADMIN_MAIL.into()),
                    ..Default::default()
                },
                admin_login_method: LoginMethod::MailOtp,
                welcome_mail: true,
            })
            .await
            .unwrap();
        let temp = h.temp_password(ADMIN_MAIL);
        // AND binds the admin's certificate
        h.svc
            .support_bind_certificate(&UserRef::new(TENANT, TENANT), &cert(0xa0), false)
            .await
            .unwrap();
        let s = h
            .session(with_cert(
                &cert(0xa0),
                Some(ADMIN_MAIL),
                Some(temp.expose()),
            ))
            .await;
        assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
        let admin = h.forced_change(&s, &secret(ADMIN_PW)).await;
        // AND taro@example.com is registered, with a certificate of its own
        h.svc
            .admin_create_user(admin.token.expose(), &person(TARO, "Taro", "Yamada"))
            .await
            .unwrap();
        let m = h.last_mail_of(TARO, MailKind::UserRegistered);
        assert_eq!(m.lang, Lang::En);
        assert!(extract_secret(&m).is_some());
        h.svc
            .support_bind_certificate(&UserRef::new(TENANT, TARO), &cert(0x11), false)
            .await
            .unwrap();
        Self { h, admin }
    }

    /// Taro's first login (certificate alone) and forced change to `TARO_PW`.
    async fn taro(&self) -> Session {
        let s = self.h.session(with_cert(&cert(0x11), None, None)).await;
        assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
        self.h.forced_change(&s, &secret(TARO_PW)).await
    }
}

#[tokio::test]
async fn the_certificate_logs_in_alone_unless_password_protect_is_on() {
    // SPEC: L-8, T-5, L-1, L-5, A-1
    // GIVEN the service "eparcel" with its admin and taro@example.com, each with a bound certificate
    let svc = Service::start().await;
    let h = &svc.h;
    // THEN the user's ID is its e-mail address (T-5)
    let v = h.view(TENANT, TARO).await.unwrap();
    assert_eq!(v.user_id, TARO);
    assert_eq!(v.email.as_deref(), Some(TARO));
    assert_eq!(v.certificates.len(), 1);
    assert!(!v.password_protect, "Password Protect is off at first");

    // WHEN Taro presents its certificate alone (Password Protect off)
    let s = h.session(with_cert(&cert(0x11), None, None)).await;
    // THEN it is signed in without a second factor; first it must change the temporary password
    assert_eq!(s.claims.user_id, TARO);
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    h.forced_change(&s, &secret(TARO_PW)).await;
    let s = h.session(with_cert(&cert(0x11), None, None)).await;
    assert_eq!(s.must_change_password, None);

    // WHEN the ID and the password are given without a certificate
    let e = err(h.svc.login(without_cert(TARO, TARO_PW)).await);
    // THEN the login fails like any other first-factor failure
    assert_eq!(e.code(), "login_failed");
    // WHEN an unknown certificate, or Taro's certificate with another user's ID, is presented
    for req in [
        with_cert(&cert(0x99), None, None),
        with_cert(&cert(0x99), Some(TARO), Some(TARO_PW)),
        with_cert(&cert(0x11), Some(ADMIN_MAIL), None),
    ] {
        // THEN login_failed
        assert_eq!(code(h.svc.login(req).await), "login_failed");
    }

    // WHEN Taro turns Password Protect on
    let v = h
        .svc
        .edit_self(
            s.token.expose(),
            &SelfEdit {
                password_protect: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(v.password_protect);
    // THEN the certificate alone no longer logs in
    assert_eq!(
        code(h.svc.login(with_cert(&cert(0x11), None, None)).await),
        "login_failed"
    );
    assert_eq!(
        code(
            h.svc
                .login(with_cert(&cert(0x11), Some(TARO), Some("Wrong1234x")))
                .await
        ),
        "login_failed"
    );
    // AND the certificate with the password does, the ID being compared case-insensitively
    let s = h
        .session(with_cert(&cert(0x11), Some(TARO), Some(TARO_PW)))
        .await;
    assert_eq!(s.must_change_password, None);
    h.session(with_cert(
        &cert(0x11),
        Some("TARO@Example.com"),
        Some(TARO_PW),
    ))
    .await;
    h.session(with_cert(&cert(0x11), None, Some(TARO_PW))).await;
    // AND the password without the certificate still does not
    assert_eq!(
        code(h.svc.login(without_cert(TARO, TARO_PW)).await),
        "login_failed"
    );
    // AND the binding was audited
    assert!(h.audit().await.iter().any(|e| e.kind
        == monban_core::audit::AuditKind::CertificateBound
        && e.subject.as_deref() == Some(TARO)));
}

#[tokio::test]
async fn password_notification_mails_a_temporary_password() {
    // SPEC: RS-6, PW-7, PW-4, RS-9, RS-3, M-1
    // GIVEN Taro with its own password and Password Protect on
    let svc = Service::start().await;
    let h = &svc.h;
    let s = svc.taro().await;
    h.svc
        .edit_self(
            s.token.expose(),
            &SelfEdit {
                password_protect: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // WHEN Taro asks for its password by e-mail (its ID)
    h.svc.request_password_notification(TARO).await.unwrap();
    // THEN a temporary password (never the current one) goes to that address (PW-7)
    let m = h.last_mail_of(TARO, MailKind::TemporaryPassword);
    assert_eq!(m.subject, "Your temporary password - e-Parcel");
    let notified = extract_secret(&m).unwrap();
    assert_ne!(notified, TARO_PW);
    assert!(!m.body.contains(TARO_PW));
    assert!(notified.len() >= 8 && notified.len() <= 20);
    assert!(notified.bytes().all(|b| b.is_ascii_alphanumeric()));
    // AND (RS-10; this test used to expect the old password and sessions void at once, which
    // let anyone who knows the address take the password away) the current password and
    // session keep working, and a login with the current password voids the temporary one
    h.svc.whoami(s.token.expose()).await.unwrap();
    let current = h
        .session(with_cert(&cert(0x11), Some(TARO), Some(TARO_PW)))
        .await;
    assert_eq!(current.must_change_password, None);
    assert_eq!(
        code(
            h.svc
                .login(with_cert(&cert(0x11), Some(TARO), Some(&notified)))
                .await
        ),
        "login_failed"
    );
    // WHEN Taro asks again and signs in with the new temporary password
    h.svc.request_password_notification(TARO).await.unwrap();
    let notified = extract_secret(&h.last_mail_of(TARO, MailKind::TemporaryPassword)).unwrap();
    let s = h
        .session(with_cert(&cert(0x11), Some(TARO), Some(&notified)))
        .await;
    // THEN the reset completes: forced change (PW-4), old password and sessions void (RS-9)
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    assert_eq!(
        code(h.svc.whoami(current.token.expose()).await),
        "session_invalid"
    );
    assert_eq!(
        code(
            h.svc
                .login(with_cert(&cert(0x11), Some(TARO), Some(TARO_PW)))
                .await
        ),
        "login_failed"
    );
    h.forced_change(&s, &secret("Kx7mQ2vZp8")).await;

    // WHEN an unknown address asks (RS-3)
    let mails = h.total_mails();
    let r = h
        .svc
        .request_password_notification("nobody@example.com")
        .await;
    // THEN the answer is the same, and nothing is mailed
    assert_eq!(r, Ok(()));
    assert_eq!(h.total_mails(), mails);
    // AND an upper-case spelling of the ID reaches the same account
    h.svc
        .request_password_notification("Taro@EXAMPLE.com")
        .await
        .unwrap();
    assert_eq!(h.total_mails(), mails + 1);
    assert_eq!(h.last_mail(TARO).kind, MailKind::TemporaryPassword);
}

#[tokio::test]
async fn passwords_are_8_to_20_half_width_alphanumerics() {
    // SPEC: PW-1, PW-2, PW-5
    // GIVEN Taro signed in with its own password
    let svc = Service::start().await;
    let h = &svc.h;
    let mut s = svc.taro().await;
    let mut current = TARO_PW.to_owned();
    // WHEN passwords outside the rule are chosen
    for (bad, problem) in [
        ("Kx7mQ2v", PasswordProblem::TooShort { min: 8 }),
        (
            "Kx7mQ2vZp9Lw4Rt6Yh3Nq",
            PasswordProblem::TooLong { max: 20 },
        ),
        ("Kx7m Q2vZp9", PasswordProblem::CharacterNotAllowed),
        ("Kx7m-Q2vZp9", PasswordProblem::CharacterNotAllowed),
        ("Ｋｘ７ｍＱ２ｖＺｐ９", PasswordProblem::CharacterNotAllowed),
        ("パスワードKx7mQ2", PasswordProblem::CharacterNotAllowed),
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
        // THEN each is rejected with the reason
        assert!(
            matches!(&e, Error::PasswordRejected(p) if p.contains(&problem)),
            "{bad}: {e}"
        );
    }
    // WHEN the two entries differ, that is said first (PW-2)
    let e = err(h
        .svc
        .change_password(
            s.token.expose(),
            Some(&secret(&current)),
            &secret("short"),
            &secret("other"),
        )
        .await);
    assert_eq!(e.code(), "password_mismatch");
    // WHEN the new password is the current one (PW-5)
    let e = err(h
        .svc
        .change_password(
            s.token.expose(),
            Some(&secret(&current)),
            &secret(&current),
            &secret(&current),
        )
        .await);
    assert!(
        matches!(&e, Error::PasswordRejected(p) if p.contains(&PasswordProblem::SameAsCurrent)),
        "{e}"
    );
    // WHEN exactly 8 and exactly 20 characters are chosen (both bounds inclusive)
    for good in ["Kx7mQ2vZ", "Kx7mQ2vZp9Lw4Rt6Yh3N"] {
        s = h
            .svc
            .change_password(
                s.token.expose(),
                Some(&secret(&current)),
                &secret(good),
                &secret(good),
            )
            .await
            .unwrap_or_else(|e| panic!("{good}: {e}"));
        current = good.to_owned();
    }
    // THEN the password is case-sensitive
    h.svc
        .edit_self(
            s.token.expose(),
            &SelfEdit {
                password_protect: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        code(
            h.svc
                .login(with_cert(
                    &cert(0x11),
                    Some(TARO),
                    Some(&current.to_lowercase())
                ))
                .await
        ),
        "login_failed"
    );
    h.session(with_cert(&cert(0x11), Some(TARO), Some(&current)))
        .await;
}

#[tokio::test]
async fn first_and_last_names_are_each_under_60_characters() {
    // SPEC: P-1, P-3
    // GIVEN the service with its admin signed in
    let svc = Service::start().await;
    let h = &svc.h;
    let atok = svc.admin.token.expose();
    let n59 = "a".repeat(59);
    let n60 = "a".repeat(60);
    let k59 = "猫".repeat(59);
    // WHEN names with 59 characters in each field are registered (full-width count as one)
    for (i, (first, last)) in [(&n59, &n59), (&k59, &k59)].into_iter().enumerate() {
        let id = format!("ok{i}@example.com");
        // THEN they are accepted
        h.svc
            .admin_create_user(atok, &person(&id, first, last))
            .await
            .unwrap_or_else(|e| panic!("{first}/{last}: {e}"));
    }
    // WHEN either field has 60 characters, or one is missing
    for (i, (first, last, field)) in [
        (n60.as_str(), n59.as_str(), Field::Name),
        (n59.as_str(), n60.as_str(), Field::FamilyName),
        ("Hanako", "", Field::FamilyName),
        ("", "Sato", Field::Name),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("bad{i}@example.com");
        let e = err(h
            .svc
            .admin_create_user(atok, &person(&id, first, last))
            .await);
        // THEN invalid_input naming the field
        assert!(
            matches!(e, Error::InvalidInput { field: f, .. } if f == field),
            "{first}/{last}: {e:?}"
        );
        assert!(h.view(TENANT, &id).await.is_none());
    }
    // AND the same holds when Taro edits its own name
    let s = svc.taro().await;
    let e = err(h
        .svc
        .edit_self(
            s.token.expose(),
            &SelfEdit {
                family_name: Some(n60.clone()),
                ..Default::default()
            },
        )
        .await);
    assert!(
        matches!(
            e,
            Error::InvalidInput {
                field: Field::FamilyName,
                ..
            }
        ),
        "{e:?}"
    );
    let v = h
        .svc
        .edit_self(
            s.token.expose(),
            &SelfEdit {
                name: Some("John Parcel".into()),
                family_name: Some("Design department".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (v.name.as_str(), v.family_name.as_deref()),
        ("John Parcel", Some("Design department"))
    );
    // AND the address, being the ID, is changed by support, not by the user
    let e = err(h
        .svc
        .edit_self(
            s.token.expose(),
            &SelfEdit {
                email: Some("new@example.com".into()),
                ..Default::default()
            },
        )
        .await);
    assert_eq!(e.code(), "support_only");
}

#[tokio::test]
async fn deleting_a_user_frees_its_id_and_certificate() {
    // SPEC: LC-3, L-8, E-1
    // GIVEN Taro registered, with its certificate bound, and signed in once
    let svc = Service::start().await;
    let h = &svc.h;
    let atok = svc.admin.token.expose();
    svc.taro().await;
    // WHEN the admin deletes Taro
    h.svc.admin_delete_user(atok, TARO).await.unwrap();
    // THEN its certificate no longer logs in
    assert_eq!(
        code(h.svc.login(with_cert(&cert(0x11), None, None)).await),
        "login_failed"
    );
    // AND its ID (the address) and its certificate can be given to a new registration
    h.svc
        .admin_create_user(atok, &person(TARO, "Taro", "Yamada"))
        .await
        .unwrap();
    h.svc
        .support_bind_certificate(&UserRef::new(TENANT, TARO), &cert(0x11), false)
        .await
        .unwrap();
    let s = h.session(with_cert(&cert(0x11), None, None)).await;
    assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
    // AND the address stays unique: a second registration of it is refused
    assert!(
        h.svc
            .admin_create_user(atok, &person(TARO, "Jiro", "Yamada"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_certificate_another_account_holds_is_refused_unless_replaced() {
    // SPEC: L-8, LC-4
    // GIVEN the admin (certificate 0xa0) and Taro (certificate 0x11, its own password)
    let svc = Service::start().await;
    let h = &svc.h;
    svc.taro().await;
    let taro = UserRef::new(TENANT, TARO);
    let admin_key = cert(0xa0).key().unwrap();
    // WHEN support binds the admin's certificate to Taro without `replace`
    let r = h
        .svc
        .support_bind_certificate(&taro, &cert(0xa0), false)
        .await;
    // THEN it is refused: the certificate is taken (issue 11: it was 204 and moved silently)
    assert_eq!(code(r), "certificate_taken");
    assert_eq!(
        h.view(TENANT, TENANT).await.unwrap().certificates,
        vec![admin_key.clone()]
    );
    assert_eq!(
        h.view(TENANT, TARO).await.unwrap().certificates,
        vec![cert(0x11).key().unwrap()]
    );
    // AND the admin's certificate with Taro's credentials is no way in as Taro
    assert_eq!(
        code(
            h.svc
                .login(with_cert(&cert(0xa0), Some(TARO), Some(TARO_PW)))
                .await
        ),
        "login_failed"
    );
    // WHEN support re-binds it with `replace` (LC-4)
    h.svc
        .support_bind_certificate(&taro, &cert(0xa0), true)
        .await
        .unwrap();
    // THEN the old holder lost it in the same write, and it signs in as Taro only
    assert!(
        h.view(TENANT, TENANT)
            .await
            .unwrap()
            .certificates
            .is_empty()
    );
    assert_eq!(
        h.view(TENANT, TARO).await.unwrap().certificates,
        vec![admin_key]
    );
    let s = h.session(with_cert(&cert(0xa0), None, None)).await;
    assert_eq!(s.claims.user_id, TARO);
}

#[tokio::test]
async fn a_certificate_owner_record_the_user_does_not_list_logs_nobody_in() {
    // SPEC: L-8 — defence in depth: the owner record and the user's own list must agree.
    let svc = Service::start().await;
    let h = &svc.h;
    svc.taro().await;
    // GIVEN an owner record naming Taro for a certificate Taro's record does not list
    use monban_core::model::{CertOwner, Write};
    use monban_core::ports::Store;
    h.svc
        .store()
        .commit(vec![Write::PutCertOwner(CertOwner {
            key: cert(0x77).key().unwrap(),
            owner: UserRef::new(TENANT, TARO),
            version: 0,
        })])
        .await
        .unwrap();
    // WHEN that certificate is presented alone, or with Taro's credentials
    for req in [
        with_cert(&cert(0x77), None, None),
        with_cert(&cert(0x77), Some(TARO), Some(TARO_PW)),
    ] {
        // THEN nobody is signed in
        assert_eq!(code(h.svc.login(req).await), "login_failed");
    }
}

#[tokio::test]
async fn the_id_and_the_address_are_one_field() {
    // SPEC: T-5, RS-6 — issue 11: a user could be created with an ID other than its address,
    // and the password notification, looking the user up by address, then mailed nothing.
    let svc = Service::start().await;
    let h = &svc.h;
    let atok = svc.admin.token.expose();
    // WHEN a user is created whose ID and address differ
    let mut odd = person("hanako@example.com", "Hanako", "Sato");
    odd.profile.email = Some("someone-else@example.com".into());
    let e = err(h.svc.admin_create_user(atok, &odd).await);
    // THEN it is refused, naming the field
    assert_eq!(e.code(), "invalid_input");
    assert!(matches!(
        e,
        Error::InvalidInput {
            field: Field::Email,
            ..
        }
    ));
    assert!(h.view(TENANT, "hanako@example.com").await.is_none());
    // WHEN the address is left out
    let mut bare = person("hanako@example.com", "Hanako", "Sato");
    bare.profile.email = None;
    h.svc.admin_create_user(atok, &bare).await.unwrap();
    // THEN the ID is the address
    let v = h.view(TENANT, "hanako@example.com").await.unwrap();
    assert_eq!(v.email.as_deref(), Some("hanako@example.com"));
    // AND asking for the password with the ID mails it a temporary password
    h.svc
        .request_password_notification("hanako@example.com")
        .await
        .unwrap();
    h.last_mail_of("hanako@example.com", MailKind::TemporaryPassword);
    // AND the admin cannot change the address alone: it is the ID (T-4, T-5)
    let e = err(h
        .svc
        .admin_edit_user(
            atok,
            "hanako@example.com",
            &monban_core::flow::account::UserEdit {
                email: Some("hanako.sato@example.com".into()),
                ..Default::default()
            },
        )
        .await);
    assert_eq!(e.code(), "field_not_editable");
}
