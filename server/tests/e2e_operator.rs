//! The operator commands of the real `monban` binary on the database a running `monban serve`
//! uses: tenants listed, shown, changed and deleted (T-1); users shown, created, deleted,
//! re-initialized and signed out (LC-2, LC-3, RS-8, S-4); the sweep's dry run (LC-1); audit
//! times in RFC 3339. The server sees every change at once; no command prints an access key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod server;

use monban_core::Policy;
use monban_core::mail::MailKind;
use monban_core::model::{UserRef, Write};
use monban_core::ports::Store;
use serde_json::json;
use server::*;
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;

const TENANT: &str = "999999999";
const OTHER: &str = "888888888";
const KEY: &str = "7777777";
const NEW_KEY: &str = "2468024";
const CLERK_MAIL: &str = "clerk@example.com";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a command that must fail with exit 1; its standard error.
#[track_caller]
fn monban_fails(dir: &Path, args: &[&str]) -> String {
    let out = monban(dir, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "monban {args:?}: {}",
        stdout(&out)
    );
    stderr(&out)
}

/// Runs `monban <args>` with `input` on standard input.
fn monban_stdin(dir: &Path, args: &[&str], input: &str) -> std::process::Output {
    let mut child = command(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Moves a user's creation and last login (and so its dormancy) `days` into the past, as time would.
fn backdate(dir: &Path, tenant: &str, user: &str, days: i64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = monban_embedded::SqliteStore::open(dir.join("monban.db")).unwrap();
        let mut u = store
            .user(&UserRef::new(tenant, user))
            .await
            .unwrap()
            .unwrap();
        u.created_at = u.created_at.plus_days(-days);
        u.password.set_at = u.password.set_at.plus_days(-days);
        u.last_login_at = u.last_login_at.map(|t| t.plus_days(-days));
        store
            .commit(vec![Write::PutUser(Box::new(u))])
            .await
            .unwrap();
    });
}

#[test]
fn operators_manage_tenants_and_users_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let outbox = dir.join("outbox");
    let policy = dir.join("policy.json");
    std::fs::write(&policy, Policy::kuroneko().with_test_hashing().to_json()).unwrap();
    let policy = policy.to_str().unwrap().to_owned();
    let server = Server::start(dir, &["--policy", &policy], 1);
    let http = server.http();
    let support = std::fs::read_to_string(dir.join("monban.support-token"))
        .unwrap()
        .trim()
        .to_owned();

    // GIVEN two tenants made on the command line (the access key from a variable)
    for (code, mail) in [(TENANT, "123@a.com"), (OTHER, "456@b.com")] {
        let out = command(dir)
            .args([
                "tenant",
                "create",
                "--code",
                code,
                "--name",
                "黒猫堂",
                "--admin-name",
                "黒猫太郎",
                "--admin-email",
                mail,
                "--access-key-env",
                "MONBAN_TEST_KEY",
                "--logistics",
            ])
            .env("MONBAN_TEST_KEY", KEY)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }

    // SPEC: T-1 — list, by code, one JSON line each; never the access key.
    let out = monban(dir, &["tenant", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(KEY) && !stderr(&out).contains(KEY));
    let list = json_lines(&stdout(&out));
    let codes: Vec<&str> = list.iter().map(|t| t["code"].as_str().unwrap()).collect();
    assert_eq!(codes, [OTHER, TENANT]);
    assert_eq!(list[1]["access_key_set"], true);
    assert_eq!(list[1]["contract_number"], "9999999");
    assert!(list[1].get("access_key").is_none());
    let one = json_lines(&monban_ok(dir, &["tenant", "list", "--limit", "1"]));
    assert_eq!(one.len(), 1);
    let after = json_lines(&monban_ok(dir, &["tenant", "list", "--after", OTHER]));
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["code"], TENANT);
    let shown = json_lines(&monban_ok(dir, &["tenant", "show", TENANT]));
    assert_eq!(shown, [list[1].clone()]);
    assert!(monban_fails(dir, &["tenant", "show", "111111111"]).contains("no tenant"));

    // SPEC: T-1, T-2 — change name, corporate number, language and (from stdin) the key.
    let out = monban_stdin(
        dir,
        &[
            "tenant",
            "update",
            TENANT,
            "--name",
            "黒猫本舗",
            "--corporate-number",
            "9234567890123",
            "--lang",
            "en",
            "--access-key-stdin",
        ],
        &format!("{NEW_KEY}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(NEW_KEY) && !stderr(&out).contains(NEW_KEY));
    let t = &json_lines(&stdout(&out))[0];
    assert_eq!(t["name"], "黒猫本舗");
    assert_eq!(t["corporate_number"], "9234567890123");
    assert_eq!(t["lang"], "en");
    // The server sees it at once.
    let g = http.call(
        "GET",
        &format!("/support/tenants/{TENANT}"),
        None,
        Some(&support),
    );
    g.expect(200);
    assert_eq!(g.json["name"], "黒猫本舗");
    // Checked as at creation; the error says which rule failed; nothing changes.
    let e = monban_fails(
        dir,
        &[
            "tenant",
            "update",
            TENANT,
            "--corporate-number",
            "1234567890123",
        ],
    );
    assert!(
        e.contains("invalid_input") || e.contains("corporate"),
        "{e}"
    );
    let e = monban_fails(dir, &["tenant", "update", TENANT, "--access-key", "123"]);
    assert!(!e.contains("123\""), "{e}");
    assert!(monban_fails(dir, &["tenant", "update", TENANT]).contains("nothing to change"));
    assert!(
        monban_fails(dir, &["tenant", "update", "111111111", "--name", "x"]).contains("no tenant")
    );
    let out = monban(dir, &["tenant", "update", TENANT, "--logistics", "maybe"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert_eq!(
        json_lines(&monban_ok(dir, &["tenant", "show", TENANT]))[0]["corporate_number"],
        "9234567890123"
    );

    // SPEC: LC-2 — support creates a user; its temporary password is mailed, not printed.
    let out = monban(
        dir,
        &[
            "user",
            "create",
            TENANT,
            "clerk01",
            "--name",
            "山田花子",
            "--email",
            CLERK_MAIL,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json_lines(&stdout(&out)),
        [json!({"tenant": TENANT, "user_id": "clerk01"})]
    );
    let temp = last_mail(&outbox, CLERK_MAIL, MailKind::UserRegistered);
    assert!(!stdout(&out).contains(&temp) && !stderr(&out).contains(&temp));
    // The same rules as the admin's: a taken ID, a shipping user needs logistics (it is on).
    assert!(
        monban_fails(
            dir,
            &[
                "user", "create", TENANT, "clerk01", "--name", "x", "--email", "x@a.com"
            ]
        )
        .contains("user_id_taken")
    );
    let shown = json_lines(&monban_ok(dir, &["user", "show", TENANT, "clerk01"]));
    assert_eq!(shown[0]["role"], "general");
    assert_eq!(shown[0]["has_temporary_password"], true);
    assert!(monban_fails(dir, &["user", "show", TENANT, "nobody"]).contains("no user"));

    // SPEC: S-4 — the user signs in (with the new access key); support ends its sessions.
    let a = http.call(
        "POST",
        "/login",
        Some(&json!({"tenant": TENANT, "identifier": "clerk01", "password": temp, "access_key": NEW_KEY})),
        None,
    );
    a.expect(200);
    let code = last_mail(&outbox, CLERK_MAIL, MailKind::Otp);
    let s = http.call(
        "POST",
        "/login/otp",
        Some(&json!({"challenge": a.str("challenge"), "code": code})),
        None,
    );
    s.expect(200);
    let token = s.str("token");
    http.call("GET", "/me", None, Some(&token)).expect(200);
    let ended = json_lines(&monban_ok(
        dir,
        &["user", "end-sessions", TENANT, "clerk01"],
    ));
    assert_eq!(ended[0]["sessions_ended"], true);
    http.call("GET", "/me", None, Some(&token))
        .expect_error(401, "session_invalid");

    // SPEC: RS-8 — a new temporary password, mailed.
    let before = count_mails(&outbox, CLERK_MAIL, MailKind::TemporaryPassword);
    let r = json_lines(&monban_ok(
        dir,
        &["user", "reset-password", TENANT, "clerk01"],
    ));
    assert_eq!(r, [json!({"mailed": true})]);
    assert_eq!(
        count_mails(&outbox, CLERK_MAIL, MailKind::TemporaryPassword),
        before + 1
    );

    // SPEC: LC-1 — the sweep's dry run lists the dormant user and deletes nothing.
    backdate(dir, TENANT, "clerk01", 100);
    let out = monban(dir, &["sweep", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json_lines(&stdout(&out)),
        [json!({"tenant": TENANT, "user_id": "clerk01", "action": "would_delete"})]
    );
    assert!(stderr(&out).contains("dry run"), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains('\r'),
        "no progress line when stderr is not a terminal"
    );
    // (a dormant user is as good as deleted, so it is shown again once it is not dormant)
    backdate(dir, TENANT, "clerk01", -100);
    monban_ok(dir, &["user", "show", TENANT, "clerk01"]);

    // SPEC: LC-3 — delete needs --yes; the admin goes only with its tenant.
    let e = monban_fails(dir, &["user", "delete", TENANT, "clerk01"]);
    assert!(e.contains("--yes"), "{e}");
    monban_ok(dir, &["user", "show", TENANT, "clerk01"]);
    let e = monban_fails(dir, &["user", "delete", TENANT, TENANT, "--yes"]);
    assert!(e.contains("tenant delete"), "{e}");
    let d = json_lines(&monban_ok(
        dir,
        &["user", "delete", TENANT, "clerk01", "--yes"],
    ));
    assert_eq!(d[0]["deleted"], true);
    monban_fails(dir, &["user", "show", TENANT, "clerk01"]);
    monban_ok(
        dir,
        &[
            "user",
            "create",
            TENANT,
            "clerk01",
            "--name",
            "再登録",
            "--email",
            CLERK_MAIL,
        ],
    );

    // SPEC: T-1 — a tenant goes with its users; needs --yes; its addresses are free again.
    let e = monban_fails(dir, &["tenant", "delete", TENANT]);
    assert!(e.contains("--yes"), "{e}");
    let d = json_lines(&monban_ok(dir, &["tenant", "delete", TENANT, "--yes"]));
    assert_eq!(d, [json!({"tenant": TENANT, "deleted": true})]);
    http.call(
        "GET",
        &format!("/support/tenants/{TENANT}"),
        None,
        Some(&support),
    )
    .expect_error(404, "not_found");
    assert!(monban_fails(dir, &["tenant", "delete", TENANT, "--yes"]).contains("no tenant"));
    let left = json_lines(&monban_ok(dir, &["tenant", "list"]));
    assert_eq!(left.len(), 1);
    monban_ok(
        dir,
        &[
            "tenant",
            "create",
            "--code",
            "777777777",
            "--name",
            "新しい店",
            "--admin-name",
            "山田花子",
            "--admin-email",
            CLERK_MAIL,
        ],
    );

    // SPEC: A-1 — the audit log has it all, with RFC 3339 UTC times, and no key.
    let out = monban_ok(dir, &["audit", "--tenant", TENANT]);
    assert!(!out.contains(KEY) && !out.contains(NEW_KEY));
    let events = json_lines(&out);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in [
        "tenant_edited",
        "user_created",
        "logged_out",
        "user_deleted",
        "tenant_deleted",
    ] {
        assert!(kinds.contains(&k), "{k}: {kinds:?}");
    }
    for e in &events {
        let at = e["at"].as_str().unwrap_or_else(|| panic!("{e}"));
        assert_eq!(at.len(), 20, "{at}");
        assert!(at.ends_with('Z') && at.as_bytes()[10] == b'T', "{at}");
    }

    let status = server.stop();
    assert!(status.success(), "{status}");
}
