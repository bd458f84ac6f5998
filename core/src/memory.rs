//! In-memory ports for tests and examples (feature `test-util`): [`MemoryStore`],
//! [`CapturingMailer`], [`ManualClock`] and [`SeededRandom`]. None of them is for production:
//! the store forgets on exit and the random source is predictable by design.

use crate::abuse::{Counter, counter_group};
use crate::audit::{AuditEvent, AuditFilter};
use crate::mail::Mail;
use crate::model::{CertOwner, EmailOwners, Page, Tenant, User, UserRef, Write};
use crate::outbox::{OutboxEntry, OutboxFilter};
use crate::ports::{Clock, MailError, Mailer, SecureRandom, Store, StoreError, StoreResult};
use crate::time::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
struct Inner {
    tenants: BTreeMap<String, Tenant>,
    users: BTreeMap<(String, String), User>,
    emails: BTreeMap<String, EmailOwners>,
    certs: BTreeMap<String, CertOwner>,
    audit: Vec<AuditEvent>,
    counters: BTreeMap<String, Counter>,
    outbox: BTreeMap<String, OutboxEntry>,
    failing_commits: usize,
}

/// A [`Store`] in a mutex: every commit checks all its conditions, then applies all writes.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    commits: AtomicUsize,
    record_commits: AtomicUsize,
    conflicts: AtomicUsize,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

/// The record a write touches; `None` for an audit append, which touches none.
fn key_of(w: &Write) -> Option<String> {
    Some(match w {
        Write::PutTenant(t) => format!("T#{}", t.code),
        Write::DeleteTenant { code, .. } => format!("T#{code}"),
        Write::PutUser(u) => format!("U#{}\u{0}{}", u.tenant, u.user_id),
        Write::DeleteUser { user, .. } => format!("U#{}\u{0}{}", user.tenant, user.user_id),
        Write::PutEmailOwners(e) => format!("E#{}", e.address),
        Write::DeleteEmailOwners { address, .. } => format!("E#{address}"),
        Write::PutCertOwner(c) => format!("C#{}", c.key),
        Write::DeleteCertOwner { key, .. } => format!("C#{key}"),
        Write::PutOutbox(o) => format!("O#{}", o.id),
        Write::DeleteOutbox { id, .. } => format!("O#{id}"),
        Write::Audit(_) => return None,
    })
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store poisoned".into()))
    }

    /// Commits that succeeded.
    pub fn commits(&self) -> usize {
        self.commits.load(Ordering::Relaxed)
    }

    /// The next `n` commits fail as an outage would (nothing of them is stored).
    pub fn fail_commits(&self, n: usize) {
        if let Ok(mut g) = self.lock() {
            g.failing_commits = n;
        }
    }

    /// Commits that changed a tenant, user or claim record (not only the audit log or the
    /// outbox).
    pub fn record_commits(&self) -> usize {
        self.record_commits.load(Ordering::Relaxed)
    }

    /// Commits refused for a version conflict.
    pub fn conflicts(&self) -> usize {
        self.conflicts.load(Ordering::Relaxed)
    }

    fn check(inner: &Inner, w: &Write) -> bool {
        let version = |v: Option<u64>| v.unwrap_or(0);
        match w {
            Write::PutTenant(t) => {
                version(inner.tenants.get(&t.code).map(|x| x.version)) == t.version
            }
            Write::DeleteTenant { code, expect } => {
                inner.tenants.get(code).map(|x| x.version) == Some(*expect)
            }
            Write::PutUser(u) => {
                version(
                    inner
                        .users
                        .get(&(u.tenant.clone(), u.user_id.clone()))
                        .map(|x| x.version),
                ) == u.version
            }
            Write::DeleteUser { user, expect } => {
                inner
                    .users
                    .get(&(user.tenant.clone(), user.user_id.clone()))
                    .map(|x| x.version)
                    == Some(*expect)
            }
            Write::PutEmailOwners(e) => {
                version(inner.emails.get(&e.address).map(|x| x.version)) == e.version
            }
            Write::DeleteEmailOwners { address, expect } => {
                inner.emails.get(address).map(|x| x.version) == Some(*expect)
            }
            Write::PutCertOwner(c) => {
                version(inner.certs.get(&c.key).map(|x| x.version)) == c.version
            }
            Write::DeleteCertOwner { key, expect } => {
                inner.certs.get(key).map(|x| x.version) == Some(*expect)
            }
            Write::PutOutbox(o) => version(inner.outbox.get(&o.id).map(|x| x.version)) == o.version,
            Write::DeleteOutbox { id, expect } => {
                inner.outbox.get(id).map(|x| x.version) == Some(*expect)
            }
            Write::Audit(_) => true,
        }
    }

    fn apply(inner: &mut Inner, w: Write) {
        match w {
            Write::PutTenant(mut t) => {
                t.version += 1;
                inner.tenants.insert(t.code.clone(), t);
            }
            Write::DeleteTenant { code, .. } => {
                inner.tenants.remove(&code);
            }
            Write::PutUser(u) => {
                let mut u = *u;
                u.version += 1;
                inner.users.insert((u.tenant.clone(), u.user_id.clone()), u);
            }
            Write::DeleteUser { user, .. } => {
                inner.users.remove(&(user.tenant, user.user_id));
            }
            Write::PutEmailOwners(mut e) => {
                e.version += 1;
                inner.emails.insert(e.address.clone(), e);
            }
            Write::DeleteEmailOwners { address, .. } => {
                inner.emails.remove(&address);
            }
            Write::PutCertOwner(mut c) => {
                c.version += 1;
                inner.certs.insert(c.key.clone(), c);
            }
            Write::DeleteCertOwner { key, .. } => {
                inner.certs.remove(&key);
            }
            Write::PutOutbox(o) => {
                let mut o = *o;
                o.version += 1;
                inner.outbox.insert(o.id.clone(), o);
            }
            Write::DeleteOutbox { id, .. } => {
                inner.outbox.remove(&id);
            }
            Write::Audit(e) => inner.audit.push(*e),
        }
    }
}

fn page<T: Clone>(items: impl Iterator<Item = (String, T)>, limit: usize) -> Page<T> {
    let mut out = Vec::new();
    let mut last = None;
    let mut more = false;
    for (k, v) in items {
        if out.len() == limit.max(1) {
            more = true;
            break;
        }
        last = Some(k);
        out.push(v);
    }
    Page {
        items: out,
        next: if more { last } else { None },
    }
}

impl Store for MemoryStore {
    // The index of the last record served.
    const AUDIT_CURSOR_PATTERN: &'static str = "^\\+?[0-9]{1,18}$";
    async fn tenant(&self, code: &str) -> StoreResult<Option<Tenant>> {
        Ok(self.lock()?.tenants.get(code).cloned())
    }

    async fn user(&self, user: &UserRef) -> StoreResult<Option<User>> {
        Ok(self
            .lock()?
            .users
            .get(&(user.tenant.clone(), user.user_id.clone()))
            .cloned())
    }

    async fn list_tenants(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<Tenant>> {
        let g = self.lock()?;
        let it = g
            .tenants
            .iter()
            .filter(|(code, _)| after.is_none_or(|a| code.as_str() > a))
            .map(|(code, t)| (code.clone(), t.clone()));
        Ok(page(it, limit))
    }

    async fn email_owners(&self, address: &str) -> StoreResult<Option<EmailOwners>> {
        Ok(self.lock()?.emails.get(address).cloned())
    }

    async fn cert_owner(&self, key: &str) -> StoreResult<Option<CertOwner>> {
        Ok(self.lock()?.certs.get(key).cloned())
    }

    async fn list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<User>> {
        let g = self.lock()?;
        let it = g
            .users
            .range((tenant.to_owned(), after.unwrap_or("").to_owned())..)
            .filter(|((t, id), _)| t == tenant && after.is_none_or(|a| id.as_str() > a))
            .map(|((_, id), u)| (id.clone(), u.clone()));
        Ok(page(it, limit))
    }

    async fn scan_users(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<User>> {
        let g = self.lock()?;
        let it = g
            .users
            .iter()
            .map(|((t, id), u)| (format!("{t}\u{0}{id}"), u))
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .map(|(k, u)| (k, u.clone()));
        Ok(page(it, limit))
    }

    async fn commit(&self, writes: Vec<Write>) -> StoreResult<()> {
        let mut g = self.lock()?;
        let mut seen = BTreeSet::new();
        for k in writes.iter().filter_map(key_of) {
            if !seen.insert(k.clone()) {
                return Err(StoreError::Unavailable(format!(
                    "one batch writes {k} twice"
                )));
            }
        }
        if g.failing_commits > 0 {
            g.failing_commits -= 1;
            return Err(StoreError::Unavailable(
                "memory store told to fail a commit".into(),
            ));
        }
        if !writes.iter().all(|w| Self::check(&g, w)) {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Conflict);
        }
        if writes.iter().any(|w| {
            !matches!(
                w,
                Write::Audit(_) | Write::PutOutbox(_) | Write::DeleteOutbox { .. }
            )
        }) {
            self.record_commits.fetch_add(1, Ordering::Relaxed);
        }
        for w in writes {
            Self::apply(&mut g, w);
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<AuditEvent>> {
        let g = self.lock()?;
        let start = match after {
            None => 0,
            Some(a) => a
                .parse::<usize>()
                .map_err(|_| StoreError::BadCursor)?
                .saturating_add(1),
        };
        let it = g
            .audit
            .iter()
            .enumerate()
            .skip(start)
            .filter(|(_, e)| filter.matches(e))
            .map(|(i, e)| (i.to_string(), e.clone()));
        Ok(page(it, limit))
    }

    async fn outbox_entry(&self, id: &str) -> StoreResult<Option<OutboxEntry>> {
        Ok(self.lock()?.outbox.get(id).cloned())
    }

    async fn list_outbox(
        &self,
        filter: &OutboxFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<OutboxEntry>> {
        let g = self.lock()?;
        let it = g
            .outbox
            .values()
            .filter(|e| after.is_none_or(|a| e.id.as_str() > a) && filter.matches(e))
            .map(|e| (e.id.clone(), e.clone()));
        Ok(page(it, limit))
    }

    async fn bump_counter(
        &self,
        key: &str,
        now: Timestamp,
        window_end: Timestamp,
    ) -> StoreResult<Counter> {
        let mut g = self.lock()?;
        g.counters.retain(|_, c| c.expires_at > now);
        let c = g.counters.entry(key.to_owned()).or_insert(Counter {
            key: key.to_owned(),
            count: 0,
            expires_at: window_end,
        });
        c.count = c.count.saturating_add(1);
        Ok(c.clone())
    }

    async fn counter(&self, key: &str, now: Timestamp) -> StoreResult<Option<Counter>> {
        Ok(self
            .lock()?
            .counters
            .get(key)
            .filter(|c| c.expires_at > now)
            .cloned())
    }

    async fn delete_counter(&self, key: &str) -> StoreResult<()> {
        self.lock()?.counters.remove(key);
        Ok(())
    }

    async fn list_counters(
        &self,
        group: &str,
        now: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<Counter>> {
        let g = self.lock()?;
        let it = g
            .counters
            .values()
            .filter(|c| counter_group(&c.key) == group && c.expires_at > now)
            .filter(|c| after.is_none_or(|a| c.key.as_str() > a))
            .map(|c| (c.key.clone(), c.clone()));
        Ok(page(it, limit))
    }
}

/// A [`Mailer`] that keeps every mail, and can be told to fail.
#[derive(Debug, Default)]
pub struct CapturingMailer {
    mails: Mutex<Vec<Mail>>,
    fail: AtomicBool,
}

impl CapturingMailer {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }
    /// Every mail sent so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }
    /// Mails sent to `to` (case-insensitive), oldest first.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to))
            .collect()
    }
    /// The newest mail to `to`.
    pub fn last_to(&self, to: &str) -> Option<Mail> {
        self.to(to).pop()
    }
    /// Forgets every mail.
    pub fn clear(&self) {
        if let Ok(mut m) = self.mails.lock() {
            m.clear();
        }
    }
    /// From now on every send fails (`true`) or succeeds (`false`).
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl Mailer for CapturingMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(MailError("capturing mailer told to fail".into()));
        }
        self.mails
            .lock()
            .map_err(|_| MailError("poisoned".into()))?
            .push(mail.clone());
        Ok(())
    }
}

/// A clock that moves only when told.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `t`.
    pub fn at(t: Timestamp) -> Self {
        Self(AtomicI64::new(t.0))
    }
    /// Moves forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    /// Moves forward by `days`.
    pub fn advance_days(&self, days: i64) {
        self.advance(days * crate::time::DAY);
    }
    /// Sets the time.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// A deterministic random source (SplitMix64). Predictable: tests and examples only.
#[derive(Debug)]
pub struct SeededRandom(Mutex<u64>);

impl SeededRandom {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(seed))
    }
}

impl SecureRandom for SeededRandom {
    fn fill(&self, dest: &mut [u8]) {
        let Ok(mut s) = self.0.lock() else { return };
        for chunk in dest.chunks_mut(8) {
            *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            for (d, b) in chunk.iter_mut().zip(z.to_le_bytes()) {
                *d = b;
            }
        }
    }
}
