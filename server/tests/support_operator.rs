//! The support API's operator routes over HTTP (Kuroneko policy, memory store): tenants listed,
//! read, changed and deleted with their users (T-1); users read, created, deleted and signed
//! out (LC-2, LC-3, S-4); audit times in RFC 3339.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use monban_core::mail::MailKind;
use serde_json::json;

fn text(a: &Answer) -> String {
    String::from_utf8_lossy(&a.bytes).into_owned()
}

fn tenant_body(code: &str, email: &str) -> serde_json::Value {
    json!({
        "code": code, "name": format!("店{code}"), "access_key": ACCESS_KEY,
        "admin": {"name": "店長", "email": email}
    })
}

#[tokio::test]
async fn support_lists_reads_changes_and_deletes_tenants() {
    // SPEC: T-1, T-2, GET and HEAD change nothing
    let h = Harness::kuroneko();
    let admin = h.admin_session().await;
    for (c, m) in [("300000001", "c@a.com"), ("200000001", "b@a.com")] {
        h.support("POST", "/support/tenants", Some(tenant_body(c, m)))
            .await
            .expect(201);
    }
    // Without the support token: refused.
    h.call("GET", "/support/tenants", None, None)
        .await
        .expect_error(401, "unauthorized");

    // Listed by code, paged.
    let commits = h.store.commits();
    let a = h.support("GET", "/support/tenants?limit=2", None).await;
    a.expect(200);
    let codes: Vec<&str> = a.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, [TENANT, "200000001"]);
    let next = a.json["next"].as_str().unwrap().to_owned();
    let b = h
        .support(
            "GET",
            &format!("/support/tenants?after={next}&limit=2"),
            None,
        )
        .await;
    b.expect(200);
    assert_eq!(b.json["items"][0]["code"], "300000001");
    assert!(b.json["next"].is_null());
    // One tenant: never its access key, only whether one is set.
    let t = h
        .support("GET", &format!("/support/tenants/{TENANT}"), None)
        .await;
    t.expect(200);
    assert_eq!(
        t.json,
        json!({
            "code": TENANT, "contract_number": "1234567", "name": "黒猫堂",
            "corporate_number": null, "logistics": true, "access_key_set": true,
            "lang": null, "created_at": 1_800_000_000
        })
    );
    // (the exact body above has no key: the access key 1234567 is also this contract number)
    let head = h
        .support("HEAD", &format!("/support/tenants/{TENANT}"), None)
        .await;
    assert!(head.status.is_success() || head.status.as_u16() == 405);
    assert_eq!(h.store.commits(), commits, "GET and HEAD change nothing");

    // Changed: name, corporate number, access key, language; the old key stops working.
    let e = h
        .support(
            "PATCH",
            &format!("/support/tenants/{TENANT}"),
            Some(
                json!({"name": "黒猫本舗", "corporate_number": "9234567890123",
                "access_key": "7654321", "lang": "en"}),
            ),
        )
        .await;
    e.expect(200);
    assert_eq!(e.json["name"], "黒猫本舗");
    assert_eq!(e.json["corporate_number"], "9234567890123");
    assert_eq!(e.json["lang"], "en");
    assert!(!text(&e).contains("7654321"));
    h.call(
        "POST",
        "/login",
        Some(json!({"tenant": TENANT, "identifier": TENANT, "password": ADMIN_PW, "access_key": ACCESS_KEY})),
        None,
    )
    .await
    .expect_error(401, "login_failed");
    let a = h
        .call(
            "POST",
            "/login",
            Some(json!({"tenant": TENANT, "identifier": TENANT, "password": ADMIN_PW, "access_key": "7654321"})),
            None,
        )
        .await;
    a.expect(200);
    // A refused change says which rule failed and changes nothing.
    let bad = h
        .support(
            "PATCH",
            &format!("/support/tenants/{TENANT}"),
            Some(json!({"name": "x", "corporate_number": "1234567890123"})),
        )
        .await;
    bad.expect_error(422, "invalid_input");
    assert_eq!(bad.json["field"], "corporate_number", "{}", bad.json);
    let t = h
        .support("GET", &format!("/support/tenants/{TENANT}"), None)
        .await;
    assert_eq!(t.json["name"], "黒猫本舗");

    // The admin's session works until the tenant is deleted with its users.
    h.call("GET", "/me", None, Some(&admin)).await.expect(200);
    h.support("DELETE", &format!("/support/tenants/{TENANT}"), None)
        .await
        .expect(204);
    h.call("GET", "/me", None, Some(&admin))
        .await
        .expect_error(401, "session_invalid");
    h.support("GET", &format!("/support/tenants/{TENANT}"), None)
        .await
        .expect_error(404, "not_found");
    h.support("DELETE", &format!("/support/tenants/{TENANT}"), None)
        .await
        .expect_error(404, "not_found");
    assert!(h.all_users().await.iter().all(|u| u.tenant != TENANT));
    // The admin's address is free again.
    h.support(
        "POST",
        "/support/tenants",
        Some(tenant_body("400000001", ADMIN_MAIL)),
    )
    .await
    .expect(201);
    // The audit has it, with RFC 3339 times.
    let a = h
        .support("GET", "/support/audit?kind=tenant_deleted", None)
        .await;
    a.expect(200);
    let ev = &a.json["items"][0];
    assert_eq!(ev["tenant"], TENANT);
    assert_eq!(ev["actor"], "support");
    assert_eq!(ev["at"], "2027-01-15T08:00:00Z");
    let a = h
        .support("GET", "/support/audit?kind=tenant_edited", None)
        .await;
    assert!(!text(&a).contains("7654321"));
}

#[tokio::test]
async fn support_creates_reads_signs_out_and_deletes_users() {
    // SPEC: LC-2, LC-3, S-4, T-3
    let h = Harness::kuroneko();
    h.admin_session().await;
    let base = format!("/support/tenants/{TENANT}/users");
    let c = h
        .support(
            "POST",
            &base,
            Some(json!({"user_id": "clerk01", "role": "general",
                "profile": {"name": "山田花子", "email": "clerk@example.com"}})),
        )
        .await;
    c.expect(201);
    assert_eq!(c.json, json!({"tenant": TENANT, "user_id": "clerk01"}));
    let temp = h.last_of("clerk@example.com", MailKind::UserRegistered);
    // Same rules as an admin's creation.
    h.support(
        "POST",
        &base,
        Some(json!({"user_id": "clerk01", "role": "general",
            "profile": {"name": "x", "email": "other@example.com"}})),
    )
    .await
    .expect_error(409, "user_id_taken");
    // Read.
    let u = h.support("GET", &format!("{base}/clerk01"), None).await;
    u.expect(200);
    assert_eq!(u.json["role"], "general");
    assert_eq!(u.json["has_temporary_password"], true);
    // The user signs in; support ends its sessions; its token stops working at once.
    let s = h.login_otp("clerk01", "clerk@example.com", &temp).await;
    let token = s["token"].as_str().unwrap().to_owned();
    h.call("GET", "/me", None, Some(&token)).await.expect(200);
    h.support("POST", &format!("{base}/clerk01/end-sessions"), None)
        .await
        .expect(204);
    h.call("GET", "/me", None, Some(&token))
        .await
        .expect_error(401, "session_invalid");
    // Delete: the admin only with its tenant; the user at once.
    h.support("DELETE", &format!("{base}/{TENANT}"), None)
        .await
        .expect_error(403, "forbidden");
    h.support("DELETE", &format!("{base}/clerk01"), None)
        .await
        .expect(204);
    h.support("GET", &format!("{base}/clerk01"), None)
        .await
        .expect_error(404, "not_found");
    h.support("DELETE", &format!("{base}/clerk01"), None)
        .await
        .expect_error(404, "not_found");
}
