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

#[cfg(all(test, feature = "test-util"))]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::Policy;
    use crate::flow::account::{NewTenant, ProfileInput};
    use crate::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
    use crate::model::LoginMethod;
    use crate::service::ResetRequest;
    use crate::token::SessionKey;
    use std::sync::Arc;

    type Svc = AuthService<Arc<MemoryStore>, Arc<CapturingMailer>>;

    fn service(policy: Policy) -> (Svc, Arc<CapturingMailer>, Arc<ManualClock>) {
        let mailer = Arc::new(CapturingMailer::new());
        let clock = Arc::new(ManualClock::at(Timestamp(1_800_000_000)));
        let svc = AuthService::new(
            policy.with_test_hashing(),
            SessionKey::new(vec![7u8; 32]).unwrap(),
            Arc::new(MemoryStore::new()),
            Arc::clone(&mailer),
            Arc::clone(&clock),
            SeededRandom::new(3),
        )
        .unwrap();
        (svc, mailer, clock)
    }

    async fn tenant(svc: &Svc) {
        svc.support_create_tenant(&NewTenant {
            code: "123456789".into(),
            name: "黒猫堂".into(),
            corporate_number: None,
            logistics: true,
            access_key: None,
            lang: None,
            admin: ProfileInput {
                name: "黒猫太郎".into(),
                email: Some("admin@example.com".into()),
                ..Default::default()
            },
            admin_login_method: LoginMethod::MailOtp,
            welcome_mail: false,
        })
        .await
        .unwrap();
    }

    fn ask(user_id: &str) -> ResetRequest {
        ResetRequest {
            tenant: Some("123456789".into()),
            user_id: user_id.into(),
            access_key: None,
        }
    }

    #[tokio::test]
    async fn over_the_account_limit_the_answer_is_the_usual_one_even_where_it_reveals() {
        // SPEC: AB-2, RS-3 — with the opt-in that names unknown accounts, a known account past
        // its mail limit still answers OK and an unknown one still answers reset_input_invalid.
        let mut p = Policy::kuroneko();
        p.reset.reveal_unknown_accounts_leaks_existence = true;
        let (svc, mailer, clock) = service(p);
        tenant(&svc).await;
        for _ in 0..5 {
            assert_eq!(svc.request_password_reset(&ask("123456789")).await, Ok(()));
            assert_eq!(
                svc.request_password_reset(&ask("nobody")).await,
                Err(Error::ResetInputInvalid)
            );
        }
        svc.deliver_pending().await.unwrap();
        assert_eq!(mailer.to("admin@example.com").len(), 3);
        // An hour on, the account may be mailed again.
        clock.advance(3600);
        svc.request_password_reset(&ask("123456789")).await.unwrap();
        svc.deliver_pending().await.unwrap();
        assert_eq!(mailer.to("admin@example.com").len(), 4);
    }

    #[tokio::test]
    async fn blocks_double_up_to_the_cap_and_null_turns_the_throttle_off() {
        // SPEC: AB-1, AB-6
        let mut p = Policy::kuroneko();
        p.abuse.address_failures = Some(2);
        p.abuse.block_secs = 100;
        p.abuse.max_block_secs = 250;
        let (svc, _, clock) = service(p);
        let a = ClientAddr::parse("192.0.2.1").unwrap();
        let mut seen = Vec::new();
        for _ in 0..4 {
            svc.record_address_failure(&a).await.unwrap();
            svc.record_address_failure(&a).await.unwrap();
            match svc.address_gate(&a).await {
                Err(Error::Throttled { retry_after_secs }) => seen.push(retry_after_secs),
                other => panic!("{other:?}"),
            }
            clock.advance(601);
        }
        assert_eq!(seen, vec![100, 200, 250, 250]);
        let mut p = Policy::kuroneko();
        p.abuse.address_failures = None;
        let (svc, _, _) = service(p);
        for _ in 0..100 {
            svc.record_address_failure(&a).await.unwrap();
        }
        assert_eq!(svc.address_gate(&a).await, Ok(()));
    }

    #[test]
    fn zero_windows_and_zero_limits_are_refused() {
        // SPEC: AB-6
        let mut p = Policy::kuroneko();
        p.abuse.address_window_secs = 0;
        assert!(matches!(p.validate(), Err(Error::PolicyInvalid(_))));
        let mut p = Policy::kuroneko();
        p.abuse.recovery_mails_per_account = Some(0);
        assert!(matches!(p.validate(), Err(Error::PolicyInvalid(_))));
        let mut p = Policy::kuroneko();
        p.abuse.block_secs = p.abuse.max_block_secs + 1;
        assert!(matches!(p.validate(), Err(Error::PolicyInvalid(_))));
        // A policy file without the section loads with the decided defaults.
        let mut v: serde_json::Value = serde_json::from_str(&Policy::kuroneko().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("abuse");
        let p = Policy::from_json(&v.to_string()).unwrap();
        assert_eq!(p.abuse, crate::policy::AbusePolicy::default());
        assert_eq!(p.abuse.address_failures, Some(20));
        assert_eq!(p.abuse.recovery_mails_per_account, Some(3));
        assert_eq!(p.abuse.recovery_requests_per_address, Some(10));
    }
}
