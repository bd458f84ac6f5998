//! # Kuroneko web collect (クロネコwebコレクト): the mail one-time password manual
//!
//! Walks through seed 004, 「メールワンタイムパスワード 導入方法について」, step by step, printing
//! each step and each mail the merchant would receive, then plays the manual's FAQ cases:
//!
//! - Step 0: support registers tenant 999999999 (shop 黒猫堂, access key 7777777, contact
//!   123@a.com) with its admin user (T-1..T-3).
//! - Step 1: the admin resets its password: 「パスワード初期化開始のご連絡」 → the URL →
//!   「仮パスワードのご連絡」 → login with the temporary password and the access key →
//!   「ワンタイムパスワードのご連絡」 → the code → forced password change → the admin menus only
//!   (RS-1, T-2, L-1, PW-1, PW-2, PW-4, R-1).
//! - Step 2: the admin logs in again (resending the code voids the old one, L-3, L-4; pasted
//!   white space is trimmed, M-3) and creates general user User1 (黒田 猫太, mail OTP) and a
//!   shipping user; each gets 「新規ユーザ登録のご連絡」 (LC-2, T-4, R-3).
//! - Step 3: User1's first login: temporary password → OTP → new password → business menus
//!   (R-2); the shipping user gets the shipping menus only.
//! - FAQ: every wrong input gives 「ログインに失敗しました。入力内容を確認してください。」 (L-5);
//!   five failures lock, the admin unlocks (L-6, L-7); unknown IDs get the normal reset answer
//!   (RS-3); one "same as admin" user per tenant (E-2, P-4); unique e-mail (E-1, P-2); mail OTP
//!   needs an e-mail (E-6).
//! - 91 days later (the [`ManualClock`] moves): a dormant user cannot log in and is deleted by
//!   `sweep_dormant`, then created again (LC-1); the admin is never deleted; expired passwords
//!   force a change and the old password is refused (PW-3, PW-5).
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p monban-examples --example kuroneko
//! ```
//!
//! The preset's real argon2id parameters are used. The process exits with status 0 when every
//! flow behaves as the manual says and with status 1 (an error from `main`) when one does not.
//!
//! Demo only: in-memory store, predictable random source, fixed session key
//! ([`DEMO_SESSION_KEY`]); the mails, temporary passwords and codes are printed on purpose.

use monban_core::flow::account::{NewTenant, NewUser, ProfileInput, UserEdit};
use monban_core::flow::login::{ChangeReason, LoginStep, Session};
use monban_core::mail::MailKind;
use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use monban_core::model::{LoginMethod, UserRef};
use monban_core::ports::Clock;
use monban_core::service::{LoginRequest, ResetRequest};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Lang, Permission, Policy, Role, Secret, Timestamp};
use monban_examples::{
    DEMO_SESSION_KEY, Failure, Outcome, Service, Walkthrough, date, ensure, finish_login,
};
use std::sync::Arc;

const TENANT: &str = "999999999";
const SHOP: &str = "黒猫堂";
const ACCESS_KEY: &str = "7777777";
const ADMIN_MAIL: &str = "123@a.com";
const USER1: &str = "User1";
const USER1_MAIL: &str = "kuroda.nekota@example.com";
const SHIP: &str = "Soko1";
const SHIP_MAIL: &str = "soko@example.com";
const USER2: &str = "User2";

const ADMIN_PW: &str = "Kuro2025neko";
const ADMIN_PW_2: &str = "Yamato0715kuro";
const USER1_PW: &str = "Nekota2025ab";
const USER1_PW_2: &str = "Nekota0630cd";
const SHIP_PW: &str = "Soko2025ship";

/// 2025-04-01 00:00 UTC.
const START: Timestamp = Timestamp(1_743_465_600);

fn login(user_id: &str, password: &str) -> LoginRequest {
    login_with_key(user_id, password, ACCESS_KEY)
}

fn login_with_key(user_id: &str, password: &str, access_key: &str) -> LoginRequest {
    LoginRequest {
        tenant: Some(TENANT.into()),
        identifier: Some(user_id.into()),
        password: Some(Secret::new(password)),
        access_key: Some(Secret::new(access_key)),
        certificate: None,
    }
}

fn new_user(user_id: &str, role: Role, name: &str, email: Option<&str>) -> NewUser {
    NewUser {
        user_id: user_id.into(),
        role,
        login_method: LoginMethod::MailOtp,
        same_as_admin: false,
        profile: ProfileInput {
            name: name.into(),
            email: email.map(Into::into),
            ..Default::default()
        },
    }
}

/// Tenant code + user ID + password + access key, then the mailed code.
async fn log_in(
    svc: &Service,
    w: &mut Walkthrough,
    user_id: &str,
    password: &str,
    inbox: &str,
) -> Outcome<Session> {
    w.say(format!(
        "加盟店コード {TENANT}・ユーザID {user_id}・パスワードを入力して「ログイン」（アクセスキー {ACCESS_KEY}）"
    ));
    let step = svc.login(login(user_id, password)).await?;
    let s = finish_login(svc, w, step, inbox).await?;
    w.session(&s);
    Ok(s)
}

/// The forced change of a change-password-only session; returns the full session.
async fn set_password(
    svc: &Service,
    w: &mut Walkthrough,
    s: &Session,
    new: &str,
) -> Outcome<Session> {
    w.say(format!("新パスワード {new} を2回入力して「確定」"));
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

async fn menus(svc: &Service, w: &Walkthrough, s: &Session) -> Outcome<(bool, bool, bool)> {
    let t = s.token.expose();
    let admin = svc.can(t, Permission::CreateUser).await?;
    let business = svc.can(t, Permission::BusinessMenus).await?;
    let shipping = svc.can(t, Permission::ShippingMenus).await?;
    let yn = |b: bool| if b { "○" } else { "×" };
    w.say(format!(
        "メニュー: ユーザ管理 {}  全業務メニュー {}  出荷メニュー {}",
        yn(admin),
        yn(business),
        yn(shipping)
    ));
    Ok((admin, business, shipping))
}

#[tokio::main]
async fn main() -> Outcome {
    let store = Arc::new(MemoryStore::new());
    let mailer = Arc::new(CapturingMailer::new());
    let clock = Arc::new(ManualClock::at(START));
    // Demo only: a fixed, public signing key and a predictable random source.
    let key = SessionKey::new(DEMO_SESSION_KEY.to_vec())?;
    let svc: Arc<Service> = Arc::new(AuthService::new(
        Policy::kuroneko(),
        key,
        Arc::clone(&store),
        Arc::clone(&mailer),
        Arc::clone(&clock),
        SeededRandom::new(4),
    )?);
    let mut w = Walkthrough::new(
        "クロネコwebコレクト メールワンタイムパスワード 導入方法（seed 004）",
        &mailer,
        Lang::Ja,
    );
    w.courier(Arc::clone(&svc));
    w.hashing(svc.policy());
    w.say(format!("日付 {}（0日目）", date(clock.now())));

    // ---- Step 0 -------------------------------------------------------------------------
    w.step("Step0: 加盟店の登録（サポート）と加盟店管理画面へのアクセス");
    let created = svc
        .support_create_tenant(&NewTenant {
            code: TENANT.into(),
            name: SHOP.into(),
            corporate_number: None,
            logistics: true,
            access_key: Some(Secret::new(ACCESS_KEY)),
            lang: None,
            admin: ProfileInput {
                name: "黒猫 太郎".into(),
                email: Some(ADMIN_MAIL.into()),
                ..Default::default()
            },
            admin_login_method: LoginMethod::MailOtp,
            welcome_mail: false,
        })
        .await?;
    ensure(
        created.user == UserRef::new(TENANT, TENANT),
        "the admin's user ID equals the tenant code (T-3)",
    )?;
    w.say(format!(
        "店舗名 {SHOP} / 加盟店コード {TENANT} / アクセスキー {ACCESS_KEY} / ご担当者メールアドレス {ADMIN_MAIL}"
    ));
    w.ok(format!(
        "管理ユーザ {} を作成（ユーザID = 加盟店コード）。パスワードはまだ無く、Step1 の初期化から始める",
        created.user.user_id
    ));
    w.expect_no_mail()?;

    // ---- Step 1 -------------------------------------------------------------------------
    w.step("Step1: 「パスワードを忘れた場合はこちら」から管理ユーザのパスワードを初期化する");
    w.say(format!(
        "加盟店コード {TENANT}、ユーザID {TENANT}（加盟店コードと同じ値）を入力して「初期化依頼」"
    ));
    svc.request_password_reset(&ResetRequest {
        tenant: Some(TENANT.into()),
        user_id: TENANT.into(),
        access_key: Some(Secret::new(ACCESS_KEY)),
    })
    .await?;
    w.ok("パスワード初期化手続き完了画面");
    let mail = w.receive(ADMIN_MAIL, MailKind::ResetStarted)?;
    ensure(
        mail.subject.contains("パスワード初期化開始のご連絡"),
        "the subject パスワード初期化開始のご連絡",
    )?;
    let url = monban_examples::secret_in(&mail)?;
    let base = &svc.policy().mail.reset_base_url;
    let token = url
        .expose()
        .strip_prefix(base.as_str())
        .ok_or_else(|| Failure::new("a reset URL under reset_base_url"))?
        .to_owned();
    w.say("メール本文のURLをクリック（有効期限 約30分）");
    svc.open_reset_link(&token).await?;
    w.ok("初期パスワード送信完了画面 →「ログイン画面へ」");
    let temp = w.receive_secret(ADMIN_MAIL, MailKind::TemporaryPassword)?;
    w.say("同じURLをもう一度開くと（一度だけ有効, RS-1）");
    w.expect_error(svc.open_reset_link(&token).await, "reset_link_invalid")?;
    w.say("「メールにてワンタイムパスワードを送信する場合はこちら」→ 仮パスワードでログイン");
    let s = log_in(&svc, &mut w, TENANT, temp.expose(), ADMIN_MAIL).await?;
    ensure(
        s.must_change_password == Some(ChangeReason::Temporary),
        "a change-password-only session after a temporary password (PW-4)",
    )?;
    w.say("パスワードを変更するまで他の画面は使えない");
    w.expect_error(
        svc.admin_list_users(s.token.expose(), None, 10).await,
        "password_change_required",
    )?;
    w.say("確認用パスワードが違う場合（PW-2）");
    w.expect_error(
        svc.change_password(
            s.token.expose(),
            None,
            &Secret::new(ADMIN_PW),
            &Secret::new("Kuro2025nekO"),
        )
        .await,
        "password_mismatch",
    )?;
    w.say("記号・7文字の場合（PW-1: 半角英数字 8〜20文字）");
    let bad = Secret::new("kuro-25");
    w.expect_error(
        svc.change_password(s.token.expose(), None, &bad, &bad)
            .await,
        "password_rejected",
    )?;
    let admin = set_password(&svc, &mut w, &s, ADMIN_PW).await?;
    let (admin_menu, business, _) = menus(&svc, &w, &admin).await?;
    ensure(
        admin_menu && !business,
        "the admin sees the user-management menus only (R-1)",
    )?;
    w.ok("管理画面が表示（管理に関するメニューのみ）");

    // ---- Step 2 -------------------------------------------------------------------------
    w.step("Step2: 「管理」ユーザから「一般」「出荷」ユーザを作成する");
    w.say(format!(
        "加盟店コード {TENANT}・ユーザID {TENANT}・「管理」ユーザ用に設定したパスワードで「ログイン」"
    ));
    let LoginStep::SecondFactor(ch) = svc.login(login(TENANT, ADMIN_PW)).await? else {
        return Err(Failure::new("a second-factor challenge (L-1)"));
    };
    let first = w.receive_secret(ADMIN_MAIL, MailKind::Otp)?;
    w.say("メールが見つからないので「ワンタイムパスワードを再送信」（L-3）");
    svc.resend_otp(ch.token.expose()).await?;
    let second = w.receive_secret(ADMIN_MAIL, MailKind::Otp)?;
    w.say(format!(
        "古いワンタイムパスワード {} は無効（L-3）",
        first.expose()
    ));
    w.expect_error(
        svc.verify_second_factor(ch.token.expose(), &first).await,
        "otp_invalid",
    )?;
    w.say(format!(
        "新しいワンタイムパスワード {} を前後に空白を付けて貼り付けても通る（M-3）",
        second.expose()
    ));
    let pasted = Secret::new(format!(" {}\u{3000}", second.expose()));
    let admin = svc.verify_second_factor(ch.token.expose(), &pasted).await?;
    w.session(&admin);
    ensure(
        admin.must_change_password.is_none(),
        "the admin's full session",
    )?;
    let at = admin.token.expose().to_owned();
    w.say("「ユーザー一覧」→「新規登録」: ユーザ区分「一般」、ユーザID User1、ワンタイムパスワードをメールにて受信する");
    svc.admin_create_user(
        &at,
        &new_user(USER1, Role::General, "黒田 猫太", Some(USER1_MAIL)),
    )
    .await?;
    w.ok("一般ユーザ User1 を作成");
    let user1_temp = w.receive_secret(USER1_MAIL, MailKind::UserRegistered)?;
    w.say("ユーザ区分「出荷」、ユーザID Soko1（倉庫担当）");
    svc.admin_create_user(
        &at,
        &new_user(SHIP, Role::Shipping, "倉庫 一郎", Some(SHIP_MAIL)),
    )
    .await?;
    w.ok("出荷ユーザ Soko1 を作成");
    let ship_temp = w.receive_secret(SHIP_MAIL, MailKind::UserRegistered)?;
    w.say("ユーザIDは半角英数字20字以内・記号不可（T-4）");
    w.expect_error(
        svc.admin_create_user(
            &at,
            &new_user(
                "User-3",
                Role::General,
                "山田 花子",
                Some("hanako@example.com"),
            ),
        )
        .await,
        "invalid_input",
    )?;
    w.say("ユーザIDは作成後に変更できない（T-4）");
    w.expect_error(
        svc.admin_edit_user(
            &at,
            USER1,
            &UserEdit {
                user_id: Some("User9".into()),
                ..Default::default()
            },
        )
        .await,
        "field_not_editable",
    )?;
    let list = svc.admin_list_users(&at, None, 50).await?;
    w.say("ユーザー一覧:");
    w.users(&list.items);
    ensure(list.items.len() == 3, "three users in the tenant")?;

    // ---- Step 3 -------------------------------------------------------------------------
    w.step("Step3: 「一般」「出荷」ユーザでログインする");
    w.say("「新規ユーザ登録のご連絡」のユーザIDと仮パスワードでログイン");
    let s = log_in(&svc, &mut w, USER1, user1_temp.expose(), USER1_MAIL).await?;
    ensure(
        s.must_change_password == Some(ChangeReason::Temporary),
        "User1's first login asks for a new password",
    )?;
    let user1 = set_password(&svc, &mut w, &s, USER1_PW).await?;
    let (admin_menu, business, _) = menus(&svc, &w, &user1).await?;
    ensure(
        business && !admin_menu,
        "User1 sees every business menu and no user management (R-2)",
    )?;
    w.ok("「クロネコwebコレクト」のメニューが表示される");
    w.say("出荷ユーザ Soko1 も同様に初回ログイン");
    let s = log_in(&svc, &mut w, SHIP, ship_temp.expose(), SHIP_MAIL).await?;
    let ship = set_password(&svc, &mut w, &s, SHIP_PW).await?;
    let (_, business, shipping) = menus(&svc, &w, &ship).await?;
    ensure(
        shipping && !business,
        "the shipping user sees the shipping menus only (R-3)",
    )?;

    // ---- FAQ ----------------------------------------------------------------------------
    w.step("FAQ: 二段階認証（ワンタイムパスワード）をはずすことはできますか");
    ensure(
        svc.policy().login.second_factor == monban_core::policy::SecondFactor::Required,
        "the second factor is required by the policy (L-1)",
    )?;
    w.ok("必須（ポリシー login.second_factor = required）。ユーザ側で外す設定は無い");

    w.step("FAQ: ログインできません（入力内容の誤り, L-5）");
    w.say("パスワード誤り:");
    w.expect_error(
        svc.login(login(USER1, "Nekota2025aB")).await,
        "login_failed",
    )?;
    w.say("URLのアクセスキー誤り（7777771）:");
    w.expect_error(
        svc.login(login_with_key(USER1, USER1_PW, "7777771")).await,
        "login_failed",
    )?;
    w.say("存在しないユーザID:");
    w.expect_error(svc.login(login("User8", USER1_PW)).await, "login_failed")?;
    w.say("存在しない加盟店コード:");
    let mut req = login(USER1, USER1_PW);
    req.tenant = Some("999999998".into());
    w.expect_error(svc.login(req).await, "login_failed")?;
    w.ok("どれが誤っていても同じメッセージ");
    w.expect_no_mail()?;

    w.step("FAQ: 何度か入力を間違えたところ、パスワードロックがかかった（L-6）");
    w.say("User1 はここまでに2回失敗。さらに3回パスワードを誤る");
    for wrong in ["nekota2025ab", "Nekota2024ab", "Nekota2025"] {
        w.expect_error(svc.login(login(USER1, wrong)).await, "login_failed")?;
    }
    w.say("正しいパスワードでも:");
    w.expect_error(svc.login(login(USER1, USER1_PW)).await, "locked")?;
    w.say("「一般」「出荷」ユーザは「管理」ユーザに連絡。管理ユーザのユーザー一覧:");
    let list = svc.admin_list_users(&at, None, 50).await?;
    w.users(&list.items);
    ensure(
        list.items.iter().any(|u| u.user_id == USER1 && u.locked),
        "User1 is locked after five failures",
    )?;
    w.say("「管理」でログイン →「ユーザー一覧」→ User1 の「編集」→ ロック解除「解除」→「確認」");
    svc.admin_unlock(&at, USER1).await?;
    w.ok("ロック解除が完了");
    let user1 = log_in(&svc, &mut w, USER1, USER1_PW, USER1_MAIL).await?;
    ensure(
        user1.must_change_password.is_none(),
        "User1 logs in normally after the unlock (L-7)",
    )?;

    w.step("FAQ: パスワード初期化ができません（入力値が不正です, RS-3）");
    w.say("存在しないユーザID User8 で「初期化依頼」:");
    svc.request_password_reset(&ResetRequest {
        tenant: Some(TENANT.into()),
        user_id: "User8".into(),
        access_key: Some(Secret::new(ACCESS_KEY)),
    })
    .await?;
    w.ok("存在するユーザと同じ完了画面（アカウントの有無を明かさない。原文の「入力値が不正です。」は");
    w.say("  reveal_unknown_accounts_leaks_existence を有効にした場合のみ）");
    w.expect_no_mail()?;

    w.step("FAQ: 一般ユーザが作成できません（管理者と同一, E-2 / P-4）");
    w.say("User2: ユーザ情報「管理者ユーザと同一の方の場合」にチェック");
    let mut same = new_user(USER2, Role::General, "", None);
    same.same_as_admin = true;
    svc.admin_create_user(&at, &same).await?;
    w.receive(ADMIN_MAIL, MailKind::UserRegistered)?;
    w.ok("User2 は管理者の氏名・メールアドレス（123@a.com）で作成された");
    w.say("User3 にも同じチェックを入れると:");
    let mut same3 = new_user("User3", Role::General, "", None);
    same3.same_as_admin = true;
    w.expect_error(
        svc.admin_create_user(&at, &same3).await,
        "same_as_admin_taken",
    )?;

    w.step("FAQ: メールアドレスが登録できない（E-1, E-6）");
    w.say("User3 に User1 のメールアドレスを設定:");
    w.expect_error(
        svc.admin_create_user(
            &at,
            &new_user("User3", Role::General, "山田 花子", Some(USER1_MAIL)),
        )
        .await,
        "email_taken",
    )?;
    w.say("User3 にチェック無しで管理者のメールアドレスを大文字で設定（123@A.COM）:");
    w.expect_error(
        svc.admin_create_user(
            &at,
            &new_user("User3", Role::General, "山田 花子", Some("123@A.COM")),
        )
        .await,
        "email_taken",
    )?;
    w.say("「ワンタイムパスワードをメールにて受信する」でメールアドレス未入力:");
    w.expect_error(
        svc.admin_create_user(&at, &new_user("User3", Role::General, "山田 花子", None))
            .await,
        "email_required_for_mail_otp",
    )?;
    w.expect_no_mail()?;

    // ---- 91 days --------------------------------------------------------------------------
    w.step("60日後: User1 がログイン（最終ログイン日が更新される, L-7）");
    clock.advance_days(60);
    w.say(format!("日付 {}（60日目）", date(clock.now())));
    log_in(&svc, &mut w, USER1, USER1_PW, USER1_MAIL).await?;

    w.step("91日後: ログインの無い一般・出荷ユーザは自動削除（LC-1）");
    clock.advance_days(31);
    w.say(format!("日付 {}（91日目）", date(clock.now())));
    w.say("Soko1 は0日目以降ログインなし。削除処理の前でもログインできない:");
    w.expect_error(svc.login(login(SHIP, SHIP_PW)).await, "login_failed")?;
    w.say("夜間の削除処理（sweep_dormant）:");
    let report = svc.sweep_dormant().await?;
    let mut deleted: Vec<String> = report.deleted.iter().map(|r| r.user_id.clone()).collect();
    deleted.sort();
    w.ok(format!(
        "{} ユーザを確認し、{} を削除",
        report.scanned,
        deleted.join(", ")
    ));
    ensure(
        deleted == [SHIP, USER2],
        "the dormant users Soko1 and User2 are deleted",
    )?;
    ensure(
        !deleted.iter().any(|d| d == TENANT),
        "the admin is never deleted automatically",
    )?;
    w.ok("管理ユーザも0日目以降ログインしていないが、削除されない");

    w.step("91日後: 管理ユーザのパスワード有効期限切れ（PW-3, PW-5）");
    let s = log_in(&svc, &mut w, TENANT, ADMIN_PW, ADMIN_MAIL).await?;
    ensure(
        s.must_change_password == Some(ChangeReason::Expired),
        "the admin's 91-day-old password forces a change",
    )?;
    w.say("同じパスワードは再設定できない:");
    let same_pw = Secret::new(ADMIN_PW);
    w.expect_error(
        svc.change_password(s.token.expose(), None, &same_pw, &same_pw)
            .await,
        "password_rejected",
    )?;
    let admin = set_password(&svc, &mut w, &s, ADMIN_PW_2).await?;
    let at = admin.token.expose().to_owned();

    w.step("91日後: 削除されたユーザは再作成できる（LC-1）");
    let mut same = new_user(USER2, Role::General, "", None);
    same.same_as_admin = true;
    svc.admin_create_user(&at, &same).await?;
    w.ok("User2（管理者と同一）を再作成");
    w.receive(ADMIN_MAIL, MailKind::UserRegistered)?;
    svc.admin_create_user(
        &at,
        &new_user(SHIP, Role::Shipping, "倉庫 一郎", Some(SHIP_MAIL)),
    )
    .await?;
    w.ok("Soko1 を同じユーザID・メールアドレスで再作成");
    w.receive(SHIP_MAIL, MailKind::UserRegistered)?;
    let list = svc.admin_list_users(&at, None, 50).await?;
    w.users(&list.items);

    w.step("91日後: User1 のパスワード有効期限切れ（60日目にログイン済みなので削除されない）");
    let s = log_in(&svc, &mut w, USER1, USER1_PW, USER1_MAIL).await?;
    ensure(
        s.must_change_password == Some(ChangeReason::Expired),
        "User1's 91-day-old password forces a change",
    )?;
    let user1 = set_password(&svc, &mut w, &s, USER1_PW_2).await?;
    let (_, business, _) = menus(&svc, &w, &user1).await?;
    ensure(business, "User1 is back at the business menus")?;

    w.finish();
    Ok(())
}
