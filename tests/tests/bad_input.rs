//! Bad input through the public API — empty strings, 10 KB strings, control characters, NUL
//! bytes, full-width digits, SQL-ish strings, emoji, bidirectional marks — gives typed errors
//! (checked by their stable codes), never a panic, and leaves what is stored unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::cert::ClientCert;
use monban_core::flow::account::{NewTenant, NewUser, ProfileInput, SelfEdit, UserEdit};
use monban_core::flow::login::Session;
use monban_core::flow::recovery::IdentityClaim;
use monban_core::model::{LoginMethod, UserRef};
use monban_core::role::{Permission, Role};
use monban_core::secret::Secret;
use monban_core::service::{ForgotLoginId, LoginRequest, ResetRequest, UserView};
use monban_core::{Policy, Result};
use monban_tests::{Harness, TenantSpec, new_user, secret};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const ADMIN_PW: &str = "Kuro2024neko";
const USER_PW: &str = "Neko2025kuro";

/// Strings nobody should type, with a name for the failure message.
fn nasty() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("spaces", "   ".into()),
        ("full-width space", "\u{3000}".into()),
        ("10 KB ASCII", "a".repeat(10 * 1024)),
        ("10 KB digits", "9".repeat(10 * 1024)),
        ("10 KB full-width", "猫".repeat(10 * 1024)),
        ("NUL inside", "User1\0".into()),
        ("NUL only", "\0".into()),
        ("escape sequence", "User\u{1b}[31m1".into()),
        ("CRLF header", "User1\r\nBcc: x@evil.test".into()),
        ("tab", "User\t1".into()),
        ("SQL", "' OR '1'='1' --".into()),
        ("SQL drop", "User1'; DROP TABLE users; --".into()),
        ("emoji", "🐈\u{200d}⬛🔑".into()),
        ("full-width digits", "９９９９９９９９９".into()),
        ("bidi override", "User1\u{202e}".into()),
        ("zero width space", "User\u{200b}1".into()),
        ("BOM", "\u{feff}User1".into()),
        ("percent escapes", "%00%0a%0d".into()),
        ("path", "../../etc/passwd".into()),
        ("JSON", "{\"user_id\":\"User1\"}".into()),
    ]
}

/// Names, e-mails and IDs that are wrong as a *name* (emoji or SQL-ish text is a fine name).
fn bad_names() -> Vec<(&'static str, String)> {
    nasty()
        .into_iter()
        .filter(|(what, _)| {
            matches!(
                *what,
                "empty"
                    | "spaces"
                    | "full-width space"
                    | "10 KB ASCII"
                    | "10 KB digits"
                    | "10 KB full-width"
                    | "NUL inside"
                    | "NUL only"
                    | "escape sequence"
                    | "CRLF header"
                    | "tab"
            )
        })
        .collect()
}

struct Fixture {
    h: Harness,
    admin: Session,
    user: Session,
}

async fn fixture(policy: Policy) -> Fixture {
    let h = Harness::new(policy);
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    let temp = h
        .create_user(&admin, "User1", Role::General, "黒田 猫太", "kuroda@a.com")
        .await;
    let user = h
        .user_first_login(&t, "User1", &temp, "kuroda@a.com", &secret(USER_PW))
        .await;
    Fixture { h, admin, user }
}

/// What must not change: the tenant's users as support sees them, the number of commits, the
/// number of mails.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<UserView>,
    commits: usize,
    mails: usize,
}

async fn snapshot(h: &Harness) -> Snapshot {
    Snapshot {
        users: h.users("999999999").await,
        commits: h.store.record_commits(),
        mails: h.total_mails(),
    }
}

/// The result must be an error whose code is one of `allowed`.
fn typed<T: std::fmt::Debug>(what: &str, r: Result<T>, allowed: &[&str]) {
    match r {
        Ok(v) => panic!("{what}: accepted ({v:?})"),
        Err(e) => assert!(
            allowed.contains(&e.code()),
            "{what}: {} not in {allowed:?}",
            e.code()
        ),
    }
}

/// The result is the non-revealing answer (Ok) or one of the `allowed` errors.
fn quiet<T: std::fmt::Debug>(what: &str, r: Result<T>, allowed: &[&str]) {
    if let Err(e) = r {
        assert!(
            allowed.contains(&e.code()),
            "{what}: {} not in {allowed:?}",
            e.code()
        );
    }
}

fn kuro(tenant: &str, id: &str, password: &str, key: Option<&str>) -> LoginRequest {
    Harness::request(tenant, id, &secret(password), key)
}

#[tokio::test]
async fn login_and_recovery_refuse_bad_input_without_side_effects() {
    // SPEC: L-5, T-1, T-2, RS-3
    // GIVEN the Kuroneko merchant with its admin and User1, and a snapshot of what is stored
    let f = fixture(Policy::kuroneko()).await;
    let h = &f.h;
    let before = snapshot(h).await;
    for (what, s) in nasty() {
        // WHEN a login names a bad tenant code, a bad user ID, or brings a bad password or
        // access key for an unknown user
        for (part, req) in [
            ("tenant", kuro(&s, "User1", USER_PW, Some("7777777"))),
            (
                "identifier",
                kuro("999999999", &s, USER_PW, Some("7777777")),
            ),
            ("password", kuro("999999999", "Nobody", &s, Some("7777777"))),
            ("access key", kuro("999999999", "Nobody", USER_PW, Some(&s))),
        ] {
            // THEN a typed error
            typed(
                &format!("login {part} {what}"),
                h.svc.login(req).await,
                &["invalid_input", "login_failed"],
            );
        }
        // WHEN a reset is asked for with bad fields (a bad access key for a real user too)
        for (part, req) in [
            (
                "tenant",
                ResetRequest {
                    tenant: Some(s.clone()),
                    user_id: "User1".into(),
                    access_key: Some(secret("7777777")),
                },
            ),
            (
                "user ID",
                ResetRequest {
                    tenant: Some("999999999".into()),
                    user_id: s.clone(),
                    access_key: Some(secret("7777777")),
                },
            ),
            (
                "access key",
                ResetRequest {
                    tenant: Some("999999999".into()),
                    user_id: "User1".into(),
                    access_key: Some(secret(&s)),
                },
            ),
        ] {
            // THEN the non-revealing answer or invalid_input, and no mail
            quiet(
                &format!("reset {part} {what}"),
                h.svc.request_password_reset(&req).await,
                &["invalid_input"],
            );
        }
        // WHEN bad tokens are handed back
        typed(
            &format!("link {what}"),
            h.svc.open_reset_link(&s).await,
            &["reset_link_invalid", "invalid_input"],
        );
        typed(
            &format!("challenge {what}"),
            h.svc.verify_second_factor(&s, &secret("123456")).await,
            &["challenge_expired", "invalid_input"],
        );
        typed(
            &format!("resend {what}"),
            h.svc.resend_otp(&s).await,
            &["challenge_expired", "invalid_input"],
        );
        typed(
            &format!("whoami {what}"),
            h.svc.whoami(&s).await,
            &["session_invalid", "invalid_input"],
        );
        typed(
            &format!("can {what}"),
            h.svc.can(&s, Permission::BusinessMenus).await,
            &["session_invalid", "invalid_input"],
        );
        typed(
            &format!("logout {what}"),
            h.svc.logout(&s).await,
            &["session_invalid", "invalid_input"],
        );
        typed(
            &format!("change with token {what}"),
            h.svc
                .change_password(&s, None, &secret("Neko2026kuro"), &secret("Neko2026kuro"))
                .await,
            &["session_invalid", "invalid_input"],
        );
        typed(
            &format!("list with token {what}"),
            h.svc.admin_list_users(&s, None, 10).await,
            &["session_invalid", "invalid_input"],
        );
        // WHEN the seed-002 and e-Parcel forms are used under this policy
        typed(
            &format!("identity reset {what}"),
            h.svc
                .identity_reset(&IdentityClaim {
                    login_id: s.clone(),
                    name: s.clone(),
                    phone: s.clone(),
                    email: s.clone(),
                })
                .await,
            &["not_enabled", "invalid_input"],
        );
        typed(
            &format!("forgot {what}"),
            h.svc
                .forgot_login_id(&ForgotLoginId {
                    email: s.clone(),
                    name: Some(s.clone()),
                    phone: Some(s.clone()),
                })
                .await,
            &["not_enabled", "invalid_input"],
        );
        typed(
            &format!("notification {what}"),
            h.svc.request_password_notification(&s).await,
            &["not_enabled", "invalid_input"],
        );
    }
    // THEN nothing stored changed and nothing was mailed
    assert_eq!(snapshot(h).await, before);
}

#[tokio::test]
async fn user_management_refuses_bad_input_without_side_effects() {
    // SPEC: T-4, P-1, P-2, P-3, R-5, E-6
    // GIVEN the merchant, the admin's and User1's sessions, and a snapshot of what is stored
    let f = fixture(Policy::kuroneko()).await;
    let h = &f.h;
    let (atok, utok) = (f.admin.token.expose(), f.user.token.expose());
    let before = snapshot(h).await;
    for (what, s) in nasty() {
        // WHEN a user is created with a bad user ID or a bad address
        typed(
            &format!("create id {what}"),
            h.svc
                .admin_create_user(atok, &new_user(&s, Role::General, "名前", "fresh@a.com"))
                .await,
            &["invalid_input"],
        );
        typed(
            &format!("create email {what}"),
            h.svc
                .admin_create_user(atok, &new_user("Fresh1", Role::General, "名前", &s))
                .await,
            &["invalid_input", "email_required_for_mail_otp"],
        );
        // WHEN the admin's operations name a bad user ID
        let not_there = ["not_found", "invalid_input"];
        typed(
            &format!("edit id {what}"),
            h.svc
                .admin_edit_user(
                    atok,
                    &s,
                    &UserEdit {
                        name: Some("名前".into()),
                        ..Default::default()
                    },
                )
                .await,
            &not_there,
        );
        typed(
            &format!("delete {what}"),
            h.svc.admin_delete_user(atok, &s).await,
            &not_there,
        );
        typed(
            &format!("reset pw {what}"),
            h.svc.admin_reset_password(atok, &s).await,
            &not_there,
        );
        typed(
            &format!("reset totp {what}"),
            h.svc.admin_reset_authenticator(atok, &s).await,
            &not_there,
        );
        typed(
            &format!("unlock {what}"),
            h.svc.admin_unlock(atok, &s).await,
            &not_there,
        );
        // WHEN an edit brings a bad address or user ID (the ID never changes)
        typed(
            &format!("edit email {what}"),
            h.svc
                .admin_edit_user(
                    atok,
                    "User1",
                    &UserEdit {
                        email: Some(s.clone()),
                        ..Default::default()
                    },
                )
                .await,
            &["invalid_input", "email_required_for_mail_otp"],
        );
        typed(
            &format!("edit user id {what}"),
            h.svc
                .admin_edit_user(
                    atok,
                    "User1",
                    &UserEdit {
                        user_id: Some(s.clone()),
                        ..Default::default()
                    },
                )
                .await,
            &["field_not_editable", "invalid_input"],
        );
        // WHEN the user edits its own address or password with bad values
        typed(
            &format!("self email {what}"),
            h.svc
                .edit_self(
                    utok,
                    &SelfEdit {
                        email: Some(s.clone()),
                        ..Default::default()
                    },
                )
                .await,
            &["invalid_input", "email_required_for_mail_otp"],
        );
        typed(
            &format!("new password {what}"),
            h.svc
                .change_password(utok, Some(&secret(USER_PW)), &secret(&s), &secret(&s))
                .await,
            &["invalid_input", "password_rejected"],
        );
        typed(
            &format!("confirmation {what}"),
            h.svc
                .change_password(
                    utok,
                    Some(&secret(USER_PW)),
                    &secret("Neko2026kuro"),
                    &secret(&s),
                )
                .await,
            &["invalid_input", "password_mismatch"],
        );
        // WHEN a general user tries an admin operation with bad input
        typed(
            &format!("general creates {what}"),
            h.svc
                .admin_create_user(utok, &new_user(&s, Role::General, &s, &s))
                .await,
            &["forbidden", "invalid_input"],
        );
    }
    for (what, s) in bad_names() {
        // WHEN names are empty, huge or hold control characters
        typed(
            &format!("create name {what}"),
            h.svc
                .admin_create_user(atok, &new_user("Fresh1", Role::General, &s, "fresh@a.com"))
                .await,
            &["invalid_input"],
        );
        typed(
            &format!("edit name {what}"),
            h.svc
                .admin_edit_user(
                    atok,
                    "User1",
                    &UserEdit {
                        name: Some(s.clone()),
                        ..Default::default()
                    },
                )
                .await,
            &["invalid_input"],
        );
        typed(
            &format!("self name {what}"),
            h.svc
                .edit_self(
                    utok,
                    &SelfEdit {
                        name: Some(s.clone()),
                        ..Default::default()
                    },
                )
                .await,
            &["invalid_input"],
        );
        // AND bad phone numbers (non-empty ones; an empty phone clears it)
        if !s.trim().is_empty() {
            typed(
                &format!("self phone {what}"),
                h.svc
                    .edit_self(
                        utok,
                        &SelfEdit {
                            phone: Some(s.clone()),
                            ..Default::default()
                        },
                    )
                    .await,
                &["invalid_input"],
            );
        }
    }
    // THEN nothing stored changed and nothing was mailed
    assert_eq!(snapshot(h).await, before);
    // AND the sessions still work
    assert!(h.svc.whoami(atok).await.is_ok());
    assert!(h.svc.whoami(utok).await.is_ok());
}

#[tokio::test]
async fn support_operations_refuse_bad_input_without_side_effects() {
    // SPEC: T-1, R-4, L-8, P-2
    // GIVEN the merchant and a snapshot of what is stored
    let f = fixture(Policy::kuroneko()).await;
    let h = &f.h;
    let before = snapshot(h).await;
    let stored_tenants = |code: &str| code.to_owned();
    for (what, s) in nasty() {
        let tenant =
            |code: &str, name: &str, email: &str, key: &str, corp: Option<&str>| NewTenant {
                code: code.into(),
                name: name.into(),
                corporate_number: corp.map(str::to_owned),
                logistics: true,
                access_key: Some(secret(key)),
                lang: None,
                admin: ProfileInput {
                    name: "管理 太郎".into(),
                    email: Some(email.into()),
                    ..Default::default()
                },
                admin_login_method: LoginMethod::MailOtp,
                welcome_mail: true,
            };
        // WHEN support creates a tenant with a bad code, access key, corporate number or address
        for (part, t) in [
            ("code", tenant(&s, "店", "new@a.com", "7777777", None)),
            (
                "access key",
                tenant("888888888", "店", "new@a.com", &s, None),
            ),
            (
                "corporate number",
                tenant("888888888", "店", "new@a.com", "7777777", Some(&s)),
            ),
            (
                "admin email",
                tenant("888888888", "店", &s, "7777777", None),
            ),
        ] {
            // THEN invalid_input
            typed(
                &format!("tenant {part} {what}"),
                h.svc.support_create_tenant(&t).await,
                &["invalid_input", "email_required_for_mail_otp"],
            );
        }
        // WHEN support's operations name a bad user or a bad address
        let r = UserRef::new(s.clone(), s.clone());
        typed(
            &format!("unlock {what}"),
            h.svc.support_unlock(&r).await,
            &["not_found", "invalid_input"],
        );
        typed(
            &format!("reinit {what}"),
            h.svc.support_reset_password(&r).await,
            &["not_found", "invalid_input"],
        );
        typed(
            &format!("admin email {what}"),
            h.svc.support_change_admin_email("999999999", &s).await,
            &["invalid_input"],
        );
        typed(
            &format!("admin email of tenant {what}"),
            h.svc.support_change_admin_email(&s, "fresh@a.com").await,
            &["not_found", "invalid_input"],
        );
        // WHEN a certificate with a bad fingerprint, or a bad serial number, is bound
        for c in [
            ClientCert {
                sha256: Some(s.clone()),
                serial: None,
                subject_dn: None,
            },
            ClientCert {
                sha256: None,
                serial: Some(s.clone()),
                subject_dn: Some("CN=User1".into()),
            },
        ] {
            typed(
                &format!("certificate {what}"),
                h.svc
                    .support_bind_certificate(&UserRef::new("999999999", "User1"), &c, false)
                    .await,
                &["invalid_input"],
            );
        }
        // AND listing a bad tenant lists nothing
        let listed = h.svc.support_list_users(&s, None, 10).await;
        assert!(listed.map(|p| p.items.is_empty()).unwrap_or(true), "{what}");
        let _ = stored_tenants(&s);
    }
    // THEN nothing stored changed and nothing was mailed
    assert_eq!(snapshot(h).await, before);
    assert!(h.users("888888888").await.is_empty());
}

#[tokio::test]
async fn bad_codes_are_typed_errors_and_count_as_failures() {
    // SPEC: L-4, L-6
    // GIVEN User1's login waiting for its code
    let f = fixture(Policy::kuroneko()).await;
    let h = &f.h;
    h.advance_secs(601);
    let ch = h
        .challenge(kuro("999999999", "User1", USER_PW, Some("7777777")))
        .await;
    let users = h.users("999999999").await.len();
    // WHEN bad codes are given for a live challenge
    for (what, s) in nasty() {
        // THEN a typed error: refused before any work (huge), wrong, or the account locked
        typed(
            &format!("code {what}"),
            h.svc
                .verify_second_factor(ch.token.expose(), &secret(&s))
                .await,
            &[
                "invalid_input",
                "otp_invalid",
                "locked",
                "challenge_expired",
            ],
        );
    }
    // AND no user appeared or vanished, and the account locked after five wrong codes (L-4)
    assert_eq!(h.users("999999999").await.len(), users);
    assert!(h.view("999999999", "User1").await.unwrap().locked);
}

#[tokio::test]
async fn identity_forms_refuse_bad_input_without_side_effects() {
    // SPEC: RS-4, RS-5, RS-6, RS-3
    // GIVEN an empty service under the seed-002 and the e-Parcel presets
    for policy in [Policy::identity_reset(), Policy::e_parcel()] {
        let h = Harness::new(policy.clone());
        let before = (h.store.record_commits(), h.total_mails());
        for (what, s) in nasty() {
            // WHEN the identity, forgot-login-ID or notification forms get bad input
            // THEN the non-revealing answer or invalid_input
            if policy.reset.identity {
                quiet(
                    &format!("identity {what}"),
                    h.svc
                        .identity_reset(&IdentityClaim {
                            login_id: s.clone(),
                            name: s.clone(),
                            phone: s.clone(),
                            email: s.clone(),
                        })
                        .await,
                    &["invalid_input"],
                );
                quiet(
                    &format!("forgot {what}"),
                    h.svc
                        .forgot_login_id(&ForgotLoginId {
                            email: s.clone(),
                            name: Some(s.clone()),
                            phone: None,
                        })
                        .await,
                    &["invalid_input"],
                );
            }
            if policy.reset.notification {
                quiet(
                    &format!("notification {what}"),
                    h.svc.request_password_notification(&s).await,
                    &["invalid_input"],
                );
            }
            // AND a certificate login with a bad certificate is refused
            let req = LoginRequest {
                certificate: Some(ClientCert {
                    sha256: Some(s.clone()),
                    serial: None,
                    subject_dn: None,
                }),
                identifier: Some(s.clone()),
                password: Some(Secret::new(s.clone())),
                ..Default::default()
            };
            typed(
                &format!("{} login {what}", policy.name),
                h.svc.login(req).await,
                &["invalid_input", "login_failed"],
            );
        }
        // THEN nothing was stored and nothing mailed
        assert_eq!(
            (h.store.record_commits(), h.total_mails()),
            before,
            "{}",
            policy.name
        );
    }
}

/// Arbitrary Unicode (control characters, NUL, surrogate-free code points of every plane) of
/// 0 to 1500 characters.
fn arbitrary_text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        proptest::collection::vec(any::<char>(), 0..1500).prop_map(String::from_iter),
        "[0-9０-９]{0,12}".prop_map(|s| s),
        "[a-zA-Z0-9'\";%_ -]{0,30}".prop_map(|s| s),
    ]
}

#[test]
fn arbitrary_text_never_panics_and_never_writes() {
    // SPEC: L-5, RS-3
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(fixture(Policy::kuroneko()));
    let before = rt.block_on(snapshot(&f.h));
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(arbitrary_text(), arbitrary_text(), arbitrary_text()),
            |(a, b, c)| {
                rt.block_on(async {
                    let h = &f.h;
                    // GIVEN any text
                    // WHEN it is put in any field of a login for an unknown user, a reset
                    // request, a token, or a new user
                    let r = h.svc.login(kuro(&a, &b, &c, Some(&a))).await;
                    // THEN a typed error
                    typed("login", r, &["invalid_input", "login_failed"]);
                    let r = h
                        .svc
                        .login(kuro("999999999", &format!("X{b}"), &c, Some(&a)))
                        .await;
                    typed("login", r, &["invalid_input", "login_failed"]);
                    quiet(
                        "reset",
                        h.svc
                            .request_password_reset(&ResetRequest {
                                tenant: Some(a.clone()),
                                user_id: b.clone(),
                                access_key: Some(secret(&c)),
                            })
                            .await,
                        &["invalid_input"],
                    );
                    typed(
                        "link",
                        h.svc.open_reset_link(&a).await,
                        &["reset_link_invalid", "invalid_input"],
                    );
                    typed(
                        "challenge",
                        h.svc.verify_second_factor(&b, &secret(&c)).await,
                        &["challenge_expired", "invalid_input"],
                    );
                    typed(
                        "whoami",
                        h.svc.whoami(&c).await,
                        &["session_invalid", "invalid_input"],
                    );
                    typed(
                        "create",
                        h.svc
                            .admin_create_user(
                                f.admin.token.expose(),
                                &NewUser {
                                    user_id: format!("{a}!"),
                                    role: Role::General,
                                    login_method: LoginMethod::MailOtp,
                                    same_as_admin: false,
                                    profile: ProfileInput {
                                        name: b.clone(),
                                        email: Some(c.clone()),
                                        ..Default::default()
                                    },
                                },
                            )
                            .await,
                        &["invalid_input"],
                    );
                });
                Ok(())
            },
        )
        .unwrap();
    // AND nothing stored changed and nothing was mailed
    assert_eq!(rt.block_on(snapshot(&f.h)), before);
}
