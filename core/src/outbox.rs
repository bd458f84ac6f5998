//! M-4, A-2: the outbox. A decision's mails are stored in the same atomic write as the state
//! they report (and its audit events with them), then delivered by a courier
//! ([`crate::AuthService::deliver_pending`]) that retries with back-off. Anonymous recovery
//! requests are queued the same way (RS-3): the request path writes one entry, the same for
//! known and unknown accounts, and the courier resolves the account.
//!
//! An entry holds what its delivery needs and nothing more: the rendered mail (or the request)
//! sealed under the deployment's key with XChaCha20-Poly1305, so a copy of the database does
//! not give away the codes, links and temporary passwords waiting in it; in clear only its
//! kind, tenant, times, attempts and last error. A delivered entry is deleted.

use crate::mail::MailKind;
use crate::seal::Sealed;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an outbox entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "kind")]
pub enum OutboxItem {
    /// A rendered mail of this kind.
    Mail(MailKind),
    /// An anonymous recovery request, resolved by the courier.
    Request(RequestKind),
}

impl OutboxItem {
    /// Stable name: the mail kind (`otp`, `reset_started`, …) or `request:<kind>`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxItem::Mail(k) => k.as_str(),
            OutboxItem::Request(k) => k.as_str(),
        }
    }

    /// Parses [`OutboxItem::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        MailKind::ALL
            .iter()
            .map(|k| OutboxItem::Mail(*k))
            .chain(RequestKind::ALL.iter().map(|k| OutboxItem::Request(*k)))
            .find(|i| i.as_str() == s)
    }
}

/// The anonymous recovery requests the courier resolves (RS-1, RS-4, RS-5, RS-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// RS-1: a reset link.
    Reset,
    /// RS-4: an identity-verification reset.
    IdentityReset,
    /// RS-5: a forgotten login ID.
    ForgotLoginId,
    /// RS-6: an e-Parcel password notification.
    PasswordNotification,
}

impl RequestKind {
    /// Every kind.
    pub const ALL: [RequestKind; 4] = [
        RequestKind::Reset,
        RequestKind::IdentityReset,
        RequestKind::ForgotLoginId,
        RequestKind::PasswordNotification,
    ];

    /// Stable name, `request:<kind>`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Reset => "request:reset",
            RequestKind::IdentityReset => "request:identity_reset",
            RequestKind::ForgotLoginId => "request:forgot_login_id",
            RequestKind::PasswordNotification => "request:password_notification",
        }
    }
}

/// Where an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its first or next attempt (at `due_at`).
    #[default]
    Pending,
    /// Gave up after the courier's last attempt; kept for the operator, who may retry it.
    Failed,
}

impl OutboxState {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Failed => "failed",
        }
    }

    /// Parses [`OutboxState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [OutboxState::Pending, OutboxState::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One queued mail or request. `Debug` never shows the sealed content.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Unique ID of 32 hex digits: the queueing time in seconds, the queueing service's
    /// sequence number, then random ones, so IDs sort in queueing order (within a second, per
    /// process). A mailer may use it to drop a repeat (see [`crate::mail::Mail::id`]).
    pub id: String,
    /// What it carries.
    pub item: OutboxItem,
    /// The tenant concerned, if known.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The mail or request, sealed under the deployment key.
    pub sealed: Sealed,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// Not to be attempted before this time. A courier that takes an entry moves it a lease
    /// ahead first, so no other courier takes it meanwhile.
    pub due_at: Timestamp,
    /// Attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// Pending or failed.
    #[serde(default)]
    pub state: OutboxState,
    /// Why the last attempt failed (no secret: the mailer's or the store's error).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Record version (0: no record).
    #[serde(default)]
    pub version: u64,
}

impl fmt::Debug for OutboxEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxEntry")
            .field("id", &self.id)
            .field("item", &self.item)
            .field("tenant", &self.tenant)
            .field("queued_at", &self.queued_at)
            .field("due_at", &self.due_at)
            .field("attempts", &self.attempts)
            .field("state", &self.state)
            .field("last_error", &self.last_error)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Which entries a listing answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OutboxFilter {
    /// Only entries in this state.
    pub state: Option<OutboxState>,
    /// Only entries due at or before this time.
    pub due_by: Option<Timestamp>,
}

impl OutboxFilter {
    /// Whether `e` passes.
    pub fn matches(&self, e: &OutboxEntry) -> bool {
        self.state.is_none_or(|s| s == e.state) && self.due_by.is_none_or(|t| e.due_at <= t)
    }
}

/// What an operator sees of an entry: no content, and the recipient not at all (the sealed
/// mail alone holds it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxView {
    /// The entry's ID.
    pub id: String,
    /// `otp`, `reset_started`, … or `request:<kind>`.
    pub kind: String,
    /// The tenant concerned, if known.
    pub tenant: Option<String>,
    /// `pending` or `failed`.
    pub state: String,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// Its next attempt (pending) or when it failed for good (failed).
    pub due_at: Timestamp,
    /// Attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl From<&OutboxEntry> for OutboxView {
    fn from(e: &OutboxEntry) -> Self {
        Self {
            id: e.id.clone(),
            kind: e.item.as_str().to_owned(),
            tenant: e.tenant.clone(),
            state: e.state.as_str().to_owned(),
            queued_at: e.queued_at,
            due_at: e.due_at,
            attempts: e.attempts,
            last_error: e.last_error.clone(),
        }
    }
}

/// How the courier retries (M-4). The defaults try 10 times over about an hour and a half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CourierSettings {
    /// Attempts before an entry is marked failed.
    pub max_attempts: u32,
    /// Wait after the first failure, in seconds; doubled after each further one (with
    /// jitter: a random time between half and all of it).
    pub first_backoff_secs: i64,
    /// Longest wait between attempts, in seconds.
    pub max_backoff_secs: i64,
    /// How long a courier holds an entry it took before another may take it again (a courier
    /// that crashed mid-delivery), in seconds.
    pub lease_secs: i64,
    /// Entries one [`crate::AuthService::deliver_pending`] call takes at most.
    pub batch: usize,
}

impl Default for CourierSettings {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            first_backoff_secs: 5,
            max_backoff_secs: 30 * 60,
            lease_secs: 120,
            batch: 100,
        }
    }
}

impl CourierSettings {
    /// The wait after failure number `attempts` (1, 2, …), given 8 random bytes: between half
    /// and all of `first_backoff_secs * 2^(attempts-1)`, at most `max_backoff_secs`.
    pub fn backoff(&self, attempts: u32, random: [u8; 8]) -> i64 {
        let full = self
            .first_backoff_secs
            .max(1)
            .saturating_mul(1i64 << attempts.saturating_sub(1).min(30))
            .min(self.max_backoff_secs.max(1));
        let half = (full / 2).max(1);
        let spread = u64::try_from(full - half + 1).unwrap_or(1);
        half + i64::try_from(u64::from_le_bytes(random) % spread).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in MailKind::ALL {
            assert_eq!(
                OutboxItem::parse(OutboxItem::Mail(k).as_str()),
                Some(OutboxItem::Mail(k))
            );
        }
        for k in RequestKind::ALL {
            assert_eq!(
                OutboxItem::parse(OutboxItem::Request(k).as_str()),
                Some(OutboxItem::Request(k))
            );
        }
        assert_eq!(OutboxItem::parse("nope"), None);
        assert_eq!(OutboxState::parse("failed"), Some(OutboxState::Failed));
    }

    // SPEC: M-4 — the wait grows, is jittered, and is capped.
    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let s = CourierSettings::default();
        for (n, lo, hi) in [(1, 2, 5), (2, 5, 10), (3, 10, 20), (20, 900, 1800)] {
            for r in [[0u8; 8], [255u8; 8], [7u8; 8]] {
                let b = s.backoff(n, r);
                assert!(
                    (lo..=hi).contains(&b),
                    "attempt {n}: {b} not in {lo}..={hi}"
                );
            }
        }
    }
}
