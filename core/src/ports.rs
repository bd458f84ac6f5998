//! The ports the core runs against: [`Store`], [`Mailer`], [`Clock`], [`SecureRandom`].
//!
//! They are async but runtime-free: the core never spawns, sleeps or blocks. Adapters live in
//! other crates (`SqliteStore` and `OutboxMailer` in monban-embedded, `DynamoStore` and
//! `SesMailer` in monban-lambdas); in-memory ones are behind the `test-util` feature.

use crate::abuse::Counter;
use crate::audit::{AuditEvent, AuditFilter};
use crate::mail::Mail;
use crate::model::{CertOwner, EmailOwners, Page, Tenant, User, UserRef, Write};
use crate::outbox::{OutboxEntry, OutboxFilter};
use crate::time::Timestamp;
use std::future::Future;
use std::sync::Arc;

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// A condition failed: some record is not at the version the write expected (or a record
    /// to create exists). The caller re-reads and decides again.
    Conflict,
    /// The store could not be reached or refused (I/O, throttling, corruption). Retryable.
    Unavailable(String),
    /// A paging cursor (`after`) this store never hands out: the caller's input, not a fault.
    BadCursor,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict => f.write_str("conflict"),
            StoreError::Unavailable(why) => write!(f, "store unavailable: {why}"),
            StoreError::BadCursor => f.write_str("not a paging cursor of this store"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where records live. Reads are strongly consistent; [`Store::commit`] applies a batch of
/// conditional writes atomically (see [`Write`]).
pub trait Store: Send + Sync {
    /// The form of the cursors [`Store::audit`] issues (its pages' `next`), as an ECMA-262
    /// pattern: what the HTTP API's document states for the `after` of an audit listing, so a
    /// client knows which values are cursors at all. Default: any non-empty text without white
    /// space or control characters (the form every store's cursors take).
    const AUDIT_CURSOR_PATTERN: &'static str = "^[^\\s\\u0000-\\u001F\\u007F-\\u009F]+$";
    /// Most writes one [`Store::commit`] takes (DynamoDB's `TransactWriteItems`: 100). A
    /// decision whose audit events would pass it commits the rest right after.
    const MAX_BATCH: usize = usize::MAX;
    /// A tenant by code.
    fn tenant(&self, code: &str) -> impl Future<Output = StoreResult<Option<Tenant>>> + Send;
    /// A user.
    fn user(&self, user: &UserRef) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// Every tenant ordered by code, after the cursor `after` (a tenant code).
    fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<Tenant>>> + Send;
    /// The owners of a normalized e-mail address.
    fn email_owners(
        &self,
        address: &str,
    ) -> impl Future<Output = StoreResult<Option<EmailOwners>>> + Send;
    /// The owner of a certificate key.
    fn cert_owner(&self, key: &str) -> impl Future<Output = StoreResult<Option<CertOwner>>> + Send;
    /// A tenant's users ordered by user ID, after the cursor `after`.
    fn list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<User>>> + Send;
    /// Every user of every tenant, in a stable order, after the cursor `after` (for sweeps).
    fn scan_users(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<User>>> + Send;
    /// Applies every write or none. Audit events are appended as [`Write::Audit`] in the
    /// batch of the state change they record.
    fn commit(&self, writes: Vec<Write>) -> impl Future<Output = StoreResult<()>> + Send;
    /// Audit events passing `filter`, oldest first, after the cursor `after`.
    fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<AuditEvent>>> + Send;
    /// M-4: one outbox entry.
    fn outbox_entry(
        &self,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<OutboxEntry>>> + Send;
    /// M-4: outbox entries passing `filter`, ordered by ID (queueing order), after the cursor
    /// `after` (an ID).
    fn list_outbox(
        &self,
        filter: &OutboxFilter,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<OutboxEntry>>> + Send;
    /// AB-6: adds 1 to the counter `key` atomically (parallel bumps lose none) and answers it.
    /// A counter that does not exist, or whose window ended (`expires_at <= now`), starts again
    /// at 1 with `expires_at = window_end`; a live one keeps its window.
    fn bump_counter(
        &self,
        key: &str,
        now: Timestamp,
        window_end: Timestamp,
    ) -> impl Future<Output = StoreResult<Counter>> + Send;
    /// AB-6: the counter `key` if its window has not ended at `now`.
    fn counter(
        &self,
        key: &str,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Option<Counter>>> + Send;
    /// AB-6: removes the counter `key` (absent: nothing to do).
    fn delete_counter(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// AB-6: the live counters of one group (the key's part before the first `/`), ordered by
    /// key, after the cursor `after` (a key).
    fn list_counters(
        &self,
        group: &str,
        now: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<Counter>>> + Send;
}

/// Why a mail was not sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailError(pub String);

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mail not sent: {}", self.0)
    }
}

impl std::error::Error for MailError {}

/// Sends mail.
pub trait Mailer: Send + Sync {
    /// Sends one mail.
    fn send(&self, mail: &Mail) -> impl Future<Output = Result<(), MailError>> + Send;
}

/// Tells the time. The core asks once per operation and passes the value down.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;

    /// Waits `millis` milliseconds. The service pauses (with jitter, growing with each attempt)
    /// before re-running a step whose writes conflicted, so racing requests spread out instead
    /// of colliding again at once. The default does not wait: right for tests and for stores
    /// whose reads and commit never interleave; a server's clock sleeps on its runtime.
    fn pause(&self, millis: u64) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let _ = millis;
        Box::pin(std::future::ready(()))
    }
}

/// Cryptographically secure random bytes.
pub trait SecureRandom: Send + Sync {
    /// Fills `dest`.
    fn fill(&self, dest: &mut [u8]);
}

impl<T: Store> Store for Arc<T> {
    const AUDIT_CURSOR_PATTERN: &'static str = T::AUDIT_CURSOR_PATTERN;
    const MAX_BATCH: usize = T::MAX_BATCH;
    fn tenant(&self, code: &str) -> impl Future<Output = StoreResult<Option<Tenant>>> + Send {
        (**self).tenant(code)
    }
    fn user(&self, user: &UserRef) -> impl Future<Output = StoreResult<Option<User>>> + Send {
        (**self).user(user)
    }
    fn list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<Tenant>>> + Send {
        (**self).list_tenants(after, limit)
    }
    fn email_owners(
        &self,
        address: &str,
    ) -> impl Future<Output = StoreResult<Option<EmailOwners>>> + Send {
        (**self).email_owners(address)
    }
    fn cert_owner(&self, key: &str) -> impl Future<Output = StoreResult<Option<CertOwner>>> + Send {
        (**self).cert_owner(key)
    }
    fn list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<User>>> + Send {
        (**self).list_users(tenant, after, limit)
    }
    fn scan_users(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<User>>> + Send {
        (**self).scan_users(after, limit)
    }
    fn commit(&self, writes: Vec<Write>) -> impl Future<Output = StoreResult<()>> + Send {
        (**self).commit(writes)
    }
    fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<AuditEvent>>> + Send {
        (**self).audit(filter, after, limit)
    }
    fn outbox_entry(
        &self,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<OutboxEntry>>> + Send {
        (**self).outbox_entry(id)
    }
    fn list_outbox(
        &self,
        filter: &OutboxFilter,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<OutboxEntry>>> + Send {
        (**self).list_outbox(filter, after, limit)
    }
    fn bump_counter(
        &self,
        key: &str,
        now: Timestamp,
        window_end: Timestamp,
    ) -> impl Future<Output = StoreResult<Counter>> + Send {
        (**self).bump_counter(key, now, window_end)
    }
    fn counter(
        &self,
        key: &str,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Option<Counter>>> + Send {
        (**self).counter(key, now)
    }
    fn delete_counter(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send {
        (**self).delete_counter(key)
    }
    fn list_counters(
        &self,
        group: &str,
        now: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Page<Counter>>> + Send {
        (**self).list_counters(group, now, after, limit)
    }
}

impl<T: Mailer> Mailer for Arc<T> {
    fn send(&self, mail: &Mail) -> impl Future<Output = Result<(), MailError>> + Send {
        (**self).send(mail)
    }
}

impl<T: Clock> Clock for Arc<T> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
    fn pause(&self, millis: u64) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        (**self).pause(millis)
    }
}

impl<T: SecureRandom> SecureRandom for Arc<T> {
    fn fill(&self, dest: &mut [u8]) {
        (**self).fill(dest);
    }
}

/// A boxed job for [`Offload`].
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Where CPU-heavy work (argon2) runs (DESIGN principle 8). The core stays runtime-free: a
/// server passes an implementation that moves the job off its async workers (e.g. tokio's
/// `spawn_blocking`); [`Inline`] runs it where it is.
pub trait Offload: Send + Sync {
    /// Runs `job` to completion.
    fn run(&self, job: Job) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// Runs offloaded jobs on the calling task.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inline;

impl Offload for Inline {
    fn run(&self, job: Job) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        job();
        Box::pin(std::future::ready(()))
    }
}
