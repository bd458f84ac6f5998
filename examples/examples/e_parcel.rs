//! # e-Parcel secure delivery: certificate login, Password Protect and password notification
//!
//! Walks through the e-Parcel Q&A pages (seeds 000 and 001): the e-Parcel ID is the user's
//! e-mail address, the "e-Parcel Secure Enterprise - Web Browser" is reached with a client
//! certificate, and "Password Protect" decides whether the certificate alone logs in.
//!
//! - The company's system administrator and user John Parcel are registered; support binds
//!   their client certificates (T-5, L-8, LC-2).
//! - John opens the Web Browser with his certificate alone (Password Protect "No", the initial
//!   setting) and must replace his temporary password; the password rules are 8–20 half-width
//!   alphanumerics, case-sensitive, no spaces, entered twice (PW-1, PW-2, PW-4).
//! - "User Info": first-name and last-name fields, each under 60 characters (P-1); the e-mail
//!   address is the e-Parcel ID, so changing it is a support operation (P-6).
//! - Password Protect "Yes": the certificate alone no longer logs in; certificate + e-Parcel ID
//!   + password does (L-8, L-5).
//! - Procedure 1, "Request Password": monban stores only hashes, so the notification mails a
//!   fresh temporary password to the e-Parcel ID instead of the current one (RS-6, PW-7), which
//!   waits beside the current password until its first login (RS-10); an unknown address gets
//!   the same answer and no mail (RS-3).
//! - Procedure 2, "Change password" on User Info, and the new password must differ from the
//!   current one (PW-5); an older session stops working (L-9, RS-9).
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p monban-examples --example e_parcel
//! ```
//!
//! The preset's real argon2id parameters are used. The process exits with status 0 when every
//! flow behaves as the Q&A says and with status 1 (an error from `main`) when one does not.
//!
//! Demo only: in-memory store, predictable random source, fixed session key
//! ([`DEMO_SESSION_KEY`]); the mails and temporary passwords are printed on purpose.

use monban_core::cert::ClientCert;
use monban_core::flow::account::{NewTenant, NewUser, ProfileInput, SelfEdit};
use monban_core::flow::login::{ChangeReason, LoginStep, Session};
use monban_core::mail::MailKind;
use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use monban_core::model::{LoginMethod, UserRef};
use monban_core::service::LoginRequest;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Lang, Policy, Role, Secret, Timestamp};
use monban_examples::{DEMO_SESSION_KEY, Failure, Outcome, Service, Walkthrough, ensure};
use std::sync::Arc;

/// The single tenant of the e-Parcel preset (`login.default_tenant`).
const TENANT: &str = "eparcel";
const ADMIN_MAIL: &str = "it-admin@example.co.jp";
const JOHN: &str = "john.parcel@example.com";

const ADMIN_PW: &str = "Admin2025parcel";
const JOHN_PW: &str = "Parcel2025";
const JOHN_PW_2: &str = "Design0701dept";
const JOHN_PW_3: &str = "VcnWeb2025x";

/// 2025-04-01 00:00 UTC.
const START: Timestamp = Timestamp(1_743_465_600);

fn admin_cert() -> ClientCert {
    ClientCert {
        sha256: Some(
            "3F:A2:9C:11:5B:7E:D4:08:6C:21:9A:E3:47:B0:55:C8:0D:F1:26:93:AB:4E:7C:12:E9:60:38:D5:A7:1B:FE:04"
                .into(),
        ),
        serial: None,
        subject_dn: None,
    }
}

fn john_cert() -> ClientCert {
    ClientCert {
        sha256: None,
        serial: Some("0A:1B:2C:3D:4E".into()),
        subject_dn: Some("CN=John Parcel,OU=Design department,O=Example Corp,C=JP".into()),
    }
}

/// A request as the Web Browser sends it: the certificate, and the e-Parcel ID and password
/// when the "Authentication Required" dialog asked for them.
fn browser(cert: Option<ClientCert>, id_and_password: Option<(&str, &str)>) -> LoginRequest {
    LoginRequest {
        tenant: None,
        identifier: id_and_password.map(|(id, _)| id.to_owned()),
        password: id_and_password.map(|(_, pw)| Secret::new(pw)),
        access_key: None,
        certificate: cert,
    }
}

fn session(step: LoginStep) -> Outcome<Session> {
    match step {
        LoginStep::Session(s) => Ok(s),
        LoginStep::SecondFactor(_) => Err(Failure::new(
            "a session at once (the e-Parcel preset has no second factor)",
        )),
    }
}

async fn set_password(svc: &Service, w: &Walkthrough, s: &Session, new: &str) -> Outcome<Session> {
    w.say(format!(
        "enters {new} in \"New Password\" and \"New Password (re-enter)\", clicks \"Update\""
    ));
    let pw = Secret::new(new);
    let full = svc
        .change_password(s.token.expose(), None, &pw, &pw)
        .await?;
    ensure(
        full.must_change_password.is_none(),
        "a full session after the change",
    )?;
    w.session(&full);
    Ok(full)
}

#[tokio::main]
async fn main() -> Outcome {
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(CapturingMailer::new());
    let clock = Arc::new(ManualClock::at(START));
    // Demo only: a fixed, public signing key and a predictable random source.
    let key = SessionKey::new(DEMO_SESSION_KEY.to_vec())?;
    let svc: Arc<Service> = Arc::new(AuthService::new(
        Policy::e_parcel(),
        key,
        Arc::clone(&store),
        Arc::clone(&mailer),
        Arc::clone(&clock),
        SeededRandom::new(1),
    )?);
    let mut w = Walkthrough::new(
        "e-Parcel Secure Enterprise: certificate login, Password Protect, password notification (seeds 000, 001)",
        &mailer,
        Lang::En,
    );
    w.courier(Arc::clone(&svc));
    w.hashing(svc.policy());

    // ---- registration ---------------------------------------------------------------------
    w.step("The company's system administrator is registered and gets a client certificate");
    svc.support_create_tenant(&NewTenant {
        code: TENANT.into(),
        name: "Example Corp".into(),
        corporate_number: None,
        logistics: false,
        access_key: None,
        lang: None,
        admin: ProfileInput {
            name: "Hanako Admin".into(),
            family_name: Some("IT department".into()),
            email: Some(ADMIN_MAIL.into()),
            ..Default::default()
        },
        admin_login_method: LoginMethod::MailOtp,
        welcome_mail: true,
    })
    .await?;
    w.receive(ADMIN_MAIL, MailKind::UserRegistered)?;
    svc.support_bind_certificate(&UserRef::new(TENANT, TENANT), &admin_cert(), false)
        .await?;
    w.ok("support bound the administrator's certificate (SHA-256 fingerprint)");
    w.say("the administrator opens the Web Browser with the certificate (Password Protect \"No\")");
    let s = session(svc.login(browser(Some(admin_cert()), None)).await?)?;
    w.session(&s);
    let admin = set_password(&svc, &w, &s, ADMIN_PW).await?;

    w.step("The administrator registers John Parcel; his e-Parcel ID is his e-mail address");
    svc.admin_create_user(
        admin.token.expose(),
        &NewUser {
            user_id: JOHN.into(),
            role: Role::General,
            login_method: LoginMethod::MailOtp,
            same_as_admin: false,
            profile: ProfileInput {
                name: "John".into(),
                family_name: Some("Parcel".into()),
                email: Some(JOHN.into()),
                ..Default::default()
            },
        },
    )
    .await?;
    w.receive(JOHN, MailKind::UserRegistered)?;
    svc.support_bind_certificate(&UserRef::new(TENANT, JOHN), &john_cert(), false)
        .await?;
    w.ok("support bound John's client certificate (serial number + subject DN)");

    // ---- first visit ----------------------------------------------------------------------
    w.step("John opens the Web Browser: select the certificate, click OK");
    w.say("without a certificate the site is not available:");
    w.expect_error(
        svc.login(browser(None, Some((JOHN, JOHN_PW)))).await,
        "login_failed",
    )?;
    w.say("with the certificate alone (Password Protect is \"No\" initially):");
    let s = session(svc.login(browser(Some(john_cert()), None)).await?)?;
    w.session(&s);
    ensure(
        s.must_change_password == Some(ChangeReason::Temporary),
        "the temporary password must be replaced first (PW-4)",
    )?;

    w.step("User Info: a new password (8-20 half-width alphanumerics, case-sensitive, no spaces)");
    let t = s.token.expose();
    for (bad, why) in [
        ("Parc202", "7 characters"),
        ("Parcel 2025", "a space"),
        ("Parcel2025Parcel2025x", "21 characters"),
        ("パーセル2025abcd", "full-width characters"),
        ("Parcel-2025", "a symbol"),
    ] {
        w.say(format!("{bad:?} ({why}):"));
        let pw = Secret::new(bad);
        w.expect_error(
            svc.change_password(t, None, &pw, &pw).await,
            "password_rejected",
        )?;
    }
    w.say("the re-entered password differs:");
    w.expect_error(
        svc.change_password(t, None, &Secret::new(JOHN_PW), &Secret::new("parcel2025"))
            .await,
        "password_mismatch",
    )?;
    let john = set_password(&svc, &w, &s, JOHN_PW).await?;

    w.step("User Info: user name in two fields, each under 60 characters");
    let view = svc
        .edit_self(
            john.token.expose(),
            &SelfEdit {
                name: Some("John Parcel".into()),
                family_name: Some("Design department".into()),
                ..Default::default()
            },
        )
        .await?;
    w.ok(format!(
        "first name {:?}, last name {:?} (shown as sender and recipient name)",
        view.name,
        view.family_name.as_deref().unwrap_or_default()
    ));
    w.say("a 60-character first name:");
    w.expect_error(
        svc.edit_self(
            john.token.expose(),
            &SelfEdit {
                name: Some("J".repeat(60)),
                ..Default::default()
            },
        )
        .await,
        "invalid_input",
    )?;
    w.say("the e-mail address is the e-Parcel ID: ask the system administrator or support:");
    w.expect_error(
        svc.edit_self(
            john.token.expose(),
            &SelfEdit {
                email: Some("john@example.net".into()),
                ..Default::default()
            },
        )
        .await,
        "support_only",
    )?;

    // ---- Password Protect -----------------------------------------------------------------
    w.step("User Info: Password Protect \"Yes\"");
    let view = svc
        .edit_self(
            john.token.expose(),
            &SelfEdit {
                password_protect: Some(true),
                ..Default::default()
            },
        )
        .await?;
    ensure(view.password_protect, "Password Protect is on")?;
    w.ok("Password Protect is \"Yes\"");
    w.say("the certificate alone no longer logs in:");
    w.expect_error(
        svc.login(browser(Some(john_cert()), None)).await,
        "login_failed",
    )?;
    w.say("\"Authentication Required\": e-Parcel ID and a password in the wrong case:");
    w.expect_error(
        svc.login(browser(Some(john_cert()), Some((JOHN, "parcel2025"))))
            .await,
        "login_failed",
    )?;
    w.say("e-Parcel ID and password, but the administrator's certificate:");
    w.expect_error(
        svc.login(browser(Some(admin_cert()), Some((JOHN, JOHN_PW))))
            .await,
        "login_failed",
    )?;
    w.say("certificate + e-Parcel ID + password:");
    let john = session(
        svc.login(browser(Some(john_cert()), Some((JOHN, JOHN_PW))))
            .await?,
    )?;
    w.session(&john);
    ensure(john.must_change_password.is_none(), "a full session")?;
    w.expect_no_mail()?;

    // ---- Procedure 1 ----------------------------------------------------------------------
    w.step("Procedure 1: forgot the password → \"Request Password\" with the e-Parcel ID");
    svc.request_password_notification(JOHN).await?;
    w.ok("\"the password notification e-mail will be sent automatically\"");
    let temp = w.receive_secret(JOHN, MailKind::TemporaryPassword)?;
    w.say("monban stores only argon2id hashes: the mail carries a new temporary password, not the old one (PW-7)");
    w.say("it waits beside the current password, so whoever asked cannot take the account away: the session from before still works (RS-10):");
    svc.whoami(john.token.expose()).await?;
    w.ok("the session is still valid");
    w.say("a request for an address that is no e-Parcel ID gets the same answer, and no mail:");
    svc.request_password_notification("nobody@example.com")
        .await?;
    w.expect_no_mail()?;
    w.say("John logs in with the temporary password (certificate + e-Parcel ID + password):");
    let s = session(
        svc.login(browser(Some(john_cert()), Some((JOHN, temp.expose()))))
            .await?,
    )?;
    w.session(&s);
    ensure(
        s.must_change_password == Some(ChangeReason::Temporary),
        "the temporary password must be replaced",
    )?;
    w.say("that login completed the reset: the old password and the session from before are void (RS-9):");
    w.expect_error(
        svc.login(browser(Some(john_cert()), Some((JOHN, JOHN_PW))))
            .await,
        "login_failed",
    )?;
    w.expect_error(svc.whoami(john.token.expose()).await, "session_invalid")?;
    let john = set_password(&svc, &w, &s, JOHN_PW_2).await?;

    // ---- Procedure 2 ----------------------------------------------------------------------
    w.step("Procedure 2: change the password yourself on User Info");
    w.say("the same password again:");
    let same = Secret::new(JOHN_PW_2);
    w.expect_error(
        svc.change_password(john.token.expose(), Some(&same), &same, &same)
            .await,
        "password_rejected",
    )?;
    w.say("a wrong current password (monban asks for it in a normal session):");
    let new = Secret::new(JOHN_PW_3);
    w.expect_error(
        svc.change_password(john.token.expose(), Some(&Secret::new(JOHN_PW)), &new, &new)
            .await,
        "current_password_wrong",
    )?;
    let changed = svc
        .change_password(john.token.expose(), Some(&same), &new, &new)
        .await?;
    w.ok(format!("password changed to {JOHN_PW_3}"));
    w.session(&changed);
    w.say("the session from before the change no longer works (L-9):");
    w.expect_error(svc.whoami(john.token.expose()).await, "session_invalid")?;
    let s = session(
        svc.login(browser(Some(john_cert()), Some((JOHN, JOHN_PW_3))))
            .await?,
    )?;
    w.session(&s);
    let me = svc.whoami(s.token.expose()).await?;
    ensure(
        me.user_id == JOHN && me.failures == 0,
        "John is signed in and his failure count was reset (L-7)",
    )?;
    w.ok(format!(
        "signed in as {} ({} {}), failures reset to {}",
        me.user_id,
        me.name,
        me.family_name.as_deref().unwrap_or_default(),
        me.failures
    ));

    w.finish();
    Ok(())
}
