//! The `sweeper` function's handler (LC-1) on an EventBridge scheduled event
//! (`fixtures/schedule_event.json`) over `DynamoStore` on DynamoDB Local: a dormant user is
//! deleted together with its e-mail claim, a user who logged in recently stays, and the admin is
//! never deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_common;
#[path = "../../server/tests/common/mod.rs"]
mod common;

use aws_common::runtime_api::{Function, Outcome, RuntimeApi};
use aws_common::{address, dynamodb_endpoint, fresh_table, write_private};
use common::Http;
use lambda_runtime::{Context, LambdaEvent};
use monban_core::mail::{MailKind, extract_secret};
use monban_core::memory::{CapturingMailer, ManualClock, SeededRandom};
use monban_core::model::UserRef;
use monban_core::normalize::email_key;
use monban_core::ports::Store;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret, Timestamp};
use monban_lambdas::aws::lambda::{app, sweep};
use monban_lambdas::aws::store::DynamoStore;
use monban_server::AppState;
use serde_json::{Value, json};
use std::sync::Arc;

const SCHEDULE: &str = include_str!("fixtures/schedule_event.json");
const SUPPORT: &str = "support-token-0123456789abcdef-sweeper";
const TENANT: &str = "987654321";
const ACCESS_KEY: &str = "7654321";

type Svc = AuthService<Arc<DynamoStore>, Arc<CapturingMailer>>;

struct World {
    http: Http,
    svc: Arc<Svc>,
    store: Arc<DynamoStore>,
    mailer: Arc<CapturingMailer>,
    clock: Arc<ManualClock>,
}

impl World {
    async fn start() -> Self {
        let (client, table) = fresh_table().await;
        let store = Arc::new(DynamoStore::new(client, table));
        let mailer = Arc::new(CapturingMailer::new());
        let clock = Arc::new(ManualClock::at(Timestamp(1_800_000_000)));
        let svc = Arc::new(
            AuthService::new(
                Policy::kuroneko().with_test_hashing(),
                SessionKey::new(vec![3u8; 32]).unwrap(),
                Arc::clone(&store),
                Arc::clone(&mailer),
                Arc::clone(&clock),
                SeededRandom::new(11),
            )
            .unwrap(),
        );
        let http = Http {
            app: app(AppState::new(Arc::clone(&svc), Some(Secret::new(SUPPORT)))),
            courier: Some(common::courier(Arc::clone(&svc))),
        };
        Self {
            http,
            svc,
            store,
            mailer,
            clock,
        }
    }

    fn secret(&self, to: &str, kind: MailKind) -> String {
        let m = self.mailer.last_to(to).unwrap();
        assert_eq!(m.kind, kind);
        extract_secret(&m).unwrap()
    }

    /// First factor + mail OTP; answers the session JSON.
    async fn login(&self, user_id: &str, mail: &str, password: &str) -> Value {
        let a = self
            .http
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
        let code = self.secret(mail, MailKind::Otp);
        let s = self
            .http
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

    /// Logs in with the temporary password and sets `new`; answers the full session token.
    async fn first_login(&self, user_id: &str, mail: &str, temp: &str, new: &str) -> String {
        let s = self.login(user_id, mail, temp).await;
        let full = self
            .http
            .call(
                "POST",
                "/me/password",
                Some(json!({"new": new, "confirm": new})),
                s["token"].as_str(),
            )
            .await;
        full.expect(200);
        full.str("token")
    }
}

fn schedule() -> LambdaEvent<Value> {
    let mut ctx = Context::default();
    ctx.request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into();
    LambdaEvent::new(serde_json::from_str(SCHEDULE).unwrap(), ctx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_sweep_deletes_dormant_users_and_their_email_claims() {
    // SPEC: LC-1 (Kuroneko: 91 days without login)
    let w = World::start().await;
    let admin_mail = address("sweep-admin");
    let dormant_mail = address("sweep-dormant");
    let active_mail = address("sweep-active");

    // GIVEN a tenant whose admin has a password, and two general users with e-mail addresses
    w.http
        .call(
            "POST",
            "/support/tenants",
            Some(json!({"code": TENANT, "name": "黒猫堂", "logistics": true,
                "access_key": ACCESS_KEY, "welcome_mail": true,
                "admin": {"name": "黒猫太郎", "email": admin_mail}})),
            Some(SUPPORT),
        )
        .await
        .expect(201);
    let temp = w.secret(&admin_mail, MailKind::UserRegistered);
    let admin = w
        .first_login(TENANT, &admin_mail, &temp, "Kuro2024neko")
        .await;
    for (id, mail) in [("dormant01", &dormant_mail), ("active01", &active_mail)] {
        w.http
            .call(
                "POST",
                "/admin/users",
                Some(json!({"user_id": id, "role": "general",
                    "profile": {"name": "山田花子", "email": mail}})),
                Some(&admin),
            )
            .await
            .expect(201);
    }
    // AND active01 sets its password at once and logs in again 60 days later; dormant01 never
    // logs in
    let active_temp = w.secret(&active_mail, MailKind::UserRegistered);
    w.first_login("active01", &active_mail, &active_temp, "Yamada2024hana")
        .await;
    w.clock.advance_days(60);
    let s = w.login("active01", &active_mail, "Yamada2024hana").await;
    assert_eq!(s["scope"], "full", "{s}");
    // AND 32 more days pass: dormant01 was created 92 days ago, active01 logged in 32 days ago
    w.clock.advance_days(32);

    // WHEN EventBridge invokes the sweeper with its scheduled event
    let report = sweep(&*w.svc, schedule()).await.unwrap();

    // THEN the report names dormant01 only (the admin is never deleted)
    assert_eq!(
        report["deleted"],
        json!([{"tenant": TENANT, "user_id": "dormant01"}]),
        "{report}"
    );
    assert_eq!(report["scanned"], 3, "{report}");
    // AND dormant01 and its e-mail claim are gone from DynamoDB
    assert!(
        w.store
            .user(&UserRef::new(TENANT, "dormant01"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        w.store
            .email_owners(&email_key(&dormant_mail))
            .await
            .unwrap()
            .is_none(),
        "the dormant user's e-mail claim is released"
    );
    // AND active01, its claim and the admin stay
    assert!(
        w.store
            .user(&UserRef::new(TENANT, "active01"))
            .await
            .unwrap()
            .is_some()
    );
    let owners = w
        .store
        .email_owners(&email_key(&active_mail))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owners.owners, [UserRef::new(TENANT, "active01")]);
    assert!(
        w.store
            .user(&UserRef::new(TENANT, TENANT))
            .await
            .unwrap()
            .is_some()
    );

    // WHEN the schedule fires again THEN nothing more is deleted
    let again = sweep(&*w.svc, schedule()).await.unwrap();
    assert_eq!(again["deleted"], json!([]), "{again}");
    assert_eq!(again["scanned"], 2, "{again}");

    // AND the freed address can be given to a new user (E-1), by the admin (whose password
    // expired meanwhile, PW-5)
    let admin = w
        .first_login(TENANT, &admin_mail, "Kuro2024neko", "Kuro2025neko")
        .await;
    w.http
        .call(
            "POST",
            "/admin/users",
            Some(json!({"user_id": "dormant02", "role": "general",
                "profile": {"name": "山田花子", "email": dormant_mail}})),
            Some(&admin),
        )
        .await
        .expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_binary_answers_the_scheduled_event() {
    // GIVEN the real `sweeper` binary started against a Runtime API stand-in, on a table with a
    // tenant and its admin (never dormant)
    let w = World::start().await;
    w.http
        .call(
            "POST",
            "/support/tenants",
            Some(json!({"code": TENANT, "name": "黒猫堂", "logistics": true,
                "access_key": ACCESS_KEY, "admin": {"name": "黒猫太郎",
                "email": address("sweeper-bin")}})),
            Some(SUPPORT),
        )
        .await
        .expect(201);
    let runtime = RuntimeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    write_private(&key, &format!("{}\n", "4e".repeat(32)));
    let vars = [
        ("MONBAN_TABLE", w.store.table().to_owned()),
        ("MONBAN_SENDER", "no-reply@kuroneko.example".to_owned()),
        ("MONBAN_PRESET", "kuroneko".to_owned()),
        ("MONBAN_PUBLIC_URL", "https://auth.example.com".to_owned()),
        ("MONBAN_SIGNING_KEY_FILE", key.display().to_string()),
        // Ignored by the sweeper: it never reads the support token.
        (
            "MONBAN_SUPPORT_TOKEN_PARAMETER",
            "/monban/support-token".to_owned(),
        ),
        ("MONBAN_DYNAMODB_ENDPOINT", dynamodb_endpoint()),
        ("MONBAN_SES_ENDPOINT", "http://127.0.0.1:9".to_owned()),
    ];
    let f = Function::start(
        env!("CARGO_BIN_EXE_sweeper"),
        "monban-sweeper",
        &runtime,
        dir.path(),
        &vars,
    );
    // WHEN EventBridge Scheduler invokes it with the scheduled event
    let (id, outcome) = runtime
        .invoke(serde_json::from_str(SCHEDULE).unwrap())
        .await;
    // THEN it answers the report: the admin was scanned, nobody deleted
    match outcome {
        Outcome::Response(r) => assert_eq!(r, json!({"scanned": 1, "deleted": []})),
        Outcome::Error(h, e) => panic!("the sweeper failed: {h:?} {e}"),
    }
    // AND logs the counts as JSON with the request ID
    let lines = f.log_lines();
    assert!(
        lines.iter().any(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or(Value::Null);
            v["message"] == "dormancy sweep"
                && v["scanned"] == 1
                && v["deleted"] == 0
                && v["span"]["requestId"] == id.as_str()
        }),
        "{lines:#?}"
    );
}
