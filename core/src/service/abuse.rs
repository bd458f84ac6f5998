//! AB-1, AB-2: limits per client address and per account, kept in store counters (AB-6) so
//! every instance of a deployment shares them.
//!
//! Counter keys (`<group>/<name>`):
//!
//! | group | name | window | what |
//! |---|---|---|---|
//! | `ab1-fail` | address | `abuse.address_window_secs` | failed first factors (AB-1) |
//! | `ab1-block` | address | the block's length | the address is refused while it lives (AB-1) |
//! | `ab1-strike` | address | one day | blocks so far: each doubles the next (AB-1) |
//! | `ab2-addr` | address | `abuse.recovery_window_secs` | recovery requests (AB-2) |
//! | `ab2-acct` | SHA-256 of the identifier | `abuse.recovery_window_secs` | recovery mails asked for one account (AB-2) |

use super::AuthService;
use super::common::store_err;
use crate::abuse::{ClientAddr, Counter};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::model::{Page, UserRef};
use crate::normalize::email_key;
use crate::ports::{Mailer, Store};
use crate::secret::Digest;
use crate::time::{DAY, Timestamp};
use serde::Serialize;

const FAIL: &str = "ab1-fail";
const BLOCK: &str = "ab1-block";
const STRIKE: &str = "ab1-strike";
const RECOVERY_ADDR: &str = "ab2-addr";
const RECOVERY_ACCOUNT: &str = "ab2-acct";

fn key(group: &str, addr: &ClientAddr) -> String {
    format!("{group}/{}", addr.as_str())
}

fn retry_after(c: &Counter, now: Timestamp) -> Error {
    Error::Throttled {
        retry_after_secs: u64::try_from(c.expires_at.since(now).max(1)).unwrap_or(1),
    }
}

/// The account a recovery request names, as the mail limit counts it (AB-2).
#[derive(Clone, Copy, Debug)]
pub(super) enum MailKey<'a> {
    /// Tenant and user ID (RS-1) or login ID (RS-4).
    User(&'a UserRef),
    /// An e-mail address (RS-5, RS-6).
    Email(&'a str),
}

impl MailKey<'_> {
    fn counter_key(self) -> String {
        let id = match self {
            MailKey::User(r) => format!("u\u{0}{}\u{0}{}", r.tenant, r.user_id),
            MailKey::Email(e) => format!("e\u{0}{}", email_key(e)),
        };
        format!("{RECOVERY_ACCOUNT}/{}", Digest::of(id.as_bytes()).to_hex())
    }
}

/// A blocked client address (AB-1), as support sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressBlock {
    /// The address (IPv4, IPv6 /64, or `unknown`).
    pub address: String,
    /// When the block ends.
    pub until: Timestamp,
    /// Blocks of this address within the last day, this one included.
    pub blocks_today: u64,
}

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// AB-1: refuses a request from an address under a block: 429 `throttled` with the
    /// seconds left. Costs one store read; the caller runs it before any password work.
    pub async fn address_gate(&self, addr: &ClientAddr) -> Result<()> {
        let now = self.clock.now();
        match self
            .store
            .counter(&key(BLOCK, addr), now)
            .await
            .map_err(store_err)?
        {
            Some(b) => Err(retry_after(&b, now)),
            None => Ok(()),
        }
    }

    /// AB-1: counts a failed first factor from `addr`. At `abuse.address_failures` within the
    /// window the address is blocked for `abuse.block_secs`, doubled for each earlier block
    /// that day, at most `abuse.max_block_secs`; the audit records the start.
    pub async fn record_address_failure(&self, addr: &ClientAddr) -> Result<()> {
        let a = &self.policy.abuse;
        let Some(max) = a.address_failures else {
            return Ok(());
        };
        let now = self.clock.now();
        let fails = self
            .store
            .bump_counter(&key(FAIL, addr), now, now.plus_secs(a.address_window_secs))
            .await
            .map_err(store_err)?;
        if fails.count < u64::from(max) {
            return Ok(());
        }
        let strikes = self
            .store
            .bump_counter(&key(STRIKE, addr), now, now.plus_secs(DAY))
            .await
            .map_err(store_err)?;
        let doublings = u32::try_from(strikes.count.saturating_sub(1).min(30)).unwrap_or(30);
        let secs = a
            .block_secs
            .saturating_mul(1i64 << doublings)
            .min(a.max_block_secs);
        let block = self
            .store
            .bump_counter(&key(BLOCK, addr), now, now.plus_secs(secs))
            .await
            .map_err(store_err)?;
        if block.count == 1 {
            self.record(vec![
                AuditEvent::failure(
                    now,
                    AuditKind::ThrottlingStarted,
                    Actor::Anonymous,
                    None,
                    Error::Throttled {
                        retry_after_secs: 0,
                    }
                    .code(),
                )
                .with_detail(format!(
                    "address {addr} blocked for {secs} s after {} failed logins (block {} today)",
                    fails.count, strikes.count
                )),
            ])
            .await;
        }
        Ok(())
    }

    /// AB-1, AB-2: the gate of a recovery route: refused while the address is blocked, and
    /// past `abuse.recovery_requests_per_address` requests in the recovery window.
    pub async fn recovery_gate(&self, addr: &ClientAddr) -> Result<()> {
        self.address_gate(addr).await?;
        let a = &self.policy.abuse;
        let Some(max) = a.recovery_requests_per_address else {
            return Ok(());
        };
        let now = self.clock.now();
        let c = self
            .store
            .bump_counter(
                &key(RECOVERY_ADDR, addr),
                now,
                now.plus_secs(a.recovery_window_secs),
            )
            .await
            .map_err(store_err)?;
        if c.count > u64::from(max) {
            return Err(retry_after(&c, now));
        }
        Ok(())
    }

    /// AB-1: the blocked addresses, ordered by address, after the cursor `after`.
    pub async fn address_blocks(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AddressBlock>> {
        let now = self.clock.now();
        let after = after.map(|a| format!("{BLOCK}/{a}"));
        let page = self
            .store
            .list_counters(BLOCK, now, after.as_deref(), limit.clamp(1, 1000))
            .await
            .map_err(store_err)?;
        let mut items = Vec::with_capacity(page.items.len());
        for c in page.items {
            let address = c
                .key
                .split_once('/')
                .map_or(c.key.as_str(), |(_, a)| a)
                .to_owned();
            let strikes = self
                .store
                .counter(&format!("{STRIKE}/{address}"), now)
                .await
                .map_err(store_err)?
                .map_or(1, |s| s.count);
            items.push(AddressBlock {
                address,
                until: c.expires_at,
                blocks_today: strikes,
            });
        }
        let next = page
            .next
            .map(|k| k.split_once('/').map_or(k.clone(), |(_, a)| a.to_owned()));
        Ok(Page { items, next })
    }

    /// AB-1, AB-2: an operator clears an address: its block, failure and recovery counters
    /// go. Answers whether it was blocked; the audit records who cleared it.
    pub async fn clear_address(&self, addr: &ClientAddr, actor: Actor) -> Result<bool> {
        let now = self.clock.now();
        let was_blocked = self
            .store
            .counter(&key(BLOCK, addr), now)
            .await
            .map_err(store_err)?
            .is_some();
        for group in [BLOCK, FAIL, STRIKE, RECOVERY_ADDR] {
            self.store
                .delete_counter(&key(group, addr))
                .await
                .map_err(store_err)?;
        }
        self.record(vec![
            AuditEvent::success(now, AuditKind::ThrottlingCleared, actor, None)
                .with_detail(format!("address {addr}")),
        ])
        .await;
        Ok(was_blocked)
    }

    /// AB-2: counts a recovery request for the account `k` names — known or not, the same one
    /// counter write. `None`: go on. `Some(answer)`: past the account's mail limit; no mail,
    /// the audit records the suppression, and `answer` is what the request would have got.
    pub(super) async fn over_mail_limit(&self, k: MailKey<'_>) -> Result<Option<Result<()>>> {
        let a = &self.policy.abuse;
        let Some(max) = a.recovery_mails_per_account else {
            return Ok(None);
        };
        let now = self.clock.now();
        let c = self
            .store
            .bump_counter(&k.counter_key(), now, now.plus_secs(a.recovery_window_secs))
            .await
            .map_err(store_err)?;
        if c.count <= u64::from(max) {
            return Ok(None);
        }
        self.record(vec![
            AuditEvent::failure(
                now,
                AuditKind::RecoveryMailSuppressed,
                Actor::Anonymous,
                None,
                "account_mail_limit",
            )
            .with_detail(format!("{} recovery requests this window", c.count)),
        ])
        .await;
        if !self.policy.reset.reveal_unknown_accounts_leaks_existence {
            return Ok(Some(Ok(())));
        }
        // The opt-in answer names unknown accounts anyway (RS-3): look, as the flow would.
        let known = match k {
            MailKey::User(r) => self
                .tenant_and_user(r)
                .await?
                .is_some_and(|(_, u)| self.is_live(now, &u)),
            MailKey::Email(e) => self
                .store
                .email_owners(&email_key(e))
                .await
                .map_err(store_err)?
                .is_some_and(|o| !o.owners.is_empty()),
        };
        Ok(Some(if known { Ok(()) } else { self.as_unknown() }))
    }
}
