//! A stand-in of the Lambda Runtime API (the endpoints a custom runtime talks to) and a Lambda
//! function process started against it, for the tests that run the real `bootstrap` and
//! `sweeper` binaries.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::unique;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:monban";

/// What the function answered for one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(HeaderMap, Value),
}

#[derive(Default)]
pub struct Shared {
    pub queue: tokio::sync::Mutex<Option<mpsc::UnboundedReceiver<(String, Value)>>>,
    pub waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    pub init_errors: Mutex<Vec<(HeaderMap, Value)>>,
    pub first_next: Mutex<Option<Instant>>,
    pub first_response: Mutex<Option<Instant>>,
}

pub struct RuntimeApi {
    pub address: String,
    pub shared: Arc<Shared>,
    send: mpsc::UnboundedSender<(String, Value)>,
}

async fn next(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    s.first_next
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let mut queue = s.queue.lock().await;
    let Some((id, event)) = queue.as_mut().unwrap().recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    let mut h = HeaderMap::new();
    h.insert("Lambda-Runtime-Aws-Request-Id", id.parse().unwrap());
    h.insert(
        "Lambda-Runtime-Deadline-Ms",
        deadline.to_string().parse().unwrap(),
    );
    h.insert(
        "Lambda-Runtime-Invoked-Function-Arn",
        FUNCTION_ARN.parse().unwrap(),
    );
    h.insert(
        "Lambda-Runtime-Trace-Id",
        "Root=1-6743f5b3-2f0c41a96d1e5b7a3c8e9d10;Parent=53995c3f42cd8ad8;Sampled=0"
            .parse()
            .unwrap(),
    );
    h.insert("Content-Type", "application/json".parse().unwrap());
    (StatusCode::OK, h, event.to_string())
}

fn body_json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| json!({"raw": body}))
}

async fn response(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: String,
) -> impl IntoResponse {
    s.first_response
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    if let Some(tx) = s.waiting.lock().unwrap().remove(&id) {
        let _ = tx.send(Outcome::Response(body_json(&body)));
    }
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

async fn error(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    if let Some(tx) = s.waiting.lock().unwrap().remove(&id) {
        let _ = tx.send(Outcome::Error(headers, body_json(&body)));
    }
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

async fn init_error(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    s.init_errors
        .lock()
        .unwrap()
        .push((headers, body_json(&body)));
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (send, recv) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(Some(recv)),
            ..Default::default()
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            address,
            shared,
            send,
        }
    }

    /// Queues `event` under a fresh request ID and waits (60 s at most) for the function's
    /// answer.
    pub async fn invoke(&self, event: Value) -> (String, Outcome) {
        let id = format!(
            "{:08x}-{}",
            std::process::id(),
            unique("req").replace('-', "")
        );
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(id.clone(), tx);
        self.send.send((id.clone(), event)).unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .unwrap_or_else(|_| panic!("no /response or /error for invocation {id} within 60 s"))
            .unwrap();
        (id, outcome)
    }

    /// Waits (30 s at most) for a report to `/init/error`.
    pub async fn init_error(&self) -> (HeaderMap, Value) {
        let started = Instant::now();
        loop {
            if let Some(e) = self.shared.init_errors.lock().unwrap().first().cloned() {
                return e;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no /init/error within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

// ---- the function process ----------------------------------------------------------------------------

/// A function process (`bootstrap`, `sweeper`); killed when dropped.
pub struct Function {
    pub child: Child,
    pub started: Instant,
    pub log: PathBuf,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    /// Starts the function binary `program` as Lambda would: the Runtime API address, the
    /// function's environment (region, dummy credentials) and `vars`; nothing else from this
    /// process's environment. Its stdout goes to `dir/<name>.log`.
    pub fn start(
        program: &str,
        name: &str,
        runtime: &RuntimeApi,
        dir: &FsPath,
        vars: &[(&str, String)],
    ) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/24/[$LATEST]0123456789abcdef",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            // DynamoDB Local takes letters and digits only in the access key ID.
            .env("AWS_ACCESS_KEY_ID", "monbanlocal")
            .env("AWS_SECRET_ACCESS_KEY", "monbanlocal")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", dir)
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::inherit());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        Self {
            child,
            started,
            log,
        }
    }

    /// Waits (30 s at most) for the process to exit; answers its status code.
    pub fn exit_code(&mut self) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the function did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
