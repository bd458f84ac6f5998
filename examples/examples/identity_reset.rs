//! # Login-ID account service: forgot login ID, and password reset by identity verification
//!
//! Walks through seed 002, "Procedure to be performed when you forget your password", on an
//! account service whose login IDs are 9 digits and whose accounts are individual or
//! company/organization accounts (T-5, T-6).
//!
//! - The account desk opens an individual account (Taro KOKU) and an organization account
//!   (person in charge Hanako YAMATO); each gets its login ID and a temporary password by mail,
//!   and Taro sets his own password at the first login (LC-2, L-1, PW-4).
//! - "Forgot login ID": e-mail + name + phone → the login ID goes to the registered address;
//!   a mismatch gets the same answer and no mail (RS-5, RS-3).
//! - Name comparison: "Taro KOKU" with a one-byte or a two-byte space, any case, repeated
//!   spaces, full-width letters; phone numbers with or without hyphens (P-5).
//! - "Initialize": login ID + name + phone + e-mail must all match; a temporary password then
//!   goes to the registered address (never to a new one) and waits beside the current password;
//!   its first login completes the reset — the old password and sessions stop working — and
//!   forces a change (RS-4, RS-10, RS-9, PW-4).
//! - The organization account is verified with the person in charge's name, phone and e-mail
//!   (T-6).
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p monban-examples --example identity_reset
//! ```
//!
//! The preset's real argon2id parameters are used. The process exits with status 0 when every
//! flow behaves as the seed says and with status 1 (an error from `main`) when one does not.
//!
//! Demo only: in-memory store, predictable random source, fixed session key
//! ([`DEMO_SESSION_KEY`]); the mails, temporary passwords and codes are printed on purpose.

use monban_core::flow::account::{NewTenant, NewUser, ProfileInput};
use monban_core::flow::login::{ChangeReason, Session};
use monban_core::flow::recovery::IdentityClaim;
use monban_core::mail::{MailKind, extract_login_id};
use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use monban_core::model::{AccountKind, LoginMethod};
use monban_core::normalize::{names_match, phones_match};
use monban_core::service::{ForgotLoginId, LoginRequest};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Lang, Policy, Role, Secret, Timestamp};
use monban_examples::{
    DEMO_SESSION_KEY, Failure, Outcome, Service, Walkthrough, ensure, finish_login,
};
use std::sync::Arc;

/// The single tenant of the preset (`login.default_tenant`); its admin is the account desk.
const DESK: &str = "accounts";
const DESK_MAIL: &str = "account-desk@example.com";
const TARO_ID: &str = "123456789";
const TARO_MAIL: &str = "taro.koku@example.com";
const TARO_PHONE: &str = "090-1234-5678";
const ORG_ID: &str = "987654321";
const ORG_MAIL: &str = "it-desk@example.co.jp";

const DESK_PW: &str = "desk counter 2025";
const TARO_PW: &str = "koku taro blue kite";
const TARO_PW_2: &str = "kite flies over koku";

/// 2025-04-01 00:00 UTC.
const START: Timestamp = Timestamp(1_743_465_600);

async fn log_in(
    svc: &Service,
    w: &mut Walkthrough,
    login_id: &str,
    password: &str,
    inbox: &str,
) -> Outcome<Session> {
    w.say(format!("logs in with login ID {login_id} and the password"));
    let step = svc
        .login(LoginRequest {
            identifier: Some(login_id.into()),
            password: Some(Secret::new(password)),
            ..Default::default()
        })
        .await?;
    let s = finish_login(svc, w, step, inbox).await?;
    w.session(&s);
    Ok(s)
}

async fn set_password(svc: &Service, w: &Walkthrough, s: &Session, new: &str) -> Outcome<Session> {
    w.say(format!("sets the new password {new:?} (entered twice)"));
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

fn account(login_id: &str, name: &str, phone: &str, email: &str, kind: AccountKind) -> NewUser {
    NewUser {
        user_id: login_id.into(),
        role: Role::General,
        login_method: LoginMethod::MailOtp,
        same_as_admin: false,
        profile: ProfileInput {
            name: name.into(),
            phone: Some(phone.into()),
            email: Some(email.into()),
            kind,
            ..Default::default()
        },
    }
}

fn claim(login_id: &str, name: &str, phone: &str, email: &str) -> IdentityClaim {
    IdentityClaim {
        login_id: login_id.into(),
        name: name.into(),
        phone: phone.into(),
        email: email.into(),
    }
}

#[tokio::main]
async fn main() -> Outcome {
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(CapturingMailer::new());
    let clock = Arc::new(ManualClock::at(START));
    // Demo only: a fixed, public signing key and a predictable random source.
    let key = SessionKey::new(DEMO_SESSION_KEY.to_vec())?;
    let svc: Arc<Service> = Arc::new(AuthService::new(
        Policy::identity_reset(),
        key,
        Arc::clone(&store),
        Arc::clone(&mailer),
        Arc::clone(&clock),
        SeededRandom::new(2),
    )?);
    let mut w = Walkthrough::new(
        "Login-ID accounts: forgot login ID, password reset by identity verification (seed 002)",
        &mailer,
        Lang::En,
    );
    w.courier(Arc::clone(&svc));
    w.hashing(svc.policy());

    // ---- accounts ---------------------------------------------------------------------------
    w.step("The account desk opens an individual and an organization account");
    svc.support_create_tenant(&NewTenant {
        code: DESK.into(),
        name: "Example account service".into(),
        corporate_number: None,
        logistics: false,
        access_key: None,
        lang: None,
        admin: ProfileInput {
            name: "Account Desk".into(),
            email: Some(DESK_MAIL.into()),
            kind: AccountKind::Organization,
            ..Default::default()
        },
        admin_login_method: LoginMethod::MailOtp,
        welcome_mail: true,
    })
    .await?;
    let temp = w.receive_secret(DESK_MAIL, MailKind::UserRegistered)?;
    let s = log_in(&svc, &mut w, DESK, temp.expose(), DESK_MAIL).await?;
    let desk = set_password(&svc, &w, &s, DESK_PW).await?;
    svc.admin_create_user(
        desk.token.expose(),
        &account(
            TARO_ID,
            "Taro KOKU",
            TARO_PHONE,
            TARO_MAIL,
            AccountKind::Individual,
        ),
    )
    .await?;
    w.ok(format!("individual account {TARO_ID}: Taro KOKU"));
    let taro_temp = w.receive_secret(TARO_MAIL, MailKind::UserRegistered)?;
    svc.admin_create_user(
        desk.token.expose(),
        &account(
            ORG_ID,
            "Hanako YAMATO",
            "03-1234-5678",
            ORG_MAIL,
            AccountKind::Organization,
        ),
    )
    .await?;
    w.ok(format!(
        "organization account {ORG_ID}: person in charge Hanako YAMATO"
    ));
    w.receive(ORG_MAIL, MailKind::UserRegistered)?;
    w.say("login IDs are nine digits:");
    w.expect_error(
        svc.admin_create_user(
            desk.token.expose(),
            &account(
                "12345678",
                "Jiro KOKU",
                "090-8765-4321",
                "jiro@example.com",
                AccountKind::Individual,
            ),
        )
        .await,
        "invalid_input",
    )?;

    w.step("Taro's first login: temporary password, mail OTP, his own password");
    let s = log_in(&svc, &mut w, TARO_ID, taro_temp.expose(), TARO_MAIL).await?;
    ensure(
        s.must_change_password == Some(ChangeReason::Temporary),
        "the temporary password must be replaced",
    )?;
    let taro = set_password(&svc, &w, &s, TARO_PW).await?;

    // ---- forgot login ID ------------------------------------------------------------------
    w.step("Forgot login ID: e-mail address, name and phone number");
    w.say("a wrong phone number:");
    svc.forgot_login_id(&ForgotLoginId {
        email: TARO_MAIL.into(),
        name: Some("Taro KOKU".into()),
        phone: Some("09012345679".into()),
    })
    .await?;
    w.ok("the usual answer (nothing says what did not match)");
    w.expect_no_mail()?;
    w.say("\"taro koku\", phone without hyphens, e-mail in capitals:");
    svc.forgot_login_id(&ForgotLoginId {
        email: "Taro.Koku@Example.com".into(),
        name: Some("taro koku".into()),
        phone: Some("09012345678".into()),
    })
    .await?;
    let mail = w.receive(TARO_MAIL, MailKind::LoginIdNotice)?;
    let id = extract_login_id(&mail).ok_or_else(|| Failure::new("a login ID in the notice"))?;
    ensure(id == TARO_ID, "the notice carries Taro's login ID")?;
    w.ok(format!("the login ID {id} went to the registered address"));

    // ---- names ----------------------------------------------------------------------------
    w.step("How names and phone numbers are compared (P-5): against \"Taro KOKU\"");
    for (typed, note, same) in [
        ("Taro KOKU", "one-byte space", true),
        ("Taro\u{3000}KOKU", "two-byte space", true),
        ("taro  koku", "lower case, two spaces", true),
        (" TARO KOKU ", "upper case, outer spaces", true),
        (
            "\u{ff34}\u{ff41}\u{ff52}\u{ff4f}\u{3000}\u{ff2b}\u{ff2f}\u{ff2b}\u{ff35}",
            "full-width letters",
            true,
        ),
        ("TaroKOKU", "no space", false),
        ("KOKU Taro", "other order", false),
    ] {
        let m = names_match("Taro KOKU", typed);
        ensure(m == same, format!("{typed:?} matching Taro KOKU: {same}"))?;
        w.say(format!(
            "{:<16} \"{typed}\" ({note})",
            if m { "matches" } else { "does not match" }
        ));
    }
    for (typed, same) in [
        ("09012345678", true),
        ("090 1234 5678", true),
        ("090-1234-5679", false),
    ] {
        let m = phones_match(TARO_PHONE, typed);
        ensure(
            m == same,
            format!("{typed:?} matching {TARO_PHONE}: {same}"),
        )?;
        w.say(format!(
            "{:<16} \"{typed}\" (registered: {TARO_PHONE})",
            if m { "matches" } else { "does not match" }
        ));
    }

    // ---- identity reset -------------------------------------------------------------------
    w.step("Forgot password: login ID, name, phone and e-mail must all match");
    w.say("another person's name:");
    svc.identity_reset(&claim(TARO_ID, "Jiro KOKU", "09012345678", TARO_MAIL))
        .await?;
    w.say("a new e-mail address (the form cannot register one):");
    svc.identity_reset(&claim(
        TARO_ID,
        "Taro KOKU",
        "09012345678",
        "taro.new@example.com",
    ))
    .await?;
    w.say("an unknown login ID:");
    svc.identity_reset(&claim("111111111", "Taro KOKU", "09012345678", TARO_MAIL))
        .await?;
    w.ok("each got the usual answer, and no mail went anywhere");
    w.expect_no_mail()?;
    let me = svc.whoami(taro.token.expose()).await?;
    ensure(
        !me.temporary_password,
        "Taro's password is untouched by the failed attempts",
    )?;
    w.say("\"Taro　KOKU\" (two-byte space), phone without hyphens, the registered e-mail:");
    svc.identity_reset(&claim(
        TARO_ID,
        "Taro\u{3000}KOKU",
        "09012345678",
        TARO_MAIL,
    ))
    .await?;
    let temp = w.receive_secret(TARO_MAIL, MailKind::TemporaryPassword)?;
    w.ok("\"an initialized password is sent to the e-mail address registered to your account\"");
    w.say("it waits beside the current password: whoever knows Taro's details cannot take the account away, and Taro's session still works (RS-10):");
    svc.whoami(taro.token.expose()).await?;
    w.ok("the session is still valid");
    let s = log_in(&svc, &mut w, TARO_ID, temp.expose(), TARO_MAIL).await?;
    ensure(
        s.must_change_password == Some(ChangeReason::Temporary),
        "the initialized password must be replaced",
    )?;
    w.say("that login completed the reset: the old password and the old session no longer work (RS-9):");
    w.expect_error(
        svc.login(LoginRequest {
            identifier: Some(TARO_ID.into()),
            password: Some(Secret::new(TARO_PW)),
            ..Default::default()
        })
        .await,
        "login_failed",
    )?;
    w.expect_error(svc.whoami(taro.token.expose()).await, "session_invalid")?;
    w.say("the new password cannot be the login ID or a common password:");
    for bad in [TARO_ID, "password1"] {
        let pw = Secret::new(bad);
        w.expect_error(
            svc.change_password(s.token.expose(), None, &pw, &pw).await,
            "password_rejected",
        )?;
    }
    set_password(&svc, &w, &s, TARO_PW_2).await?;

    // ---- organization -----------------------------------------------------------------------
    w.step("Company/organization account: the person in charge's details");
    w.say("the company name instead of the person in charge:");
    svc.identity_reset(&claim(ORG_ID, "Example Corp", "0312345678", ORG_MAIL))
        .await?;
    w.expect_no_mail()?;
    w.say("\"hanako yamato\", phone \"03 1234 5678\", the registered e-mail:");
    svc.identity_reset(&claim(ORG_ID, "hanako yamato", "03 1234 5678", ORG_MAIL))
        .await?;
    w.receive(ORG_MAIL, MailKind::TemporaryPassword)?;
    w.ok("the initialized password went to the person in charge");

    w.finish();
    Ok(())
}
