//! The pages over HTTP (UI-1..UI-3): what a browser relies on — CSRF refusal, the session
//! cookie's attributes, the Content-Security-Policy, safe methods, logout by POST, one answer
//! for unknown and known accounts, and a theme folder. The walk in a real browser is
//! scripts/test_pages.py.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use monban_core::mail::MailKind;
use monban_server::pages::{CSP, CSRF_CODE, CookieMode, Theme};
use std::collections::BTreeMap;

/// A browser's cookie jar, enough for these pages.
#[derive(Default, Clone)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, a: &Answer) {
        for v in a.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || v.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_owned(), val.to_owned());
            }
        }
    }

    fn csrf(&self) -> String {
        self.0["__Host-monban-csrf"].clone()
    }
}

async fn get(h: &Harness, jar: &mut Jar, path: &str) -> Answer {
    let a = h
        .send(
            Request::get(path)
                .header("cookie", jar.header())
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    jar.take(&a);
    a
}

async fn post(h: &Harness, jar: &mut Jar, path: &str, form: &[(&str, &str)]) -> Answer {
    let body = serde_urlencoded::to_string(form).unwrap();
    let a = h
        .send(
            Request::post(path)
                .header("cookie", jar.header())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    jar.take(&a);
    a
}

fn text(a: &Answer) -> String {
    String::from_utf8(a.bytes.to_vec()).unwrap()
}

/// A browser that opened the login page (so it holds the CSRF cookie).
async fn browser(h: &Harness) -> Jar {
    let mut jar = Jar::default();
    let a = get(h, &mut jar, "/ui/login").await;
    assert_eq!(a.status, 200);
    jar
}

/// Signs in through the pages: login form, then the mailed code.
async fn sign_in(h: &Harness, jar: &mut Jar, password: &str) {
    let csrf = jar.csrf();
    let a = post(
        h,
        jar,
        "/ui/login",
        &[
            ("csrf", &csrf),
            ("tenant", TENANT),
            ("identifier", TENANT),
            ("password", password),
            ("access_key", ACCESS_KEY),
        ],
    )
    .await;
    assert_eq!(a.status, 303, "{}", text(&a));
    let code = h.last_of(ADMIN_MAIL, MailKind::Otp);
    let a = post(h, jar, "/ui/login/otp", &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(a.status, 303, "{}", text(&a));
    assert_eq!(a.headers["location"], "/ui/admin/users");
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_is_refused_with_a_stable_code() {
    // SPEC: UI-2
    let h = Harness::kuroneko();
    h.create_tenant().await;
    let mut jar = browser(&h).await;
    let good = jar.csrf();
    let login = [
        ("tenant", TENANT),
        ("identifier", TENANT),
        ("password", "Wrong2024pw"),
    ];
    // No token, a wrong token, and a token without its cookie.
    for (token, with_cookie) in [
        (None, true),
        (Some("x".repeat(43)), true),
        (Some(good.clone()), false),
    ] {
        let mut j = if with_cookie {
            jar.clone()
        } else {
            Jar::default()
        };
        let mut form: Vec<(&str, &str)> = login.to_vec();
        if let Some(t) = &token {
            form.push(("csrf", t));
        }
        let a = post(&h, &mut j, "/ui/login", &form).await;
        assert_eq!(a.status, 403, "{token:?} {with_cookie}");
        assert_eq!(a.headers["x-monban-code"], CSRF_CODE);
        assert_eq!(a.headers["content-security-policy"], CSP);
    }
    // A cross-site request, even with the right token (Sec-Fetch-Site).
    let a = h
        .send(
            Request::post("/ui/login")
                .header("cookie", jar.header())
                .header("sec-fetch-site", "cross-site")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!("csrf={good}&tenant={TENANT}")))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(a.headers["x-monban-code"], CSRF_CODE);
    // No failed login was counted for any of them: the form never reached the service.
    let admin = h
        .all_users()
        .await
        .into_iter()
        .find(|u| u.user_id == TENANT)
        .unwrap();
    assert_eq!(admin.lock.failures, 0);
    // The right token: the login is tried (and fails as a login).
    let mut form = login.to_vec();
    form.push(("csrf", &good));
    let a = post(&h, &mut jar, "/ui/login", &form).await;
    assert_eq!(a.status, 401);
}

#[tokio::test]
async fn the_session_cookie_is_host_prefixed_http_only_secure_and_lax() {
    // SPEC: UI-2
    let h = Harness::kuroneko();
    h.admin_session().await;
    let mut jar = browser(&h).await;
    sign_in(&h, &mut jar, ADMIN_PW).await;
    let a = get(&h, &mut jar, "/ui/admin/users").await;
    assert_eq!(a.status, 200, "{}", text(&a));
    // Every cookie the pages set, on every answer so far, has the same attributes.
    let mut jar2 = Jar::default();
    let a = get(&h, &mut jar2, "/ui/login").await;
    let csrf = jar2.csrf();
    let a2 = post(
        &h,
        &mut jar2,
        "/ui/login",
        &[
            ("csrf", &csrf),
            ("tenant", TENANT),
            ("identifier", TENANT),
            ("password", ADMIN_PW),
            ("access_key", ACCESS_KEY),
        ],
    )
    .await;
    let code = h.last_of(ADMIN_MAIL, MailKind::Otp);
    let a3 = post(
        &h,
        &mut jar2,
        "/ui/login/otp",
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    let mut seen = Vec::new();
    for ans in [&a, &a2, &a3] {
        for v in ans.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap().to_owned();
            assert!(v.starts_with("__Host-monban-"), "{v}");
            for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
                assert!(v.split("; ").any(|p| p == attr), "{attr} missing: {v}");
            }
            assert!(!v.contains("Domain"), "{v}");
            seen.push(v.split('=').next().unwrap().to_owned());
        }
    }
    for name in [
        "__Host-monban-csrf",
        "__Host-monban-challenge",
        "__Host-monban-session",
    ] {
        assert!(seen.iter().any(|s| s == name), "{name} never set: {seen:?}");
    }
    // The session cookie lives until the browser closes; the session's own expiry rules.
    let session = a3
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("__Host-monban-session="))
        .unwrap();
    assert!(!session.contains("Max-Age"), "{session}");
}

#[tokio::test]
async fn every_page_has_the_strict_policy_and_no_script() {
    // SPEC: UI-1, UI-2
    let h = Harness::kuroneko();
    h.admin_session().await;
    let mut jar = browser(&h).await;
    sign_in(&h, &mut jar, ADMIN_PW).await;
    // A user to edit.
    let csrf = jar.csrf();
    let a = post(
        &h,
        &mut jar,
        "/ui/admin/users/create",
        &[
            ("csrf", &csrf),
            ("user_id", "clerk01"),
            ("role", "general"),
            ("login_method", "mail_otp"),
            ("name", "山田花子"),
            ("email", "clerk@example.com"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert!(text(&a).contains("clerk01"));
    let pages = [
        "/ui/login",
        "/ui/login?key=7777777",
        "/ui/reset",
        "/ui/reset/identity",
        "/ui/forgot-login-id",
        "/ui/password-notification",
        "/ui/password",
        "/ui/home",
        "/ui/totp",
        "/ui/admin/users",
        "/ui/admin/users/new",
        "/ui/admin/users/clerk01",
    ];
    for p in pages {
        let a = get(&h, &mut jar, p).await;
        assert_eq!(a.status, 200, "{p}: {}", text(&a));
        let csp = a.headers["content-security-policy"].to_str().unwrap();
        assert_eq!(csp, CSP, "{p}");
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe"));
        assert_eq!(a.headers["x-frame-options"], "DENY");
        assert_eq!(a.headers["referrer-policy"], "no-referrer");
        assert_eq!(a.headers["cache-control"], "no-store");
        let body = text(&a);
        assert!(body.starts_with("<!doctype html>"), "{p}");
        assert!(
            !body.contains("<script") && !body.contains(" style=") && !body.contains("<style"),
            "{p}"
        );
        assert!(!body.contains(" on") || !body.contains("onclick="), "{p}");
        // Every form that posts here carries the CSRF token.
        let forms = body.matches("<form method=\"post\"").count();
        assert_eq!(forms, body.matches("name=\"csrf\"").count(), "{p}");
    }
    // The reset-link page (its form's proof is the link's token) has the same policy.
    let a = get(&h, &mut jar, "/reset/not-a-token").await;
    assert_eq!(a.status, 410);
    assert_eq!(a.headers["content-security-policy"], CSP);
}

#[tokio::test]
async fn get_and_head_of_the_pages_change_nothing() {
    // SPEC: UI-2
    let h = Harness::kuroneko();
    h.admin_session().await;
    let mut jar = browser(&h).await;
    sign_in(&h, &mut jar, ADMIN_PW).await;
    let users = format!("{:?}", h.all_users().await);
    let mails = h.mailer.mails().len();
    for p in [
        "/ui/login",
        "/ui/login/otp",
        "/ui/password",
        "/ui/home",
        "/ui/totp",
        "/ui/admin/users",
        "/ui/admin/users/new",
        "/ui/admin/users/999999999",
        "/ui/reset",
        "/ui/logout",
        "/ui/admin/users/clerk01/unlock",
        "/ui/admin/users/clerk01/delete",
    ] {
        for m in ["GET", "HEAD"] {
            let a = h
                .send(
                    Request::builder()
                        .method(m)
                        .uri(p)
                        .header("cookie", jar.header())
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert!(a.status.as_u16() < 500, "{m} {p}: {}", a.status);
        }
    }
    assert_eq!(format!("{:?}", h.all_users().await), users);
    assert_eq!(h.mailer.mails().len(), mails);
}

#[tokio::test]
async fn logout_is_a_post_and_a_get_leaves_the_session() {
    // SPEC: UI-2
    let h = Harness::kuroneko();
    h.admin_session().await;
    let mut jar = browser(&h).await;
    sign_in(&h, &mut jar, ADMIN_PW).await;
    let a = get(&h, &mut jar, "/ui/logout").await;
    assert_eq!(a.status, 405);
    assert_eq!(get(&h, &mut jar, "/ui/home").await.status, 200);
    let csrf = jar.csrf();
    let a = post(&h, &mut jar, "/ui/logout", &[("csrf", &csrf)]).await;
    assert_eq!(a.status, 303);
    assert_eq!(a.headers["location"], "/ui/login");
    assert!(!jar.0.contains_key("__Host-monban-session"));
    // The ended session's token no longer works, with or without the cookie.
    let a = get(&h, &mut jar, "/ui/home").await;
    assert_eq!(a.status, 303);
    assert_eq!(a.headers["location"], "/ui/login");
}

#[tokio::test]
async fn an_unknown_account_gets_the_same_page_as_a_wrong_password() {
    // SPEC: UI-2, L-5
    let h = Harness::kuroneko();
    h.admin_session().await;
    let jar = browser(&h).await;
    let csrf = jar.csrf();
    let mut answers = Vec::new();
    for user in [TENANT, "nobody01"] {
        let mut j = jar.clone();
        let a = post(
            &h,
            &mut j,
            "/ui/login",
            &[
                ("csrf", &csrf),
                ("tenant", TENANT),
                ("identifier", user),
                ("password", "Wrong2024pw"),
                ("access_key", ACCESS_KEY),
            ],
        )
        .await;
        assert_eq!(a.status, 401);
        // The form shows the user ID typed; with it replaced, the pages are the same bytes.
        let typed = format!("name=\"identifier\" type=\"text\" value=\"{user}\"");
        assert!(text(&a).contains(&typed));
        answers.push((a.headers.clone(), text(&a).replace(&typed, "TYPED")));
    }
    assert_eq!(answers[0].1, answers[1].1);
    let names = |h: &axum::http::HeaderMap| {
        let mut v: Vec<_> = h.keys().map(|k| k.as_str().to_owned()).collect();
        v.retain(|k| k != "date");
        v
    };
    assert_eq!(names(&answers[0].0), names(&answers[1].0));
    assert!(answers[0].1.contains("ログインに失敗しました"));
}

#[tokio::test]
async fn errors_are_shown_next_to_their_field_in_the_seed_words() {
    // SPEC: UI-2, PW-2
    let h = Harness::kuroneko();
    h.create_tenant().await;
    // The admin's forced change after a temporary password.
    h.call(
        "POST",
        "/reset",
        Some(serde_json::json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
        None,
    )
    .await
    .expect(202);
    let url = h.last_of(ADMIN_MAIL, MailKind::ResetStarted);
    let mut jar = browser(&h).await;
    // The link's page: a button posting the token; nothing changes on GET.
    let path = format!("/reset/{}", url.rsplit('/').next().unwrap());
    let a = get(&h, &mut jar, &path).await;
    assert_eq!(a.status, 200);
    assert!(text(&a).contains("仮パスワードを発行する"));
    let token = url.rsplit('/').next().unwrap();
    let a = post(&h, &mut jar, "/reset/open", &[("token", token)]).await;
    assert_eq!(a.status, 200, "{}", text(&a));
    assert!(text(&a).contains("ログイン画面へ"));
    let temp = h.last_of(ADMIN_MAIL, MailKind::TemporaryPassword);
    let csrf = jar.csrf();
    post(
        &h,
        &mut jar,
        "/ui/login",
        &[
            ("csrf", &csrf),
            ("tenant", TENANT),
            ("identifier", TENANT),
            ("password", &temp),
            ("access_key", ACCESS_KEY),
        ],
    )
    .await;
    let code = h.last_of(ADMIN_MAIL, MailKind::Otp);
    let a = post(
        &h,
        &mut jar,
        "/ui/login/otp",
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!(a.headers["location"], "/ui/password");
    let a = get(&h, &mut jar, "/ui/password").await;
    // The rules are shown before the user types.
    assert!(
        text(&a).contains("<ul id=\"rules\"><li>8文字以上20文字以内</li>"),
        "{}",
        text(&a)
    );
    let a = post(
        &h,
        &mut jar,
        "/ui/password",
        &[
            ("csrf", &csrf),
            ("new", ADMIN_PW),
            ("confirm", "Other2024pw"),
        ],
    )
    .await;
    assert_eq!(a.status, 422);
    let body = text(&a);
    let err = body
        .find("id=\"e-confirm\"")
        .expect("the error beside the confirm field");
    let input = body.find("id=\"f-confirm\"").unwrap();
    assert!(err < input);
    assert!(body.contains("aria-describedby=\"e-confirm\""));
}

#[tokio::test]
async fn a_theme_folder_overrides_texts_templates_and_the_stylesheet() {
    // SPEC: UI-3
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("texts.ja.json"),
        r#"{"login_title": "加盟店ログイン"}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("style.css"), "body { color: #000; }").unwrap();
    std::fs::write(
        dir.path().join("templates/message.html"),
        "{% extends \"base.html\" %}{% block main %}<p class=\"mine\">{{ message }}</p>{% endblock %}",
    )
    .unwrap();
    let theme = Theme::from_dir(dir.path()).unwrap();
    let h = Harness::with(monban_core::Policy::kuroneko().with_test_hashing(), |s| {
        s.theme(theme)
    });
    let mut jar = Jar::default();
    assert!(text(&get(&h, &mut jar, "/ui/login").await).contains("<h1>加盟店ログイン</h1>"));
    assert_eq!(
        text(&get(&h, &mut jar, "/ui/style.css").await),
        "body { color: #000; }"
    );
    let a = post(&h, &mut jar, "/ui/lang", &[]).await;
    assert!(text(&a).contains("<p class=\"mine\">"), "{}", text(&a));
    // A mistake in the folder stops the start, not a page later.
    std::fs::write(dir.path().join("templates/login.html"), "{% if %}").unwrap();
    assert!(
        Theme::from_dir(dir.path())
            .unwrap_err()
            .contains("login.html")
    );
    std::fs::remove_file(dir.path().join("templates/login.html")).unwrap();
    std::fs::write(dir.path().join("templates/extra.html"), "x").unwrap();
    assert!(Theme::from_dir(dir.path()).is_err());
    std::fs::remove_file(dir.path().join("templates/extra.html")).unwrap();
    std::fs::write(dir.path().join("texts.en.json"), r#"{"no_such_key": "x"}"#).unwrap();
    assert!(Theme::from_dir(dir.path()).is_err());
}

#[tokio::test]
async fn the_development_cookie_mode_drops_secure_and_the_prefix() {
    // SPEC: UI-2
    let h = Harness::with(monban_core::Policy::kuroneko().with_test_hashing(), |s| {
        s.theme(Theme::default().cookie_mode(CookieMode::DevHttp))
    });
    let mut jar = Jar::default();
    let a = get(&h, &mut jar, "/ui/login").await;
    let c = a.headers["set-cookie"].to_str().unwrap();
    assert!(
        c.starts_with("monban-csrf=") && !c.contains("Secure") && c.contains("HttpOnly"),
        "{c}"
    );
}

#[tokio::test]
async fn english_by_accept_language_and_by_the_switch() {
    // SPEC: UI-1, M-2
    let h = Harness::kuroneko();
    let a = h
        .send(
            Request::get("/ui/login")
                .header("accept-language", "en-US,en;q=0.9")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(text(&a).contains("<html lang=\"en\">") && text(&a).contains("<h1>Log in</h1>"));
    let mut jar = browser(&h).await;
    let csrf = jar.csrf();
    let a = post(
        &h,
        &mut jar,
        "/ui/lang",
        &[
            ("csrf", &csrf),
            ("lang", "en"),
            ("back", "https://evil.example/"),
        ],
    )
    .await;
    assert_eq!(a.headers["location"], "/ui/login");
    assert!(text(&get(&h, &mut jar, "/ui/login").await).contains("<h1>Log in</h1>"));
}

/// The admin's session in `jar`, and a general user `clerk01` created through the pages.
async fn admin_with_clerk(h: &Harness) -> Jar {
    h.admin_session().await;
    let mut jar = browser(h).await;
    sign_in(h, &mut jar, ADMIN_PW).await;
    let csrf = jar.csrf();
    let form = [
        ("csrf", csrf.as_str()),
        ("user_id", "clerk01"),
        ("role", "general"),
        ("login_method", "mail_otp"),
        ("name", "山田花子"),
        ("email", "clerk@example.com"),
    ];
    // 「確認」 shows the entries and stores nothing; 「登録」 creates.
    let a = post(h, &mut jar, "/ui/admin/users/new", &form).await;
    assert_eq!(a.status, 200);
    assert!(text(&a).contains("登録内容の確認"));
    assert!(!h.all_users().await.iter().any(|u| u.user_id == "clerk01"));
    let a = post(h, &mut jar, "/ui/admin/users/create", &form).await;
    assert!(text(&a).contains("登録完了"), "{}", text(&a));
    jar
}

#[tokio::test]
async fn the_admin_edits_unlocks_resets_and_deletes_through_the_pages() {
    // SPEC: UI-1, R-1
    let h = Harness::kuroneko();
    let mut jar = admin_with_clerk(&h).await;
    let csrf = jar.csrf();
    // Edit: the phone.
    let a = post(
        &h,
        &mut jar,
        "/ui/admin/users/clerk01",
        &[
            ("csrf", &csrf),
            ("role", "general"),
            ("login_method", "mail_otp"),
            ("name", "山田花子"),
            ("email", "clerk@example.com"),
            ("phone", "03-1234-5678"),
        ],
    )
    .await;
    assert_eq!(a.headers["location"], "/ui/admin/users/clerk01?done=edit");
    let clerk = || async {
        h.all_users()
            .await
            .into_iter()
            .find(|u| u.user_id == "clerk01")
    };
    assert_eq!(
        clerk().await.unwrap().phone.as_deref(),
        Some("03-1234-5678")
    );
    // Reset password: a mail, the temporary password never in the URL.
    let before = h.mailer.mails().len();
    let a = post(
        &h,
        &mut jar,
        "/ui/admin/users/clerk01/reset-password",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        a.headers["location"],
        "/ui/admin/users/clerk01?done=reset-password"
    );
    assert_eq!(h.mailer.mails().len(), before + 1);
    assert!(
        text(&get(&h, &mut jar, "/ui/admin/users/clerk01?done=reset-password").await)
            .contains("パスワードを初期化しました")
    );
    // Reset authenticator, unlock, end sessions: each answers the edit page with its notice.
    for action in ["reset-authenticator", "unlock", "end-sessions"] {
        let a = post(
            &h,
            &mut jar,
            &format!("/ui/admin/users/clerk01/{action}"),
            &[("csrf", &csrf), ("confirmed", "yes")],
        )
        .await;
        assert_eq!(a.status, 303, "{action}: {}", text(&a));
    }
    // An unknown action is a 404 page, not a server error.
    let a = post(
        &h,
        &mut jar,
        "/ui/admin/users/clerk01/frobnicate",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(a.status, 404);
    // Delete: 「削除」 asks first (nothing deleted yet), 「確認」 deletes.
    let a = post(
        &h,
        &mut jar,
        "/ui/admin/users/clerk01/delete",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(text(&a).contains("name=\"confirmed\" value=\"yes\""));
    assert!(clerk().await.is_some());
    let a = post(
        &h,
        &mut jar,
        "/ui/admin/users/clerk01/delete",
        &[("csrf", &csrf), ("confirmed", "yes")],
    )
    .await;
    assert_eq!(a.headers["location"], "/ui/admin/users?done=deleted");
    assert!(clerk().await.is_none());
    let a = get(&h, &mut jar, "/ui/admin/users/clerk01").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.headers["content-security-policy"], CSP);
}

#[tokio::test]
async fn a_user_edits_its_details_and_ends_its_other_sessions() {
    // SPEC: UI-1, P-3, S-4
    let h = Harness::kuroneko();
    let mut jar = admin_with_clerk(&h).await;
    // A second browser of the same admin.
    let mut other = browser(&h).await;
    sign_in(&h, &mut other, ADMIN_PW).await;
    let csrf = jar.csrf();
    let a = get(&h, &mut jar, "/ui/home").await;
    assert_eq!(
        text(&a).matches("/ui/home/sessions/end\"").count(),
        2,
        "the API session of admin_session() and the other browser each have a button"
    );
    let a = post(
        &h,
        &mut jar,
        "/ui/home/profile",
        &[
            ("csrf", &csrf),
            ("name", "黒猫太郎"),
            ("phone", "090-0000-0000"),
        ],
    )
    .await;
    assert_eq!(
        a.headers["location"],
        "/ui/home?done=profile",
        "{}",
        text(&a)
    );
    let a = post(
        &h,
        &mut jar,
        "/ui/home/sessions/end-others",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(a.headers["location"], "/ui/home?done=sessions");
    // The other browser is signed out; this one goes on.
    assert_eq!(
        get(&h, &mut other, "/ui/home").await.headers["location"],
        "/ui/login"
    );
    let a = get(&h, &mut jar, "/ui/home?done=sessions").await;
    assert!(text(&a).contains("090-0000-0000") && text(&a).contains("セッションを終了しました"));
    // The admin's own address is support's to change (P-6): the page shows it as text, and a
    // crafted form gets the seed's message at the top of the form.
    assert!(!text(&a).contains("name=\"email\""));
    let a = post(
        &h,
        &mut jar,
        "/ui/home/profile",
        &[
            ("csrf", &csrf),
            ("name", "黒猫太郎"),
            ("email", "new@example.com"),
        ],
    )
    .await;
    assert_eq!(a.status, 403);
    assert!(text(&a).contains("id=\"e-form\">"), "{}", text(&a));
}

fn base32_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').chars() {
        let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .unwrap() as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

#[tokio::test]
async fn the_admin_adds_an_authenticator_from_a_qr_code() {
    // SPEC: UI-1, L-2
    use monban_core::secret::SecretBytes;
    use monban_core::{Timestamp, totp};
    let h = Harness::kuroneko();
    h.admin_session().await;
    let mut jar = browser(&h).await;
    sign_in(&h, &mut jar, ADMIN_PW).await;
    let home = text(&get(&h, &mut jar, "/ui/home").await);
    assert!(home.contains("href=\"/ui/totp\""), "{home}");
    // GET shows a button and starts nothing; the POST starts the enrolment.
    let a = get(&h, &mut jar, "/ui/totp").await;
    assert!(!text(&a).contains("<svg"));
    let csrf = jar.csrf();
    let a = post(&h, &mut jar, "/ui/totp", &[("csrf", &csrf)]).await;
    assert_eq!(a.status, 200);
    let body = text(&a);
    assert!(
        body.contains("<svg") && body.contains("role=\"img\""),
        "{body}"
    );
    let start = body.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
    let b32 = &body[start..start + body[start..].find('<').unwrap()];
    // A wrong code: the error beside the code field, the method unchanged.
    let a = post(
        &h,
        &mut jar,
        "/ui/totp/confirm",
        &[("csrf", &csrf), ("code", "000000")],
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(text(&a).contains("id=\"e-code\""));
    let secret = SecretBytes::new(base32_decode(b32));
    let step = totp::step_at(Timestamp(1_800_000_000), &h.policy.otp).unwrap();
    let code = totp::code_at_step(&secret, step, &h.policy.otp);
    let a = post(
        &h,
        &mut jar,
        "/ui/totp/confirm",
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!(a.headers["location"], "/ui/home?done=totp", "{}", text(&a));
    let admin = h
        .all_users()
        .await
        .into_iter()
        .find(|u| u.user_id == TENANT)
        .unwrap();
    assert_eq!(format!("{:?}", admin.login_method), "Totp");
}

#[tokio::test]
async fn the_api_reference_is_served_from_the_binary_under_its_own_csp() {
    // Issue 14 item 5 — the page and the pinned renderer come from this server; the CSP lets
    // the renderer run (its script, its injected styles, its blob worker) and nothing more.
    let h = Harness::kuroneko();
    let page = h.call("GET", "/docs", None, None).await;
    page.expect(200);
    let html = String::from_utf8_lossy(&page.bytes).into_owned();
    assert!(html.contains(r#"spec-url="/openapi.json""#), "{html}");
    assert!(html.contains(r#"<script src="/docs/redoc.standalone.js">"#));
    assert!(!html.contains("http"), "nothing from elsewhere: {html}");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    for want in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ] {
        assert!(csp.contains(want), "{csp}");
    }
    assert!(!csp.contains("unsafe-eval") && !csp.contains("*"), "{csp}");
    let js = h.call("GET", "/docs/redoc.standalone.js", None, None).await;
    js.expect(200);
    assert!(
        js.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/javascript")
    );
    assert_eq!(js.headers["x-content-type-options"], "nosniff");
    assert!(js.bytes.len() > 100_000);
    // GET only.
    assert_eq!(h.call("POST", "/docs", None, None).await.status, 405);
}
