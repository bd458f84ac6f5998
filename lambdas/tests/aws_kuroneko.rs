//! The Kuroneko manual (seed 004) through the app the Lambda serves, on `DynamoStore` (DynamoDB
//! Local) and `SesMailer` (the SES v2 stand-in): every reset link, temporary password and
//! one-time password is read back from the mails SES received. Addresses are unique per run,
//! since the SES stand-in is shared.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_common;
#[path = "../../server/tests/common/mod.rs"]
mod common;

use aws_common::{Ses, address, fresh_table};
use common::Http;
use monban_core::mail::MailKind;
use monban_core::memory::{ManualClock, SeededRandom};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret, Timestamp};
use monban_lambdas::aws::lambda::app;
use monban_lambdas::aws::mailer::SesMailer;
use monban_lambdas::aws::store::DynamoStore;
use monban_server::AppState;
use serde_json::{Value, json};
use std::sync::Arc;

const SUPPORT: &str = "support-token-0123456789abcdef-kuroneko";
const TENANT: &str = "123456789";
const ACCESS_KEY: &str = "1234567";
const ADMIN_PW: &str = "Kuro2024neko";
const CLERK_PW: &str = "Yamada2024hana";
const SENDER: &str = "クロネコwebコレクト <no-reply@kuroneko.example>";

struct World {
    http: Http,
    ses: Ses,
    policy: Policy,
}

impl World {
    async fn start(ses_endpoint: &str) -> Self {
        let (client, table) = fresh_table().await;
        let policy = Policy::kuroneko().with_test_hashing();
        let svc = AuthService::new(
            policy.clone(),
            SessionKey::new(vec![5u8; 32]).unwrap(),
            DynamoStore::new(client, table),
            SesMailer::new(
                SesMailer::local_client(ses_endpoint),
                SENDER,
                Some("monban-events".into()),
            ),
            Arc::new(ManualClock::at(Timestamp(1_800_000_000))),
            SeededRandom::new(4),
        )
        .unwrap();
        let state = AppState::new(svc, Some(Secret::new(SUPPORT)));
        Self {
            // The courier runs after each request, as the stream-fed courier Lambda would.
            http: Http {
                courier: Some(common::courier(state.shared_service())),
                app: app(state),
            },
            ses: Ses::start(),
            policy,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> common::Answer {
        self.http.call(method, path, body, bearer).await
    }

    /// First factor + the mailed OTP; answers the session JSON.
    async fn login_otp(&self, user_id: &str, mail: &str, password: &str) -> Value {
        let before = self.ses.to(mail).len();
        let a = self
            .call(
                "POST",
                "/login",
                Some(
                    json!({"tenant": TENANT, "identifier": user_id, "password": password,
                    "access_key": ACCESS_KEY}),
                ),
                None,
            )
            .await;
        a.expect(200);
        assert_eq!(a.json["next"], "second_factor", "{}", a.json);
        self.ses.wait_for(mail, before + 1);
        let code = self.ses.last_of(mail, MailKind::Otp);
        let s = self
            .call(
                "POST",
                "/login/otp",
                Some(json!({"challenge": a.str("challenge"), "code": code})),
                None,
            )
            .await;
        s.expect(200);
        s.json
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kuroneko_manual_on_dynamodb_and_ses() {
    let ses = Ses::start();
    let w = World::start(&ses.endpoint).await;
    let admin_mail = address("kuroneko-admin");
    let clerk_mail = address("kuroneko-clerk");

    // GIVEN support creates the tenant with its admin (T-1..T-3)
    w.call(
        "POST",
        "/support/tenants",
        Some(json!({"code": TENANT, "name": "黒猫堂", "logistics": true,
            "access_key": ACCESS_KEY, "admin": {"name": "黒猫太郎", "email": admin_mail}})),
        Some(SUPPORT),
    )
    .await
    .expect(201);
    // SPEC: T-3 — the same code again is refused (a conditional write on DynamoDB).
    w.call(
        "POST",
        "/support/tenants",
        Some(json!({"code": TENANT, "name": "x", "admin": {"name": "y"}})),
        Some(SUPPORT),
    )
    .await
    .expect_error(409, "tenant_exists");

    // WHEN the admin asks for the reset link (RS-1)
    w.call(
        "POST",
        "/reset",
        Some(json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
        None,
    )
    .await
    .expect(202);
    // THEN SES got the mail, from the configured sender, subject and body in UTF-8 Japanese
    let mails = w.ses.wait_for(&admin_mail, 1);
    assert_eq!(mails[0].from, SENDER);
    assert!(mails[0].subject.contains("パスワード初期化"), "{mails:?}");
    let url = w.ses.last_of(&admin_mail, MailKind::ResetStarted);
    assert!(url.starts_with(&w.policy.mail.reset_base_url), "{url}");
    let token = url.rsplit('/').next().unwrap().to_owned();
    // WHEN the link is opened THEN the temporary password is mailed separately, the link dies
    w.call("POST", "/reset/open", Some(json!({"token": token})), None)
        .await
        .expect(200);
    w.ses.wait_for(&admin_mail, 2);
    let temp = w.ses.last_of(&admin_mail, MailKind::TemporaryPassword);
    w.call("POST", "/reset/open", Some(json!({"token": token})), None)
        .await
        .expect_error(410, "reset_link_invalid");

    // WHEN the admin logs in with it: first factor → mail OTP (L-1, L-3)
    let a = w
        .call(
            "POST",
            "/login",
            Some(
                json!({"tenant": TENANT, "identifier": TENANT, "password": temp,
                "access_key": ACCESS_KEY}),
            ),
            None,
        )
        .await;
    a.expect(200);
    assert_eq!(a.json["method"], "mail_otp");
    let challenge = a.str("challenge");
    w.ses.wait_for(&admin_mail, 3);
    let first_code = w.ses.last_of(&admin_mail, MailKind::Otp);
    // SPEC: L-3 — a resend mails a new code and voids the old one.
    w.call(
        "POST",
        "/login/otp/resend",
        Some(json!({"challenge": challenge})),
        None,
    )
    .await
    .expect(200);
    w.ses.wait_for(&admin_mail, 4);
    let code = w.ses.last_of(&admin_mail, MailKind::Otp);
    if code != first_code {
        w.call(
            "POST",
            "/login/otp",
            Some(json!({"challenge": challenge, "code": first_code})),
            None,
        )
        .await
        .expect_error(401, "otp_invalid");
    }
    // SPEC: M-3 — surrounding spaces are ignored.
    let s = w
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
    let limited = s.str("token");
    w.call("GET", "/admin/users", None, Some(&limited))
        .await
        .expect_error(403, "password_change_required");
    let full = w
        .call(
            "POST",
            "/me/password",
            Some(json!({"new": ADMIN_PW, "confirm": ADMIN_PW})),
            Some(&limited),
        )
        .await;
    full.expect(200);
    assert_eq!(full.json["scope"], "full");
    let admin = full.str("token");
    // SPEC: RS-9 — the older session stopped working.
    w.call("GET", "/me", None, Some(&limited))
        .await
        .expect_error(401, "session_invalid");

    // WHEN the admin creates a general user with an e-mail (LC-2)
    let c = w
        .call(
            "POST",
            "/admin/users",
            Some(json!({"user_id": "clerk01", "role": "general",
                "profile": {"name": "山田花子", "email": clerk_mail}})),
            Some(&admin),
        )
        .await;
    c.expect(201);
    assert_eq!(c.json, json!({"tenant": TENANT, "user_id": "clerk01"}));
    w.ses.wait_for(&clerk_mail, 1);
    let clerk_temp = w.ses.last_of(&clerk_mail, MailKind::UserRegistered);
    // SPEC: T-4, E-1 — IDs and e-mails are unique (claimed in the same transaction).
    w.call(
        "POST",
        "/admin/users",
        Some(
            json!({"user_id": "clerk01", "role": "general", "profile": {"name": "x"},
            "login_method": "totp"}),
        ),
        Some(&admin),
    )
    .await
    .expect_error(409, "user_id_taken");
    w.call(
        "POST",
        "/admin/users",
        Some(json!({"user_id": "clerk02", "role": "general",
            "profile": {"name": "x", "email": clerk_mail.to_uppercase()}})),
        Some(&admin),
    )
    .await
    .expect_error(409, "email_taken");

    // WHEN the general user logs in for the first time and sets its password
    let s = w.login_otp("clerk01", &clerk_mail, &clerk_temp).await;
    assert_eq!(s["scope"], "change_password");
    let clerk = w
        .call(
            "POST",
            "/me/password",
            Some(json!({"new": CLERK_PW, "confirm": CLERK_PW})),
            s["token"].as_str(),
        )
        .await;
    clerk.expect(200);
    let clerk = clerk.str("token");
    // THEN it has the business menus but no admin rights
    let p = w
        .call("GET", "/me/permissions/business_menus", None, Some(&clerk))
        .await;
    assert_eq!(p.json, json!({"allowed": true}));
    w.call("GET", "/admin/users", None, Some(&clerk))
        .await
        .expect_error(403, "forbidden");

    // SPEC: L-6 — five wrong passwords lock the account; the right one then hears `locked`.
    let wrong = json!({"tenant": TENANT, "identifier": "clerk01", "password": "Wrong2024pass",
        "access_key": ACCESS_KEY});
    for _ in 0..5 {
        w.call("POST", "/login", Some(wrong.clone()), None)
            .await
            .expect_error(401, "login_failed");
    }
    let right = json!({"tenant": TENANT, "identifier": "clerk01", "password": CLERK_PW,
        "access_key": ACCESS_KEY});
    w.call("POST", "/login", Some(right.clone()), None)
        .await
        .expect_error(423, "locked");
    let u = w
        .call("GET", "/admin/users/clerk01", None, Some(&admin))
        .await;
    assert_eq!(u.json["locked"], true);
    // WHEN the admin unlocks it THEN it logs in again with a mailed code
    w.call("POST", "/admin/users/clerk01/unlock", None, Some(&admin))
        .await
        .expect(204);
    let s = w.login_otp("clerk01", &clerk_mail, CLERK_PW).await;
    assert_eq!(s["scope"], "full");
    let clerk = s["token"].as_str().unwrap().to_owned();

    // RS-7: the admin resets the user's password; SES delivers the temporary password
    let before = w.ses.to(&clerk_mail).len();
    let r = w
        .call(
            "POST",
            "/admin/users/clerk01/reset-password",
            None,
            Some(&admin),
        )
        .await;
    r.expect(200);
    assert_eq!(r.json, json!({"mailed": true}));
    w.ses.wait_for(&clerk_mail, before + 1);
    let reset_temp = w.ses.last_of(&clerk_mail, MailKind::TemporaryPassword);
    // SPEC: RS-9 — the reset ended the user's sessions; the new temporary password works.
    w.call("GET", "/me", None, Some(&clerk))
        .await
        .expect_error(401, "session_invalid");
    let s = w.login_otp("clerk01", &clerk_mail, &reset_temp).await;
    assert_eq!(s["must_change_password"], "temporary");

    // Logout ends the admin's sessions.
    w.call("POST", "/logout", None, Some(&admin))
        .await
        .expect(204);
    w.call("GET", "/me", None, Some(&admin))
        .await
        .expect_error(401, "session_invalid");

    // Every mail went through SES with UTF-8 text; none to anyone else.
    let all: Vec<_> = ses
        .all()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| *t == admin_mail || *t == clerk_mail))
        .collect();
    assert!(all.len() >= 8, "{all:?}");
    assert!(all.iter().all(|m| m.from == SENDER && m.to.len() == 1));
    assert!(all.iter().all(|m| m.text.contains('■')), "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_ses_does_not_take_stays_queued_with_the_error() {
    // SPEC: M-4 — the request is answered as always; the mail waits in the table, with SES's
    // error, for the courier's next attempt.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let w = World::start(&nowhere).await;
    let admin_mail = address("kuroneko-nomail");
    w.call(
        "POST",
        "/support/tenants",
        Some(json!({"code": TENANT, "name": "黒猫堂", "logistics": true,
            "access_key": ACCESS_KEY, "admin": {"name": "黒猫太郎", "email": admin_mail}})),
        Some(SUPPORT),
    )
    .await
    .expect(201);
    w.call(
        "POST",
        "/reset",
        Some(json!({"tenant": TENANT, "user_id": TENANT, "access_key": ACCESS_KEY})),
        None,
    )
    .await
    .expect(202);
    let queued = w
        .call("GET", "/support/mail?state=pending", None, Some(SUPPORT))
        .await;
    queued.expect(200);
    let items = queued.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", queued.json);
    assert_eq!(items[0]["kind"], "reset_started");
    assert!(items[0]["last_error"].as_str().is_some(), "{}", queued.json);
    assert!(!queued.json.to_string().contains(&admin_mail));
    assert!(w.ses.to(&admin_mail).is_empty());
}
