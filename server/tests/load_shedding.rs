//! AB-4 through HTTP: password hashing is bounded. With every hashing slot and queue place
//! taken, a login is answered at once with 503 `busy` and `Retry-After` instead of waiting
//! without bound; once a slot frees, logins are served again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Http;
use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use monban_core::ports::{Job, Offload};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Timestamp};
use monban_server::{AppState, router};
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::watch;

/// An offload whose jobs wait until the gate opens, so a test can hold hashing slots.
#[derive(Clone)]
struct Gate {
    open: watch::Receiver<bool>,
    waiting: Arc<AtomicUsize>,
}

impl Offload for Gate {
    fn run(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let mut open = self.open.clone();
        let waiting = Arc::clone(&self.waiting);
        Box::pin(async move {
            waiting.fetch_add(1, Ordering::SeqCst);
            let _ = open.wait_for(|o| *o).await;
            waiting.fetch_sub(1, Ordering::SeqCst);
            job();
        })
    }
}

fn login(user: &str) -> serde_json::Value {
    json!({"tenant": "acme", "identifier": user, "password": "correct horse battery"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_hashing_place_taken_a_login_is_refused_at_once_with_retry_after() {
    // SPEC: AB-4 — one slot and one queue place.
    let mut policy = Policy::nist().with_test_hashing();
    policy.password.hash_concurrency = Some(1);
    policy.password.hash_queue = Some(1);
    let (gate_tx, gate_rx) = watch::channel(false);
    let waiting = Arc::new(AtomicUsize::new(0));
    let svc = AuthService::new(
        policy,
        SessionKey::new(vec![7u8; 32]).unwrap(),
        Arc::new(MemoryStore::new()),
        Arc::new(CapturingMailer::new()),
        Arc::new(ManualClock::at(Timestamp(1_800_000_000))),
        SeededRandom::new(42),
    )
    .unwrap()
    .with_offload(Gate {
        open: gate_rx,
        waiting: Arc::clone(&waiting),
    });
    let http = Http::new(router(AppState::new(svc, None)));

    // GIVEN two logins holding the slot and the queue place (unknown accounts: their dummy
    // verification counts the same as a real one)
    let held: Vec<_> = ["alice", "bob"]
        .into_iter()
        .map(|u| {
            let http = Http::new(http.app.clone());
            tokio::spawn(async move { http.call("POST", "/login", Some(login(u)), None).await })
        })
        .collect();
    while waiting.load(Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }

    // WHEN a third arrives THEN it is refused at once, retryable, with Retry-After
    let a = http
        .call("POST", "/login", Some(login("carol")), None)
        .await;
    a.expect_error(503, "busy");
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(
        waiting.load(Ordering::SeqCst),
        2,
        "the refused login queued nothing"
    );

    // AND once the gate opens the held logins finish normally, and new ones are served
    gate_tx.send(true).unwrap();
    for h in held {
        h.await.unwrap().expect_error(401, "login_failed");
    }
    http.call("POST", "/login", Some(login("carol")), None)
        .await
        .expect_error(401, "login_failed");
}
