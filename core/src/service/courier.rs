//! M-4: the courier. It takes due outbox entries, sends each mail through the [`Mailer`] (or
//! resolves each queued recovery request), deletes what is done and backs off what failed.
//!
//! Delivery is at least once: an entry is taken by moving its due time a lease ahead (a
//! conditional write, so of two couriers only one takes it), sent, then deleted. A courier
//! that dies between sending and deleting leaves the entry to come due again when the lease
//! ends, and the mail goes out a second time; the mail's ID ([`Mail::id`]) is the same both
//! times, for a mailer that wants to drop the repeat.

use super::common::store_err;
use super::{AuthService, ForgotLoginId, ResetRequest};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::flow::recovery::IdentityClaim;
use crate::mail::Mail;
use crate::model::{Page, Write};
use crate::outbox::{OutboxEntry, OutboxFilter, OutboxItem, OutboxState, OutboxView};
use crate::ports::{Mailer, Store};
use crate::seal;
use serde::{Deserialize, Serialize};

/// An anonymous recovery request waiting in the outbox (RS-3): what the courier needs to
/// resolve it as the request path would have.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub(super) enum QueuedRequest {
    Reset(ResetRequest),
    IdentityReset(IdentityClaim),
    ForgotLoginId(ForgotLoginId),
    PasswordNotification { email: String },
}

/// What one [`AuthService::deliver_pending`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Mails sent and removed from the outbox.
    pub sent: usize,
    /// Recovery requests resolved (their mails, if any, were queued and sent too).
    pub resolved: usize,
    /// Attempts that failed and will be tried again later.
    pub retried: usize,
    /// Entries given up on after their last attempt (marked failed; audited).
    pub failed: usize,
    /// Entries another courier took first.
    pub skipped: usize,
}

impl Delivery {
    /// Adds `o`'s counts to these.
    pub fn add(&mut self, o: Delivery) {
        self.sent += o.sent;
        self.resolved += o.resolved;
        self.retried += o.retried;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
}

/// Why an attempt did not finish.
enum Attempt {
    /// Try again later (the mailer failed, the store was out, hashing was busy).
    Retry(String),
    /// The request can never succeed as queued (the feature was turned off, the input no
    /// longer passes): drop it.
    Void,
}

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// M-4: delivers every outbox entry that is due now — mails through the mailer, recovery
    /// requests resolved (and their mails sent) — until none is left due, at most ten batches
    /// of the courier's batch size. Runs in a courier task or thread, or when the host wants
    /// (the bindings' `deliver_pending`); safe to run from several places at once.
    pub async fn deliver_pending(&self) -> Result<Delivery> {
        let mut total = Delivery::default();
        for _ in 0..10 {
            let now = self.clock.now();
            let filter = OutboxFilter {
                state: Some(OutboxState::Pending),
                due_by: Some(now),
            };
            let page = self
                .store
                .list_outbox(&filter, None, self.courier.batch.max(1))
                .await
                .map_err(store_err)?;
            if page.items.is_empty() {
                break;
            }
            let mut round = Delivery::default();
            for e in page.items {
                round.add(self.deliver(e).await);
            }
            total.add(round);
            if round.sent + round.resolved + round.retried + round.failed == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// M-4: delivers the one entry `id` if it is pending and due (a stream-fed courier's
    /// step); anything else is left alone.
    pub async fn deliver_entry(&self, id: &str) -> Result<Delivery> {
        let now = self.clock.now();
        match self.store.outbox_entry(id).await.map_err(store_err)? {
            Some(e) if e.state == OutboxState::Pending && e.due_at <= now => {
                let mut d = self.deliver(e).await;
                // A resolved request queued mails of its own: send them too.
                if d.resolved > 0 {
                    d.add(self.deliver_pending().await?);
                }
                Ok(d)
            }
            _ => Ok(Delivery::default()),
        }
    }

    /// M-4: the outbox as an operator sees it (no content, no recipient), oldest first.
    pub async fn outbox(
        &self,
        state: Option<OutboxState>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<OutboxView>> {
        let filter = OutboxFilter {
            state,
            due_by: None,
        };
        let page = self
            .store
            .list_outbox(&filter, after, limit.clamp(1, 1000))
            .await
            .map_err(store_err)?;
        Ok(Page {
            items: page.items.iter().map(OutboxView::from).collect(),
            next: page.next,
        })
    }

    /// M-4: puts a failed (or waiting) entry back in the queue, due now with a fresh count of
    /// attempts; the audit records who did it. `NotFound` when there is no such entry.
    pub async fn retry_delivery(&self, id: &str, actor: Actor) -> Result<OutboxView> {
        for attempt in 0..super::MAX_ATTEMPTS {
            if attempt > 0 {
                self.backoff(attempt).await;
            }
            let now = self.clock.now();
            let mut e = self
                .store
                .outbox_entry(id)
                .await
                .map_err(store_err)?
                .ok_or(Error::NotFound)?;
            e.state = OutboxState::Pending;
            e.due_at = now;
            e.attempts = 0;
            let view = OutboxView::from(&e);
            let mut ev = AuditEvent::success(now, AuditKind::DeliveryRetried, actor.clone(), None)
                .with_detail(format!("outbox entry {} ({})", e.id, e.item.as_str()));
            if let Some(t) = &e.tenant {
                ev = ev.with_tenant(t.clone());
            }
            match self
                .store
                .commit(vec![
                    Write::PutOutbox(Box::new(e)),
                    Write::Audit(Box::new(ev)),
                ])
                .await
            {
                Ok(()) => {
                    self.wake_courier();
                    return Ok(view);
                }
                Err(crate::ports::StoreError::Conflict) => {}
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(Error::Conflict)
    }

    /// M-4 / RS-3: queues an anonymous recovery request (one write, the same for every
    /// account) for the courier to resolve.
    pub(super) async fn queue_request(
        &self,
        kind: crate::outbox::RequestKind,
        request: QueuedRequest,
    ) -> Result<()> {
        let mut out = Err(crate::ports::StoreError::Conflict);
        for attempt in 0..super::MAX_ATTEMPTS.min(10) {
            if attempt > 0 {
                // A fresh entry cannot conflict with another request's; a store answering
                // a failed condition anyway is tried again with a new ID.
                self.backoff(attempt).await;
            }
            let now = self.clock.now();
            let id = self.outbox_id(now);
            let w = self.outbox_entry(id, OutboxItem::Request(kind), None, &request, now)?;
            out = self.store.commit(vec![w]).await;
            if out != Err(crate::ports::StoreError::Conflict) {
                break;
            }
        }
        out.map_err(store_err)?;
        self.wake_courier();
        Ok(())
    }

    async fn deliver(&self, e: OutboxEntry) -> Delivery {
        let now = self.clock.now();
        let mut taken = e;
        taken.attempts = taken.attempts.saturating_add(1);
        taken.due_at = now.plus_secs(self.courier.lease_secs.max(1));
        if self
            .store
            .commit(vec![Write::PutOutbox(Box::new(taken.clone()))])
            .await
            .is_err()
        {
            // Another courier took it first (or the store is out: it stays due).
            return Delivery {
                skipped: 1,
                ..Delivery::default()
            };
        }
        taken.version += 1;
        let outcome = match taken.item {
            OutboxItem::Mail(_) => self.send_entry(&taken).await,
            OutboxItem::Request(_) => self.resolve_entry(&taken).await,
        };
        let done = Write::DeleteOutbox {
            id: taken.id.clone(),
            expect: taken.version,
        };
        match outcome {
            Ok(()) => {
                // On an outage here the entry comes due again after the lease: at least once.
                let _ = self.store.commit(vec![done]).await;
                match taken.item {
                    OutboxItem::Mail(_) => Delivery {
                        sent: 1,
                        ..Delivery::default()
                    },
                    OutboxItem::Request(_) => Delivery {
                        resolved: 1,
                        ..Delivery::default()
                    },
                }
            }
            Err(Attempt::Void) => {
                let _ = self.store.commit(vec![done]).await;
                Delivery::default()
            }
            Err(Attempt::Retry(why)) => self.attempt_failed(taken, why).await,
        }
    }

    async fn send_entry(&self, e: &OutboxEntry) -> std::result::Result<(), Attempt> {
        let mail: Mail = self.open_entry(e).map_err(Attempt::Retry)?;
        self.mailer
            .send(&mail)
            .await
            .map_err(|err| Attempt::Retry(err.to_string()))
    }

    async fn resolve_entry(&self, e: &OutboxEntry) -> std::result::Result<(), Attempt> {
        let req: QueuedRequest = self.open_entry(e).map_err(Attempt::Retry)?;
        let r = match &req {
            QueuedRequest::Reset(r) => self.reset_now(r).await,
            QueuedRequest::IdentityReset(c) => self.identity_reset_now(c).await,
            QueuedRequest::ForgotLoginId(f) => self.forgot_login_id_now(f).await,
            QueuedRequest::PasswordNotification { email } => self.notification_now(email).await,
        };
        match r {
            Ok(()) => Ok(()),
            Err(err) if err.is_retryable() => Err(Attempt::Retry(err.code().to_owned())),
            Err(_) => Err(Attempt::Void),
        }
    }

    fn open_entry<T: serde::de::DeserializeOwned>(
        &self,
        e: &OutboxEntry,
    ) -> std::result::Result<T, String> {
        let bytes = seal::open_for(
            seal::Purpose::Outbox,
            &self.key,
            &self.previous_keys,
            &e.sealed,
        )
        .map_err(|err| err.to_string())?;
        serde_json::from_slice(bytes.expose())
            .map_err(|err| format!("outbox entry unreadable: {err}"))
    }

    async fn attempt_failed(&self, mut e: OutboxEntry, why: String) -> Delivery {
        let now = self.clock.now();
        e.last_error = Some(why.chars().take(500).collect());
        let mut writes = Vec::with_capacity(2);
        let gave_up = e.attempts >= self.courier.max_attempts.max(1);
        if gave_up {
            e.state = OutboxState::Failed;
            e.due_at = now;
            let mut ev = AuditEvent::failure(
                now,
                AuditKind::DeliveryFailed,
                Actor::System,
                None,
                Error::MailFailed.code(),
            )
            .with_detail(format!(
                "outbox entry {} ({}) failed {} times: {why}",
                e.id,
                e.item.as_str(),
                e.attempts
            ));
            if let Some(t) = &e.tenant {
                ev = ev.with_tenant(t.clone());
            }
            writes.push(Write::Audit(Box::new(ev)));
        } else {
            let mut r = [0u8; 8];
            self.rng.fill(&mut r);
            e.due_at = now.plus_secs(self.courier.backoff(e.attempts, r));
        }
        writes.insert(0, Write::PutOutbox(Box::new(e)));
        // On a conflict or an outage the lease still runs out and the entry comes due again.
        let _ = self.store.commit(writes).await;
        if gave_up {
            Delivery {
                failed: 1,
                ..Delivery::default()
            }
        } else {
            Delivery {
                retried: 1,
                ..Delivery::default()
            }
        }
    }
}
