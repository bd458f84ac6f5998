//! The dormancy sweep that deletes long-unused accounts.

use super::common::store_err;
use super::{AuthService, MAX_ATTEMPTS, SweepReport};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::flow::Decision;
use crate::flow::account;
use crate::ports::{Mailer, Store};
use crate::role::{Permission, Role};

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// LC-1: deletes general and shipping users with no login for the dormancy period, and
    /// frees their IDs, e-mails and certificates. Admins are never deleted.
    pub async fn sweep_dormant(&self) -> Result<SweepReport> {
        let now = self.clock.now();
        account::require(&self.ctx(now), Role::Support, Permission::Sweep)?;
        let mut report = SweepReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .scan_users(after.as_deref(), 200)
                .await
                .map_err(store_err)?;
            for u in &page.items {
                report.scanned += 1;
                if self.is_live(now, u) {
                    continue;
                }
                let r = u.user_ref();
                let deleted: bool = retrying!(self, {
                    match self.user(&r).await? {
                        Some(cur) if !self.is_live(now, &cur) => {
                            let ev = AuditEvent::success(
                                now,
                                AuditKind::UserDeleted,
                                Actor::System,
                                Some(&r),
                            )
                            .with_detail("dormant");
                            Decision::ok(true)
                                .writes(self.removal(&cur).await?)
                                .audit(ev)
                        }
                        _ => Decision::ok(false),
                    }
                })?;
                if deleted {
                    report.deleted.push(r);
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(report)
    }
}
