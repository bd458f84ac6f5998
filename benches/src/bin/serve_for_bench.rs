//! `serve_for_bench`: a stand-in for `monban serve`, for measuring when the real binary is not
//! built. It builds what `monban serve` builds — the lambdas router over an `AuthService` on
//! `SqliteStore` + `OutboxMailer` + `SystemClock` + `OsRandom`, argon2 through `TokioOffload` —
//! and serves it over HTTP/1.1 with axum.
//!
//! ```text
//! serve_for_bench --db FILE --outbox DIR --listen 127.0.0.1:PORT [--preset kuroneko]
//!                 [--support-token-file FILE] [--inline-reads true]
//! ```
//!
//! A fresh random session key and support token are made at every start; the token is written
//! to `--support-token-file` (default: `<db>.support-token`, mode 0600).
//!
//! `--inline-reads true` is an experiment, not a server to deploy: it wraps the store in
//! [`InlineReads`], which answers `Store::user` and `Store::tenant` with the same SQL as
//! `SqliteStore` but on the calling async worker (a per-thread read connection), without the hop
//! to tokio's blocking pool. It measures what that hop costs a session check.

use monban_core::audit::{AuditEvent, AuditFilter};
use monban_core::model::{CertOwner, EmailOwners, Page, Tenant, User, UserRef, Write};
use monban_core::ports::{Mailer, SecureRandom, Store, StoreError, StoreResult};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret};
use monban_embedded::{OsRandom, OutboxMailer, SqliteStore, SystemClock, TokioOffload};
use monban_server::{AppState, router};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const USAGE: &str = "usage: serve_for_bench --db FILE --outbox DIR --listen 127.0.0.1:PORT \
                     [--preset kuroneko] [--support-token-file FILE] [--inline-reads true]";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &PathBuf, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Experiment: `SqliteStore` with its two hot point reads done inline (see the module doc).
#[derive(Clone)]
struct InlineReads {
    inner: SqliteStore,
    path: Arc<PathBuf>,
}

thread_local! {
    /// One read connection per thread (async workers), opened on first use.
    static READER: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("sqlite (inline read): {e}"))
}

impl InlineReads {
    /// `SELECT version, data … WHERE <key>` on this thread's read connection; the `version`
    /// column overrides the copy in the JSON, as in `SqliteStore`.
    fn one<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
        set_version: fn(&mut T, u64),
    ) -> StoreResult<Option<T>> {
        READER.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                let c = open_reader(&self.path).map_err(unavailable)?;
                *slot = Some(c);
            }
            let conn = slot.as_ref().ok_or_else(|| unavailable("no connection"))?;
            let mut stmt = conn.prepare_cached(sql).map_err(unavailable)?;
            let mut rows = stmt.query(params).map_err(unavailable)?;
            let Some(row) = rows.next().map_err(unavailable)? else {
                return Ok(None);
            };
            let version: i64 = row.get(0).map_err(unavailable)?;
            let data: String = row.get(1).map_err(unavailable)?;
            let mut value: T = serde_json::from_str(&data).map_err(unavailable)?;
            set_version(&mut value, u64::try_from(version).map_err(unavailable)?);
            Ok(Some(value))
        })
    }
}

fn open_reader(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(c)
}

impl Store for InlineReads {
    async fn tenant(&self, code: &str) -> StoreResult<Option<Tenant>> {
        self.one(
            "SELECT version, data FROM tenants WHERE code = ?1",
            &[&code],
            |t: &mut Tenant, v| t.version = v,
        )
    }
    async fn user(&self, user: &UserRef) -> StoreResult<Option<User>> {
        self.one(
            "SELECT version, data FROM users WHERE tenant = ?1 AND user_id = ?2",
            &[&user.tenant, &user.user_id],
            |u: &mut User, v| u.version = v,
        )
    }
    async fn list_tenants(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<Tenant>> {
        self.inner.list_tenants(after, limit).await
    }
    async fn email_owners(&self, address: &str) -> StoreResult<Option<EmailOwners>> {
        self.inner.email_owners(address).await
    }
    async fn cert_owner(&self, key: &str) -> StoreResult<Option<CertOwner>> {
        self.inner.cert_owner(key).await
    }
    async fn list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<User>> {
        self.inner.list_users(tenant, after, limit).await
    }
    async fn scan_users(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<User>> {
        self.inner.scan_users(after, limit).await
    }
    async fn commit(&self, writes: Vec<Write>) -> StoreResult<()> {
        self.inner.commit(writes).await
    }
    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<AuditEvent>> {
        self.inner.audit(filter, after, limit).await
    }
    async fn outbox_entry(
        &self,
        id: &str,
    ) -> StoreResult<Option<monban_core::outbox::OutboxEntry>> {
        self.inner.outbox_entry(id).await
    }
    async fn list_outbox(
        &self,
        filter: &monban_core::outbox::OutboxFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<monban_core::outbox::OutboxEntry>> {
        self.inner.list_outbox(filter, after, limit).await
    }
    async fn bump_counter(
        &self,
        key: &str,
        now: monban_core::Timestamp,
        window_end: monban_core::Timestamp,
    ) -> StoreResult<monban_core::abuse::Counter> {
        self.inner.bump_counter(key, now, window_end).await
    }
    async fn counter(
        &self,
        key: &str,
        now: monban_core::Timestamp,
    ) -> StoreResult<Option<monban_core::abuse::Counter>> {
        self.inner.counter(key, now).await
    }
    async fn delete_counter(&self, key: &str) -> StoreResult<()> {
        self.inner.delete_counter(key).await
    }
    async fn list_counters(
        &self,
        group: &str,
        now: monban_core::Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<monban_core::abuse::Counter>> {
        self.inner.list_counters(group, now, after, limit).await
    }
}

/// Serves `service` on `listen` until the process is stopped.
fn serve<S: Store + 'static, M: Mailer + 'static>(
    service: AuthService<S, M>,
    token: String,
    listen: &str,
    banner: String,
) -> Result<()> {
    let app = router(AppState::new(service, Some(Secret::new(token))));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            println!(
                "serve_for_bench: on http://{} ({banner})",
                listener.local_addr()?
            );
            axum::serve(listener, app).await?;
            Ok(())
        })
}

fn main() -> Result<()> {
    let mut opts = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag:?}\n{USAGE}"))?
            .to_owned();
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        opts.insert(name, value);
    }
    let get = |n: &str| {
        opts.get(n)
            .cloned()
            .ok_or_else(|| format!("--{n} is required\n{USAGE}"))
    };
    let db = PathBuf::from(get("db")?);
    let outbox = PathBuf::from(get("outbox")?);
    let listen = get("listen")?;
    let preset = opts
        .get("preset")
        .cloned()
        .unwrap_or_else(|| "kuroneko".into());
    let token_file = opts.get("support-token-file").map_or_else(
        || PathBuf::from(format!("{}.support-token", db.display())),
        PathBuf::from,
    );

    let rng = OsRandom::new()?;
    let mut key = vec![0u8; 32];
    rng.fill(&mut key);
    let mut token = [0u8; 24];
    rng.fill(&mut token);
    let token = hex(&token);
    write_private(&token_file, &format!("{token}\n"))?;
    let inline = opts.get("inline-reads").is_some_and(|v| v == "true");
    let banner = format!(
        "{preset}; db {}, outbox {}, support token in {}{}",
        db.display(),
        outbox.display(),
        token_file.display(),
        if inline {
            "; EXPERIMENT: inline reads"
        } else {
            ""
        }
    );
    let store = SqliteStore::open(&db)?;
    let mailer = OutboxMailer::new(&outbox)?;
    let policy = Policy::preset(&preset)?;
    let key = SessionKey::new(key)?;
    if inline {
        let store = InlineReads {
            inner: store,
            path: Arc::new(db.clone()),
        };
        let service = AuthService::new(policy, key, store, mailer, SystemClock, rng)?
            .with_offload(TokioOffload::new());
        serve(service, token, &listen, banner)
    } else {
        let service = AuthService::new(policy, key, store, mailer, SystemClock, rng)?
            .with_offload(TokioOffload::new());
        serve(service, token, &listen, banner)
    }
}
