//! Where the time of one session check (`GET /me`) goes, in process and without HTTP: the token's
//! signature check, the SQLite read of the user (through `SqliteStore`, i.e. on tokio's
//! blocking pool, and the same query inline on the calling thread), `AuthService::whoami`, and
//! the whole router answering `GET /me`. Run: `cargo bench -p monban-benches --bench session`;
//! figures in `benches/README.md`.
// A bench is a test harness: failing loudly on a setup error is what we want.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use monban_core::flow::account::{NewTenant, ProfileInput};
use monban_core::flow::login::LoginStep;
use monban_core::mail::{MailKind, extract_secret};
use monban_core::model::{User, UserRef};
use monban_core::ports::{Clock, Store};
use monban_core::service::LoginRequest;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret};
use monban_embedded::{OsRandom, OutboxMailer, SqliteStore, SystemClock, TokioOffload};
use monban_server::{AppState, router};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;
use tower::ServiceExt;

const TENANT: &str = "123456789";
const ACCESS_KEY: &str = "7777777";
const ADMIN_MAIL: &str = "admin@bench.example";
const PASSWORD: &str = "Bench2025pass";

type Svc = AuthService<SqliteStore, OutboxMailer>;

/// The newest secret of `kind` mailed to `to`.
fn secret(outbox: &Path, to: &str, kind: MailKind) -> String {
    OutboxMailer::read_all(outbox)
        .unwrap()
        .into_iter()
        .rev()
        .find(|m| m.mail.to == to && m.mail.kind == kind)
        .and_then(|m| extract_secret(&m.mail))
        .unwrap_or_else(|| panic!("no {kind:?} mail to {to}"))
}

/// A tenant whose admin has a full session: welcome mail → temporary password → code → change.
async fn signed_in(svc: &Svc, outbox: &Path) -> String {
    svc.support_create_tenant(&NewTenant {
        code: TENANT.into(),
        name: "Bench".into(),
        corporate_number: None,
        logistics: false,
        access_key: Some(Secret::new(ACCESS_KEY)),
        lang: None,
        admin: ProfileInput {
            name: "Bench Admin".into(),
            email: Some(ADMIN_MAIL.into()),
            ..Default::default()
        },
        admin_login_method: Default::default(),
        welcome_mail: true,
    })
    .await
    .unwrap();
    let temporary = secret(outbox, ADMIN_MAIL, MailKind::UserRegistered);
    let step = svc
        .login(LoginRequest {
            tenant: Some(TENANT.into()),
            identifier: Some(TENANT.into()),
            password: Some(Secret::new(temporary)),
            access_key: Some(Secret::new(ACCESS_KEY)),
            certificate: None,
        })
        .await
        .unwrap();
    let LoginStep::SecondFactor(challenge) = step else {
        panic!("a second factor");
    };
    let code = Secret::new(secret(outbox, ADMIN_MAIL, MailKind::Otp));
    let s = svc
        .verify_second_factor(challenge.token.expose(), &code)
        .await
        .unwrap();
    let pw = Secret::new(PASSWORD);
    let full = svc
        .change_password(s.token.expose(), None, &pw, &pw)
        .await
        .unwrap();
    full.token.expose().to_owned()
}

fn session(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("monban.db");
    let outbox = dir.path().join("outbox");
    // Like `monban serve`: a multi-thread runtime (one worker per core), SQLite on its blocking
    // pool. `block_on` polls on the bench thread, so a store call hops to a pool thread and back
    // as it does from a server worker.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = SessionKey::new(vec![7; 32]).unwrap();
    let store = SqliteStore::open(&db).unwrap();
    let svc = AuthService::new(
        Policy::kuroneko(),
        key.clone(),
        store.clone(),
        OutboxMailer::new(&outbox).unwrap(),
        SystemClock,
        OsRandom::new().unwrap(),
    )
    .unwrap()
    .with_offload(TokioOffload::new());
    let token = rt.block_on(signed_in(&svc, &outbox));
    let state = AppState::new(svc, None);
    let app = router(state.clone());
    let admin = UserRef::new(TENANT, TENANT);
    let bearer = format!("Bearer {token}");

    let mut group = c.benchmark_group("session");
    group.bench_function("token_verify", |b| {
        b.iter(|| key.verify(black_box(&token), SystemClock.now()).unwrap())
    });
    group.bench_function("store_user_sqlite_store", |b| {
        b.iter(|| rt.block_on(store.user(black_box(&admin))).unwrap().unwrap())
    });
    // The query `SqliteStore::user` runs, on the calling thread: what the read costs without
    // the hop to the blocking pool.
    let conn = rusqlite::Connection::open(&db).unwrap();
    group.bench_function("store_user_sqlite_inline", |b| {
        b.iter(|| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT version, data FROM users WHERE tenant = ?1 AND user_id = ?2",
                )
                .unwrap();
            let (version, data): (i64, String) = stmt
                .query_row(rusqlite::params![TENANT, TENANT], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            let user: User = serde_json::from_str(&data).unwrap();
            black_box((version, user))
        })
    });
    // One empty job through the blocking pool and back: the hop alone.
    group.bench_function("blocking_pool_hop", |b| {
        b.iter(|| {
            rt.block_on(async { tokio::task::spawn_blocking(|| black_box(1)).await })
                .unwrap()
        })
    });
    group.bench_function("whoami", |b| {
        b.iter(|| {
            rt.block_on(state.service().whoami(black_box(&token)))
                .unwrap()
        })
    });
    // The router's own cost: a route that does nothing, then `GET /me`.
    group.bench_function("router_get_health", |b| {
        b.iter(|| black_box(rt.block_on(get(&app, &bearer, "/health"))))
    });
    group.bench_function("router_get_me", |b| {
        b.iter(|| black_box(rt.block_on(get(&app, &bearer, "/me"))))
    });
    group.finish();
}

/// `GET path` through the router (no network), returning the status.
async fn get(app: &axum::Router, bearer: &str, path: &str) -> u16 {
    let req = Request::get(path)
        .header("authorization", bearer)
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let _ = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(status, 200, "{path}");
    status
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = session
}
criterion_main!(benches);
