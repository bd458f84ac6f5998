//! The outbox of the real `monban serve` (M-4): a mail committed but not yet delivered when
//! the process is killed (`kill -9`) goes out once after a restart; the operator sees it with
//! `monban mail queue` and puts it back with `--retry`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod server;

use monban_core::mail::MailKind;
use serde_json::{Value, json};
use server::*;
use std::path::Path;
use std::time::{Duration, Instant};

const TENANT: &str = "999999999";
const ACCESS_KEY: &str = "7777777";
const ADMIN_MAIL: &str = "123@a.com";

/// `monban mail queue` on `dir`'s database: its JSON lines. (Its own outbox folder is another
/// one: the server's is broken on purpose below, and listing the queue sends nothing.)
fn queue(dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "mail",
        "queue",
        "--preset",
        "kuroneko",
        "--outbox",
        "cli-outbox",
    ];
    args.extend_from_slice(extra);
    json_lines(&monban_ok(dir, &args))
}

/// Waits (at most 20 s) until `done` holds; polls a condition, not a guess at a duration.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_mail_queued_when_the_server_is_killed_goes_out_once_after_the_restart() {
    // SPEC: M-4, A-2
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let outbox = dir.join("outbox");
    let server = Server::start(dir, &["--preset", "kuroneko"], 1);
    let support = std::fs::read_to_string(dir.join("monban.support-token")).unwrap();
    server
        .http()
        .call(
            "POST",
            "/support/tenants",
            Some(
                &json!({"code": TENANT, "name": "黒猫堂", "access_key": ACCESS_KEY,
                "admin": {"name": "黒猫太郎", "email": ADMIN_MAIL}}),
            ),
            Some(support.trim()),
        )
        .expect(201);

    // GIVEN the mail folder cannot be written (a file stands where the folder was)
    let aside = dir.join("outbox.aside");
    std::fs::rename(&outbox, &aside).unwrap();
    std::fs::write(&outbox, b"not a folder").unwrap();
    // WHEN a reset is asked for: the request is answered, the state and its mail are stored
    server
        .http()
        .call(
            "POST",
            "/reset",
            Some(&json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
            None,
        )
        .expect(202);
    // AND the courier's attempt fails, which the operator sees (no content, no recipient)
    until("a failed attempt in the queue", || {
        queue(dir, &["--state", "pending"])
            .iter()
            .any(|e| e["kind"] == "reset_started" && e["attempts"].as_u64() >= Some(1))
    });
    let entries = queue(dir, &[]);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(!format!("{entries:?}").contains(ADMIN_MAIL));
    let id = entries[0]["id"].as_str().unwrap().to_owned();
    // AND the process is killed before the mail is delivered
    drop(server); // SIGKILL
    // WHEN the folder is back, the operator puts the mail back in the queue and the server
    // starts again
    std::fs::remove_file(&outbox).unwrap();
    std::fs::rename(&aside, &outbox).unwrap();
    let retried = queue(dir, &["--retry", &id]);
    assert_eq!(retried[0]["state"], "pending");
    assert_eq!(retried[0]["attempts"], 0);
    let _server = Server::start(dir, &["--preset", "kuroneko"], 2);
    // THEN the mail goes out, once, and the queue is empty
    until("the reset mail in the outbox", || {
        count_mails(&outbox, ADMIN_MAIL, MailKind::ResetStarted) >= 1
    });
    until("an empty queue", || queue(dir, &[]).is_empty());
    assert_eq!(count_mails(&outbox, ADMIN_MAIL, MailKind::ResetStarted), 1);
    let link = last_mail(&outbox, ADMIN_MAIL, MailKind::ResetStarted);
    assert!(link.contains("/reset/"), "{link}");
    // AND the audit names the retry
    let retries = json_lines(&monban_ok(
        dir,
        &[
            "audit",
            "--kind",
            "delivery_retried",
            "--preset",
            "kuroneko",
        ],
    ));
    assert_eq!(retries.len(), 1, "{retries:?}");
}
