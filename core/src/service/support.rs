//! Support staff's work on tenants and users, and the audit log.

use super::common::{bounded, checked_cursor, store_err};
use super::{AuthService, MAX_ATTEMPTS, UserView};
use crate::audit::{AuditEvent, AuditFilter};
use crate::cert::ClientCert;
use crate::error::{Error, Field, Result};
use crate::flow::account::{self, Created, NewTenant, Resetter, Temp};
use crate::model::{CertBinding, CertOwner, Page, UserRef};
use crate::normalize;
use crate::ports::{Mailer, Store};
use crate::role::{Permission, Role};
use crate::secret::Secret;

impl<S: Store, M: Mailer> AuthService<S, M> {
    // The caller (HTTP layer, CLI, binding) authenticates support staff; every operation still
    // checks the support role's permissions.

    /// T-1..T-3: creates a tenant and its admin (user ID = tenant code).
    pub async fn support_create_tenant(&self, input: &NewTenant) -> Result<Created> {
        let now = self.clock.now();
        bounded(Field::TenantCode, &input.code)?;
        let (temp, phc) = self.temporary().await?;
        retrying!(self, {
            normalize::validate_tenant_code(&input.code, &self.policy.profile)?;
            let exists = self.tenant(&input.code).await?.is_some();
            let st = self.email_state(None, input.admin.email.as_deref()).await?;
            account::create_tenant(
                &self.ctx(now),
                input,
                exists,
                &st,
                Temp {
                    password: &temp,
                    phc: &phc,
                },
            )
        })
    }

    /// unlocks any user (admins included).
    pub async fn support_unlock(&self, user: &UserRef) -> Result<()> {
        let now = self.clock.now();
        retrying!(self, {
            let u = self.user(user).await?.ok_or(Error::NotFound)?;
            account::unlock(&self.ctx(now), &Resetter::Support, u)
        })
    }

    /// RS-8: re-initializes a user's password (admins, SECOM accounts): temporary password,
    /// forced change, lock cleared. Returned when the user has no e-mail.
    pub async fn support_reset_password(&self, user: &UserRef) -> Result<Option<Secret>> {
        let now = self.clock.now();
        let (temp, phc) = self.temporary().await?;
        retrying!(self, {
            let (tenant, u) = self.tenant_and_user(user).await?.ok_or(Error::NotFound)?;
            account::reset_password(
                &self.ctx(now),
                &Resetter::Support,
                &tenant,
                u,
                Temp {
                    password: &temp,
                    phc: &phc,
                },
            )
        })
    }

    /// P-6, P-4: changes a tenant admin's e-mail; its same-as-admin users follow.
    pub async fn support_change_admin_email(&self, tenant: &str, new_email: &str) -> Result<()> {
        let now = self.clock.now();
        bounded(Field::Email, new_email)?;
        retrying!(self, {
            let r = UserRef::new(tenant, tenant);
            let (t, admin) = self.tenant_and_user(&r).await?.ok_or(Error::NotFound)?;
            let st = self
                .email_state(admin.email.as_deref(), Some(new_email))
                .await?;
            let followers = self.followers(&admin).await?;
            account::change_admin_email(&self.ctx(now), &t, admin, new_email, &st, followers)
        })
    }

    /// L-8, LC-4: binds a client certificate to a user. One another account holds is refused
    /// (`certificate_taken`) unless `replace`, and then that account loses it in the same
    /// write; with `replace`, the user's other certificates stop working too (re-binding to a
    /// new person in charge).
    pub async fn support_bind_certificate(
        &self,
        user: &UserRef,
        cert: &ClientCert,
        replace: bool,
    ) -> Result<()> {
        let now = self.clock.now();
        let key = cert.key()?;
        retrying!(self, {
            let u = self.user(user).await?.ok_or(Error::NotFound)?;
            let existing = self.store.cert_owner(&key).await.map_err(store_err)?;
            let holder = match &existing {
                Some(o) if o.owner != *user => self.user(&o.owner).await?,
                _ => None,
            };
            let mut previous: Vec<CertOwner> = Vec::new();
            for c in &u.certificates {
                if let Some(o) = self.store.cert_owner(&c.key).await.map_err(store_err)? {
                    previous.push(o);
                }
            }
            let binding = CertBinding {
                key: key.clone(),
                serial: cert.serial.clone(),
                subject_dn: cert.subject_dn.clone(),
                bound_at: now,
            };
            account::bind_certificate(
                &self.ctx(now),
                u,
                binding,
                existing.as_ref(),
                holder,
                &previous,
                replace,
            )
        })
    }

    /// Support's view of a tenant's users.
    pub async fn support_list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserView>> {
        account::require(
            &self.ctx(self.clock.now()),
            Role::Support,
            Permission::ListUsers,
        )?;
        self.list_users(tenant, after, limit).await
    }

    /// audit events, oldest first.
    pub async fn audit_events(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEvent>> {
        account::require(
            &self.ctx(self.clock.now()),
            Role::Support,
            Permission::ReadAudit,
        )?;
        self.store
            .audit(filter, checked_cursor(after)?, limit.clamp(1, 1000))
            .await
            .map_err(store_err)
    }
}
