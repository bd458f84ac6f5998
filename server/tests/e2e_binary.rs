//! The real `monban` binary end to end: `monban serve` on a free port in a fresh folder walks
//! the Kuroneko manual (seed 004) over HTTP, reading the mails from its outbox; the server is
//! stopped with SIGTERM mid-walkthrough and restarted on the same files (state, sessions and
//! the key survive); the operator commands work on the same database while it runs; requests
//! in flight at SIGTERM finish; `--help` works on every command; unsafe key files are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod server;

use monban_core::Policy;
use monban_core::mail::MailKind;
use serde_json::json;
use server::*;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

const TENANT: &str = "999999999";
const ACCESS_KEY: &str = "7777777";
const ADMIN_MAIL: &str = "123@a.com";
const ADMIN_PW: &str = "Kuro2024neko";
const CLERK_MAIL: &str = "clerk@example.com";
const CLERK_PW: &str = "Yamada2024hana";

fn support_token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("monban.support-token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// First factor with `password`, then the mailed code: the session answer.
fn login_with_mail_otp(
    http: &Http,
    outbox: &Path,
    user: &str,
    mail: &str,
    password: &str,
) -> serde_json::Value {
    let a = http.call(
        "POST",
        "/login",
        Some(&json!({"tenant": TENANT, "identifier": user, "password": password, "access_key": ACCESS_KEY})),
        None,
    );
    a.expect(200);
    assert_eq!(a.json["next"], "second_factor", "{}", a.text);
    assert_eq!(a.json["method"], "mail_otp");
    let code = last_mail(outbox, mail, MailKind::Otp);
    let s = http.call(
        "POST",
        "/login/otp",
        Some(&json!({"challenge": a.str("challenge"), "code": code})),
        None,
    );
    s.expect(200);
    s.json
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_kuroneko_manual_against_the_real_binary_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let outbox = dir.join("outbox");
    let serve_args = ["--preset", "kuroneko"];

    // GIVEN a fresh folder, WHEN `monban serve` starts for the first time
    let server = Server::start(dir, &serve_args, 1);
    let http = server.http();
    // THEN it created the database, a 256-bit key and a support token, private to the owner,
    // and told how to create the first tenant.
    let key = std::fs::read_to_string(dir.join("monban.key")).unwrap();
    assert_eq!(key.trim().len(), 64, "256 bits in hex");
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.join("monban.key")), 0o600);
        assert_eq!(mode(&dir.join("monban.support-token")), 0o600);
        assert_eq!(mode(&dir.join("monban.db")), 0o600);
        assert_eq!(mode(&outbox), 0o700);
    }
    let banner = server.stdout();
    // It names exactly what it created [issue: files beside the database].
    for made in [
        "monban.db (database)",
        "monban.key (session key)",
        "monban.support-token (support token)",
        "outbox (mail outbox)",
    ] {
        assert!(banner.contains(made), "{made}: {banner}");
    }
    assert!(banner.contains("No tenant yet"), "{banner}");
    assert!(banner.contains("/support/tenants"), "{banner}");
    assert!(banner.contains("monban tenant create"), "{banner}");
    let support = support_token(dir);
    assert!(
        !banner.contains(&support),
        "the banner never prints the token"
    );

    // The support routes need the token.
    http.call(
        "GET",
        &format!("/support/tenants/{TENANT}/users"),
        None,
        None,
    )
    .expect_error(401, "unauthorized");

    // GIVEN support creates the merchant and its admin (T-1..T-3)
    http.call(
        "POST",
        "/support/tenants",
        Some(
            &json!({"code": TENANT, "name": "黒猫堂", "access_key": ACCESS_KEY, "logistics": true,
            "admin": {"name": "黒猫太郎", "email": ADMIN_MAIL}}),
        ),
        Some(&support),
    )
    .expect(201);

    // WHEN the admin asks for the reset link and opens it (RS-1)
    http.call(
        "POST",
        "/reset",
        Some(&json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
        None,
    )
    .expect(202);
    let link = last_mail(&outbox, ADMIN_MAIL, MailKind::ResetStarted);
    assert!(
        link.starts_with(&format!("{}/reset/", server.base)),
        "the link names this server: {link}"
    );
    // Opening the link changes nothing (RS-1: mail scanners prefetch it); its button POSTs
    // the token to /reset/open.
    let page = http.call("GET", &link, None, None);
    page.expect(200);
    assert_eq!(page.json["status"], "confirm");
    let token = link.rsplit('/').next().unwrap();
    let opened = http.call("POST", "/reset/open", Some(&json!({"token": token})), None);
    opened.expect(200);
    assert_eq!(opened.json["status"], "temporary_password_mailed");
    http.call("POST", "/reset/open", Some(&json!({"token": token})), None)
        .expect_error(410, "reset_link_invalid");
    let temp = last_mail(&outbox, ADMIN_MAIL, MailKind::TemporaryPassword);

    // THEN it logs in with the temporary password and the mailed code (L-1, L-3) into a
    // session that can only change the password (PW-4)
    let s = login_with_mail_otp(&http, &outbox, TENANT, ADMIN_MAIL, &temp);
    assert_eq!(s["scope"], "change_password");
    let limited = s["token"].as_str().unwrap().to_owned();
    http.call("GET", "/admin/users", None, Some(&limited))
        .expect_error(403, "password_change_required");
    let full = http.call(
        "POST",
        "/me/password",
        Some(&json!({"new": ADMIN_PW, "confirm": ADMIN_PW})),
        Some(&limited),
    );
    full.expect(200);
    assert_eq!(full.json["scope"], "full");
    let admin = full.str("token");

    // WHEN the admin creates a general user (LC-2)
    http.call(
        "POST",
        "/admin/users",
        Some(&json!({"user_id": "clerk01", "role": "general",
            "profile": {"name": "山田花子", "email": CLERK_MAIL}})),
        Some(&admin),
    )
    .expect(201);
    let clerk_temp = last_mail(&outbox, CLERK_MAIL, MailKind::UserRegistered);

    // AND the server is stopped with SIGTERM mid-walkthrough
    let status = server.stop();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    let log = std::fs::read_to_string(dir.join("serve-1.err")).unwrap();
    assert!(log.contains("SIGTERM") && log.contains("stopped"), "{log}");
    for secret in [&support, &temp, &clerk_temp, &admin, &link] {
        assert!(!log.contains(secret.as_str()), "the log holds no secret");
    }
    http.try_health_is_down();

    // THEN it starts again on the same files (on another port) and nothing was lost
    let server = Server::start(dir, &serve_args, 2);
    let http = server.http();
    let banner = server.stdout();
    assert!(
        !banner.contains("created"),
        "nothing new on a restart: {banner}"
    );
    assert!(!banner.contains("No tenant yet"), "{banner}");
    assert_eq!(
        std::fs::read_to_string(dir.join("monban.key")).unwrap(),
        key,
        "the key is kept"
    );
    // The admin's session still works: the key survived (L-9).
    let me = http.call("GET", "/me", None, Some(&admin));
    me.expect(200);
    assert_eq!(me.json["user_id"], TENANT);
    let l = http.call("GET", "/admin/users", None, Some(&admin));
    l.expect(200);
    let ids: Vec<&str> = l.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [TENANT, "clerk01"]);

    // WHEN the general user logs in for the first time and changes its password
    let s = login_with_mail_otp(&http, &outbox, "clerk01", CLERK_MAIL, &clerk_temp);
    assert_eq!(s["scope"], "change_password");
    let clerk = http.call(
        "POST",
        "/me/password",
        Some(&json!({"new": CLERK_PW, "confirm": CLERK_PW})),
        Some(s["token"].as_str().unwrap()),
    );
    clerk.expect(200);
    let clerk = clerk.str("token");
    // THEN it has the business menus (R-2)
    let p = http.call("GET", "/me/permissions/business_menus", None, Some(&clerk));
    assert_eq!(p.json, json!({"allowed": true}));

    // SPEC: L-6 — five wrong passwords lock it; the right one then hears `locked`
    for _ in 0..5 {
        http.call(
            "POST",
            "/login",
            Some(&json!({"tenant": TENANT, "identifier": "clerk01", "password": "Wrong2024pass", "access_key": ACCESS_KEY})),
            None,
        )
        .expect_error(401, "login_failed");
    }
    let right = json!({"tenant": TENANT, "identifier": "clerk01", "password": CLERK_PW, "access_key": ACCESS_KEY});
    http.call("POST", "/login", Some(&right), None)
        .expect_error(423, "locked");

    // The operator commands, on the same database while the server runs
    let k = ["--preset", "kuroneko"];
    let users = json_lines(&monban_ok(
        dir,
        &[&["user", "list", "--tenant", TENANT][..], &k].concat(),
    ));
    assert_eq!(users.len(), 2);
    let clerk_row = users.iter().find(|u| u["user_id"] == "clerk01").unwrap();
    assert_eq!(clerk_row["locked"], true);
    assert_eq!(clerk_row["role"], "general");
    // SPEC: A-1 — the failures are in the audit log, filterable by tenant, user and kind.
    let failed = json_lines(&monban_ok(
        dir,
        &[
            "audit",
            "--tenant",
            TENANT,
            "--user",
            "clerk01",
            "--kind",
            "login_failed",
        ],
    ));
    assert!(failed.len() >= 5, "{failed:?}");
    assert!(failed.iter().all(|e| e["kind"] == "login_failed"
        && e["tenant"] == TENANT
        && e["subject"] == "clerk01"));
    let two = json_lines(&monban_ok(dir, &["audit", "--limit", "2"]));
    assert_eq!(two.len(), 2);
    let locked = json_lines(&monban_ok(dir, &["audit", "--kind", "locked"]));
    assert_eq!(locked.len(), 1);
    // R-4: support unlocks it from the command line; the server sees it at once.
    let out = monban_ok(
        dir,
        &[
            &["user", "unlock", "--tenant", TENANT, "--user", "clerk01"][..],
            &k,
        ]
        .concat(),
    );
    assert!(out.contains("unlocked"), "{out}");
    let a = http.call("POST", "/login", Some(&right), None);
    a.expect(200);
    assert_eq!(a.json["next"], "second_factor");
    let unlocked = json_lines(&monban_ok(dir, &["audit", "--kind", "unlocked"]));
    assert!(
        unlocked.iter().any(|e| e["actor"] == "support"),
        "{unlocked:?}"
    );
    // `mail last` reads the same code the test read.
    let code = monban_ok(dir, &["mail", "last", "--to", CLERK_MAIL, "--kind", "otp"]);
    assert_eq!(code.trim(), last_mail(&outbox, CLERK_MAIL, MailKind::Otp));
    assert_eq!(code.trim().len(), 6);
    // LC-1: nobody is dormant yet; the sweep scans both and deletes none.
    let out = monban(dir, &[&["sweep"][..], &k].concat());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "one line per user deleted"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2 users scanned; 0 deleted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // T-1..T-3: a tenant made on the command line (access key from a variable) is served.
    let out = command(dir)
        .args([
            "tenant",
            "create",
            "--preset",
            "kuroneko",
            "--code",
            "888888888",
            "--name",
            "白猫堂",
            "--admin-name",
            "白猫次郎",
            "--admin-email",
            "456@b.com",
            "--access-key-env",
            "MONBAN_TEST_ACCESS_KEY",
            "--welcome-mail",
        ])
        .env("MONBAN_TEST_ACCESS_KEY", "8888888")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        created,
        json!({"tenant": "888888888", "user_id": "888888888"})
    );
    let l = http.call(
        "GET",
        "/support/tenants/888888888/users",
        None,
        Some(&support),
    );
    l.expect(200);
    assert_eq!(l.json["items"][0]["user_id"], "888888888");
    // LC-2: its admin got a temporary password and logs in with it and the access key.
    let welcome = last_mail(&outbox, "456@b.com", MailKind::UserRegistered);
    let a = http.call(
        "POST",
        "/login",
        Some(&json!({"tenant": "888888888", "identifier": "888888888", "password": welcome, "access_key": "8888888"})),
        None,
    );
    a.expect(200);
    // The same code is refused: `tenant_exists`, exit 1.
    let again = monban(
        dir,
        &[
            "tenant",
            "create",
            "--code",
            "888888888",
            "--name",
            "x",
            "--admin-name",
            "y",
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("tenant_exists"));
    // Without --preset the operator applies the rules the server recorded (Kuroneko: a tenant
    // code is 9 half-width digits), not the default preset, which would accept "abc".
    // SPEC: T-1
    let short = monban(
        dir,
        &[
            "tenant",
            "create",
            "--code",
            "abc",
            "--name",
            "x",
            "--admin-name",
            "y",
        ],
    );
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("invalid_input"));

    let status = server.stop();
    assert!(status.success(), "{status}");
}

trait HealthDown {
    fn try_health_is_down(&self);
}

impl HealthDown for Http {
    /// After a stop nothing answers on the old port.
    fn try_health_is_down(&self) {
        let addr = self.base.trim_start_matches("http://");
        assert!(
            std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1))
                .is_err(),
            "the server still listens on {addr}"
        );
    }
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let outbox = dir.join("outbox");
    let policy = dir.join("policy.json");
    std::fs::write(&policy, Policy::kuroneko().with_test_hashing().to_json()).unwrap();
    let policy = policy.to_str().unwrap().to_owned();
    let mut server = Server::start(dir, &["--policy", &policy], 1);
    monban_ok(
        dir,
        &[
            "tenant",
            "create",
            "--policy",
            &policy,
            "--code",
            TENANT,
            "--name",
            "黒猫堂",
            "--admin-name",
            "黒猫太郎",
            "--admin-email",
            ADMIN_MAIL,
            "--access-key",
            ACCESS_KEY,
        ],
    );

    // GIVEN a reset request whose headers have arrived but whose body has not
    let body = json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        conn,
        "POST /reset HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // WHEN SIGTERM arrives
    server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    // THEN the server waits for the request, which completes normally
    assert!(
        server.running(),
        "the server waits for the request in flight"
    );
    conn.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(answer.contains(r#"{"status":"accepted"}"#), "{answer}");
    let status = server.wait();
    assert!(status.success(), "{status}");

    // AND what it did is stored: the mail is in the outbox and the event in the audit log
    assert_eq!(count_mails(&outbox, ADMIN_MAIL, MailKind::ResetStarted), 1);
    let requested = json_lines(&monban_ok(
        dir,
        &["audit", "--kind", "reset_requested", "--user", TENANT],
    ));
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(requested[0]["outcome"], "success");
}

#[test]
fn a_policy_file_and_a_public_url_shape_the_reset_link() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("policy.json"),
        Policy::kuroneko().with_test_hashing().to_json(),
    )
    .unwrap();
    let server = Server::start(
        dir,
        &[
            "--policy",
            "policy.json",
            "--public-url",
            "https://auth.example.com/",
            "--db",
            "data.db",
            "--outbox",
            "mails",
            "--support-token-file",
            "support.token",
            "--key-file",
            "session.key",
        ],
        1,
    );
    assert!(dir.join("data.db").is_file());
    assert!(dir.join("session.key").is_file());
    let support = std::fs::read_to_string(dir.join("support.token")).unwrap();
    let http = server.http();
    http.call(
        "POST",
        "/support/tenants",
        Some(&json!({"code": TENANT, "name": "黒猫堂", "admin": {"name": "黒猫太郎", "email": ADMIN_MAIL}})),
        Some(support.trim()),
    )
    .expect(201);
    http.call(
        "POST",
        "/reset",
        Some(&json!({"tenant": TENANT, "user_id": TENANT})),
        None,
    )
    .expect(202);
    settle_db(&dir.join("data.db"));
    let link = last_mail(&dir.join("mails"), ADMIN_MAIL, MailKind::ResetStarted);
    assert!(
        link.starts_with("https://auth.example.com/reset/"),
        "{link}"
    );
    // The link's token works against this server (its page's button POSTs it, RS-1).
    let token = link.rsplit('/').next().unwrap();
    http.call("GET", &format!("/reset/{token}"), None, None)
        .expect(200);
    http.call("POST", "/reset/open", Some(&json!({"token": token})), None)
        .expect(200);
    assert!(server.stop().success());
}

#[test]
fn every_command_answers_help() {
    let tmp = tempfile::tempdir().unwrap();
    for cmd in [
        &[][..],
        &["serve"],
        &["tenant"],
        &["tenant", "create"],
        &["tenant", "list"],
        &["tenant", "show"],
        &["tenant", "update"],
        &["tenant", "delete"],
        &["user"],
        &["user", "list"],
        &["user", "unlock"],
        &["user", "show"],
        &["user", "create"],
        &["user", "delete"],
        &["user", "reset-password"],
        &["user", "end-sessions"],
        &["sweep"],
        &["audit"],
        &["rekey"],
        &["mail"],
        &["mail", "last"],
        &["mail", "list"],
        &["limits"],
        &["limits", "list"],
        &["limits", "clear"],
    ] {
        let out = monban(tmp.path(), &[cmd, &["--help"]].concat());
        assert!(
            out.status.success(),
            "monban {cmd:?} --help: {}",
            out.status
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Usage: monban"), "{cmd:?}: {text}");
    }
    let out = monban(tmp.path(), &["--version"]);
    assert!(out.status.success());
    // A usage error exits 2 and creates nothing.
    let out = monban(tmp.path(), &["serve", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = monban(
        tmp.path(),
        &["serve", "--preset", "kuroneko", "--policy", "p.json"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a preset or a policy file, not both"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn operator_commands_need_an_existing_database() {
    let tmp = tempfile::tempdir().unwrap();
    let out = monban(tmp.path(), &["user", "list", "--tenant", TENANT]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("monban serve"));
    assert!(
        !tmp.path().join("monban.db").exists(),
        "nothing was created"
    );
    let out = monban(tmp.path(), &["mail", "last", "--to", ADMIN_MAIL]);
    assert_eq!(out.status.code(), Some(1), "no mail is an error");
}

#[cfg(unix)]
#[test]
fn an_unsafe_or_malformed_key_file_stops_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let key = dir.join("monban.key");
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");

    // A key that others may read may have leaked: refused.
    std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = monban(dir, &["serve", "--listen", &listen]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    // The operator commands refuse it too.
    let out = monban(dir, &["sweep"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));

    // A malformed key is refused, never replaced.
    std::fs::write(&key, "not a key\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = monban(dir, &["serve", "--listen", &listen]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed"));
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "not a key\n");

    // So is a support token others may read.
    std::fs::write(&key, format!("{}\n", "cd".repeat(32))).unwrap();
    let token = dir.join("monban.support-token");
    std::fs::write(&token, "t".repeat(40)).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o604)).unwrap();
    let out = monban(dir, &["serve", "--listen", &listen]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("support token"));
}

#[test]
fn the_binary_throttles_by_socket_peer_and_the_operator_clears_it() {
    // SPEC: AB-1, AB-3 — `monban serve` passes each connection's peer to the router; the
    // operator lists and clears the block with `monban limits` on the same database.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("policy.json"),
        Policy::kuroneko().with_test_hashing().to_json(),
    )
    .unwrap();
    let server = Server::start(dir, &["--policy", "policy.json"], 1);
    let http = server.http();
    let wrong = json!({"tenant": TENANT, "identifier": "nobody", "password": "Wrong-Pass-1", "access_key": ACCESS_KEY});
    for _ in 0..20 {
        http.call("POST", "/login", Some(&wrong), None)
            .expect_error(401, "login_failed");
    }
    http.call("POST", "/login", Some(&wrong), None)
        .expect_error(429, "throttled");
    let blocks = json_lines(&monban_ok(dir, &["limits", "list"]));
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert_eq!(blocks[0]["address"], "127.0.0.1");
    assert_eq!(blocks[0]["blocks_today"], 1);
    let out = monban_ok(dir, &["limits", "clear", "127.0.0.1"]);
    assert!(out.contains("block cleared"), "{out}");
    http.call("POST", "/login", Some(&wrong), None)
        .expect_error(401, "login_failed");
    assert!(json_lines(&monban_ok(dir, &["limits", "list"])).is_empty());
    // Not an address: a clear message, exit code 1, nothing changed.
    let bad = monban(dir, &["limits", "clear", "not-an-address"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an address"));
    assert!(server.stop().success());
}
