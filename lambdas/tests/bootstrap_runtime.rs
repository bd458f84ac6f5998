//! The deployable artifact itself: the real `bootstrap` binary, started the way AWS Lambda
//! starts a custom runtime (`AWS_LAMBDA_RUNTIME_API` and the function's environment), against a
//! small stand-in of the Lambda Runtime API written here (`/2018-06-01/runtime/invocation/next`,
//! `…/{id}/response`, `…/{id}/error`, `/2018-06-01/runtime/init/error`), DynamoDB Local and the
//! SES v2 stand-in.
//!
//! It serves API Gateway HTTP API events end to end (support creates a Kuroneko tenant, its
//! admin logs in with the mailed temporary password and the mailed OTP); the mails are queued
//! in the table and sent by the real `courier` binary, invoked with the table's stream records
//! as Lambda's event source mapping would (M-4); both log JSON lines that carry the Lambda
//! request ID and no secret, and a configuration that does not work is reported
//! to `/init/error` naming the variable. The time from process start to the first `/response`
//! is printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod aws_common;

use aws_common::runtime_api::{Function, Outcome, RuntimeApi};
use aws_common::{Ses, StreamFeed, address, dynamodb_endpoint, fresh_table, unique, write_private};
use monban_core::mail::MailKind;
use serde_json::{Value, json};
use std::path::Path as FsPath;

const FIXTURE: &str = include_str!("fixtures/apigw_v2_login.json");
const SUPPORT_TOKEN: &str = "support-token-0123456789abcdef-bootstrap";
const KEY_HEX: &str = "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a";
const TENANT: &str = "192837465";
const ACCESS_KEY: &str = "5647382";

/// The binary under test: `bootstrap` of this build, or `MONBAN_TEST_BOOTSTRAP_BIN` (e.g. the
/// stripped release build, to measure its cold start).
fn bootstrap() -> String {
    std::env::var("MONBAN_TEST_BOOTSTRAP_BIN")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_bootstrap").to_owned())
}

/// The courier binary of this build.
fn courier() -> String {
    env!("CARGO_BIN_EXE_courier").to_owned()
}

/// Feeds the stream's next `n` outbox inserts to the courier function, as the event source
/// mapping does, and checks it reported no failed record.
async fn deliver(feed: &mut StreamFeed, courier: &RuntimeApi, n: usize) {
    let event = feed.next_event(n).await;
    let (_, out) = courier.invoke(event).await;
    match out {
        Outcome::Response(r) => assert_eq!(r["batchItemFailures"], json!([]), "{r}"),
        Outcome::Error(h, e) => panic!("the courier reported an error: {h:?} {e}"),
    }
}

/// The environment of a working function on `table`, with its secret files in `dir`.
fn config(dir: &FsPath, table: &str, ses: &Ses) -> Vec<(&'static str, String)> {
    let key = dir.join("signing.key");
    write_private(&key, &format!("{KEY_HEX}\n"));
    let token = dir.join("support.token");
    write_private(&token, &format!("{SUPPORT_TOKEN}\n"));
    vec![
        ("MONBAN_TABLE", table.to_owned()),
        (
            "MONBAN_SENDER",
            "monban <no-reply@auth.example.com>".to_owned(),
        ),
        ("MONBAN_SES_CONFIGURATION_SET", "monban-events".to_owned()),
        ("MONBAN_PUBLIC_URL", "https://auth.example.com".to_owned()),
        ("MONBAN_PRESET", "kuroneko".to_owned()),
        ("MONBAN_SIGNING_KEY_FILE", key.display().to_string()),
        ("MONBAN_SUPPORT_TOKEN_FILE", token.display().to_string()),
        ("MONBAN_DYNAMODB_ENDPOINT", dynamodb_endpoint()),
        ("MONBAN_SES_ENDPOINT", ses.endpoint.clone()),
    ]
}

/// An API Gateway HTTP API event (the fixture's shape) for `method path` with a JSON `body`.
fn event(method: &str, path: &str, body: &Value, bearer: Option<&str>) -> Value {
    let mut e: Value = serde_json::from_str(FIXTURE).unwrap();
    let text = body.to_string();
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    e["requestContext"]["requestId"] = json!(unique("apigw"));
    e["headers"]["content-length"] = json!(text.len().to_string());
    if let Some(t) = bearer {
        e["headers"]["authorization"] = json!(format!("Bearer {t}"));
    }
    e["body"] = json!(text);
    e
}

/// The API Gateway response: status and body JSON.
#[track_caller]
fn answer(outcome: &Outcome) -> (u16, Value) {
    match outcome {
        Outcome::Response(r) => (
            r["statusCode"].as_u64().unwrap() as u16,
            r["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null),
        ),
        Outcome::Error(h, e) => panic!("the function reported an error: {h:?} {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_binary_serves_api_gateway_events() {
    // GIVEN DynamoDB Local with a fresh table, the SES stand-in and the Runtime API stand-in
    let (client, table) = fresh_table().await;
    let mut feed = StreamFeed::open(&client, &table).await;
    let ses = Ses::start();
    let runtime = RuntimeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let vars = config(dir.path(), &table, &ses);
    let admin_mail = address("bootstrap-admin");
    // AND the courier function on its own Runtime API, fed by the table's stream
    let courier_api = RuntimeApi::start().await;
    let courier_dir = tempfile::tempdir().unwrap();
    let courier_fn = Function::start(
        &courier(),
        "monban-courier",
        &courier_api,
        courier_dir.path(),
        &vars,
    );

    // WHEN the bootstrap binary starts as on Lambda and gets its first invocation
    let f = Function::start(&bootstrap(), "monban-api", &runtime, dir.path(), &vars);
    let (_, created) = runtime
        .invoke(event(
            "POST",
            "/support/tenants",
            &json!({"code": TENANT, "name": "黒猫堂", "logistics": true,
                "access_key": ACCESS_KEY, "welcome_mail": true,
                "admin": {"name": "黒猫太郎", "email": admin_mail}}),
            Some(SUPPORT_TOKEN),
        ))
        .await;
    let first_response = runtime.shared.first_response.lock().unwrap().unwrap();
    let first_next = runtime.shared.first_next.lock().unwrap().unwrap();
    println!(
        "bootstrap cold start: {} ms from process start to the first /next, {} ms to the first \
         /response (a support request with one argon2id hash at the Kuroneko parameters)",
        first_next.duration_since(f.started).as_millis(),
        first_response.duration_since(f.started).as_millis()
    );
    // THEN support created the tenant, and its admin got the temporary password through SES
    let (status, body) = answer(&created);
    assert_eq!(status, 201, "{body}");
    deliver(&mut feed, &courier_api, 1).await;
    let mails = ses.wait_for(&admin_mail, 1);
    assert_eq!(mails[0].from, "monban <no-reply@auth.example.com>");
    let temp = ses.last_of(&admin_mail, MailKind::UserRegistered);

    // WHEN the admin logs in with it (L-1, first factor)
    let (login_id, a) = runtime
        .invoke(event(
            "POST",
            "/login",
            &json!({"tenant": TENANT, "identifier": TENANT, "password": temp,
                "access_key": ACCESS_KEY}),
            None,
        ))
        .await;
    // THEN the answer asks for the mailed one-time password (L-3)
    let (status, body) = answer(&a);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["next"], "second_factor", "{body}");
    assert_eq!(body["method"], "mail_otp", "{body}");
    let challenge = body["challenge"].as_str().unwrap().to_owned();
    deliver(&mut feed, &courier_api, 1).await;
    ses.wait_for(&admin_mail, 2);
    let code = ses.last_of(&admin_mail, MailKind::Otp);

    // WHEN the code is sent THEN a session that must change the temporary password opens
    let (_, s) = runtime
        .invoke(event(
            "POST",
            "/login/otp",
            &json!({"challenge": challenge, "code": code}),
            None,
        ))
        .await;
    let (status, body) = answer(&s);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert_eq!(body["scope"], "change_password", "{body}");
    assert_eq!(body["must_change_password"], "temporary", "{body}");

    // AND a wrong support token is refused with the JSON error, through the same process
    let (_, r) = runtime
        .invoke(event(
            "POST",
            "/support/tenants",
            &json!({"code": "111111111", "name": "x", "admin": {"name": "y"}}),
            Some("not-the-support-token-not-the-support-token"),
        ))
        .await;
    let (status, body) = answer(&r);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "unauthorized", "{body}");

    // AND the logs are JSON lines; a request's line carries the Lambda request ID and the
    // route template, and no line holds a password, a code or the support token
    let lines = f.log_lines();
    assert!(!lines.is_empty(), "bootstrap wrote no log");
    if std::env::var_os("MONBAN_TEST_SHOW_LOG").is_some() {
        println!("{}", lines.join("\n"));
    }
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    let login_line = parsed
        .iter()
        .find(|l| l["message"] == "request" && l["span"]["requestId"] == login_id.as_str())
        .unwrap_or_else(|| panic!("no request line for invocation {login_id}: {lines:#?}"));
    assert_eq!(login_line["route"], "/login", "{login_line}");
    assert_eq!(login_line["status"], 200, "{login_line}");
    // AND the mails were sent by the courier, whose log holds no secret or address either
    let courier_lines = courier_fn.log_lines();
    assert!(
        courier_lines.iter().any(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or(Value::Null);
            v["message"] == "mail sent" && v["domain"] == "example.com"
        }),
        "{courier_lines:#?}"
    );
    assert!(
        !parsed.iter().any(|l| l["message"] == "mail sent"),
        "the HTTP function sent mail itself: {lines:#?}"
    );
    for l in lines.iter().chain(&courier_lines) {
        for secret in [temp.as_str(), code.as_str(), SUPPORT_TOKEN, KEY_HEX] {
            assert!(!l.contains(secret), "a secret in the log: {l}");
        }
        assert!(
            !l.contains(&admin_mail),
            "a recipient address in the log: {l}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_is_reported_to_init_error() {
    let ses = Ses::start();
    let dir = tempfile::tempdir().unwrap();
    let good = config(dir.path(), "monban-never-created", &ses);
    let bad_key = dir.path().join("bad.key");
    write_private(&bad_key, "this-is-not-a-key-but-must-stay-secret\n");
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            good.iter()
                .filter(|(k, _)| *k != "MONBAN_TABLE")
                .cloned()
                .collect(),
            "MONBAN_TABLE",
        ),
        (
            good.iter()
                .map(|(k, v)| match *k {
                    "MONBAN_SIGNING_KEY_FILE" => (*k, bad_key.display().to_string()),
                    _ => (*k, v.clone()),
                })
                .collect(),
            "MONBAN_SIGNING_KEY_FILE",
        ),
        (
            good.iter()
                .map(|(k, v)| match *k {
                    "MONBAN_PRESET" => (*k, "kuroneco".to_owned()),
                    _ => (*k, v.clone()),
                })
                .collect(),
            "MONBAN_PRESET",
        ),
    ];
    for (vars, var) in cases {
        // GIVEN a Runtime API and a configuration with one bad variable
        let runtime = RuntimeApi::start().await;
        // WHEN bootstrap starts
        let mut f = Function::start(&bootstrap(), "monban-api", &runtime, dir.path(), &vars);
        // THEN it reports an init error naming the variable, and exits with status 1
        let (headers, body) = runtime.init_error().await;
        let message = body["errorMessage"].as_str().unwrap_or_default();
        assert!(message.starts_with(var), "{var}: {body}");
        assert!(!message.contains("must-stay-secret"), "{body}");
        assert_eq!(body["errorType"], "Runtime.ConfigError", "{body}");
        assert_eq!(
            headers["lambda-runtime-function-error-type"],
            "Runtime.ConfigError"
        );
        assert_eq!(f.exit_code(), Some(1), "{var}");
        assert!(
            runtime.shared.first_next.lock().unwrap().is_none(),
            "{var}: it asked for an invocation after failing to start"
        );
        // AND its log says why in JSON, without the secret
        let lines = f.log_lines();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("cannot start") && l.contains(var)),
            "{lines:#?}"
        );
        assert!(lines.iter().all(|l| !l.contains("must-stay-secret")));
    }
}
