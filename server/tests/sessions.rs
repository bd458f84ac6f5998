//! Sessions as records (S-1..S-4), over HTTP: every login its own session, checked on every
//! request, idle and absolute limits, the user's list, logout of one session, ending the
//! others, and admin and support ending a user's sessions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use monban_core::Policy;
use monban_core::mail::MailKind;
use serde_json::{Value, json};

const CLERK_MAIL: &str = "clerk@example.com";
const CLERK_PW: &str = "Clerk2024abc";

/// An admin session, then a general user `clerk01` with its own password; returns the admin's
/// token and a full session of the clerk.
async fn admin_and_clerk(h: &Harness) -> (String, String) {
    let admin = h.admin_session().await;
    h.call(
        "POST",
        "/admin/users",
        Some(json!({"user_id": "clerk01", "role": "general",
            "profile": {"name": "山田花子", "email": CLERK_MAIL}})),
        Some(&admin),
    )
    .await
    .expect(201);
    let temp = h.last_of(CLERK_MAIL, MailKind::UserRegistered);
    let s = h.login_otp("clerk01", CLERK_MAIL, &temp).await;
    let full = h
        .call(
            "POST",
            "/me/password",
            Some(json!({"new": CLERK_PW, "confirm": CLERK_PW})),
            Some(s["token"].as_str().unwrap()),
        )
        .await;
    full.expect(200);
    (admin, full.str("token"))
}

fn token(s: &Value) -> String {
    s["token"].as_str().unwrap().to_owned()
}

async fn sessions(h: &Harness, t: &str) -> Vec<Value> {
    let a = h.call("GET", "/me/sessions", None, Some(t)).await;
    a.expect(200);
    a.json["items"].as_array().unwrap().clone()
}

async fn works(h: &Harness, t: &str) -> bool {
    let a = h.call("GET", "/me", None, Some(t)).await;
    match a.status.as_u16() {
        200 => true,
        401 => {
            assert_eq!(a.code(), "session_invalid");
            false
        }
        s => panic!("GET /me answered {s}: {}", a.json),
    }
}

#[tokio::test]
async fn two_logins_in_the_same_second_are_two_sessions_and_logout_ends_one() {
    // SPEC: S-1, S-4
    let h = Harness::kuroneko();
    h.admin_session().await;
    let a = h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await;
    let b = h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await;
    assert_ne!(a["token"], b["token"]);
    assert_ne!(a["session_id"], b["session_id"]);
    let id = a["session_id"].as_str().unwrap();
    // 128 random bits, base64url.
    assert_eq!(id.len(), 22, "{id}");
    assert!(
        id.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );

    let listed = sessions(&h, &token(&a)).await;
    let ids: Vec<&str> = listed.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&id) && ids.contains(&b["session_id"].as_str().unwrap()));
    let mine = listed.iter().find(|s| s["id"] == a["session_id"]).unwrap();
    assert_eq!(mine["current"], true);
    assert_eq!(mine["factors"], json!(["password", "mail_otp"]));
    assert_eq!(mine["scope"], "full");
    // Kuroneko: 15 minutes idle (PCI DSS 8.2.8).
    assert_eq!(
        mine["ends_at"].as_i64().unwrap() - mine["last_used_at"].as_i64().unwrap(),
        15 * 60
    );

    h.call("POST", "/logout", None, Some(&token(&a)))
        .await
        .expect(204);
    assert!(!works(&h, &token(&a)).await, "the logged-out session");
    assert!(works(&h, &token(&b)).await, "the other session goes on");
    let left = sessions(&h, &token(&b)).await;
    assert!(left.iter().all(|s| s["id"] != a["session_id"]));
}

#[tokio::test]
async fn an_idle_session_ends_and_a_used_one_lives_until_its_absolute_end() {
    // SPEC: S-3
    let h = Harness::kuroneko();
    h.admin_session().await;
    let idle = token(&h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await);
    let busy = token(&h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await);
    // Used every 14 minutes, the busy session lives; the other sits idle.
    h.clock.advance(14 * 60);
    assert!(works(&h, &busy).await);
    h.clock.advance(14 * 60);
    assert!(works(&h, &busy).await);
    assert!(!works(&h, &idle).await, "idle for 28 minutes");
    // ... until the absolute lifetime (12 hours) is over, however it is used.
    let mut used_for = 28 * 60;
    while works(&h, &busy).await {
        assert!(
            used_for < 13 * 3600,
            "the session outlived its absolute lifetime"
        );
        h.clock.advance(14 * 60);
        used_for += 14 * 60;
    }
    assert!(
        (12 * 3600..12 * 3600 + 14 * 60).contains(&used_for),
        "refused after {used_for} s, the first use past 12 hours"
    );
}

#[tokio::test]
async fn the_last_use_is_written_at_most_once_a_minute() {
    // SPEC: S-3
    let h = Harness::kuroneko();
    h.admin_session().await;
    let s = h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await;
    let t = token(&s);
    let admin = monban_core::model::UserRef::new(TENANT, TENANT);
    let version = || async {
        monban_core::ports::Store::user(&*h.store, &admin)
            .await
            .unwrap()
            .unwrap()
            .version
    };
    let v0 = version().await;
    let started = sessions(&h, &t).await[0]["last_used_at"].as_i64().unwrap();
    for _ in 0..5 {
        h.clock.advance(10);
        assert!(works(&h, &t).await);
    }
    assert_eq!(version().await, v0, "no write within the first minute");
    h.clock.advance(15);
    assert!(works(&h, &t).await);
    assert_eq!(
        version().await,
        v0 + 1,
        "one write once a minute has passed"
    );
    let mine = sessions(&h, &t).await;
    let mine = mine.iter().find(|x| x["id"] == s["session_id"]).unwrap();
    assert_eq!(mine["last_used_at"].as_i64().unwrap(), started + 65);
}

#[tokio::test]
async fn a_user_ends_one_or_all_other_sessions() {
    // SPEC: S-4
    let h = Harness::kuroneko();
    let (_, clerk) = admin_and_clerk(&h).await;
    let b = h.login_otp("clerk01", CLERK_MAIL, CLERK_PW).await;
    let c = h.login_otp("clerk01", CLERK_MAIL, CLERK_PW).await;
    let d = h.login_otp("clerk01", CLERK_MAIL, CLERK_PW).await;
    assert_eq!(sessions(&h, &clerk).await.len(), 4);

    // One of them, by its ID.
    let path = format!("/me/sessions/{}", b["session_id"].as_str().unwrap());
    h.call("DELETE", &path, None, Some(&clerk))
        .await
        .expect(204);
    assert!(!works(&h, &token(&b)).await);
    h.call("DELETE", &path, None, Some(&clerk))
        .await
        .expect_error(404, "session_not_found");
    h.call("DELETE", "/me/sessions/nonexistent", None, Some(&clerk))
        .await
        .expect_error(404, "session_not_found");

    // Every other one.
    let a = h
        .call("POST", "/me/sessions/end-others", None, Some(&clerk))
        .await;
    a.expect(200);
    assert_eq!(a.json, json!({"ended": 2}));
    assert!(!works(&h, &token(&c)).await);
    assert!(!works(&h, &token(&d)).await);
    assert!(works(&h, &clerk).await);
    assert_eq!(sessions(&h, &clerk).await.len(), 1);

    // Someone else's session ID is not the user's to end.
    let admin_again = h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await;
    let path = format!(
        "/me/sessions/{}",
        admin_again["session_id"].as_str().unwrap()
    );
    h.call("DELETE", &path, None, Some(&clerk))
        .await
        .expect_error(404, "session_not_found");
    assert!(works(&h, &token(&admin_again)).await);
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    // SPEC: S-4, RS-9
    let h = Harness::kuroneko();
    let (_, clerk) = admin_and_clerk(&h).await;
    let other = token(&h.login_otp("clerk01", CLERK_MAIL, CLERK_PW).await);
    let changed = h
        .call(
            "POST",
            "/me/password",
            Some(json!({"current": CLERK_PW, "new": "Clerk2025xyz", "confirm": "Clerk2025xyz"})),
            Some(&clerk),
        )
        .await;
    changed.expect(200);
    let new = changed.str("token");
    assert!(works(&h, &new).await);
    assert!(!works(&h, &other).await);
    assert!(
        !works(&h, &clerk).await,
        "the old token of the changing session"
    );
    let left = sessions(&h, &new).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["factors"], json!(["password", "mail_otp"]));
}

#[tokio::test]
async fn an_admin_ends_a_users_sessions_and_support_an_admins() {
    // SPEC: S-4
    let h = Harness::kuroneko();
    let (admin, clerk) = admin_and_clerk(&h).await;
    let a = h
        .call(
            "POST",
            "/admin/users/clerk01/end-sessions",
            None,
            Some(&admin),
        )
        .await;
    a.expect(200);
    assert_eq!(a.json, json!({"ended": 1}));
    assert!(!works(&h, &clerk).await);
    // The admin cannot end its own or another admin's sessions this way.
    h.call(
        "POST",
        &format!("/admin/users/{TENANT}/end-sessions"),
        None,
        Some(&admin),
    )
    .await
    .expect_error(404, "not_found");
    // A general user is no admin.
    let clerk = token(&h.login_otp("clerk01", CLERK_MAIL, CLERK_PW).await);
    h.call(
        "POST",
        "/admin/users/clerk01/end-sessions",
        None,
        Some(&clerk),
    )
    .await
    .expect_error(403, "forbidden");
    // Support ends the admin's.
    assert!(works(&h, &admin).await);
    h.support(
        "POST",
        &format!("/support/tenants/{TENANT}/users/{TENANT}/end-sessions"),
        None,
    )
    .await
    .expect(204);
    assert!(!works(&h, &admin).await);
    assert!(works(&h, &clerk).await, "other users' sessions go on");
}

#[tokio::test]
async fn past_the_maximum_a_new_login_ends_the_least_recently_used_session() {
    // SPEC: S-1
    let mut policy = Policy::kuroneko().with_test_hashing();
    policy.login.max_sessions = 2;
    let h = Harness::with(policy, |s| s);
    h.admin_session().await;
    let first = token(&h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await);
    h.clock.advance(61);
    let second = token(&h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await);
    h.clock.advance(61);
    assert!(
        works(&h, &first).await,
        "used now: the second is the least recent"
    );
    let third = token(&h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await);
    assert!(works(&h, &first).await);
    assert!(!works(&h, &second).await);
    assert!(works(&h, &third).await);
    assert_eq!(sessions(&h, &third).await.len(), 2);
}

#[tokio::test]
async fn a_token_for_a_session_that_was_never_recorded_is_refused() {
    // SPEC: S-2 — a token signed with the right key but naming no stored session.
    let h = Harness::kuroneko();
    h.admin_session().await;
    let s = h.login_otp(TENANT, ADMIN_MAIL, ADMIN_PW).await;
    let key = monban_core::token::SessionKey::new(vec![7u8; 32]).unwrap();
    let mut claims = key
        .verify(&token(&s), monban_core::ports::Clock::now(&*h.clock))
        .unwrap();
    claims.session_id = "AAAAAAAAAAAAAAAAAAAAAA".into();
    let forged = key.sign(&claims);
    assert!(!works(&h, forged.expose()).await);
    assert!(works(&h, &token(&s)).await);
}
