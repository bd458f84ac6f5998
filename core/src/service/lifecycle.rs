//! The dormancy sweep that deletes long-unused accounts.

use super::common::store_err;
use super::{AuthService, MAX_ATTEMPTS, RekeyReport, SweepReport};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::flow::Decision;
use crate::flow::{account, put_user};
use crate::model::User;
use crate::model::UserRef;
use crate::ports::{Mailer, Store};
use crate::role::{Permission, Role};
use crate::seal::{Sealed, needs_reseal};

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// LC-1: deletes general and shipping users with no login for the dormancy period, and
    /// frees their IDs, e-mails and certificates. Admins are never deleted.
    pub async fn sweep_dormant(&self) -> Result<SweepReport> {
        self.sweep_dormant_with(false, &mut |_, _| {}).await
    }

    /// LC-1 without deleting: the users [`AuthService::sweep_dormant`] would delete now.
    pub async fn sweep_dormant_dry_run(&self) -> Result<SweepReport> {
        self.sweep_dormant_with(true, &mut |_, _| {}).await
    }

    /// [`AuthService::sweep_dormant`] (or, with `dry_run`, its dry run) that tells `progress`
    /// after each user examined: the users scanned so far, and the user deleted (or that would
    /// be) if this one was.
    pub async fn sweep_dormant_with(
        &self,
        dry_run: bool,
        progress: &mut (dyn FnMut(usize, Option<&UserRef>) + Send),
    ) -> Result<SweepReport> {
        let now = self.clock.now();
        account::require(&self.ctx(now), Role::Support, Permission::Sweep)?;
        let mut report = SweepReport {
            dry_run,
            ..SweepReport::default()
        };
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
                    progress(report.scanned, None);
                    continue;
                }
                let r = u.user_ref();
                if dry_run {
                    progress(report.scanned, Some(&r));
                    report.deleted.push(r);
                    continue;
                }
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
                    progress(report.scanned, Some(&r));
                    report.deleted.push(r);
                } else {
                    progress(report.scanned, None);
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(report)
    }

    /// K-2: re-writes every authenticator secret (enrolled, being enrolled by a login, or by a
    /// self-service enrolment) that is bare (from before K-1) or sealed under an earlier key,
    /// under the current key; lists the tenants whose access key still needs its next use.
    /// Safe to run while the server runs (each user is one conditional write) and to run again.
    pub async fn rekey(&self) -> Result<RekeyReport> {
        let now = self.clock.now();
        let mut report = RekeyReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .scan_users(after.as_deref(), 200)
                .await
                .map_err(store_err)?;
            for u in &page.items {
                report.users_scanned += 1;
                if !self.needs_reseal(u) {
                    continue;
                }
                let r = u.user_ref();
                let rewritten: bool = retrying!(self, {
                    match self.user(&r).await? {
                        Some(mut cur) if self.needs_reseal(&cur) => {
                            let ctx = self.ctx(now);
                            let reseal = |s: &mut Sealed| -> Result<()> {
                                *s = ctx.seal(&ctx.open(s)?);
                                Ok(())
                            };
                            if let Some(t) = cur.totp.as_mut() {
                                reseal(&mut t.secret)?;
                            }
                            if let Some(s) = cur.totp_pending.as_mut() {
                                reseal(s)?;
                            }
                            if let Some(s) =
                                cur.pending_login.as_mut().and_then(|p| p.enrol.as_mut())
                            {
                                reseal(s)?;
                            }
                            Decision::ok(true).write(put_user(cur))
                        }
                        _ => Decision::ok(false),
                    }
                })?;
                if rewritten {
                    report.users_resealed += 1;
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_tenants(after.as_deref(), 200)
                .await
                .map_err(store_err)?;
            for t in &page.items {
                if t.access_key.is_some_and(|k| k.needs_rekey(&self.key)) {
                    report.tenants_pending.push(t.code.clone());
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(report)
    }

    fn needs_reseal(&self, u: &User) -> bool {
        u.totp
            .as_ref()
            .map(|t| &t.secret)
            .into_iter()
            .chain(u.totp_pending.as_ref())
            .chain(u.pending_login.as_ref().and_then(|p| p.enrol.as_ref()))
            .any(|s| needs_reseal(&self.key, s))
    }
}
