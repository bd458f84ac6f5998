//! The outbox over HTTP (M-4, A-2, RS-3): requests never wait for the mail server; a mail
//! server that fails leaves the mail queued, retried with back-off, then marked failed,
//! audited and shown to support, who puts it back; nothing is lost or sent twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use monban_core::mail::MailKind;
use serde_json::json;

fn reset_body() -> serde_json::Value {
    json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})
}

fn reset_mails(h: &Harness) -> usize {
    h.mailer
        .to(ADMIN_MAIL)
        .iter()
        .filter(|m| m.kind == MailKind::ResetStarted)
        .count()
}

#[tokio::test]
async fn a_mail_server_that_fails_delays_the_mail_and_support_sees_and_retries_it() {
    // SPEC: M-4, A-1, A-2
    let h = Harness::kuroneko();
    h.create_tenant().await;
    // GIVEN a mail server that refuses every mail
    h.mailer.set_failing(true);
    // WHEN a reset is asked for THEN the request is answered as always
    h.call("POST", "/reset", Some(reset_body()), None)
        .await
        .expect(202);
    // AND the mail waits in the queue with the mail server's answer, nothing about the mail
    let a = h.support("GET", "/support/mail?state=pending", None).await;
    a.expect(200);
    let items = a.json["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", a.json);
    let entry = &items[0];
    assert_eq!(entry["kind"], "reset_started");
    assert_eq!(entry["tenant"], TENANT);
    assert!(entry["attempts"].as_u64().unwrap() >= 1);
    assert!(
        entry["last_error"]
            .as_str()
            .unwrap()
            .contains("told to fail")
    );
    let text = a.json.to_string();
    assert!(
        !text.contains(ADMIN_MAIL) && !text.contains("/reset/"),
        "{text}"
    );
    let id = entry["id"].as_str().unwrap().to_owned();
    // WHEN the mail server stays down through every attempt (the courier backs off between)
    for _ in 0..12 {
        h.clock.advance(3600);
        h.support("GET", "/support/mail", None).await.expect(200);
    }
    // THEN the mail is marked failed, kept, and the audit names it
    let failed = h.support("GET", "/support/mail?state=failed", None).await;
    assert_eq!(
        failed.json["items"][0]["id"],
        id.as_str(),
        "{}",
        failed.json
    );
    assert_eq!(failed.json["items"][0]["attempts"], 10);
    let pending = h.support("GET", "/support/mail?state=pending", None).await;
    assert_eq!(pending.json["items"], json!([]));
    let audit = h
        .support("GET", "/support/audit?kind=delivery_failed", None)
        .await;
    let events = audit.json["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", audit.json);
    assert!(events[0]["detail"].as_str().unwrap().contains(&id));
    assert_eq!(reset_mails(&h), 0);
    // WHEN the mail server is back and support puts the mail back
    h.mailer.set_failing(false);
    let r = h
        .support("POST", &format!("/support/mail/{id}/retry"), None)
        .await;
    r.expect(200);
    assert_eq!(r.json["state"], "pending");
    // THEN it goes out once, and the queue is empty
    assert_eq!(reset_mails(&h), 1);
    assert_eq!(h.last_mail(ADMIN_MAIL).id, id);
    let all = h.support("GET", "/support/mail", None).await;
    assert_eq!(all.json["items"], json!([]));
    let retried = h
        .support("GET", "/support/audit?kind=delivery_retried", None)
        .await;
    assert_eq!(retried.json["items"].as_array().unwrap().len(), 1);
    // AND a delivered (or unknown) entry cannot be retried; a malformed ID is refused
    h.support("POST", &format!("/support/mail/{id}/retry"), None)
        .await
        .expect_error(404, "not_found");
    h.support("POST", "/support/mail/nope/retry", None)
        .await
        .expect_error(400, "invalid_request");
    h.support("GET", "/support/mail?state=sent", None)
        .await
        .expect_error(400, "invalid_request");
    h.call("GET", "/support/mail", None, None)
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn a_mail_server_down_for_a_while_loses_and_doubles_nothing() {
    // SPEC: M-4
    let h = Harness::kuroneko();
    h.create_tenant().await;
    h.mailer.set_failing(true);
    // GIVEN ten resets asked for while the mail server is down
    for _ in 0..10 {
        h.call("POST", "/reset", Some(reset_body()), None)
            .await
            .expect(202);
    }
    assert_eq!(reset_mails(&h), 0);
    // WHEN it comes back and the back-off has passed
    h.mailer.set_failing(false);
    h.clock.advance(60);
    h.support("GET", "/support/mail", None).await.expect(200);
    // THEN every mail went out once: the account's limit (3 an hour, AB-2) let three through
    assert_eq!(reset_mails(&h), 3);
    let ids: std::collections::BTreeSet<String> =
        h.mailer.mails().iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids.len(), h.mailer.mails().len(), "no mail twice");
    assert_eq!(
        h.support("GET", "/support/mail", None).await.json["items"],
        json!([])
    );
}
