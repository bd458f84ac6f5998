//! Support staff's work on tenants and users, and the audit log.

use super::common::{bounded, checked_cursor, store_err};
use super::{AuthService, MAX_ATTEMPTS, TenantView, UserView};
use crate::audit::{AuditEvent, AuditFilter};
use crate::cert::ClientCert;
use crate::error::{Error, Field, Result};
use crate::flow::Decision;
use crate::flow::account::{self, Created, NewTenant, NewUser, Resetter, Temp, TenantEdit};
use crate::model::{CertBinding, CertOwner, Page, UserRef};
use crate::normalize::{self, email_key};
use crate::policy::UserIdRule;
use crate::ports::{Mailer, Store};
use crate::role::{Permission, Role};
use crate::secret::Secret;

/// Users read per page while a tenant is deleted.
const DELETE_PAGE: usize = 100;

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

    /// T-1: the tenants ordered by code, after the cursor `after` (a code); `limit` 1..=500.
    pub async fn support_list_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<TenantView>> {
        account::require(
            &self.ctx(self.clock.now()),
            Role::Support,
            Permission::CreateTenant,
        )?;
        if let Some(a) = after {
            bounded(Field::TenantCode, a)?;
        }
        let page = self
            .store
            .list_tenants(after, limit.clamp(1, 500))
            .await
            .map_err(store_err)?;
        Ok(Page {
            items: page.items.iter().map(TenantView::of).collect(),
            next: page.next,
        })
    }

    /// T-1: one tenant; `NotFound` when there is none.
    pub async fn support_tenant(&self, code: &str) -> Result<TenantView> {
        account::require(
            &self.ctx(self.clock.now()),
            Role::Support,
            Permission::CreateTenant,
        )?;
        bounded(Field::TenantCode, code)?;
        let t = self.tenant(code).await?.ok_or(Error::NotFound)?;
        Ok(TenantView::of(&t))
    }

    /// T-1: changes a tenant's name, logistics flag, corporate number, access key or language,
    /// validated as at creation (E-7: a new corporate number must keep the admin's shared
    /// address within its exception; R-3: logistics stays on while shipping users exist).
    pub async fn support_update_tenant(&self, code: &str, edit: &TenantEdit) -> Result<TenantView> {
        let now = self.clock.now();
        bounded(Field::TenantCode, code)?;
        for (field, v) in [
            (Field::TenantName, edit.name.as_deref()),
            (Field::CorporateNumber, edit.corporate_number.as_deref()),
            (
                Field::AccessKey,
                edit.access_key.as_ref().map(Secret::expose),
            ),
        ] {
            if let Some(v) = v {
                bounded(field, v)?;
            }
        }
        retrying!(self, {
            let t = self.tenant(code).await?.ok_or(Error::NotFound)?;
            let admin = self.user(&UserRef::new(code, code)).await?;
            let owners = match admin.as_ref().and_then(|a| a.email.as_deref()) {
                Some(e) if edit.corporate_number.is_some() => {
                    let rec = self
                        .store
                        .email_owners(&email_key(e))
                        .await
                        .map_err(store_err)?;
                    self.owner_infos(rec.as_ref()).await?
                }
                _ => Vec::new(),
            };
            let has_shipping = edit.logistics == Some(false)
                && t.logistics
                && self.has_shipping_users(code).await?;
            account::edit_tenant(
                &self.ctx(now),
                t,
                edit,
                admin.as_ref().map(|a| (a, owners.as_slice())),
                has_shipping,
            )
        })?;
        let t = self.tenant(code).await?.ok_or(Error::NotFound)?;
        Ok(TenantView::of(&t))
    }

    async fn has_shipping_users(&self, code: &str) -> Result<bool> {
        let now = self.clock.now();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_users(code, after.as_deref(), 200)
                .await
                .map_err(store_err)?;
            if page
                .items
                .iter()
                .any(|u| u.role == Role::Shipping && self.is_live(now, u))
            {
                return Ok(true);
            }
            match page.next {
                Some(n) => after = Some(n),
                None => return Ok(false),
            }
        }
    }

    /// T-1: deletes a tenant with every one of its users. Each user goes in its own atomic
    /// write that also releases its e-mail and certificate claims (as deleting a user does);
    /// the tenant record goes last, once no user is left. Safe to run again after an
    /// interruption: it carries on where it stopped (a tenant record without users left, or
    /// users left without their tenant record). `NotFound` when neither is left.
    pub async fn support_delete_tenant(&self, code: &str) -> Result<()> {
        let now = self.clock.now();
        account::require(&self.ctx(now), Role::Support, Permission::CreateTenant)?;
        bounded(Field::TenantCode, code)?;
        let mut found = self.tenant(code).await?.is_some();
        // Users created while this runs are caught by the next pass; a pass that finds none
        // lets the tenant go.
        for _ in 0..MAX_ATTEMPTS {
            let page = self
                .store
                .list_users(code, None, DELETE_PAGE)
                .await
                .map_err(store_err)?;
            if page.items.is_empty() {
                break;
            }
            found = true;
            for u in &page.items {
                let r = u.user_ref();
                retrying!(self, {
                    match self.user(&r).await? {
                        Some(cur) => {
                            let (email, certs) = self.claims_of(&cur).await?;
                            account::support_delete_user(
                                &self.ctx(now),
                                &cur,
                                email.as_ref(),
                                &certs,
                                true,
                            )
                        }
                        None => Decision::ok(()),
                    }
                })?;
            }
        }
        let left = self
            .store
            .list_users(code, None, 1)
            .await
            .map_err(store_err)?;
        if !left.items.is_empty() {
            return Err(Error::Conflict);
        }
        retrying!(self, {
            match self.tenant(code).await? {
                Some(t) => account::delete_tenant(&self.ctx(now), &t),
                None if found => Decision::ok(()),
                None => Decision::err(Error::NotFound),
            }
        })
    }

    /// One user of a tenant; `NotFound` when there is none (or it is dormant, LC-1).
    pub async fn support_user(&self, user: &UserRef) -> Result<UserView> {
        let now = self.clock.now();
        account::require(&self.ctx(now), Role::Support, Permission::ListUsers)?;
        bounded(Field::TenantCode, &user.tenant)?;
        bounded(Field::UserId, &user.user_id)?;
        match self.user(user).await? {
            Some(u) if self.is_live(now, &u) => Ok(UserView::of(&self.policy, &u, now)),
            _ => Err(Error::NotFound),
        }
    }

    /// LC-2, T-4, R-3, E-1..E-6: support creates a general or shipping user in a tenant under
    /// the rules an admin creating one follows; its temporary password is mailed (returned
    /// instead when the user has no e-mail). `NotFound` when the tenant (or its admin) is gone.
    pub async fn support_create_user(&self, tenant: &str, input: &NewUser) -> Result<Created> {
        let now = self.clock.now();
        account::require(&self.ctx(now), Role::Support, Permission::CreateTenant)?;
        bounded(Field::TenantCode, tenant)?;
        bounded(Field::UserId, &input.user_id)?;
        let (temp, phc) = self.temporary().await?;
        retrying!(self, {
            let (t, admin) = self
                .tenant_and_user(&UserRef::new(tenant, tenant))
                .await?
                .ok_or(Error::NotFound)?;
            let id = if self.policy.login.user_id == UserIdRule::Email {
                email_key(&input.user_id)
            } else {
                input.user_id.clone()
            };
            let existing = self.user(&UserRef::new(&t.code, &id)).await?;
            // A dormant user is as good as deleted (LC-1): its ID and e-mail are free again.
            let (exists, mut cleanup) = match existing {
                Some(u) if !self.is_live(now, &u) => (false, self.removal(&u).await?),
                Some(_) => (true, Vec::new()),
                None => (false, Vec::new()),
            };
            let email = account::intended_email(
                &admin,
                input.same_as_admin,
                input.profile.email.as_deref(),
            );
            let st = self.email_state(None, email.as_deref()).await?;
            let mut d = account::support_create_user(
                &self.ctx(now),
                &admin,
                &t,
                input,
                exists,
                &st,
                Temp {
                    password: &temp,
                    phc: &phc,
                },
            );
            super::admin::merge_cleanup(&mut cleanup, &mut d.writes);
            d
        })
    }

    /// LC-3: support deletes a general or shipping user; its ID, e-mail and certificates
    /// become free. The admin goes only with its tenant (T-3): `Forbidden`.
    pub async fn support_delete_user(&self, user: &UserRef) -> Result<()> {
        let now = self.clock.now();
        bounded(Field::TenantCode, &user.tenant)?;
        bounded(Field::UserId, &user.user_id)?;
        retrying!(self, {
            let u = self.user(user).await?.ok_or(Error::NotFound)?;
            let (email, certs) = self.claims_of(&u).await?;
            account::support_delete_user(&self.ctx(now), &u, email.as_ref(), &certs, false)
        })
    }

    /// S-4, L-9: ends every session of a user (and any login waiting for its second factor);
    /// the user signs in again.
    pub async fn support_end_sessions(&self, user: &UserRef) -> Result<()> {
        let now = self.clock.now();
        bounded(Field::TenantCode, &user.tenant)?;
        bounded(Field::UserId, &user.user_id)?;
        retrying!(self, {
            let u = self.user(user).await?.ok_or(Error::NotFound)?;
            account::end_sessions(&self.ctx(now), u)
        })
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
