//! SqliteStore beyond the shared conformance suite: migrations, corruption, a busy database,
//! several instances and several processes on one file, and use without a tokio runtime.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::Timestamp;
use monban_core::audit::{Actor, AuditEvent, AuditFilter, AuditKind};
use monban_core::model::{CertOwner, EmailOwners, Tenant, UserRef, Write};
use monban_core::ports::{Store, StoreError};
use monban_embedded::{SqliteOptions, SqliteStore};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn tenant(code: &str, name: &str, version: u64) -> Tenant {
    Tenant {
        code: code.into(),
        name: name.into(),
        corporate_number: None,
        logistics: false,
        access_key: None,
        lang: None,
        created_at: Timestamp(1_800_000_000),
        version,
    }
}

fn raw(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

fn unavailable<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Unavailable(why)) => why,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn migrations_are_applied_once_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // The folder is created too.
    let path = dir.path().join("data").join("monban.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.path(), path);
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    store
        .commit(vec![Write::PutTenant(tenant("123456789", "a", 0))])
        .await
        .unwrap();
    let c = raw(&path);
    let versions: Vec<i64> = c
        .prepare("SELECT version FROM schema_version ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, vec![1, 2, 3, 4]);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in [
        "audit",
        "cert_owners",
        "email_owners",
        "outbox",
        "schema_version",
        "tenants",
        "users",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} in {tables:?}");
    }
    let indexes: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for i in ["audit_at", "audit_tenant", "audit_subject", "audit_kind"] {
        assert!(indexes.iter().any(|x| x == i), "{i} in {indexes:?}");
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    drop(SqliteStore::open(&path).unwrap());
    raw(&path)
        .execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (99, 0)",
            [],
        )
        .unwrap();
    let why = unavailable(SqliteStore::open(&path));
    assert!(why.contains("newer"), "{why}");
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    std::fs::write(
        &path,
        b"this is not sqlite, just some text that is long enough",
    )
    .unwrap();
    unavailable(SqliteStore::open(&path));
}

#[tokio::test]
async fn corrupt_rows_read_as_unavailable_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    let store = SqliteStore::open(&path).unwrap();
    let owner = UserRef::new("123456789", "123456789");
    store
        .commit(vec![
            Write::PutTenant(tenant("123456789", "a", 0)),
            Write::PutEmailOwners(EmailOwners {
                address: "a@example.com".into(),
                owners: vec![owner.clone()],
                version: 0,
            }),
            Write::PutCertOwner(CertOwner {
                key: "sha256:00".into(),
                owner: owner.clone(),
                version: 0,
            }),
        ])
        .await
        .unwrap();
    let c = raw(&path);
    c.execute(
        "INSERT INTO users (tenant, user_id, version, data) VALUES ('123456789', 'u1', 1, '{\"tenant\":')",
        [],
    )
    .unwrap();
    store
        .commit(vec![Write::Audit(Box::new(AuditEvent::success(
            Timestamp(1),
            AuditKind::LoggedOut,
            Actor::System,
            Some(&owner),
        )))])
        .await
        .unwrap();
    for table in ["tenants", "email_owners", "cert_owners", "audit"] {
        c.execute(&format!("UPDATE {table} SET data = 'not json'"), [])
            .unwrap();
    }
    unavailable(store.tenant("123456789").await);
    unavailable(store.user(&UserRef::new("123456789", "u1")).await);
    unavailable(store.email_owners("a@example.com").await);
    unavailable(store.cert_owner("sha256:00").await);
    unavailable(store.list_users("123456789", None, 10).await);
    unavailable(store.scan_users(None, 10).await);
    unavailable(store.audit(&AuditFilter::default(), None, 10).await);
    // The schema itself refuses a version below 1.
    c.execute("UPDATE tenants SET data = '{}', version = -1", [])
        .unwrap_err();
    // Absent rows are still fine, and a corrupt row can be overwritten by a correct write.
    assert_eq!(store.tenant("987654321").await, Ok(None));
    store
        .commit(vec![Write::PutTenant(tenant("123456789", "b", 1))])
        .await
        .unwrap();
    let t = store.tenant("123456789").await.unwrap().unwrap();
    assert_eq!((t.name.as_str(), t.version), ("b", 2));
    // A cursor this store never issued is the caller's mistake, not a fault (issue 11).
    assert_eq!(
        store.audit(&AuditFilter::default(), Some("x"), 10).await,
        Err(StoreError::BadCursor)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_past_the_busy_timeout_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(200),
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    store
        .commit(vec![Write::PutTenant(tenant("123456789", "a", 0))])
        .await
        .unwrap();
    // GIVEN another process holding the write lock
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let p = path.clone();
    let holder = std::thread::spawn(move || {
        let c = raw(&p);
        c.execute_batch("BEGIN IMMEDIATE; UPDATE tenants SET data = data;")
            .unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        c.execute_batch("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();
    // WHEN this store writes, THEN it gives up after the timeout with Unavailable
    let started = std::time::Instant::now();
    let why = unavailable(
        store
            .commit(vec![Write::PutTenant(tenant("123456789", "b", 1))])
            .await,
    );
    assert!(why.contains("busy"), "{why}");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(started.elapsed() < Duration::from_secs(5));
    // AND appending audit gives up the same way, while reads go on (WAL)
    let ev = AuditEvent::success(Timestamp(1), AuditKind::LoggedOut, Actor::System, None);
    unavailable(store.commit(vec![Write::Audit(Box::new(ev))]).await);
    let t = store.tenant("123456789").await.unwrap().unwrap();
    assert_eq!(t.name, "a");
    // AND once the lock is released, the same write succeeds
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    store
        .commit(vec![Write::PutTenant(tenant("123456789", "b", 1))])
        .await
        .unwrap();
}

/// Reads the counter in the tenant's name and writes it back plus one, until it commits.
async fn increment<S: Store>(store: &S) -> usize {
    for attempt in 1..=10_000 {
        let t = store.tenant("123456789").await.unwrap().unwrap();
        let n: u64 = t.name.parse().unwrap();
        let next = Tenant {
            name: (n + 1).to_string(),
            ..t
        };
        match store.commit(vec![Write::PutTenant(next)]).await {
            Ok(()) => return attempt,
            Err(StoreError::Conflict) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("no progress")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_file_race_without_losing_a_write() {
    // SPEC: L-6 (counts survive racing writers), E-5
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    // GIVEN two stores opened at the same moment on a new file (as two processes would)
    let opened: Vec<SqliteStore> = (0..2)
        .map(|_| {
            let p = path.clone();
            std::thread::spawn(move || SqliteStore::open(p).unwrap())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let stores: Vec<Arc<SqliteStore>> = opened.into_iter().map(Arc::new).collect();
    stores[0]
        .commit(vec![Write::PutTenant(tenant("123456789", "0", 0))])
        .await
        .unwrap();
    // WHEN 100 tasks, half on each store, increment one counter at once
    let gate = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (store, gate) = (Arc::clone(&stores[i % 2]), Arc::clone(&gate));
            tokio::spawn(async move {
                gate.wait().await;
                increment(&*store).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // THEN every increment is there, seen alike from both stores
    for s in &stores {
        let t = s.tenant("123456789").await.unwrap().unwrap();
        assert_eq!((t.name.as_str(), t.version), ("100", 101));
    }
    // AND each store refused the other's stale writes rather than overwrote them
    assert!(stores.iter().map(|s| s.commits()).sum::<u64>() == 101);
    // AND a duplicate claim made through the other store is refused
    let claim = |who: &str| {
        Write::PutEmailOwners(EmailOwners {
            address: "a@example.com".into(),
            owners: vec![UserRef::new("123456789", who)],
            version: 0,
        })
    };
    stores[0].commit(vec![claim("u1")]).await.unwrap();
    assert_eq!(
        stores[1].commit(vec![claim("u2")]).await,
        Err(StoreError::Conflict)
    );
}

const CHILD_DB: &str = "MONBAN_SQLITE_RACE_DB";

/// Helper for the test below, run in child processes: increments the counter 40 times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by two_processes_on_one_file_race_without_losing_a_write"]
async fn child_process_increments() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    let store = Arc::new(SqliteStore::open(path).unwrap());
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { increment(&*store).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_file_race_without_losing_a_write() {
    // SPEC: L-6, E-5 (the guarantees hold across processes sharing the file)
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    let store = SqliteStore::open(&path).unwrap();
    store
        .commit(vec![Write::PutTenant(tenant("123456789", "0", 0))])
        .await
        .unwrap();
    // WHEN two child processes and this one increment the counter at once
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "child_process_increments",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(CHILD_DB, &path)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for _ in 0..40 {
        increment(&store).await;
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    // THEN all 120 increments are stored
    let t = store.tenant("123456789").await.unwrap().unwrap();
    assert_eq!((t.name.as_str(), t.version), ("120", 121));
}

fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn works_without_a_tokio_runtime() {
    // Outside tokio the blocking work runs inline: every call completes at the first poll.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("monban.db")).unwrap();
    let w = vec![Write::PutTenant(tenant("123456789", "a", 0))];
    assert_eq!(poll_once(store.commit(w)), Some(Ok(())));
    let t = poll_once(store.tenant("123456789")).unwrap().unwrap();
    assert_eq!(t.map(|t| t.version), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_calls_give_their_connection_back() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        max_connections: 1,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(dir.path().join("monban.db"), options).unwrap();
    // Calls dropped while waiting for the one connection, or while running.
    for i in 0..20u64 {
        let w = vec![Write::PutTenant(tenant(&format!("{i:09}"), "a", 0))];
        let _ = tokio::time::timeout(Duration::from_micros(50), store.commit(w)).await;
        let _ = poll_once(store.tenant("123456789"));
    }
    let listed = tokio::time::timeout(Duration::from_secs(10), store.scan_users(None, 10)).await;
    assert!(matches!(listed, Ok(Ok(_))), "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_one_pool_and_see_each_others_writes() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteStore::open(dir.path().join("monban.db")).unwrap();
    let b = a.clone();
    a.commit(vec![Write::PutTenant(tenant("123456789", "a", 0))])
        .await
        .unwrap();
    assert_eq!(
        b.tenant("123456789").await.unwrap().map(|t| t.version),
        Some(1)
    );
    assert_eq!(b.commits(), 1);
    assert!(format!("{b:?}").contains("monban.db"));
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    let _store = monban_embedded::SqliteStore::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn settings_round_trip_and_update() {
    let dir = tempfile::tempdir().unwrap();
    let store = monban_embedded::SqliteStore::open(dir.path().join("monban.db")).unwrap();
    assert_eq!(store.setting("policy").await.unwrap(), None);
    store.set_setting("policy", "{\"a\":1}").await.unwrap();
    store.set_setting("policy", "{\"a\":2}").await.unwrap();
    assert_eq!(
        store.setting("policy").await.unwrap().as_deref(),
        Some("{\"a\":2}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_read_does_not_wait_behind_writers_queued_for_the_write_lock() {
    // Under a burst of failed logins every pooled connection can be a writer waiting for the
    // write lock; a session check's read must not wait for them.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monban.db");
    let options = SqliteOptions {
        max_connections: 2,
        busy_timeout: Duration::from_secs(3),
    };
    let store = SqliteStore::open_with(&path, options).unwrap();
    store
        .commit(vec![Write::PutTenant(tenant("123456789", "a", 0))])
        .await
        .unwrap();
    // GIVEN another process holding the write lock
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let p = path.clone();
    let holder = std::thread::spawn(move || {
        let c = raw(&p);
        c.execute_batch("BEGIN IMMEDIATE; UPDATE tenants SET data = data;")
            .unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        c.execute_batch("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();
    // AND every connection of the pool taken by a writer waiting for it
    let writers: Vec<_> = (0..2)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let ev =
                    AuditEvent::success(Timestamp(i), AuditKind::LoggedOut, Actor::System, None);
                store.commit(vec![Write::Audit(Box::new(ev))]).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // WHEN a point read comes, THEN it is answered at once, not after the writers
    let started = std::time::Instant::now();
    let t = store.tenant("123456789").await.unwrap().unwrap();
    assert_eq!(t.name, "a");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the read waited {:?}",
        started.elapsed()
    );
    // AND once the lock is released, the writers finish
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    for w in writers {
        w.await.unwrap().unwrap();
    }
}
