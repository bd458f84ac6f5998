//! What every flow family shares: input bounds, argon2, commit / mail / audit, and the loads.

use super::{AuthService, MAX_INPUT};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::email::OwnerInfo;
use crate::error::{Error, Field, InputProblem, Result};
use crate::flow::Decision;
use crate::flow::account::{self, EmailState};
use crate::flow::login;
use crate::mail::Mail;
use crate::model::{CertOwner, EmailOwners, Tenant, User, UserRef, Write};
use crate::normalize::{self, email_key};
use crate::outbox::{OutboxEntry, OutboxItem, OutboxState};
use crate::password;
use crate::ports::{Mailer, Store, StoreError};
use crate::seal;
use crate::seal::AccessKeyHash;
use crate::secret::Secret;
use crate::secret::SecretBytes;
use crate::time::Timestamp;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(super) fn store_err(e: StoreError) -> Error {
    match e {
        StoreError::Conflict => Error::Conflict,
        StoreError::Unavailable(_) => Error::StoreUnavailable,
        StoreError::BadCursor => Error::InvalidCursor,
    }
}

/// A paging cursor as the client hands it back. Its form is the store's (a user ID for user
/// lists; the store's own for audit pages, which the store checks and answers
/// [`StoreError::BadCursor`] for), but every store's cursors are non-empty printable text of
/// at most [`MAX_INPUT`] characters: anything else is refused before the store sees it.
pub(super) fn checked_cursor(after: Option<&str>) -> Result<Option<&str>> {
    match after {
        None => Ok(None),
        Some(a)
            if a.is_empty()
                || a.chars().count() > MAX_INPUT
                || a.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            Err(Error::InvalidCursor)
        }
        Some(a) => Ok(Some(a)),
    }
}

pub(super) fn bounded(field: Field, s: &str) -> Result<()> {
    if s.chars().count() > MAX_INPUT {
        return Err(Error::invalid(
            field,
            InputProblem::TooLong { max: MAX_INPUT },
        ));
    }
    Ok(())
}

/// One admitted hashing job; leaving (also by cancellation) frees its place.
struct Admission<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Admission<'a> {
    fn enter(count: &'a std::sync::atomic::AtomicUsize, capacity: usize) -> Result<Self> {
        use std::sync::atomic::Ordering;
        let admitted = Admission(count);
        if count.fetch_add(1, Ordering::AcqRel) >= capacity {
            return Err(Error::Busy);
        }
        Ok(admitted)
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// Runs a hashing job through the offload, admitted only while fewer than the policy's
    /// slots + queue are admitted (AB-4); otherwise `Busy` at once. Dummy verifications pass
    /// here too, so an unknown account is refused exactly as often as a known one.
    pub(super) async fn offloaded<R: Send + 'static>(
        &self,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R> {
        let _admitted = Admission::enter(&self.hashing, self.hash_capacity)?;
        let slot = Arc::new(std::sync::Mutex::new(None));
        let out = Arc::clone(&slot);
        self.offload
            .run(Box::new(move || {
                let r = job();
                if let Ok(mut g) = out.lock() {
                    *g = Some(r);
                }
            }))
            .await;
        let r = slot.lock().map_err(|_| Error::StoreUnavailable)?.take();
        r.ok_or(Error::StoreUnavailable)
    }

    /// T-2 / K-1: whether `presented` is the tenant's access key (true when it has none). A
    /// key kept as a bare SHA-256 (databases from before K-1) or under an earlier deployment
    /// secret is re-written as a keyed hash under the current one when it matches; that write
    /// is best-effort (a concurrent change of the tenant wins, and the next use tries again).
    pub(super) async fn access_key_ok(&self, tenant: &Tenant, presented: Option<&Secret>) -> bool {
        let Some(stored) = &tenant.access_key else {
            return true;
        };
        let Some(k) = presented else {
            return false;
        };
        let k = k.trimmed();
        if !stored.matches(&self.key, &self.previous_keys, &tenant.code, k.expose()) {
            return false;
        }
        if stored.needs_rekey(&self.key) {
            let mut t = tenant.clone();
            t.access_key = Some(AccessKeyHash::new(&self.key, &t.code, k.expose()));
            // On a conflict or an outage the key still matched; it is re-written at a later use.
            let _ = self.store.commit(vec![Write::PutTenant(t)]).await;
        }
        true
    }

    pub(super) async fn hash(&self, password: &Secret) -> Result<String> {
        let mut salt = [0u8; 16];
        self.rng.fill(&mut salt);
        let (h, p) = (Arc::clone(&self.hasher), password.clone());
        self.offloaded(move || h.hash(&p, &salt)).await?
    }

    pub(super) async fn verify(&self, password: &Secret, phc: &str) -> Result<bool> {
        let (h, p, phc) = (Arc::clone(&self.hasher), password.clone(), phc.to_owned());
        self.offloaded(move || h.verify(&p, &phc)).await
    }

    pub(super) async fn dummy_verify(&self, password: Option<&Secret>) -> Result<()> {
        let (h, p) = (
            Arc::clone(&self.hasher),
            password.cloned().unwrap_or_default(),
        );
        self.offloaded(move || h.dummy_verify(&p)).await
    }

    pub(super) async fn temporary(&self) -> Result<(Secret, String)> {
        let temp = password::generate_temporary(&self.policy.password, &*self.rng);
        let phc = self.hash(&temp).await?;
        Ok((temp, phc))
    }

    /// Commits the decision's writes, its mails (queued in the outbox, M-4) and its audit
    /// events as one atomic batch, then wakes the courier. `Ok(None)`: the writes
    /// conflicted; decide again.
    pub(super) async fn apply<T>(&self, d: Decision<T>) -> Result<Option<Result<T>>> {
        let Decision {
            outcome,
            mut writes,
            mails,
            audit,
        } = d;
        let now = self.clock.now();
        let queued = !mails.is_empty();
        let tenant = audit.iter().find_map(|e| e.tenant.clone());
        for m in mails {
            writes.push(self.queue_mail(m, tenant.clone(), now)?);
        }
        // Audit events ride with the state; past the store's batch limit (100 on DynamoDB,
        // never reached by one decision today) the rest follow at once in batches of their own.
        let room = S::MAX_BATCH.saturating_sub(writes.len());
        let mut events = audit.into_iter().map(|e| Write::Audit(Box::new(e)));
        writes.extend(events.by_ref().take(room));
        let rest: Vec<Write> = events.collect();
        if !writes.is_empty() {
            match self.store.commit(writes).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => return Ok(None),
                Err(e) => return Err(store_err(e)),
            }
        }
        self.commit_audit(rest).await;
        if queued {
            self.wake_courier();
        }
        Ok(Some(outcome))
    }

    /// M-4: `mail` as an outbox entry, sealed under the deployment key.
    pub(super) fn queue_mail(
        &self,
        mut mail: Mail,
        tenant: Option<String>,
        now: Timestamp,
    ) -> Result<Write> {
        let id = self.outbox_id(now);
        mail.id.clone_from(&id);
        let kind = mail.kind;
        self.outbox_entry(id, OutboxItem::Mail(kind), tenant, &mail, now)
    }

    /// M-4: an outbox entry holding `content` sealed.
    pub(super) fn outbox_entry(
        &self,
        id: String,
        item: OutboxItem,
        tenant: Option<String>,
        content: &impl serde::Serialize,
        now: Timestamp,
    ) -> Result<Write> {
        let json = serde_json::to_vec(content)
            .map_err(|e| Error::PolicyInvalid(format!("an outbox entry cannot be written: {e}")))?;
        let sealed = seal::seal_for(
            seal::Purpose::Outbox,
            &self.key,
            &SecretBytes::new(json),
            &*self.rng,
        );
        Ok(Write::PutOutbox(Box::new(OutboxEntry {
            id,
            item,
            tenant,
            sealed,
            queued_at: now,
            due_at: now,
            attempts: 0,
            state: OutboxState::Pending,
            last_error: None,
            version: 0,
        })))
    }

    /// A new outbox ID: the time (12 hex digits of seconds), this service's sequence number
    /// (8 hex digits), then 48 random bits: IDs sort in queueing order (within a second, per
    /// process) and never collide.
    pub(super) fn outbox_id(&self, now: Timestamp) -> String {
        let seq = self.outbox_seq.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff;
        let mut r = [0u8; 6];
        self.rng.fill(&mut r);
        let mut id = format!("{:012x}{seq:08x}", now.secs().max(0));
        for b in r {
            id.push_str(&format!("{b:02x}"));
        }
        id
    }

    pub(super) fn wake_courier(&self) {
        if let Some(wake) = &self.wake_courier {
            wake();
        }
    }

    /// Waits before attempt `attempt` (1, 2, …) of a step whose writes conflicted: a random
    /// time up to 2^attempt ms, at most 100 ms (full jitter).
    pub(super) async fn backoff(&self, attempt: usize) {
        let cap = 1u64 << attempt.min(7);
        let mut r = [0u8; 8];
        self.rng.fill(&mut r);
        let millis = u64::from_le_bytes(r) % cap.min(100) + 1;
        self.clock.pause(millis).await;
    }

    /// audit events that record no state change of their own (an unknown account's
    /// failure, a block started): one atomic write of their own.
    pub(super) async fn record(&self, events: Vec<AuditEvent>) {
        self.commit_audit(
            events
                .into_iter()
                .map(|e| Write::Audit(Box::new(e)))
                .collect(),
        )
        .await;
    }

    /// Commits audit appends in batches the store takes, each tried twice; a batch that
    /// fails twice is counted in [`AuthService::audit_failures`].
    async fn commit_audit(&self, writes: Vec<Write>) {
        for batch in writes.chunks(S::MAX_BATCH.max(1)) {
            if self.store.commit(batch.to_vec()).await.is_err()
                && self.store.commit(batch.to_vec()).await.is_err()
            {
                self.audit_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(super) async fn tenant(&self, code: &str) -> Result<Option<Tenant>> {
        self.store.tenant(code).await.map_err(store_err)
    }

    pub(super) async fn user(&self, r: &UserRef) -> Result<Option<User>> {
        self.store.user(r).await.map_err(store_err)
    }

    pub(super) async fn tenant_and_user(&self, r: &UserRef) -> Result<Option<(Tenant, User)>> {
        let Some(t) = self.tenant(&r.tenant).await? else {
            return Ok(None);
        };
        Ok(self.user(r).await?.map(|u| (t, u)))
    }

    pub(super) fn tenant_code<'a>(&'a self, given: Option<&'a str>) -> Result<&'a str> {
        match given.map(str::trim).filter(|t| !t.is_empty()).or(self
            .policy
            .login
            .default_tenant
            .as_deref())
        {
            Some(t) => {
                bounded(Field::TenantCode, t)?;
                if Some(t) != self.policy.login.default_tenant.as_deref() {
                    normalize::validate_tenant_code(t, &self.policy.profile)?;
                }
                Ok(t)
            }
            None => Err(Error::invalid(Field::TenantCode, InputProblem::Missing)),
        }
    }

    /// E-state for a user moving from `old` to `new` address. When the address stays, `new`
    /// holds its owners (E-7: an edit of name, role or same-as-admin flag must keep a shared
    /// address inside its exception).
    pub(super) async fn email_state(
        &self,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Result<EmailState> {
        let (old_k, new_k) = (old.map(email_key), new.map(email_key));
        if old_k == new_k {
            let Some(k) = &new_k else {
                return Ok(EmailState::default());
            };
            let rec = self.store.email_owners(k).await.map_err(store_err)?;
            let infos = self.owner_infos(rec.as_ref()).await?;
            return Ok(EmailState {
                old: None,
                new: rec,
                new_owner_infos: infos,
            });
        }
        let old = match &old_k {
            Some(k) => self.store.email_owners(k).await.map_err(store_err)?,
            None => None,
        };
        let (new, infos) = match &new_k {
            Some(k) => {
                let rec = self.store.email_owners(k).await.map_err(store_err)?;
                let infos = self.owner_infos(rec.as_ref()).await?;
                (rec, infos)
            }
            None => (None, Vec::new()),
        };
        Ok(EmailState {
            old,
            new,
            new_owner_infos: infos,
        })
    }

    pub(super) async fn owner_infos(&self, rec: Option<&EmailOwners>) -> Result<Vec<OwnerInfo>> {
        let mut out = Vec::new();
        for o in rec.map(|r| r.owners.as_slice()).unwrap_or_default() {
            // A dormant owner is as good as deleted (LC-1) and holds nothing.
            if let Some((t, u)) = self
                .tenant_and_user(o)
                .await?
                .filter(|(_, u)| self.is_live(self.clock.now(), u))
            {
                out.push(account::owner_info(&t, &u));
            }
        }
        Ok(out)
    }

    /// The tenant's same-as-admin users (P-4), found among the owners of the admin's address.
    pub(super) async fn followers(&self, admin: &User) -> Result<Vec<User>> {
        let Some(e) = &admin.email else {
            return Ok(Vec::new());
        };
        let rec = self
            .store
            .email_owners(&email_key(e))
            .await
            .map_err(store_err)?;
        let mut out = Vec::new();
        for o in rec.map(|r| r.owners).unwrap_or_default() {
            if o.tenant == admin.tenant
                && o.user_id != admin.user_id
                && let Some(u) = self.user(&o).await?
                && u.same_as_admin
            {
                out.push(u);
            }
        }
        Ok(out)
    }

    pub(super) fn is_live(&self, now: Timestamp, u: &User) -> bool {
        !login::is_dormant(&self.ctx(now), u)
    }

    /// The claims `u` holds: its e-mail owners record and its certificate owner records.
    pub(super) async fn claims_of(
        &self,
        u: &User,
    ) -> Result<(Option<EmailOwners>, Vec<CertOwner>)> {
        let email = match &u.email {
            Some(e) => self
                .store
                .email_owners(&email_key(e))
                .await
                .map_err(store_err)?,
            None => None,
        };
        let mut certs = Vec::new();
        for c in &u.certificates {
            if let Some(o) = self.store.cert_owner(&c.key).await.map_err(store_err)? {
                certs.push(o);
            }
        }
        Ok((email, certs))
    }

    /// The writes that delete `u` and release its claims.
    pub(super) async fn removal(&self, u: &User) -> Result<Vec<Write>> {
        let (email, certs) = self.claims_of(u).await?;
        Ok(account::removal_writes(u, email.as_ref(), &certs))
    }

    /// RS-3: the answer for an unknown account (or a failed check).
    pub(super) fn as_unknown(&self) -> Result<()> {
        if self.policy.reset.reveal_unknown_accounts_leaks_existence {
            Err(Error::ResetInputInvalid)
        } else {
            Ok(())
        }
    }

    pub(super) async fn record_unknown(&self, now: Timestamp, kind: AuditKind) -> Result<()> {
        self.record(vec![AuditEvent::failure(
            now,
            kind,
            Actor::Anonymous,
            None,
            "unknown_account",
        )])
        .await;
        self.as_unknown()
    }
}
