//! The abuse limits over HTTP (AB-1..AB-3, AB-6): per-address login throttling with a growing
//! block, support's view of it, recovery-mail limits per account and per address, the client
//! address behind trusted proxies, IPv6 /64 grouping, and limits shared by two routers on one
//! SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use common::{ACCESS_KEY, ADMIN_MAIL, ADMIN_PW, Answer, Harness, Http, TENANT};
use monban_core::mail::MailKind;
use monban_core::memory::{CapturingMailer, ManualClock, SeededRandom};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Timestamp};
use monban_server::extract::Cidr;
use monban_server::{AppState, router};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

fn peer(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 40000)
}

/// A request as `monban serve` hands it to the router: with its socket peer.
async fn from(
    app: &Router,
    ip: &str,
    path: &str,
    body: Value,
    forwarded_for: Option<&str>,
) -> Answer {
    let mut b = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json");
    if let Some(x) = forwarded_for {
        b = b.header("x-forwarded-for", x);
    }
    let mut req = b.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut().insert(ConnectInfo(peer(ip)));
    Http::new(app.clone()).send(req).await
}

fn wrong_login() -> Value {
    json!({"tenant": TENANT, "identifier": "nobody", "password": "Wrong-Pass-123", "access_key": ACCESS_KEY})
}

fn admin_login() -> Value {
    json!({"tenant": TENANT, "identifier": TENANT, "password": ADMIN_PW, "access_key": ACCESS_KEY})
}

fn retry_after(a: &Answer) -> u64 {
    a.headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `n` failed logins from `ip`, each answered 401 `login_failed`.
async fn fail(app: &Router, ip: &str, n: usize) {
    for _ in 0..n {
        from(app, ip, "/login", wrong_login(), None)
            .await
            .expect_error(401, "login_failed");
    }
}

#[tokio::test]
async fn twenty_failures_block_the_address_and_no_other() {
    // SPEC: AB-1
    let h = Harness::kuroneko();
    h.admin_session().await;
    fail(&h.app, "198.51.100.7", 20).await;
    let blocked = from(&h.app, "198.51.100.7", "/login", wrong_login(), None).await;
    blocked.expect_error(429, "throttled");
    assert_eq!(retry_after(&blocked), 600);
    // Even the right password is refused from there, before any password work…
    from(&h.app, "198.51.100.7", "/login", admin_login(), None)
        .await
        .expect_error(429, "throttled");
    // …and the recovery routes too.
    from(
        &h.app,
        "198.51.100.7",
        "/reset",
        json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY}),
        None,
    )
    .await
    .expect_error(429, "throttled");
    // Another address logs in normally: the admin was never locked (L-6 counts per account).
    let ok = from(&h.app, "198.51.100.8", "/login", admin_login(), None).await;
    ok.expect(200);
    assert_eq!(ok.json["next"], "second_factor");
    // The message is a person's, in Japanese when asked.
    let mut req = Request::builder()
        .method("POST")
        .uri("/login")
        .header("content-type", "application/json")
        .header("accept-language", "ja")
        .body(Body::from(wrong_login().to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(peer("198.51.100.7")));
    let ja = h.send(req).await;
    ja.expect_error(429, "throttled");
    assert!(ja.str("message").contains("しばらく"), "{}", ja.json);
    // The audit records the start, with the address.
    let audit = h
        .support("GET", "/support/audit?kind=throttling_started", None)
        .await;
    audit.expect(200);
    let items = audit.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", audit.json);
    assert!(
        items[0]["detail"]
            .as_str()
            .unwrap()
            .contains("198.51.100.7"),
        "{}",
        audit.json
    );
}

#[tokio::test]
async fn the_block_grows_while_it_goes_on() {
    // SPEC: AB-1
    let h = Harness::kuroneko();
    fail(&h.app, "203.0.113.9", 20).await;
    let first = from(&h.app, "203.0.113.9", "/login", wrong_login(), None).await;
    first.expect_error(429, "throttled");
    assert_eq!(retry_after(&first), 600);
    h.clock.advance(601);
    fail(&h.app, "203.0.113.9", 20).await;
    let second = from(&h.app, "203.0.113.9", "/login", wrong_login(), None).await;
    second.expect_error(429, "throttled");
    assert_eq!(retry_after(&second), 1200);
    // Retry-After counts down.
    h.clock.advance(200);
    let later = from(&h.app, "203.0.113.9", "/login", wrong_login(), None).await;
    assert_eq!(retry_after(&later), 1000);
}

#[tokio::test]
async fn support_lists_and_clears_a_blocked_address() {
    // SPEC: AB-1
    let h = Harness::kuroneko();
    fail(&h.app, "192.0.2.44", 20).await;
    let list = h.support("GET", "/support/limits", None).await;
    list.expect(200);
    let items = list.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", list.json);
    assert_eq!(items[0]["address"], "192.0.2.44");
    assert_eq!(items[0]["until"], 1_800_000_000 + 600);
    assert_eq!(items[0]["blocks_today"], 1);
    // GET changes nothing.
    from(&h.app, "192.0.2.44", "/login", wrong_login(), None)
        .await
        .expect_error(429, "throttled");
    let cleared = h
        .support("DELETE", "/support/limits/192.0.2.44", None)
        .await;
    cleared.expect(200);
    assert_eq!(cleared.json["was_blocked"], true);
    // The address may try again (and has a fresh count).
    fail(&h.app, "192.0.2.44", 19).await;
    let list = h.support("GET", "/support/limits", None).await;
    assert!(list.json["items"].as_array().unwrap().is_empty());
    // Not an address: 400, not a 5xx.
    h.support("DELETE", "/support/limits/not-an-address", None)
        .await
        .expect_error(400, "invalid_request");
    // Without the support token: 401.
    h.call("GET", "/support/limits", None, None)
        .await
        .expect_error(401, "unauthorized");
    let audit = h
        .support("GET", "/support/audit?kind=throttling_cleared", None)
        .await;
    assert_eq!(audit.json["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_hundred_reset_requests_mail_three_times_and_answer_alike() {
    // SPEC: AB-2, RS-3
    let h = Harness::kuroneko();
    h.create_tenant().await;
    let known = json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY});
    let unknown = json!({"tenant": TENANT, "user_id": "nobody", "access_key": ACCESS_KEY});
    let mut answers = Vec::new();
    for i in 0..100 {
        // From many addresses, so only the account limit applies.
        let ip = format!("198.18.{}.{}", i / 200, i % 200 + 1);
        answers.push(from(&h.app, &ip, "/reset", known.clone(), None).await);
        let ip = format!("198.19.{}.{}", i / 200, i % 200 + 1);
        answers.push(from(&h.app, &ip, "/reset", unknown.clone(), None).await);
    }
    let first = &answers[0];
    first.expect(202);
    for a in &answers {
        assert_eq!((a.status, &a.bytes), (first.status, &first.bytes));
    }
    h.service.deliver_pending().await.unwrap();
    let mails = h
        .mailer
        .to(ADMIN_MAIL)
        .into_iter()
        .filter(|m| m.kind == MailKind::ResetStarted)
        .count();
    assert_eq!(mails, 3);
    let audit = h
        .support(
            "GET",
            "/support/audit?kind=recovery_mail_suppressed&limit=500",
            None,
        )
        .await;
    // 97 for the known account, 97 for the unknown one: the same work either way.
    assert_eq!(audit.json["items"].as_array().unwrap().len(), 194);
}

#[tokio::test]
async fn the_address_limit_on_recovery_gives_429() {
    // SPEC: AB-2
    let h = Harness::kuroneko();
    h.create_tenant().await;
    for i in 0..10 {
        from(
            &h.app,
            "198.51.100.20",
            "/reset",
            json!({"tenant": TENANT, "user_id": format!("user{i}"), "access_key": ACCESS_KEY}),
            None,
        )
        .await
        .expect(202);
    }
    let over = from(
        &h.app,
        "198.51.100.20",
        "/reset",
        json!({"tenant": TENANT, "user_id": "user99", "access_key": ACCESS_KEY}),
        None,
    )
    .await;
    over.expect_error(429, "throttled");
    assert_eq!(retry_after(&over), 3600);
    // Another address is not affected; nor is login from this one (a separate count).
    from(
        &h.app,
        "198.51.100.21",
        "/reset",
        json!({"tenant": TENANT, "user_id": "user99", "access_key": ACCESS_KEY}),
        None,
    )
    .await
    .expect(202);
    from(&h.app, "198.51.100.20", "/login", wrong_login(), None)
        .await
        .expect_error(401, "login_failed");
    // The window ends: allowed again.
    h.clock.advance(3600);
    from(
        &h.app,
        "198.51.100.20",
        "/reset",
        json!({"tenant": TENANT, "user_id": "user99", "access_key": ACCESS_KEY}),
        None,
    )
    .await
    .expect(202);
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_without_a_trusted_proxy() {
    // SPEC: AB-3
    let h = Harness::kuroneko();
    for i in 0..20 {
        let spoof = format!("6.6.6.{i}");
        from(
            &h.app,
            "198.51.100.30",
            "/login",
            wrong_login(),
            Some(&spoof),
        )
        .await
        .expect_error(401, "login_failed");
    }
    from(
        &h.app,
        "198.51.100.30",
        "/login",
        wrong_login(),
        Some("7.7.7.7"),
    )
    .await
    .expect_error(429, "throttled");
    let list = h.support("GET", "/support/limits", None).await;
    assert_eq!(list.json["items"][0]["address"], "198.51.100.30");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_untrusted_address_counts() {
    // SPEC: AB-3
    let h = Harness::with(Policy::kuroneko().with_test_hashing(), |s| {
        s.trusted_proxies(vec![
            "10.0.0.0/8".parse::<Cidr>().unwrap(),
            "192.0.2.1".parse().unwrap(),
        ])
    });
    for i in 0..20 {
        // The client prepends whatever it likes; the proxies append what they saw.
        let chain = format!("6.6.6.{i}, 203.0.113.50, 10.1.1.1");
        from(&h.app, "192.0.2.1", "/login", wrong_login(), Some(&chain))
            .await
            .expect_error(401, "login_failed");
    }
    from(
        &h.app,
        "192.0.2.1",
        "/login",
        wrong_login(),
        Some("1.1.1.1, 203.0.113.50"),
    )
    .await
    .expect_error(429, "throttled");
    // Another client behind the same proxy is not blocked, nor is the proxy itself.
    from(
        &h.app,
        "192.0.2.1",
        "/login",
        wrong_login(),
        Some("203.0.113.51"),
    )
    .await
    .expect_error(401, "login_failed");
    from(&h.app, "192.0.2.1", "/login", wrong_login(), None)
        .await
        .expect_error(401, "login_failed");
    // A peer that is not a trusted proxy is its own client, whatever it forwards.
    from(
        &h.app,
        "198.51.100.40",
        "/login",
        wrong_login(),
        Some("203.0.113.50"),
    )
    .await
    .expect_error(401, "login_failed");
    let list = h.support("GET", "/support/limits", None).await;
    assert_eq!(list.json["items"][0]["address"], "203.0.113.50");
}

#[tokio::test]
async fn ipv6_addresses_are_counted_per_64() {
    // SPEC: AB-1, AB-3
    let h = Harness::kuroneko();
    for i in 1..=20 {
        let ip = format!("2001:db8:1:2::{i:x}");
        from(&h.app, &ip, "/login", wrong_login(), None)
            .await
            .expect_error(401, "login_failed");
    }
    from(
        &h.app,
        "2001:db8:1:2:ffff::1",
        "/login",
        wrong_login(),
        None,
    )
    .await
    .expect_error(429, "throttled");
    from(&h.app, "2001:db8:1:3::1", "/login", wrong_login(), None)
        .await
        .expect_error(401, "login_failed");
    let list = h.support("GET", "/support/limits", None).await;
    assert_eq!(list.json["items"][0]["address"], "2001:db8:1:2::/64");
    // Support clears it by any address in it (URL-encoded).
    h.support("DELETE", "/support/limits/2001:db8:1:2::9", None)
        .await
        .expect(200);
    from(&h.app, "2001:db8:1:2::1", "/login", wrong_login(), None)
        .await
        .expect_error(401, "login_failed");
}

#[tokio::test]
async fn the_limits_hold_across_two_routers_on_one_sqlite_file() {
    // SPEC: AB-6, AB-1
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    let clock = Arc::new(ManualClock::at(Timestamp(1_800_000_000)));
    let app = |seed: u64| {
        let store = monban_embedded::SqliteStore::open(&path).unwrap();
        let svc = AuthService::new(
            Policy::kuroneko().with_test_hashing(),
            SessionKey::new(vec![7u8; 32]).unwrap(),
            store,
            Arc::new(CapturingMailer::new()),
            Arc::clone(&clock),
            SeededRandom::new(seed),
        )
        .unwrap();
        router(AppState::new(svc, None))
    };
    let (a, b) = (app(1), app(2));
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        from(app, "198.51.100.60", "/login", wrong_login(), None)
            .await
            .expect_error(401, "login_failed");
    }
    for app in [&a, &b] {
        from(app, "198.51.100.60", "/login", wrong_login(), None)
            .await
            .expect_error(429, "throttled");
    }
}
