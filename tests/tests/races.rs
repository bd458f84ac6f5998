//! Races on a multi-threaded runtime with one shared `Arc<AuthService>`: parallel failures all
//! count, one address is claimed once, a code and a reset link are consumed once (DESIGN
//! principle 2: conditional writes, re-run on conflict).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::flow::login::Session;
use monban_core::mail::MailKind;
use monban_core::role::Role;
use monban_core::secret::Secret;
use monban_core::service::ResetRequest;
use monban_core::{Error, Policy};
use monban_tests::{Harness, TenantSpec, new_user, secret};
use std::future::Future;
use std::sync::Arc;

const ADMIN_PW: &str = "Kuro2024neko";
const USER_PW: &str = "Neko2025kuro";

/// The Kuroneko merchant with a high lock threshold, its admin and User1 (password `USER_PW`).
async fn shop() -> (Harness, TenantSpec<'static>, Session) {
    let mut p = Policy::kuroneko();
    p.lockout.max_failures = Some(1000);
    let h = Harness::new(p);
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    let temp = h
        .create_user(&admin, "User1", Role::General, "黒田 猫太", "kuroda@a.com")
        .await;
    h.user_first_login(&t, "User1", &temp, "kuroda@a.com", &secret(USER_PW))
        .await;
    (h, t, admin)
}

/// Runs `n` copies of `f(i)` at once on the runtime's threads; their results in order.
async fn all_at_once<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let fut = f(i);
        let b = Arc::clone(&barrier);
        handles.push(tokio::spawn(async move {
            b.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.expect("no task panics"));
    }
    out
}

fn codes<T>(results: &[Result<T, Error>]) -> Vec<&'static str> {
    let mut c: Vec<&'static str> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(Error::code))
        .collect();
    c.sort_unstable();
    c.dedup();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn parallel_wrong_passwords_all_count() {
    // SPEC: L-6, L-4
    // GIVEN User1 under a lock threshold of 1000
    let (h, t, _) = shop().await;
    // WHEN 200 wrong passwords for User1 arrive at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(200, |i| {
        let svc = Arc::clone(&svc);
        let req = Harness::request(
            t.code,
            "User1",
            &secret(&format!("Wrong{i}pass")),
            t.access_key,
        );
        async move { svc.login(req).await }
    })
    .await;
    // THEN every one is login_failed
    assert!(results.iter().all(Result::is_err));
    assert_eq!(codes(&results), ["login_failed"]);
    // AND not one failure is lost
    let v = h.view("999999999", "User1").await.unwrap();
    assert_eq!(v.failures, 200);
    let stored = h.stored_user("999999999", "User1").await.unwrap();
    assert_eq!(stored.lock.failures, 200);
    assert!(!v.locked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn parallel_wrong_passwords_lock_exactly_at_the_threshold() {
    // SPEC: L-6
    // GIVEN the Kuroneko threshold of 5
    let h = Harness::new(Policy::kuroneko());
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    let temp = h
        .create_user(&admin, "User1", Role::General, "黒田 猫太", "kuroda@a.com")
        .await;
    h.user_first_login(&t, "User1", &temp, "kuroda@a.com", &secret(USER_PW))
        .await;
    // WHEN 50 wrong passwords arrive at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(50, |i| {
        let svc = Arc::clone(&svc);
        let req = Harness::request(
            t.code,
            "User1",
            &secret(&format!("Wrong{i}pass")),
            t.access_key,
        );
        async move { svc.login(req).await }
    })
    .await;
    assert_eq!(codes(&results), ["login_failed"]);
    // THEN the account locked once, at five
    let v = h.view("999999999", "User1").await.unwrap();
    assert!(v.locked);
    assert_eq!(v.failures, 5);
    let locks = h
        .audit()
        .await
        .iter()
        .filter(|e| e.kind == monban_core::audit::AuditKind::Locked)
        .count();
    assert_eq!(locks, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_address_registered_at_once_a_hundred_times_is_claimed_once() {
    // SPEC: E-5, E-1
    // GIVEN the merchant's admin signed in
    let (h, _, admin) = shop().await;
    let token = admin.token.expose().to_owned();
    // WHEN 100 users with different IDs and one address are registered at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(100, |i| {
        let svc = Arc::clone(&svc);
        let token = token.clone();
        let input = new_user(
            &format!("Race{i}"),
            Role::General,
            "競争 太郎",
            "race@a.com",
        );
        async move { svc.admin_create_user(&token, &input).await }
    })
    .await;
    // THEN exactly one wins and the others hear email_taken
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{:?}", codes(&results));
    assert_eq!(codes(&results), ["email_taken"]);
    // AND exactly one user holds the address, and one welcome mail went out
    let holders: Vec<_> = h
        .users("999999999")
        .await
        .into_iter()
        .filter(|u| u.email.as_deref() == Some("race@a.com"))
        .collect();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].user_id, winners[0].user.user_id);
    assert_eq!(h.mail_count("race@a.com"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_code_submitted_a_hundred_times_signs_in_once() {
    // SPEC: L-3, L-9
    let (h, t, _) = shop().await;
    h.advance_secs(601);
    // GIVEN a login waiting for its code
    let ch = h
        .challenge(Harness::request(
            t.code,
            "User1",
            &secret(USER_PW),
            t.access_key,
        ))
        .await;
    let code = h.otp_code("kuroda@a.com");
    let challenge = ch.token.expose().to_owned();
    // WHEN the right code is submitted 100 times at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(100, |_| {
        let svc = Arc::clone(&svc);
        let (challenge, code) = (challenge.clone(), code.clone());
        async move { svc.verify_second_factor(&challenge, &code).await }
    })
    .await;
    // THEN exactly one session is issued, the rest hear challenge_expired
    let sessions: Vec<&Session> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(sessions.len(), 1, "{:?}", codes(&results));
    assert_eq!(codes(&results), ["challenge_expired"]);
    assert!(h.svc.whoami(sessions[0].token.expose()).await.is_ok());
    // AND one success was recorded
    let ok = h
        .audit()
        .await
        .iter()
        .filter(|e| {
            e.kind == monban_core::audit::AuditKind::OtpVerified
                && e.subject.as_deref() == Some("User1")
        })
        .count();
    assert_eq!(ok, 2, "the first login's and this one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_reset_link_opened_a_hundred_times_mails_one_password() {
    // SPEC: RS-1, RS-9
    let (h, _, _) = shop().await;
    // GIVEN a reset link
    h.svc
        .request_password_reset(&ResetRequest {
            tenant: Some("999999999".into()),
            user_id: "User1".into(),
            access_key: Some(Secret::new("7777777")),
        })
        .await
        .unwrap();
    let token = h.reset_token("kuroda@a.com");
    let before = h.mail_count("kuroda@a.com");
    // WHEN it is opened 100 times at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(100, |_| {
        let svc = Arc::clone(&svc);
        let token = token.clone();
        async move { svc.open_reset_link(&token).await }
    })
    .await;
    // THEN exactly one succeeds, the others hear reset_link_invalid
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{:?}",
        codes(&results)
    );
    assert_eq!(codes(&results), ["reset_link_invalid"]);
    // AND exactly one temporary password was mailed, and it is the one that works
    let mails = h.mails_to("kuroda@a.com");
    assert_eq!(mails.len(), before + 1);
    assert_eq!(mails[before].kind, MailKind::TemporaryPassword);
    let temp = h.temp_password("kuroda@a.com");
    h.advance_secs(601);
    let s = h
        .kuro_login("999999999", "User1", &temp, Some("7777777"), "kuroda@a.com")
        .await;
    assert!(s.must_change_password.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn parallel_logins_and_resends_send_at_most_five_codes() {
    // SPEC: L-3
    // GIVEN User1, its last code sent more than ten minutes ago
    let (h, t, _) = shop().await;
    h.advance_secs(601);
    let before = h.mail_count("kuroda@a.com");
    // WHEN 30 logins of User1 arrive at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(30, |_| {
        let svc = Arc::clone(&svc);
        let req = Harness::request(t.code, "User1", &secret(USER_PW), t.access_key);
        async move { svc.login(req).await }
    })
    .await;
    // THEN at most five codes are mailed within ten minutes, the rest hear resend_limited
    let sent = h.mail_count("kuroda@a.com") - before;
    assert_eq!(sent, 5);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5);
    assert_eq!(codes(&results), ["resend_limited"]);

    // WHEN ten minutes later one login is followed by 30 resends at once
    h.advance_secs(601);
    let ch = h
        .challenge(Harness::request(
            t.code,
            "User1",
            &secret(USER_PW),
            t.access_key,
        ))
        .await;
    let before = h.mail_count("kuroda@a.com");
    let challenge = ch.token.expose().to_owned();
    let results = all_at_once(30, |_| {
        let svc = Arc::clone(&svc);
        let challenge = challenge.clone();
        async move { svc.resend_otp(&challenge).await }
    })
    .await;
    // THEN four more codes go out (five in all), and the newest one works
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert_eq!(codes(&results), ["resend_limited"]);
    assert_eq!(h.mail_count("kuroda@a.com") - before, 4);
    let newest = h.otp_code("kuroda@a.com");
    h.svc
        .verify_second_factor(ch.token.expose(), &newest)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn parallel_wrong_codes_lock_once_at_five() {
    // SPEC: L-4, L-6
    // GIVEN User1's login waiting for its code, under the threshold of five
    let h = Harness::new(Policy::kuroneko());
    let t = TenantSpec::kuroneko();
    let admin = h.tenant_with_admin(&t, &secret(ADMIN_PW)).await;
    let temp = h
        .create_user(&admin, "User1", Role::General, "黒田 猫太", "kuroda@a.com")
        .await;
    h.user_first_login(&t, "User1", &temp, "kuroda@a.com", &secret(USER_PW))
        .await;
    let ch = h
        .challenge(Harness::request(
            t.code,
            "User1",
            &secret(USER_PW),
            t.access_key,
        ))
        .await;
    let right = h.otp_code("kuroda@a.com");
    let wrong = secret(if right.expose() == "000000" {
        "111111"
    } else {
        "000000"
    });
    let challenge = ch.token.expose().to_owned();
    // WHEN 40 wrong codes arrive at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(40, |_| {
        let svc = Arc::clone(&svc);
        let (challenge, wrong) = (challenge.clone(), wrong.clone());
        async move { svc.verify_second_factor(&challenge, &wrong).await }
    })
    .await;
    // THEN four are otp_invalid, one locks, the rest find the challenge gone or the lock
    let count = |c: &str| {
        results
            .iter()
            .filter(|r| matches!(r, Err(e) if e.code() == c))
            .count()
    };
    assert_eq!(count("otp_invalid"), 4, "{:?}", codes(&results));
    assert!(count("locked") >= 1);
    assert_eq!(
        count("otp_invalid") + count("locked") + count("challenge_expired"),
        40
    );
    let v = h.view("999999999", "User1").await.unwrap();
    assert!(v.locked);
    assert_eq!(v.failures, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_user_id_registered_at_once_leaves_the_losers_addresses_free() {
    // SPEC: E-5, T-4
    // GIVEN the merchant's admin signed in
    let (h, _, admin) = shop().await;
    let token = admin.token.expose().to_owned();
    // WHEN 50 registrations of one user ID with 50 different addresses arrive at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(50, |i| {
        let svc = Arc::clone(&svc);
        let token = token.clone();
        let input = new_user(
            "Same",
            Role::General,
            "同じ 名前",
            &format!("same{i}@a.com"),
        );
        async move { svc.admin_create_user(&token, &input).await }
    })
    .await;
    // THEN exactly one wins, the others hear user_id_taken
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{:?}",
        codes(&results)
    );
    assert_eq!(codes(&results), ["user_id_taken"]);
    // AND no loser's address stays claimed
    let winner = h.view("999999999", "Same").await.unwrap().email.unwrap();
    for i in 0..50 {
        let email = format!("same{i}@a.com");
        if email == winner {
            continue;
        }
        h.svc
            .admin_create_user(
                &token,
                &new_user(&format!("Free{i}"), Role::General, "自由", &email),
            )
            .await
            .unwrap_or_else(|e| panic!("{email} stayed claimed: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_same_as_admin_user_even_at_once() {
    // SPEC: E-2, E-5
    // GIVEN the merchant's admin signed in, no same-as-admin user yet
    let (h, _, admin) = shop().await;
    let token = admin.token.expose().to_owned();
    // WHEN 50 same-as-admin users are registered at once
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(50, |i| {
        let svc = Arc::clone(&svc);
        let token = token.clone();
        let mut input = new_user(&format!("Same{i}"), Role::General, "", "unused@a.com");
        input.same_as_admin = true;
        input.profile.email = None;
        async move { svc.admin_create_user(&token, &input).await }
    })
    .await;
    // THEN exactly one is created, the others hear same_as_admin_taken
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{:?}",
        codes(&results)
    );
    assert_eq!(codes(&results), ["same_as_admin_taken"]);
    let same: Vec<_> = h
        .users("999999999")
        .await
        .into_iter()
        .filter(|u| u.same_as_admin)
        .collect();
    assert_eq!(same.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_tenant_code_registered_at_once_is_created_once() {
    // SPEC: T-3
    // GIVEN no tenant yet
    let h = Harness::new(Policy::kuroneko());
    // WHEN 50 registrations of tenant 999999999 arrive at once, each with its own admin address
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(50, |i| {
        let svc = Arc::clone(&svc);
        let mut t = TenantSpec::kuroneko().new_tenant();
        t.admin.email = Some(format!("admin{i}@a.com"));
        async move { svc.support_create_tenant(&t).await }
    })
    .await;
    // THEN exactly one tenant with exactly one admin exists
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{:?}",
        codes(&results)
    );
    assert_eq!(codes(&results), ["tenant_exists"]);
    let users = h.users("999999999").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].user_id, "999999999");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_session_changes_the_password_once() {
    // SPEC: L-9, RS-9
    // GIVEN one full session of User1
    let (h, t, _) = shop().await;
    h.advance_secs(601);
    let s = h
        .kuro_login(
            t.code,
            "User1",
            &secret(USER_PW),
            t.access_key,
            "kuroda@a.com",
        )
        .await;
    let token = s.token.expose().to_owned();
    // WHEN 30 changes to 30 different passwords arrive at once on one session
    let svc = Arc::clone(&h.svc);
    let results = all_at_once(30, |i| {
        let svc = Arc::clone(&svc);
        let token = token.clone();
        let new = secret(&format!("Neko{i}race"));
        async move {
            svc.change_password(&token, Some(&secret(USER_PW)), &new, &new)
                .await
                .map(|_| i)
        }
    })
    .await;
    // THEN exactly one wins; the others find their session void
    let winners: Vec<usize> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(winners.len(), 1, "{:?}", codes(&results));
    assert_eq!(codes(&results), ["session_invalid"]);
    // AND the winner's password is the one that works
    h.advance_secs(601);
    h.kuro_login(
        t.code,
        "User1",
        &secret(&format!("Neko{}race", winners[0])),
        t.access_key,
        "kuroda@a.com",
    )
    .await;
}
