//! The Kuroneko manual (seed 004) walked over HTTP: support creates the tenant, the admin starts
//! with the reset link, logs in with the mail OTP, changes the forced password, manages users;
//! users log in, edit themselves, lock and get unlocked; support operations; logout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use monban_core::mail::MailKind;
use monban_core::secret::SecretBytes;
use monban_core::{Timestamp, totp};
use serde_json::json;

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
async fn the_kuroneko_manual_over_http() {
    let h = Harness::kuroneko();

    // GIVEN support creates the tenant with its admin (T-1..T-3)
    h.create_tenant().await;
    // SPEC: T-3 — a second tenant with the same code is refused.
    h.support(
        "POST",
        "/support/tenants",
        Some(json!({"code": TENANT, "name": "x", "admin": {"name": "y"}})),
    )
    .await
    .expect_error(409, "tenant_exists");

    // WHEN the admin asks for the reset link (RS-1) and opens it in a browser
    let a = h
        .call(
            "POST",
            "/reset",
            Some(json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
            None,
        )
        .await;
    a.expect(202);
    assert_eq!(a.json, json!({"status": "accepted"}));
    let url = h.last_of(ADMIN_MAIL, MailKind::ResetStarted);
    assert!(url.starts_with(&h.policy.mail.reset_base_url), "{url}");
    let token = url.rsplit('/').next().unwrap().to_owned();
    let page = h
        .send(
            axum::http::Request::get(format!("/reset/{token}"))
                .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    page.expect(200);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(page.bytes.to_vec()).unwrap();
    assert!(html.contains("仮パスワード"), "{html}");
    // (opening the page changes nothing, RS-1; its button POSTs the token)
    h.call("POST", "/reset/open", Some(json!({"token": token})), None)
        .await
        .expect(200);
    // THEN the temporary password is mailed separately, and the link is dead (RS-1)
    let temp = h.last_of(ADMIN_MAIL, MailKind::TemporaryPassword);
    h.call("POST", "/reset/open", Some(json!({"token": token})), None)
        .await
        .expect_error(410, "reset_link_invalid");

    // WHEN the admin logs in with it: first factor → mail OTP (L-1, L-3)
    let a = h
        .call(
            "POST",
            "/login",
            Some(json!({"tenant": TENANT, "identifier": TENANT, "password": temp, "access_key": ACCESS_KEY})),
            None,
        )
        .await;
    a.expect(200);
    assert_eq!(a.json["next"], "second_factor");
    assert_eq!(a.json["method"], "mail_otp");
    let challenge = a.json["challenge"].as_str().unwrap().to_owned();
    let first_code = h.last_of(ADMIN_MAIL, MailKind::Otp);
    // SPEC: L-3 — a resend voids the old code.
    let r = h
        .call(
            "POST",
            "/login/otp/resend",
            Some(json!({"challenge": challenge})),
            None,
        )
        .await;
    r.expect(200);
    assert!(r.json["expires_at"].as_i64().unwrap() > 1_800_000_000);
    let code = h.last_of(ADMIN_MAIL, MailKind::Otp);
    if code != first_code {
        // SPEC: L-4 — the old code is wrong now (and counts as a failure).
        h.call(
            "POST",
            "/login/otp",
            Some(json!({"challenge": challenge, "code": first_code})),
            None,
        )
        .await
        .expect_error(401, "otp_invalid");
    }
    // SPEC: M-3 — surrounding spaces are ignored.
    let s = h
        .call(
            "POST",
            "/login/otp",
            Some(json!({"challenge": challenge, "code": format!(" {code}\u{3000}")})),
            None,
        )
        .await;
    s.expect(200);
    // THEN the session may only change the temporary password (PW-4)
    assert_eq!(s.json["scope"], "change_password");
    assert_eq!(s.json["must_change_password"], "temporary");
    assert_eq!(s.json["token_type"], "Bearer");
    let limited = s.json["token"].as_str().unwrap().to_owned();
    h.call("GET", "/me", None, Some(&limited)).await.expect(200);
    h.call("GET", "/admin/users", None, Some(&limited))
        .await
        .expect_error(403, "password_change_required");
    // SPEC: PW-2 — a mismatch is its own error.
    h.call(
        "POST",
        "/me/password",
        Some(json!({"new": ADMIN_PW, "confirm": "Kuro2024nekX"})),
        Some(&limited),
    )
    .await
    .expect_error(422, "password_mismatch");
    // SPEC: PW-1 — half-width alphanumerics, 8..20; every reason comes with its limit, and
    // GET /policy/password tells a form those rules beforehand.
    let rules = h.call("GET", "/policy/password", None, None).await;
    rules.expect(200);
    assert_eq!(
        (
            &rules.json["min_len"],
            &rules.json["max_len"],
            &rules.json["charset"]
        ),
        (&json!(8), &json!(20), &json!("half_width_alphanumeric")),
        "{}",
        rules.json
    );
    let a = h
        .call(
            "POST",
            "/me/password",
            Some(json!({"new": "short", "confirm": "short"})),
            Some(&limited),
        )
        .await;
    a.expect_error(422, "password_rejected");
    let problems = a.json["problems"].as_array().unwrap();
    let short = problems
        .iter()
        .find(|p| p["kind"] == "too_short")
        .unwrap_or_else(|| panic!("{}", a.json));
    assert_eq!(short["min"], rules.json["min_len"]);
    assert!(!short["message"].as_str().unwrap().is_empty());
    let full = h
        .call(
            "POST",
            "/me/password",
            Some(json!({"new": ADMIN_PW, "confirm": ADMIN_PW})),
            Some(&limited),
        )
        .await;
    full.expect(200);
    assert_eq!(full.json["scope"], "full");
    assert!(full.json.get("must_change_password").is_none());
    let admin = full.json["token"].as_str().unwrap().to_owned();
    // SPEC: RS-9 — the older session stopped working.
    h.call("GET", "/me", None, Some(&limited))
        .await
        .expect_error(401, "session_invalid");

    // The admin's view of itself and its permissions
    let me = h.call("GET", "/me", None, Some(&admin)).await;
    me.expect(200);
    assert_eq!(me.json["user_id"], TENANT);
    assert_eq!(me.json["role"], "admin");
    assert_eq!(me.json["has_temporary_password"], false);
    let p = h
        .call("GET", "/me/permissions/create_user", None, Some(&admin))
        .await;
    assert_eq!(p.json, json!({"allowed": true}));
    let p = h
        .call("GET", "/me/permissions/business_menus", None, Some(&admin))
        .await;
    assert_eq!(p.json, json!({"allowed": false}));

    // WHEN the admin creates a general user with an e-mail (LC-2)
    let c = h
        .call(
            "POST",
            "/admin/users",
            Some(json!({"user_id": "clerk01", "role": "general",
                "profile": {"name": "山田花子", "email": "clerk@example.com"}})),
            Some(&admin),
        )
        .await;
    c.expect(201);
    assert_eq!(
        c.json,
        json!({"tenant": TENANT, "user_id": "clerk01"}),
        "no temporary password in the answer when it was mailed"
    );
    let clerk_temp = h.last_of("clerk@example.com", MailKind::UserRegistered);
    // SPEC: T-4, E-1 — IDs and e-mails are unique.
    h.call(
        "POST",
        "/admin/users",
        Some(json!({"user_id": "clerk01", "role": "general", "profile": {"name": "x"}, "login_method": "totp"})),
        Some(&admin),
    )
    .await
    .expect_error(409, "user_id_taken");
    h.call(
        "POST",
        "/admin/users",
        Some(json!({"user_id": "clerk02", "role": "general",
            "profile": {"name": "x", "email": "CLERK@example.com"}})),
        Some(&admin),
    )
    .await
    .expect_error(409, "email_taken");
    // SPEC: E-6 — mail OTP needs an e-mail.
    h.call(
        "POST",
        "/admin/users",
        Some(json!({"user_id": "clerk03", "role": "general", "profile": {"name": "x"}})),
        Some(&admin),
    )
    .await
    .expect_error(422, "email_required_for_mail_otp");
    // A user without e-mail gets its temporary password in the answer.
    let c = h
        .call(
            "POST",
            "/admin/users",
            Some(
                json!({"user_id": "ship01", "role": "shipping", "login_method": "totp",
                "profile": {"name": "佐藤"}}),
            ),
            Some(&admin),
        )
        .await;
    c.expect(201);
    assert!(
        c.json["temporary_password"]
            .as_str()
            .is_some_and(|t| t.len() >= 8)
    );

    // The listing, paging and a single user
    let l = h.call("GET", "/admin/users", None, Some(&admin)).await;
    l.expect(200);
    let ids: Vec<&str> = l.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [TENANT, "clerk01", "ship01"]);
    let l = h
        .call("GET", "/admin/users?limit=1", None, Some(&admin))
        .await;
    assert_eq!(l.json["items"].as_array().unwrap().len(), 1);
    let next = l.json["next"].as_str().unwrap().to_owned();
    let l = h
        .call(
            "GET",
            &format!("/admin/users?after={next}&limit=1"),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(l.json["items"][0]["user_id"], "clerk01");
    let u = h
        .call("GET", "/admin/users/ship01", None, Some(&admin))
        .await;
    u.expect(200);
    assert_eq!(u.json["role"], "shipping");
    assert_eq!(u.json["has_temporary_password"], true);
    h.call("GET", "/admin/users/clerk0", None, Some(&admin))
        .await
        .expect_error(404, "not_found");

    // Editing (P-3, T-4)
    let e = h
        .call(
            "PATCH",
            "/admin/users/clerk01",
            Some(json!({"name": "山田 花子"})),
            Some(&admin),
        )
        .await;
    e.expect(200);
    assert_eq!(e.json["name"], "山田 花子");
    h.call(
        "PATCH",
        "/admin/users/clerk01",
        Some(json!({"user_id": "renamed"})),
        Some(&admin),
    )
    .await
    .expect_error(422, "field_not_editable");

    // WHEN the general user logs in for the first time
    let s = h
        .login_otp("clerk01", "clerk@example.com", &clerk_temp)
        .await;
    assert_eq!(s["scope"], "change_password");
    let clerk = h
        .call(
            "POST",
            "/me/password",
            Some(json!({"new": "Yamada2024hana", "confirm": "Yamada2024hana"})),
            Some(s["token"].as_str().unwrap()),
        )
        .await;
    clerk.expect(200);
    let clerk = clerk.json["token"].as_str().unwrap().to_owned();
    // THEN it has the business menus but no admin rights
    let p = h
        .call("GET", "/me/permissions/business_menus", None, Some(&clerk))
        .await;
    assert_eq!(p.json, json!({"allowed": true}));
    h.call("GET", "/admin/users", None, Some(&clerk))
        .await
        .expect_error(403, "forbidden");
    // SPEC: P-3 — it edits itself.
    let e = h
        .call(
            "PATCH",
            "/me",
            Some(json!({"phone": "03-1234-5678"})),
            Some(&clerk),
        )
        .await;
    e.expect(200);
    assert_eq!(e.json["phone"], "03-1234-5678");
    // A voluntary change needs the current password.
    h.call(
        "POST",
        "/me/password",
        Some(
            json!({"current": "wrong-pass1", "new": "Yamada2025hana", "confirm": "Yamada2025hana"}),
        ),
        Some(&clerk),
    )
    .await
    .expect_error(422, "current_password_wrong");
    let clerk = h
        .call(
            "POST",
            "/me/password",
            Some(json!({"current": "Yamada2024hana", "new": "Yamada2025hana", "confirm": "Yamada2025hana"})),
            Some(&clerk),
        )
        .await;
    clerk.expect(200);
    let clerk = clerk.json["token"].as_str().unwrap().to_owned();

    // SPEC: L-2 — in Kuroneko a general user cannot pick its method itself (issue 11: this was
    // 200); the admin sets it, and the user enrols the authenticator at its next login.
    h.call("POST", "/me/totp", None, Some(&clerk))
        .await
        .expect_error(403, "forbidden");
    h.call(
        "POST",
        "/me/totp/confirm",
        Some(json!({"code": "123456"})),
        Some(&clerk),
    )
    .await
    .expect_error(403, "forbidden");
    h.call(
        "PATCH",
        "/admin/users/clerk01",
        Some(json!({"login_method": "totp"})),
        Some(&admin),
    )
    .await
    .expect(200);
    let a = h
        .call(
            "POST",
            "/login",
            Some(json!({"tenant": TENANT, "identifier": "clerk01", "password": "Yamada2025hana", "access_key": ACCESS_KEY})),
            None,
        )
        .await;
    a.expect(200);
    assert_eq!(a.json["method"], "totp");
    let en = &a.json["enrolment"];
    assert!(en["uri"].as_str().unwrap().starts_with("otpauth://"));
    let secret = SecretBytes::new(base32_decode(en["secret_base32"].as_str().unwrap()));
    let step = totp::step_at(Timestamp(1_800_000_000), &h.policy.otp).unwrap();
    let s = h
        .call(
            "POST",
            "/login/otp",
            Some(json!({"challenge": a.json["challenge"], "code": totp::code_at_step(&secret, step, &h.policy.otp)})),
            None,
        )
        .await;
    s.expect(200);
    let clerk = s.json["token"].as_str().unwrap().to_owned();
    let me = h.call("GET", "/me", None, Some(&clerk)).await;
    assert_eq!(me.json["login_method"], "totp");
    assert_eq!(me.json["totp_enrolled"], true);

    // SPEC: L-6 — five wrong passwords lock the account; the right one then hears `locked`.
    for _ in 0..5 {
        h.call(
            "POST",
            "/login",
            Some(json!({"tenant": TENANT, "identifier": "clerk01", "password": "Wrong2024pass", "access_key": ACCESS_KEY})),
            None,
        )
        .await
        .expect_error(401, "login_failed");
    }
    let right = json!({"tenant": TENANT, "identifier": "clerk01", "password": "Yamada2025hana", "access_key": ACCESS_KEY});
    h.call("POST", "/login", Some(right.clone()), None)
        .await
        .expect_error(423, "locked");
    let u = h
        .call("GET", "/admin/users/clerk01", None, Some(&admin))
        .await;
    assert_eq!(u.json["locked"], true);
    // WHEN the admin unlocks it THEN it logs in again (TOTP now)
    h.call("POST", "/admin/users/clerk01/unlock", None, Some(&admin))
        .await
        .expect(204);
    let a = h.call("POST", "/login", Some(right), None).await;
    a.expect(200);
    assert_eq!(a.json["method"], "totp");

    // RS-7: the admin resets the user's password and authenticator
    let r = h
        .call(
            "POST",
            "/admin/users/clerk01/reset-password",
            None,
            Some(&admin),
        )
        .await;
    r.expect(200);
    assert_eq!(r.json, json!({"mailed": true}));
    assert!(
        !h.last_of("clerk@example.com", MailKind::TemporaryPassword)
            .is_empty()
    );
    let r = h
        .call(
            "POST",
            "/admin/users/ship01/reset-password",
            None,
            Some(&admin),
        )
        .await;
    r.expect(200);
    assert_eq!(r.json["mailed"], false);
    assert!(r.json["temporary_password"].is_string());
    h.call(
        "POST",
        "/admin/users/clerk01/reset-authenticator",
        None,
        Some(&admin),
    )
    .await
    .expect(204);
    // SPEC: RS-9 — the reset ended the user's sessions.
    h.call("GET", "/me", None, Some(&clerk))
        .await
        .expect_error(401, "session_invalid");

    // LC-3: delete frees the ID
    h.call("DELETE", "/admin/users/ship01", None, Some(&admin))
        .await
        .expect(204);
    h.call("GET", "/admin/users/ship01", None, Some(&admin))
        .await
        .expect_error(404, "not_found");
    h.call("DELETE", "/admin/users/ship01", None, Some(&admin))
        .await
        .expect_error(404, "not_found");

    // Support: list, unlock, reset the admin, change its e-mail, bind a certificate
    let l = h
        .support("GET", &format!("/support/tenants/{TENANT}/users"), None)
        .await;
    l.expect(200);
    assert_eq!(l.json["items"].as_array().unwrap().len(), 2);
    h.support(
        "POST",
        &format!("/support/tenants/{TENANT}/users/{TENANT}/unlock"),
        None,
    )
    .await
    .expect(204);
    h.support(
        "POST",
        &format!("/support/tenants/{TENANT}/users/nobody/unlock"),
        None,
    )
    .await
    .expect_error(404, "not_found");
    h.support(
        "PUT",
        &format!("/support/tenants/{TENANT}/admin-email"),
        Some(json!({"email": "boss@example.com"})),
    )
    .await
    .expect(204);
    let r = h
        .support(
            "POST",
            &format!("/support/tenants/{TENANT}/users/{TENANT}/reset-password"),
            None,
        )
        .await;
    r.expect(200);
    assert_eq!(r.json, json!({"mailed": true}));
    assert!(
        !h.last_of("boss@example.com", MailKind::TemporaryPassword)
            .is_empty()
    );
    h.support(
        "POST",
        &format!("/support/tenants/{TENANT}/users/clerk01/certificates"),
        Some(json!({"certificate": {"sha256": "ab".repeat(32)}, "replace": true})),
    )
    .await
    .expect(204);
    let u = h
        .support("GET", &format!("/support/tenants/{TENANT}/users"), None)
        .await;
    let clerk_view = u.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == "clerk01")
        .unwrap()
        .clone();
    assert_eq!(
        clerk_view["certificates"],
        json!([format!("sha256:{}", "ab".repeat(32))])
    );

    // the audit log, filtered
    let a = h
        .support(
            "GET",
            &format!("/support/audit?tenant={TENANT}&kind=locked"),
            None,
        )
        .await;
    a.expect(200);
    let items = a.json["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|e| e["kind"] == "locked" && e["tenant"] == TENANT)
    );
    let a = h
        .support("GET", "/support/audit?subject=clerk01&limit=2", None)
        .await;
    assert_eq!(a.json["items"].as_array().unwrap().len(), 2);
    assert!(a.json["next"].is_string());
    let body = String::from_utf8_lossy(&a.bytes).to_string();
    assert!(
        !body.contains("Yamada2025hana"),
        "A-1: no password in the audit log"
    );

    // LC-1: the sweep deletes the dormant general user, never the admin
    h.clock.advance_days(92);
    // A dry run first: it names the user and deletes nothing.
    let commits = h.store.commits();
    let d = h.support("POST", "/support/sweep?dry_run=true", None).await;
    d.expect(200);
    assert_eq!(
        d.json,
        json!({"scanned": 2, "deleted": [{"tenant": TENANT, "user_id": "clerk01"}], "dry_run": true})
    );
    assert_eq!(h.store.commits(), commits);
    h.support("POST", "/support/sweep?dry_run=maybe", None)
        .await
        .expect_error(400, "invalid_request");
    let s = h.support("POST", "/support/sweep", None).await;
    s.expect(200);
    assert_eq!(s.json["scanned"], 2);
    assert_eq!(
        s.json["deleted"],
        json!([{"tenant": TENANT, "user_id": "clerk01"}])
    );

    // SPEC: LC-1 — the swept user cannot log in; its ID is free again.
    h.call(
        "POST",
        "/login",
        Some(json!({"tenant": TENANT, "identifier": "clerk01", "password": "Yamada2025hana", "access_key": ACCESS_KEY})),
        None,
    )
    .await
    .expect_error(401, "login_failed");
}

#[tokio::test]
async fn logout_ends_the_session() {
    // SPEC: L-9
    let h = Harness::kuroneko();
    let admin = h.admin_session().await;
    h.call("GET", "/me", None, Some(&admin)).await.expect(200);
    h.call("POST", "/logout", None, Some(&admin))
        .await
        .expect(204);
    h.call("GET", "/me", None, Some(&admin))
        .await
        .expect_error(401, "session_invalid");
}

#[tokio::test]
async fn a_shipping_user_needs_a_logistics_tenant() {
    // SPEC: R-3
    let h = Harness::kuroneko();
    h.support(
        "POST",
        "/support/tenants",
        Some(json!({"code": TENANT, "name": "非物流", "logistics": false,
            "access_key": ACCESS_KEY, "welcome_mail": true,
            "admin": {"name": "黒猫太郎", "email": ADMIN_MAIL}})),
    )
    .await
    .expect(201);
    let temp = h.last_of(ADMIN_MAIL, MailKind::UserRegistered);
    let s = h.login_otp(TENANT, ADMIN_MAIL, &temp).await;
    let full = h
        .call(
            "POST",
            "/me/password",
            Some(json!({"new": ADMIN_PW, "confirm": ADMIN_PW})),
            Some(s["token"].as_str().unwrap()),
        )
        .await;
    let admin = full.json["token"].as_str().unwrap().to_owned();
    h.call(
        "POST",
        "/admin/users",
        Some(json!({"user_id": "ship01", "role": "shipping", "login_method": "totp", "profile": {"name": "x"}})),
        Some(&admin),
    )
    .await
    .expect_error(422, "shipping_not_allowed");
}

#[tokio::test]
async fn same_as_admin_is_allowed_once() {
    // SPEC: E-2, P-4
    let h = Harness::kuroneko();
    let admin = h.admin_session().await;
    let c = h
        .call(
            "POST",
            "/admin/users",
            Some(json!({"user_id": "twin1", "role": "general", "same_as_admin": true, "profile": {"name": "-"}})),
            Some(&admin),
        )
        .await;
    c.expect(201);
    let u = h
        .call("GET", "/admin/users/twin1", None, Some(&admin))
        .await;
    assert_eq!(u.json["email"], ADMIN_MAIL);
    assert_eq!(u.json["name"], "黒猫太郎");
    h.call(
        "POST",
        "/admin/users",
        Some(json!({"user_id": "twin2", "role": "general", "same_as_admin": true, "profile": {"name": "-"}})),
        Some(&admin),
    )
    .await
    .expect_error(409, "same_as_admin_taken");
    // SPEC: P-6 — the admin's own address is support's business.
    h.call(
        "PATCH",
        "/me",
        Some(json!({"email": "new@example.com"})),
        Some(&admin),
    )
    .await
    .expect_error(403, "support_only");
}

#[tokio::test]
async fn an_admin_sharing_its_address_cannot_rename_itself_out_of_the_exception() {
    // SPEC: E-7, E-3 — issue 11: PATCH /me {"name"} answered 200 and left one address shared
    // by two different names.
    let h = Harness::kuroneko();
    let admin = h.admin_session().await;
    // GIVEN a second tenant with the same contract number (first 7 digits) whose admin has
    // the same name and address (E-3)
    h.support(
        "POST",
        "/support/tenants",
        Some(json!({
            "code": "123456788",
            "name": "黒猫堂 二号店",
            "admin": {"name": "黒猫太郎", "email": ADMIN_MAIL}
        })),
    )
    .await
    .expect(201);
    // WHEN the first admin renames itself
    let a = h
        .call(
            "PATCH",
            "/me",
            Some(json!({"name": "白猫次郎"})),
            Some(&admin),
        )
        .await;
    // THEN it is refused with E-1's message, and nothing changed
    a.expect_error(409, "email_taken");
    assert!(
        a.json["message"]
            .as_str()
            .unwrap()
            .contains("既に別のユーザに設定されています")
    );
    let me = h.call("GET", "/me", None, Some(&admin)).await;
    assert_eq!(me.json["name"], "黒猫太郎");
    // AND a change that keeps the exception (the same name, P-5 spacing) and other fields pass
    h.call(
        "PATCH",
        "/me",
        Some(json!({"name": "黒猫太郎", "phone": "03-1111-2222"})),
        Some(&admin),
    )
    .await
    .expect(200);
}
