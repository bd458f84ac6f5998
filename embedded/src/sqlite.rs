//! [`SqliteStore`]: the [`Store`] port on one SQLite file.
//!
//! - **Schema**: numbered migrations in `embedded/migrations/NNNN_name.sql`, compiled in with
//!   `include_str!`, applied in order inside one `BEGIN IMMEDIATE` transaction and recorded in
//!   `schema_version`. A database newer than this code is refused rather than guessed at.
//! - **Records** are stored as JSON text (the serde form of the monban-core model types) in a
//!   `data` column, beside their key columns and a `version` column. The `version` column is the
//!   authoritative one: it is what the conditions compare, and it overwrites the copy inside
//!   `data` on read. Rows are only ever read by key or key range, so nothing queries inside the
//!   JSON. A row whose JSON does not parse reads as [`StoreError::Unavailable`], never a panic.
//! - **Commit**: one `BEGIN IMMEDIATE` transaction takes the database's write lock, checks every
//!   condition, applies every write and commits; a failed condition rolls back and answers
//!   [`StoreError::Conflict`]. A batch naming one record twice is refused before anything is
//!   read. Waiting for the write lock is bounded by the busy timeout (5 s by default); past it
//!   the answer is [`StoreError::Unavailable`].
//! - **Concurrency**: WAL mode, so readers never wait for the writer. Connections come from a
//!   small pool (created on demand up to [`SqliteOptions::max_connections`] for calls on tokio's
//!   blocking pool, or inline outside a tokio runtime, and as many again for point reads, which
//!   run on the calling thread and so never wait behind queued writers). Writers of one `SqliteStore` queue
//!   on an in-process mutex before `BEGIN IMMEDIATE`, so only writers of *other* processes (or
//!   other `SqliteStore` instances) meet SQLite's busy handler. Several processes on one machine
//!   may open the same file at once: migrations, too, run under the write lock.
//! - **Back-off**: a conflict is answered after a short random pause that grows with the number
//!   of calls in flight (see `SqliteStore::back_off`), so that many tasks re-deciding against
//!   one hot record (200 racing wrong passwords) spread out instead of livelocking.

use crate::blocking;
use crate::contention::{BackOff, Contention, jitter};
use monban_core::abuse::Counter;
use monban_core::audit::{AuditEvent, AuditFilter};
use monban_core::model::{CertOwner, EmailOwners, Page, Tenant, User, UserRef, Write};
use monban_core::outbox::{OutboxEntry, OutboxFilter};
use monban_core::ports::{Store, StoreError, StoreResult};
use monban_core::time::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The migrations, in order: (version, SQL). Append only; never edit a released one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_settings.sql")),
    (3, include_str!("../migrations/0003_counters.sql")),
    (4, include_str!("../migrations/0004_outbox.sql")),
];

/// Tunables of a [`SqliteStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Most connections open at once (at least 1) for calls on the blocking pool (writes, scans,
    /// audit queries); calls beyond it wait for a free one. Point reads on the calling thread
    /// have as many again of their own, so a read never waits behind writers queued for the
    /// write lock.
    pub max_connections: usize,
    /// How long a write waits for the database's write lock held by another connection or
    /// process before it answers [`StoreError::Unavailable`].
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A [`Store`] on one SQLite file (WAL). Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    options: SqliteOptions,
    /// Idle connections, reused last-in first-out.
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection that calls on the blocking pool may hold.
    slots: Arc<Semaphore>,
    /// One permit per connection that point reads on the calling thread may hold: apart from
    /// `slots`, because a writer holds its slot while it waits for `writer`, and under a burst
    /// of writes every slot would be such a writer, making reads wait for the queue of commits.
    read_slots: Arc<Semaphore>,
    /// Serializes this store's writers before they ask SQLite for the write lock.
    writer: Mutex<()>,
    /// Calls in progress (waiting for a connection or running) and how long a commit holds
    /// the write lock: what the back-off scales to.
    contention: Contention,
    commits: AtomicU64,
    conflicts: AtomicU64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.shared.path)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// An error inside a blocking job, turned into a [`StoreError`] at the boundary.
enum Fail {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<Fail> for StoreError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Store(e) => e,
            Fail::Sql(e) => sql_error(&e),
        }
    }
}

type Job<T> = Result<T, Fail>;

fn unavailable(why: impl Into<String>) -> StoreError {
    StoreError::Unavailable(why.into())
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn sql_error(e: &rusqlite::Error) -> StoreError {
    if is_busy(e) {
        unavailable(format!(
            "sqlite database busy: another connection or process kept it locked past the busy \
             timeout ({e})"
        ))
    } else {
        unavailable(format!("sqlite: {e}"))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values (a list of idle connections, a unit) stay valid after a panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Opens one connection with the store's settings, waiting out a database that is busy.
///
/// SQLite answers some steps of opening — switching a new file to WAL, recovering after a
/// crash — with `SQLITE_BUSY` at once, without its busy handler, when another connection is
/// doing the same: two processes starting together on a new file meet that. Such an answer is
/// retried after a short pause until the busy timeout has passed.
fn connect(path: &Path, options: &SqliteOptions) -> Job<Connection> {
    retry_busy(options.busy_timeout, || connect_once(path, options))
}

fn retry_busy<T>(timeout: Duration, mut f: impl FnMut() -> Job<T>) -> Job<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match f() {
            Err(Fail::Sql(e)) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5) + jitter(Duration::from_millis(10)));
            }
            other => return other,
        }
    }
}

/// M-4: how many outbox entries of the database at `path` wait for their first attempt or are
/// being delivered now (pending and never failed): zero means the courier has tried every
/// mail queued so far. Entries waiting out a back-off after a failure do not count. A file
/// without an outbox table (a database from before the outbox, or none) has none. Opens the
/// file read-only; for tools and tests that wait for a server's courier.
pub fn undelivered(path: &Path) -> StoreResult<u64> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql_error(&e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| sql_error(&e))?;
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| sql_error(&e))?;
    if !has_table {
        return Ok(0);
    }
    conn.query_row(
        "SELECT count(*) FROM outbox
         WHERE state = 'pending' AND json_extract(data, '$.last_error') IS NULL",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| u64::try_from(n).unwrap_or(0))
    .map_err(|e| sql_error(&e))
}

fn connect_once(path: &Path, options: &SqliteOptions) -> Job<Connection> {
    let conn = Connection::open(path)?;
    // First, so that the journal-mode switch below also waits for other processes.
    conn.busy_timeout(options.busy_timeout)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(unavailable(format!(
            "{} cannot use WAL (journal mode stays {mode})",
            path.display()
        ))
        .into());
    }
    // No foreign keys today, but any later migration that declares one gets it enforced.
    conn.pragma_update(None, "foreign_keys", true)?;
    // FULL: a commit that answered Ok survives a power cut (lockout counters, consumed codes).
    conn.pragma_update(None, "synchronous", "FULL")?;
    // K-1: the old content of a re-written record (a secret from before it was sealed, a
    // replaced hash) is overwritten with zeros, not left in a free page of the file.
    conn.pragma_update(None, "secure_delete", true)?;
    Ok(conn)
}

/// Applies the migrations this database has not seen, under the write lock.
fn migrate(conn: &mut Connection) -> Job<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER NOT NULL PRIMARY KEY,
             applied_at INTEGER NOT NULL
         ) STRICT;",
    )?;
    let current: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    let latest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > latest {
        return Err(unavailable(format!(
            "database schema version {current} is newer than this monban-embedded knows \
             ({latest}); refusing to use it"
        ))
        .into());
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)
            .map_err(|e| unavailable(format!("migration {version} failed: {e}")))?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, unixepoch())",
            [version],
        )?;
    }
    tx.commit()?;
    Ok(())
}

impl Shared {
    fn checkout(&self) -> Job<Connection> {
        let idle = lock(&self.idle).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => connect(&self.path, &self.options),
        }
    }

    fn checkin(&self, conn: Connection) {
        // A connection still inside a transaction (a failed rollback) is not reused.
        if conn.is_autocommit() {
            lock(&self.idle).push(conn);
        }
    }
}

// ---- back-off after a conflict ----------------------------------------------------------------

/// The back-off's unit is four typical commits (3 to 25 ms), times the calls in flight, at most
/// 1 s.
const BACK_OFF: BackOff = BackOff {
    first_commit: Duration::from_millis(1),
    commits_per_unit: 4,
    unit_min: Duration::from_millis(3),
    unit_max: Duration::from_millis(25),
    max: Duration::from_secs(1),
};

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options, creating its
    /// folder if missing, and brings its schema up to date. Blocking: call it at start-up.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with explicit options.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| unavailable(format!("cannot create {}: {e}", parent.display())))?;
        }
        // The database holds password hashes and authenticator secrets: a new file is readable
        // by its owner only (SQLite's -wal and -shm files take the main file's permissions).
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(unavailable(format!(
                        "cannot create {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        let conn = retry_busy(options.busy_timeout, || {
            let mut conn = connect_once(&path, &options)?;
            migrate(&mut conn)?;
            Ok(conn)
        })?;
        let slots = options.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        Ok(Self {
            shared: Arc::new(Shared {
                path,
                options,
                idle: Mutex::new(vec![conn]),
                slots: Arc::new(Semaphore::new(slots)),
                read_slots: Arc::new(Semaphore::new(slots)),
                writer: Mutex::new(()),
                contention: Contention::new(BACK_OFF),
                commits: AtomicU64::new(0),
                conflicts: AtomicU64::new(0),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Commits that succeeded since the store was opened.
    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// Commits refused for a failed condition since the store was opened.
    pub fn conflicts(&self) -> u64 {
        self.shared.conflicts.load(Ordering::Relaxed)
    }

    /// Waits a random while before a conflict is answered, longer the more calls are in flight
    /// (why: [`crate::contention`]; the shape: [`BACK_OFF`]). The pause holds no connection and
    /// no lock, and sleeps on the blocking pool, so it needs no timer from the runtime.
    async fn back_off(&self) {
        let pause = self.shared.contention.pause();
        let _ = blocking::run(move || std::thread::sleep(pause)).await;
    }

    /// The moving average of a commit's duration, which scales the back-off.
    pub fn typical_commit(&self) -> Duration {
        self.shared.contention.typical_commit()
    }

    /// A value the application keeps beside its records (`monban serve` keeps the policy it
    /// runs with, so operator commands on the same file apply the same rules).
    pub async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        let name = name.to_owned();
        self.run(move |c, _| {
            use rusqlite::OptionalExtension;
            let v = c
                .query_row(
                    "SELECT value FROM settings WHERE name = ?1",
                    params![name],
                    |r| r.get::<_, String>(0),
                )
                .optional()?;
            Ok(v)
        })
        .await
    }

    /// Sets [`SqliteStore::setting`] `name` to `value`.
    pub async fn set_setting(&self, name: &str, value: &str) -> StoreResult<()> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.run(move |c, _| {
            c.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )?;
            Ok(())
        })
        .await
    }

    /// Runs a point read (one row by primary key) on a pooled connection on the calling thread.
    /// In WAL mode a reader never waits for the writer, and such a read takes microseconds,
    /// far less than the trip to the blocking pool and back (measured: 14–25 µs of thread
    /// switching against 1.7 µs of SQLite and JSON; session checks per server core doubled).
    /// Everything that writes, scans or may wait for a lock still goes through [`Self::run`].
    /// Its connection comes from `read_slots`, never from the writers' `slots`.
    async fn read_inline<T>(&self, job: impl FnOnce(&mut Connection) -> Job<T>) -> StoreResult<T> {
        let permit = Arc::clone(&self.shared.read_slots)
            .acquire_owned()
            .await
            .map_err(|_| unavailable("sqlite connection pool closed"))?;
        let mut conn = self.shared.checkout().map_err(StoreError::from)?;
        let out = job(&mut conn);
        self.shared.checkin(conn);
        drop(permit);
        out.map_err(StoreError::from)
    }

    /// Runs `job` on a pooled connection off the async workers.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection, &Shared) -> Job<T> + Send + 'static,
    ) -> StoreResult<T> {
        let _in_flight = self.shared.contention.enter();
        let permit = Arc::clone(&self.shared.slots)
            .acquire_owned()
            .await
            .map_err(|_| unavailable("sqlite connection pool closed"))?;
        let shared = Arc::clone(&self.shared);
        let out = blocking::run(move || {
            let _permit = permit;
            let mut conn = shared.checkout()?;
            let out = job(&mut conn, &shared);
            shared.checkin(conn);
            out
        })
        .await
        .map_err(StoreError::Unavailable)?;
        out.map_err(StoreError::from)
    }
}

// ---- records ---------------------------------------------------------------------------------

/// A record whose `version` lives in its own column.
trait Versioned: Serialize + DeserializeOwned {
    fn set_version(&mut self, v: u64);
}

impl Versioned for Tenant {
    fn set_version(&mut self, v: u64) {
        self.version = v;
    }
}
impl Versioned for User {
    fn set_version(&mut self, v: u64) {
        self.version = v;
    }
}
impl Versioned for EmailOwners {
    fn set_version(&mut self, v: u64) {
        self.version = v;
    }
}
impl Versioned for CertOwner {
    fn set_version(&mut self, v: u64) {
        self.version = v;
    }
}
impl Versioned for OutboxEntry {
    fn set_version(&mut self, v: u64) {
        self.version = v;
    }
}

fn to_column(v: u64) -> Job<i64> {
    i64::try_from(v).map_err(|_| unavailable(format!("record version {v} out of range")).into())
}

fn decode<T: DeserializeOwned>(what: &str, data: &str) -> Job<T> {
    serde_json::from_str(data)
        .map_err(|e| unavailable(format!("corrupt {what} row in the database: {e}")).into())
}

/// A record row: (version column, data column) → the record with the authoritative version.
fn record<T: Versioned>(what: &str, version: i64, data: &str) -> Job<T> {
    let mut r: T = decode(what, data)?;
    let v = u64::try_from(version)
        .map_err(|_| unavailable(format!("corrupt {what} row: negative version")))?;
    r.set_version(v);
    Ok(r)
}

fn one<T: Versioned>(
    conn: &Connection,
    what: &str,
    sql: &str,
    params: impl rusqlite::Params,
) -> Job<Option<T>> {
    let row: Option<(i64, String)> = conn
        .prepare_cached(sql)?
        .query_row(params, |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(v, d)| record(what, v, &d)).transpose()
}

/// Rows `(cursor, version, data)` fetched with `limit + 1` → a page of at most `limit`.
fn page<T: Versioned>(what: &str, rows: Vec<(String, i64, String)>, limit: usize) -> Job<Page<T>> {
    let more = rows.len() > limit;
    let mut items = Vec::with_capacity(rows.len().min(limit));
    let mut last = None;
    for (cursor, v, d) in rows.into_iter().take(limit) {
        items.push(record(what, v, &d)?);
        last = Some(cursor);
    }
    Ok(Page {
        items,
        next: if more { last } else { None },
    })
}

/// `limit` as the page size (at least 1, like the memory store) and the SQL `LIMIT` (+1, to
/// know whether a next page exists).
fn limits(limit: usize) -> (usize, i64) {
    let limit = limit.clamp(1, 100_000);
    (
        limit,
        i64::try_from(limit).unwrap_or(100_000).saturating_add(1),
    )
}

// ---- writes ----------------------------------------------------------------------------------

/// The key of one record.
enum Key {
    Tenant(String),
    User(String, String),
    Email(String),
    Cert(String),
    /// The outbox table's `state` and `due_at` columns are read from the JSON on write.
    Outbox(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Tenant(c) => write!(f, "tenant {c:?}"),
            Key::User(t, u) => write!(f, "user {t:?}/{u:?}"),
            Key::Email(_) => f.write_str("an e-mail owners record"),
            Key::Cert(k) => write!(f, "certificate owner {k:?}"),
            Key::Outbox(id) => write!(f, "outbox entry {id:?}"),
        }
    }
}

impl Key {
    /// Identity for the duplicate check (no separator can occur inside a kind tag).
    fn id(&self) -> (u8, &str, &str) {
        match self {
            Key::Tenant(c) => (0, c, ""),
            Key::User(t, u) => (1, t, u),
            Key::Email(a) => (2, a, ""),
            Key::Cert(k) => (3, k, ""),
            Key::Outbox(id) => (4, id, ""),
        }
    }

    fn stored_version(&self, conn: &Connection) -> Job<Option<i64>> {
        let (sql, a, b) = match self {
            Key::Tenant(c) => ("SELECT version FROM tenants WHERE code = ?1", c, None),
            Key::User(t, u) => (
                "SELECT version FROM users WHERE tenant = ?1 AND user_id = ?2",
                t,
                Some(u),
            ),
            Key::Email(a) => (
                "SELECT version FROM email_owners WHERE address = ?1",
                a,
                None,
            ),
            Key::Cert(k) => ("SELECT version FROM cert_owners WHERE key = ?1", k, None),
            Key::Outbox(id) => ("SELECT version FROM outbox WHERE id = ?1", id, None),
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let v = match b {
            Some(b) => stmt.query_row(params![a, b], |r| r.get(0)),
            None => stmt.query_row(params![a], |r| r.get(0)),
        };
        Ok(v.optional()?)
    }

    fn put(&self, conn: &Connection, version: i64, data: &str) -> Job<()> {
        match self {
            Key::Tenant(c) => conn
                .prepare_cached(
                    "INSERT INTO tenants (code, version, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (code) DO UPDATE SET version = excluded.version,
                                                      data = excluded.data",
                )?
                .execute(params![c, version, data])?,
            Key::User(t, u) => conn
                .prepare_cached(
                    "INSERT INTO users (tenant, user_id, version, data) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, user_id) DO UPDATE SET version = excluded.version,
                                                                 data = excluded.data",
                )?
                .execute(params![t, u, version, data])?,
            Key::Email(a) => conn
                .prepare_cached(
                    "INSERT INTO email_owners (address, version, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (address) DO UPDATE SET version = excluded.version,
                                                         data = excluded.data",
                )?
                .execute(params![a, version, data])?,
            Key::Cert(k) => conn
                .prepare_cached(
                    "INSERT INTO cert_owners (key, version, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (key) DO UPDATE SET version = excluded.version,
                                                     data = excluded.data",
                )?
                .execute(params![k, version, data])?,
            Key::Outbox(id) => conn
                .prepare_cached(
                    "INSERT INTO outbox (id, state, due_at, version, data)
                     VALUES (?1, json_extract(?3, '$.state'), json_extract(?3, '$.due_at'), ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                                                    due_at = excluded.due_at,
                                                    version = excluded.version,
                                                    data = excluded.data",
                )?
                .execute(params![id, version, data])?,
        };
        Ok(())
    }

    fn delete(&self, conn: &Connection) -> Job<()> {
        match self {
            Key::Tenant(c) => conn
                .prepare_cached("DELETE FROM tenants WHERE code = ?1")?
                .execute(params![c])?,
            Key::User(t, u) => conn
                .prepare_cached("DELETE FROM users WHERE tenant = ?1 AND user_id = ?2")?
                .execute(params![t, u])?,
            Key::Email(a) => conn
                .prepare_cached("DELETE FROM email_owners WHERE address = ?1")?
                .execute(params![a])?,
            Key::Cert(k) => conn
                .prepare_cached("DELETE FROM cert_owners WHERE key = ?1")?
                .execute(params![k])?,
            Key::Outbox(id) => conn
                .prepare_cached("DELETE FROM outbox WHERE id = ?1")?
                .execute(params![id])?,
        };
        Ok(())
    }
}

/// One write, serialized before the transaction starts (so the write lock is held briefly).
struct Op {
    key: Key,
    /// The version the stored record must have (0: absent, for a put).
    expect: i64,
    /// `Some((new version, JSON))` for a put, `None` for a delete.
    put: Option<(i64, String)>,
}

fn put_op<T: Versioned + Clone>(key: Key, record: &T, version: u64) -> Job<Op> {
    let next = version
        .checked_add(1)
        .ok_or_else(|| unavailable(format!("{key}: version overflow")))?;
    let mut stored = record.clone();
    stored.set_version(next);
    let data = serde_json::to_string(&stored)
        .map_err(|e| unavailable(format!("cannot encode {key}: {e}")))?;
    Ok(Op {
        expect: to_column(version)?,
        put: Some((to_column(next)?, data)),
        key,
    })
}

fn delete_op(key: Key, expect: u64) -> Job<Op> {
    Ok(Op {
        expect: to_column(expect)?,
        put: None,
        key,
    })
}

/// A batch ready to commit: the conditional record writes, then the audit appends.
struct Batch {
    ops: Vec<Op>,
    audit: Vec<AuditRow>,
}

fn prepare(writes: Vec<Write>) -> Job<Batch> {
    let mut ops = Vec::with_capacity(writes.len());
    let mut audit = Vec::new();
    for w in writes {
        ops.push(match w {
            Write::Audit(e) => {
                audit.push(audit_row(&e)?);
                continue;
            }
            Write::PutOutbox(o) => put_op(Key::Outbox(o.id.clone()), &*o, o.version)?,
            Write::DeleteOutbox { id, expect } => delete_op(Key::Outbox(id), expect)?,
            Write::PutTenant(t) => put_op(Key::Tenant(t.code.clone()), &t, t.version)?,
            Write::DeleteTenant { code, expect } => delete_op(Key::Tenant(code), expect)?,
            Write::PutUser(u) => put_op(
                Key::User(u.tenant.clone(), u.user_id.clone()),
                &*u,
                u.version,
            )?,
            Write::DeleteUser { user, expect } => {
                delete_op(Key::User(user.tenant, user.user_id), expect)?
            }
            Write::PutEmailOwners(e) => put_op(Key::Email(e.address.clone()), &e, e.version)?,
            Write::DeleteEmailOwners { address, expect } => delete_op(Key::Email(address), expect)?,
            Write::PutCertOwner(c) => put_op(Key::Cert(c.key.clone()), &c, c.version)?,
            Write::DeleteCertOwner { key, expect } => delete_op(Key::Cert(key), expect)?,
        });
    }
    let mut seen = BTreeSet::new();
    for op in &ops {
        if !seen.insert(op.key.id()) {
            return Err(unavailable(format!(
                "one batch writes {} twice; a batch may touch each record once",
                op.key
            ))
            .into());
        }
    }
    Ok(Batch { ops, audit })
}

fn commit_ops(conn: &mut Connection, shared: &Shared, batch: &Batch) -> Job<()> {
    let _writer = lock(&shared.writer);
    let started = std::time::Instant::now();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for op in &batch.ops {
        let stored = op.key.stored_version(&tx)?;
        let ok = match op.put {
            Some(_) => stored.unwrap_or(0) == op.expect,
            None => stored == Some(op.expect),
        };
        if !ok {
            // Dropping `tx` rolls back; nothing was written yet anyway.
            return Err(StoreError::Conflict.into());
        }
    }
    for op in &batch.ops {
        match &op.put {
            Some((version, data)) => op.key.put(&tx, *version, data)?,
            None => op.key.delete(&tx)?,
        }
    }
    insert_audit(&tx, &batch.audit)?;
    tx.commit()?;
    // Moving average (weight 1/8) of the time the write lock was held, for the back-off.
    shared.contention.note_commit(started.elapsed());
    Ok(())
}

// ---- audit -----------------------------------------------------------------------------------

struct AuditRow {
    at: i64,
    tenant: Option<String>,
    subject: Option<String>,
    kind: &'static str,
    data: String,
}

fn audit_row(e: &AuditEvent) -> Job<AuditRow> {
    Ok(AuditRow {
        at: e.at.secs(),
        tenant: e.tenant.clone(),
        subject: e.subject.clone(),
        kind: e.kind.as_str(),
        data: serde_json::to_string(e)
            .map_err(|err| unavailable(format!("cannot encode an audit event: {err}")))?,
    })
}

fn insert_audit(conn: &Connection, rows: &[AuditRow]) -> Job<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit (at, tenant, subject, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for r in rows {
        stmt.execute(params![r.at, r.tenant, r.subject, r.kind, r.data])?;
    }
    Ok(())
}

fn read_audit(
    conn: &Connection,
    filter: &AuditFilter,
    after: i64,
    limit: usize,
    fetch: i64,
) -> Job<Page<AuditEvent>> {
    let mut sql = String::from("SELECT id, data FROM audit WHERE id > ?1");
    let mut args = vec![Value::Integer(after)];
    let mut column = |name: &str, v: String| {
        args.push(Value::Text(v));
        sql.push_str(&format!(" AND {name} = ?{}", args.len()));
    };
    if let Some(t) = &filter.tenant {
        column("tenant", t.clone());
    }
    if let Some(s) = &filter.subject {
        column("subject", s.clone());
    }
    if let Some(k) = filter.kind {
        column("kind", k.as_str().to_owned());
    }
    args.push(Value::Integer(fetch));
    sql.push_str(&format!(" ORDER BY id LIMIT ?{}", args.len()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let more = rows.len() > limit;
    let mut items = Vec::with_capacity(rows.len().min(limit));
    let mut last = None;
    for (id, data) in rows.into_iter().take(limit) {
        items.push(decode::<AuditEvent>(&format!("audit event {id}"), &data)?);
        last = Some(id);
    }
    Ok(Page {
        items,
        next: if more {
            last.map(|id| id.to_string())
        } else {
            None
        },
    })
}

// ---- counters (AB-6) ----

/// Expired counter rows a bump removes on the way (so the table stays as small as its live
/// windows without a sweeper).
const PURGE_PER_BUMP: i64 = 8;

fn bump_row(conn: &mut Connection, shared: &Shared, key: &str, now: i64, end: i64) -> Job<Counter> {
    let _writer = lock(&shared.writer);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (count, expires_at): (i64, i64) = tx.query_row(
        "INSERT INTO counters (key, count, expires_at) VALUES (?1, 1, ?3)
         ON CONFLICT(key) DO UPDATE SET
             count = CASE WHEN expires_at <= ?2 THEN 1 ELSE count + 1 END,
             expires_at = CASE WHEN expires_at <= ?2 THEN ?3 ELSE expires_at END
         RETURNING count, expires_at",
        params![key, now, end],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    tx.execute(
        "DELETE FROM counters WHERE key IN
             (SELECT key FROM counters WHERE expires_at <= ?1 LIMIT ?2)",
        params![now, PURGE_PER_BUMP],
    )?;
    tx.commit()?;
    Ok(Counter {
        key: key.to_owned(),
        count: u64::try_from(count).unwrap_or(0),
        expires_at: Timestamp(expires_at),
    })
}

fn counter_of(key: String, count: i64, expires_at: i64) -> Counter {
    Counter {
        key,
        count: u64::try_from(count).unwrap_or(0),
        expires_at: Timestamp(expires_at),
    }
}

// ---- the port --------------------------------------------------------------------------------

/// Separates tenant and user ID in a [`Store::scan_users`] cursor.
const SCAN_SEP: char = '\u{0}';

impl Store for SqliteStore {
    // The audit row's sequence number (`i64`, not negative).
    const AUDIT_CURSOR_PATTERN: &'static str = "^\\+?[0-9]{1,18}$";
    async fn tenant(&self, code: &str) -> StoreResult<Option<Tenant>> {
        let code = code.to_owned();
        self.read_inline(move |c| {
            one(
                c,
                &format!("tenant {code:?}"),
                "SELECT version, data FROM tenants WHERE code = ?1",
                params![code],
            )
        })
        .await
    }

    async fn user(&self, user: &UserRef) -> StoreResult<Option<User>> {
        let r = user.clone();
        self.read_inline(move |c| {
            one(
                c,
                &format!("user {:?}/{:?}", r.tenant, r.user_id),
                "SELECT version, data FROM users WHERE tenant = ?1 AND user_id = ?2",
                params![r.tenant, r.user_id],
            )
        })
        .await
    }

    async fn list_tenants(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<Tenant>> {
        let after = after.map(str::to_owned);
        let (limit, fetch) = limits(limit);
        self.run(move |c, _| {
            let map = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
            let rows = match &after {
                Some(a) => c
                    .prepare_cached(
                        "SELECT code, version, data FROM tenants
                         WHERE code > ?1 ORDER BY code LIMIT ?2",
                    )?
                    .query_map(params![a, fetch], map)?
                    .collect::<Result<Vec<_>, _>>()?,
                None => c
                    .prepare_cached(
                        "SELECT code, version, data FROM tenants ORDER BY code LIMIT ?1",
                    )?
                    .query_map(params![fetch], map)?
                    .collect::<Result<Vec<_>, _>>()?,
            };
            page("tenant", rows, limit)
        })
        .await
    }

    async fn email_owners(&self, address: &str) -> StoreResult<Option<EmailOwners>> {
        let address = address.to_owned();
        self.read_inline(move |c| {
            one(
                c,
                "e-mail owners",
                "SELECT version, data FROM email_owners WHERE address = ?1",
                params![address],
            )
        })
        .await
    }

    async fn cert_owner(&self, key: &str) -> StoreResult<Option<CertOwner>> {
        let key = key.to_owned();
        self.read_inline(move |c| {
            one(
                c,
                &format!("certificate owner {key:?}"),
                "SELECT version, data FROM cert_owners WHERE key = ?1",
                params![key],
            )
        })
        .await
    }

    async fn list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<User>> {
        let (tenant, after) = (tenant.to_owned(), after.map(str::to_owned));
        let (limit, fetch) = limits(limit);
        self.run(move |c, _| {
            let map = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?, r.get(2)?));
            let rows = match &after {
                Some(a) => c
                    .prepare_cached(
                        "SELECT user_id, version, data FROM users
                         WHERE tenant = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3",
                    )?
                    .query_map(params![tenant, a, fetch], map)?
                    .collect::<Result<Vec<_>, _>>()?,
                None => c
                    .prepare_cached(
                        "SELECT user_id, version, data FROM users
                         WHERE tenant = ?1 ORDER BY user_id LIMIT ?2",
                    )?
                    .query_map(params![tenant, fetch], map)?
                    .collect::<Result<Vec<_>, _>>()?,
            };
            page("user", rows, limit)
        })
        .await
    }

    async fn scan_users(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<User>> {
        let after = after.map(|a| match a.split_once(SCAN_SEP) {
            Some((t, u)) => (t.to_owned(), u.to_owned()),
            None => (a.to_owned(), String::new()),
        });
        let (limit, fetch) = limits(limit);
        self.run(move |c, _| {
            let map = |r: &rusqlite::Row<'_>| {
                let (t, u): (String, String) = (r.get(0)?, r.get(1)?);
                Ok((format!("{t}{SCAN_SEP}{u}"), r.get(2)?, r.get(3)?))
            };
            let rows = match &after {
                Some((t, u)) => c
                    .prepare_cached(
                        "SELECT tenant, user_id, version, data FROM users
                         WHERE (tenant, user_id) > (?1, ?2) ORDER BY tenant, user_id LIMIT ?3",
                    )?
                    .query_map(params![t, u, fetch], map)?
                    .collect::<Result<Vec<_>, _>>()?,
                None => c
                    .prepare_cached(
                        "SELECT tenant, user_id, version, data FROM users
                         ORDER BY tenant, user_id LIMIT ?1",
                    )?
                    .query_map(params![fetch], map)?
                    .collect::<Result<Vec<_>, _>>()?,
            };
            page("user", rows, limit)
        })
        .await
    }

    async fn commit(&self, writes: Vec<Write>) -> StoreResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let batch = prepare(writes)?;
        let out = self
            .run(move |c, shared| commit_ops(c, shared, &batch))
            .await;
        match &out {
            Ok(()) => {
                self.shared.commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(StoreError::Conflict) => {
                self.shared.conflicts.fetch_add(1, Ordering::Relaxed);
                self.back_off().await;
            }
            Err(StoreError::Unavailable(_) | StoreError::BadCursor) => {}
        }
        out
    }

    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<AuditEvent>> {
        let after = match after {
            None => 0,
            Some(a) => a
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(StoreError::BadCursor)?,
        };
        let filter = filter.clone();
        let (limit, fetch) = limits(limit);
        self.run(move |c, _| read_audit(c, &filter, after, limit, fetch))
            .await
    }

    async fn outbox_entry(&self, id: &str) -> StoreResult<Option<OutboxEntry>> {
        let id = id.to_owned();
        self.read_inline(move |c| {
            one(
                c,
                "outbox",
                "SELECT version, data FROM outbox WHERE id = ?1",
                params![id],
            )
        })
        .await
    }

    async fn list_outbox(
        &self,
        filter: &OutboxFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<OutboxEntry>> {
        let (limit, fetch) = limits(limit);
        let after = after.unwrap_or("").to_owned();
        let state = filter.state.map(|s| s.as_str().to_owned());
        let due_by = filter.due_by.map(Timestamp::secs);
        self.run(move |c, _| {
            let rows = c
                .prepare_cached(
                    "SELECT id, version, data FROM outbox
                     WHERE id > ?1 AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR due_at <= ?3)
                     ORDER BY id LIMIT ?4",
                )?
                .query_map(params![after, state, due_by, fetch], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            page("outbox", rows, limit)
        })
        .await
    }

    async fn bump_counter(
        &self,
        key: &str,
        now: Timestamp,
        window_end: Timestamp,
    ) -> StoreResult<Counter> {
        let key = key.to_owned();
        self.run(move |c, shared| bump_row(c, shared, &key, now.secs(), window_end.secs()))
            .await
    }

    async fn counter(&self, key: &str, now: Timestamp) -> StoreResult<Option<Counter>> {
        let key = key.to_owned();
        self.read_inline(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT count, expires_at FROM counters WHERE key = ?1 AND expires_at > ?2",
                )?
                .query_row(params![key, now.secs()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()?;
            Ok(row.map(|(n, e)| counter_of(key, n, e)))
        })
        .await
    }

    async fn delete_counter(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.run(move |c, shared| {
            let _writer = lock(&shared.writer);
            c.execute("DELETE FROM counters WHERE key = ?1", params![key])?;
            Ok(())
        })
        .await
    }

    async fn list_counters(
        &self,
        group: &str,
        now: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<Counter>> {
        // Keys of the group run from `<group>/` up to (not including) `<group>0` ('0' follows '/').
        let lo = match after {
            Some(a) if a > format!("{group}/").as_str() => a.to_owned(),
            _ => format!("{group}/"),
        };
        let hi = format!("{group}0");
        let (limit, fetch) = limits(limit);
        self.run(move |c, _| {
            let rows = c
                .prepare_cached(
                    "SELECT key, count, expires_at FROM counters
                     WHERE key > ?1 AND key < ?2 AND expires_at > ?3 ORDER BY key LIMIT ?4",
                )?
                .query_map(params![lo, hi, now.secs(), fetch], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let more = rows.len() > limit;
            let items: Vec<Counter> = rows
                .into_iter()
                .take(limit)
                .map(|(k, n, e)| counter_of(k, n, e))
                .collect();
            let next = if more {
                items.last().map(|c| c.key.clone())
            } else {
                None
            };
            Ok(Page { items, next })
        })
        .await
    }
}
