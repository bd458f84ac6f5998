//! RS-1 / RS-10 over HTTP: opening the mailed link (what a mail scanner does) changes nothing;
//! the page's button issues the temporary password, beside the current one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use monban_core::mail::MailKind;
use serde_json::json;

async fn ask_for_link(h: &Harness) -> String {
    h.call(
        "POST",
        "/reset",
        Some(json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
        None,
    )
    .await
    .expect(202);
    let url = h.last_of(ADMIN_MAIL, MailKind::ResetStarted);
    url.rsplit('/').next().unwrap().to_owned()
}

fn first_factor(password: &str) -> serde_json::Value {
    json!({"tenant": TENANT, "identifier": TENANT, "password": password, "access_key": ACCESS_KEY})
}

#[tokio::test]
async fn head_and_get_of_the_reset_link_change_nothing_and_post_issues_the_password() {
    // SPEC: RS-1, RS-10
    // GIVEN an admin with a working password and a live session, who asked for a reset link
    let h = Harness::kuroneko();
    let session = h.admin_session().await;
    let token = ask_for_link(&h).await;
    let users_before = h.all_users().await;
    let mails_before = h.mailer.mails().len();
    // WHEN a mail scanner sends HEAD and GET (as a browser and as an API client)
    for (method, accept) in [
        ("HEAD", "text/html"),
        ("GET", "text/html,application/xhtml+xml,*/*;q=0.8"),
        ("GET", "application/json"),
        ("GET", "*/*"),
    ] {
        let a = h
            .send(
                Request::builder()
                    .method(method)
                    .uri(format!("/reset/{token}"))
                    .header("accept", accept)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        // THEN the answer is a page (200) ...
        assert_eq!(a.status.as_u16(), 200, "{method} {accept}: {:?}", a.bytes);
        if method == "GET" && accept.starts_with("text/html") {
            let html = String::from_utf8(a.bytes.to_vec()).unwrap();
            // ... with a form whose button POSTs the token, and no script
            assert!(html.contains("<form method=\"post\""), "{html}");
            assert!(html.contains(&format!("value=\"{token}\"")), "{html}");
            assert!(!html.contains("<script"), "{html}");
        }
    }
    // AND nothing was stored or mailed
    assert_eq!(h.all_users().await, users_before);
    assert_eq!(h.mailer.mails().len(), mails_before);
    h.call("POST", "/login", Some(first_factor(ADMIN_PW)), None)
        .await
        .expect(200);

    // WHEN the page's button is pressed (a form POST)
    let a = h
        .send(
            Request::post("/reset/open")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html")
                .body(Body::from(format!("token={token}")))
                .unwrap(),
        )
        .await;
    a.expect(200);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // THEN the temporary password is mailed, and the link is dead
    let temp = h.last_of(ADMIN_MAIL, MailKind::TemporaryPassword);
    h.call("POST", "/reset/open", Some(json!({"token": token})), None)
        .await
        .expect_error(410, "reset_link_invalid");
    // AND the current session and password still work (RS-10)
    h.call("GET", "/me", None, Some(&session)).await.expect(200);
    let s = h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await;
    assert_eq!(s["scope"], "full", "{s}");
    // AND that login with the current password voided the temporary one
    h.call("POST", "/login", Some(first_factor(&temp)), None)
        .await
        .expect_error(401, "login_failed");
}

#[tokio::test]
async fn the_temporary_password_completes_the_reset_and_forces_a_change() {
    // SPEC: RS-1, RS-9, RS-10, PW-4
    let h = Harness::kuroneko();
    let session = h.admin_session().await;
    let token = ask_for_link(&h).await;
    h.call("POST", "/reset/open", Some(json!({"token": token})), None)
        .await
        .expect(200);
    let temp = h.last_of(ADMIN_MAIL, MailKind::TemporaryPassword);
    // WHEN the admin logs in with the temporary password and the mail OTP
    let s = h.login_otp(TENANT, ADMIN_MAIL, &temp).await;
    // THEN the session may only change the password
    assert_eq!(s["must_change_password"], "temporary", "{s}");
    // AND the reset is complete: the old password and the old session are void (RS-9)
    h.call("GET", "/me", None, Some(&session))
        .await
        .expect_error(401, "session_invalid");
    h.call("POST", "/login", Some(first_factor(ADMIN_PW)), None)
        .await
        .expect_error(401, "login_failed");
    // AND the forced change gives a full session
    let limited = s["token"].as_str().unwrap();
    h.call(
        "POST",
        "/me/password",
        Some(json!({"new": "Neko2025kuro", "confirm": "Neko2025kuro"})),
        Some(limited),
    )
    .await
    .expect(200);
    let s = h.login_otp(TENANT, ADMIN_MAIL, "Neko2025kuro").await;
    assert_eq!(s["scope"], "full");
}
