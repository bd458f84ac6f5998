//! # SECOM Passport for Web (セコムパスポート for Web): login-certificate customer portal
//!
//! Walks through seed 003, 「お申込システムご利用手順書【ログイン用電子証明書利用編】」: the
//! customer's dedicated management page is reached with a login certificate, then the 8-digit
//! access key and a password.
//!
//! - The account is opened by support: the organization (tenant) with its 8-digit access key,
//!   the person in charge (its admin user) with an initial password valid for 30 days, and the
//!   login certificate bound to it (T-1, T-2, T-3, PW-4, L-8, LC-2).
//! - 1.2 ログイン手順: certificate → access key + password; a missing certificate or a wrong
//!   access key fails exactly like a wrong password (L-8, T-2, L-5).
//! - Chapter 5, パスワードの変更: the initial password must be changed at the first login; the new one
//!   is entered twice (PW-2, PW-4).
//! - Q1 (password forgotten / locked): five failures lock the account; support re-initializes
//!   the password, which clears the lock and mails a temporary password valid 30 days; one left
//!   unused for 31 days no longer works (L-6, RS-8, PW-4, RS-9).
//! - Q2 (担当者変更): support re-binds the login certificate to the new person in charge; the
//!   old certificate stops working, and support changes the contact e-mail (LC-4, R-4, P-6).
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p monban-examples --example secom_passport
//! ```
//!
//! The preset's real argon2id parameters are used. The process exits with status 0 when every
//! flow behaves as the manual says and with status 1 (an error from `main`) when one does not.
//!
//! Demo only: in-memory store, predictable random source, fixed session key
//! ([`DEMO_SESSION_KEY`]); the mails and temporary passwords are printed on purpose.

use monban_core::cert::ClientCert;
use monban_core::flow::account::{NewTenant, ProfileInput, SelfEdit};
use monban_core::flow::login::{ChangeReason, LoginStep, Session};
use monban_core::mail::MailKind;
use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use monban_core::model::{AccountKind, LoginMethod, UserRef};
use monban_core::ports::Clock;
use monban_core::service::LoginRequest;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Lang, Policy, Secret, Timestamp};
use monban_examples::{DEMO_SESSION_KEY, Failure, Outcome, Service, Walkthrough, date, ensure};
use std::sync::Arc;

/// The contract (tenant) code.
const CONTRACT: &str = "B0499311";
const ACCESS_KEY: &str = "51762044";
const HANAKO_MAIL: &str = "hanako.secom@example.co.jp";
const TARO_MAIL: &str = "taro.secom@example.co.jp";

const PW_1: &str = "Passport#2025";
const PW_2: &str = "Sr3.0-Renewal";

/// 2025-04-01 00:00 UTC.
const START: Timestamp = Timestamp(1_743_465_600);

fn hanako_cert() -> ClientCert {
    ClientCert {
        sha256: None,
        serial: Some("5A:17:62:04:48:6C".into()),
        subject_dn: Some("CN=Hanako Secom,O=Test Co.\\, Ltd.,C=JP".into()),
    }
}

fn taro_cert() -> ClientCert {
    ClientCert {
        sha256: None,
        serial: Some("5A:17:62:04:99:01".into()),
        subject_dn: Some("CN=Taro Secom,O=Test Co.\\, Ltd.,C=JP".into()),
    }
}

/// (2) the certificate the browser presents, (3) the access key and the password typed in.
fn login(cert: Option<ClientCert>, access_key: &str, password: &str) -> LoginRequest {
    LoginRequest {
        tenant: None,
        identifier: None,
        password: Some(Secret::new(password)),
        access_key: Some(Secret::new(access_key)),
        certificate: cert,
    }
}

fn session(step: LoginStep) -> Outcome<Session> {
    match step {
        LoginStep::Session(s) => Ok(s),
        LoginStep::SecondFactor(_) => Err(Failure::new(
            "the top page at once (the SECOM preset has no second factor)",
        )),
    }
}

async fn log_in(
    svc: &Service,
    w: &Walkthrough,
    cert: ClientCert,
    password: &str,
) -> Outcome<Session> {
    w.say(format!(
        "証明書を選択し OK → アクセスキー {ACCESS_KEY} とパスワードを入力して「ログイン」"
    ));
    let s = session(svc.login(login(Some(cert), ACCESS_KEY, password)).await?)?;
    w.session(&s);
    Ok(s)
}

async fn change(svc: &Service, w: &Walkthrough, s: &Session, new: &str) -> Outcome<Session> {
    w.say(format!("新しいパスワード {new} を2回入力して「変更」"));
    let pw = Secret::new(new);
    let full = svc
        .change_password(s.token.expose(), None, &pw, &pw)
        .await?;
    ensure(
        full.must_change_password.is_none(),
        "the management page after the change",
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
        Policy::secom_passport(),
        key,
        Arc::clone(&store),
        Arc::clone(&mailer),
        Arc::clone(&clock),
        SeededRandom::new(3),
    )?);
    let mut w = Walkthrough::new(
        "セコムパスポート for Web お申込システム【ログイン用電子証明書利用編】（seed 003）",
        &mailer,
        Lang::Ja,
    );
    w.courier(Arc::clone(&svc));
    w.hashing(svc.policy());
    w.say(format!("日付 {}", date(clock.now())));
    let account = UserRef::new(CONTRACT, CONTRACT);

    // ---- account ----------------------------------------------------------------------------
    w.step("お申込み: アカウント、アクセスキー、初期パスワード、ログイン証明書（サポート）");
    svc.support_create_tenant(&NewTenant {
        code: CONTRACT.into(),
        name: "テスト株式会社".into(),
        corporate_number: None,
        logistics: false,
        access_key: Some(Secret::new(ACCESS_KEY)),
        lang: None,
        admin: ProfileInput {
            name: "セコム 花子".into(),
            email: Some(HANAKO_MAIL.into()),
            phone: Some("03-5775-8730".into()),
            kind: AccountKind::Organization,
            ..Default::default()
        },
        admin_login_method: LoginMethod::MailOtp,
        welcome_mail: true,
    })
    .await?;
    w.ok(format!(
        "契約コード {CONTRACT}、アクセスキー {ACCESS_KEY}（8桁）、登録担当者 セコム 花子"
    ));
    let initial = w.receive_secret(HANAKO_MAIL, MailKind::UserRegistered)?;
    let view = svc.support_list_users(CONTRACT, None, 10).await?;
    let expires = view
        .items
        .first()
        .and_then(|u| u.password_expires_at)
        .ok_or_else(|| Failure::new("an expiry on the initial password"))?;
    ensure(
        expires == clock.now().plus_days(30),
        "the initial password is valid for 30 days (PW-4)",
    )?;
    w.ok(format!(
        "初期パスワードの有効期限 {}（30日間）",
        date(expires)
    ));
    svc.support_bind_certificate(&account, &hanako_cert(), false)
        .await?;
    w.ok("ログイン証明書（発行者: SECOM Passport for Member CA11）を登録担当者に発行・登録");

    // ---- 1.2 login -----------------------------------------------------------------------
    w.step("1.2 ログイン手順（初回ログイン）");
    w.say("ログイン証明書の無い端末から:");
    w.expect_error(
        svc.login(login(None, ACCESS_KEY, initial.expose())).await,
        "login_failed",
    )?;
    w.say("アクセスキーの誤り（51762045）:");
    w.expect_error(
        svc.login(login(Some(hanako_cert()), "51762045", initial.expose()))
            .await,
        "login_failed",
    )?;
    w.ok("どちらもパスワード誤りと同じメッセージ");
    let s = log_in(&svc, &w, hanako_cert(), initial.expose()).await?;
    ensure(
        s.must_change_password == Some(ChangeReason::Temporary),
        "the first login asks for a new password",
    )?;

    w.step("5. パスワードの変更（初期パスワードから変更）");
    w.say("確認用の入力が異なる:");
    w.expect_error(
        svc.change_password(
            s.token.expose(),
            None,
            &Secret::new(PW_1),
            &Secret::new("Passport#2026"),
        )
        .await,
        "password_mismatch",
    )?;
    w.say("短すぎる（7文字）:");
    let short = Secret::new("Pass#25");
    w.expect_error(
        svc.change_password(s.token.expose(), None, &short, &short)
            .await,
        "password_rejected",
    )?;
    let top = change(&svc, &w, &s, PW_1).await?;
    let me = svc.whoami(top.token.expose()).await?;
    w.ok(format!(
        "専用管理画面のトップページ（{} / {}）",
        me.name,
        me.email.as_deref().unwrap_or("-")
    ));
    w.say("次回からは新しいパスワードで:");
    log_in(&svc, &w, hanako_cert(), PW_1).await?;
    w.expect_no_mail()?;

    // ---- Q1 --------------------------------------------------------------------------------
    w.step("Q1: パスワードがロックされました");
    for wrong in [
        "passport#2025",
        "Passport#2024",
        "Passport2025",
        "Passport#202",
        "Pasport#2025",
    ] {
        w.expect_error(
            svc.login(login(Some(hanako_cert()), ACCESS_KEY, wrong))
                .await,
            "login_failed",
        )?;
    }
    w.say("5回誤った後は、正しいパスワードでも:");
    w.expect_error(
        svc.login(login(Some(hanako_cert()), ACCESS_KEY, PW_1))
            .await,
        "locked",
    )?;
    w.say("「特約店コードおよびご利用のアクセスキーを弊社までご連絡ください」→ サポートが初期パスワードを再設定");
    svc.support_reset_password(&account).await?;
    let temp = w.receive_secret(HANAKO_MAIL, MailKind::TemporaryPassword)?;
    let view = svc.support_list_users(CONTRACT, None, 10).await?;
    ensure(
        view.items.iter().all(|u| !u.locked && u.temporary_password),
        "the re-initialization cleared the lock (RS-8)",
    )?;
    w.ok("ロック解除済み、パスワードは再設定された初期パスワード");

    w.step("Q1: 再設定された初期パスワードも30日間有効");
    clock.advance_days(31);
    w.say(format!("31日後（{}）にログインすると:", date(clock.now())));
    w.expect_error(
        svc.login(login(Some(hanako_cert()), ACCESS_KEY, temp.expose()))
            .await,
        "login_failed",
    )?;
    w.ok("期限切れの初期パスワードはパスワード誤りと同じ扱い（PW-4）");
    w.say("再度サポートに連絡 → 初期パスワードを再設定");
    svc.support_reset_password(&account).await?;
    let temp = w.receive_secret(HANAKO_MAIL, MailKind::TemporaryPassword)?;
    let s = log_in(&svc, &w, hanako_cert(), temp.expose()).await?;
    ensure(
        s.must_change_password == Some(ChangeReason::Temporary),
        "the re-initialized password must be changed",
    )?;
    let hanako = change(&svc, &w, &s, PW_2).await?;
    w.say("以前のパスワードは使えない:");
    w.expect_error(
        svc.login(login(Some(hanako_cert()), ACCESS_KEY, PW_1))
            .await,
        "login_failed",
    )?;

    // ---- Q2 --------------------------------------------------------------------------------
    w.step("Q2: 担当者が変更になり、別の端末からログインしたい");
    w.say("新しい担当者 セコム 太郎 へログイン証明書を再発行（サポート）");
    svc.support_bind_certificate(&account, &taro_cert(), true)
        .await?;
    w.ok("新しい証明書を登録し、以前の証明書は無効化（LC-4）");
    w.say("連絡先メールアドレスの変更もサポートが行う（P-6）");
    svc.support_change_admin_email(CONTRACT, TARO_MAIL).await?;
    w.say("前任者の端末（以前の証明書）から:");
    w.expect_error(
        svc.login(login(Some(hanako_cert()), ACCESS_KEY, PW_2))
            .await,
        "login_failed",
    )?;
    w.say("新しい担当者の端末から（アクセスキーとパスワードは引き継ぎ）:");
    let taro = log_in(&svc, &w, taro_cert(), PW_2).await?;
    let me = svc
        .edit_self(
            taro.token.expose(),
            &SelfEdit {
                name: Some("セコム 太郎".into()),
                phone: Some("03-5775-8731".into()),
                ..Default::default()
            },
        )
        .await?;
    ensure(
        me.email.as_deref() == Some(TARO_MAIL) && me.certificates.len() == 1,
        "one certificate and the new contact address",
    )?;
    w.ok(format!(
        "担当者 {} <{}>、登録済み証明書 {}",
        me.name,
        me.email.as_deref().unwrap_or("-"),
        me.certificates.join(", ")
    ));
    let _ = hanako;

    w.finish();
    Ok(())
}
