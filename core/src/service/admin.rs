//! A tenant admin's work on the tenant's users.

use super::common::{bounded, checked_cursor, store_err};
use super::{AuthService, MAX_ATTEMPTS, UserView};
use crate::error::{Error, Field, Result};
use crate::flow::account::{self, Created, NewUser, Resetter, Temp, UserEdit};
use crate::model::{EmailOwners, Page, Tenant, User, UserRef, Write};
use crate::normalize::email_key;
use crate::policy::UserIdRule;
use crate::ports::{Mailer, Store};
use crate::role::Permission;
use crate::secret::Secret;
use crate::token::SessionClaims;

impl<S: Store, M: Mailer> AuthService<S, M> {
    async fn admin_target(
        &self,
        claims: &SessionClaims,
        user_id: &str,
    ) -> Result<(Tenant, User, User)> {
        bounded(Field::UserId, user_id)?;
        let admin = self
            .user(&claims.user_ref())
            .await?
            .ok_or(Error::SessionInvalid)?;
        let tenant = self
            .tenant(&claims.tenant)
            .await?
            .ok_or(Error::SessionInvalid)?;
        let target = self
            .user(&UserRef::new(&claims.tenant, user_id))
            .await?
            .ok_or(Error::NotFound)?;
        Ok((tenant, admin, target))
    }

    /// the tenant's users, by user ID.
    pub async fn admin_list_users(
        &self,
        token: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserView>> {
        let (claims, _) = self.full_session(token, Permission::ListUsers).await?;
        self.list_users(&claims.tenant, after, limit).await
    }

    pub(super) async fn list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserView>> {
        let now = self.clock.now();
        let page = self
            .store
            .list_users(tenant, checked_cursor(after)?, limit.clamp(1, 500))
            .await
            .map_err(store_err)?;
        Ok(Page {
            items: page
                .items
                .iter()
                .filter(|u| self.is_live(now, u))
                .map(|u| UserView::of(&self.policy, u, now))
                .collect(),
            next: page.next,
        })
    }

    /// LC-2, T-4, R-3, E-1..E-6: creates a general or shipping user and mails its temporary
    /// password (returned instead when the user has no e-mail).
    pub async fn admin_create_user(&self, token: &str, input: &NewUser) -> Result<Created> {
        let now = self.clock.now();
        let (claims, _) = self.full_session(token, Permission::CreateUser).await?;
        bounded(Field::UserId, &input.user_id)?;
        let (temp, phc) = self.temporary().await?;
        retrying!(self, {
            let admin = self
                .user(&claims.user_ref())
                .await?
                .ok_or(Error::SessionInvalid)?;
            let tenant = self
                .tenant(&claims.tenant)
                .await?
                .ok_or(Error::SessionInvalid)?;
            let id = if self.policy.login.user_id == UserIdRule::Email {
                email_key(&input.user_id)
            } else {
                input.user_id.clone()
            };
            let existing = self.user(&UserRef::new(&tenant.code, &id)).await?;
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
            let mut d = account::create_user(
                &self.ctx(now),
                &admin,
                &tenant,
                input,
                exists,
                &st,
                Temp {
                    password: &temp,
                    phc: &phc,
                },
            );
            merge_cleanup(&mut cleanup, &mut d.writes);
            d
        })
    }

    /// P-3, P-4, R-3, E-1..E-6: edits a general or shipping user.
    pub async fn admin_edit_user(
        &self,
        token: &str,
        user_id: &str,
        edit: &UserEdit,
    ) -> Result<UserView> {
        let now = self.clock.now();
        let (claims, _) = self.full_session(token, Permission::EditUser).await?;
        retrying!(self, {
            let (tenant, admin, target) = self.admin_target(&claims, user_id).await?;
            if !self.is_live(now, &target) {
                return Err(Error::NotFound);
            }
            let same = edit.same_as_admin.unwrap_or(target.same_as_admin);
            let new_email = if same {
                admin.email.clone()
            } else {
                match edit.email.as_deref().map(str::trim) {
                    Some("") => None,
                    Some(e) => Some(e.to_owned()),
                    None if edit.same_as_admin == Some(false) && target.same_as_admin => None,
                    None => target.email.clone(),
                }
            };
            let st = self
                .email_state(target.email.as_deref(), new_email.as_deref())
                .await?;
            account::edit_user(&self.ctx(now), &admin, &tenant, target, edit, &st)
        })?;
        let u = self
            .user(&UserRef::new(&claims.tenant, user_id))
            .await?
            .ok_or(Error::NotFound)?;
        Ok(UserView::of(&self.policy, &u, now))
    }

    /// LC-3: deletes a general or shipping user; its ID and e-mail become free.
    pub async fn admin_delete_user(&self, token: &str, user_id: &str) -> Result<()> {
        let now = self.clock.now();
        let (claims, _) = self.full_session(token, Permission::DeleteUser).await?;
        retrying!(self, {
            let (_, admin, target) = self.admin_target(&claims, user_id).await?;
            let (email, certs) = self.claims_of(&target).await?;
            account::delete_user(&self.ctx(now), &admin, &target, email.as_ref(), &certs)
        })
    }

    /// RS-7: a new temporary password for a general or shipping user (mailed; returned when the
    /// user has no e-mail).
    pub async fn admin_reset_password(&self, token: &str, user_id: &str) -> Result<Option<Secret>> {
        let now = self.clock.now();
        let (claims, _) = self
            .full_session(token, Permission::ResetUserPassword)
            .await?;
        let (temp, phc) = self.temporary().await?;
        retrying!(self, {
            let (tenant, admin, target) = self.admin_target(&claims, user_id).await?;
            account::reset_password(
                &self.ctx(now),
                &Resetter::Admin(&admin),
                &tenant,
                target,
                Temp {
                    password: &temp,
                    phc: &phc,
                },
            )
        })
    }

    /// RS-7: re-provisions a user's authenticator (enrolled again at the next login).
    pub async fn admin_reset_authenticator(&self, token: &str, user_id: &str) -> Result<()> {
        let now = self.clock.now();
        let (claims, _) = self
            .full_session(token, Permission::ResetUserAuthenticator)
            .await?;
        retrying!(self, {
            let (_, admin, target) = self.admin_target(&claims, user_id).await?;
            account::reset_authenticator(&self.ctx(now), &admin, target)
        })
    }

    /// L-6: unlocks a general or shipping user.
    pub async fn admin_unlock(&self, token: &str, user_id: &str) -> Result<()> {
        let now = self.clock.now();
        let (claims, _) = self.full_session(token, Permission::UnlockUser).await?;
        retrying!(self, {
            let (_, admin, target) = self.admin_target(&claims, user_id).await?;
            account::unlock(&self.ctx(now), &Resetter::Admin(&admin), target)
        })
    }
}

/// Puts the deletion of a dormant predecessor (same user ID) before the creation writes. A
/// record both deleted and re-created in one batch becomes one update: the user record takes
/// the predecessor's version, and the creation's e-mail claim (built on the same loaded owners
/// record, where the predecessor's reference is the new user's) replaces the release.
pub(super) fn merge_cleanup(cleanup: &mut Vec<Write>, writes: &mut Vec<Write>) {
    let mut merged = Vec::new();
    for c in cleanup.drain(..) {
        let keep = match &c {
            Write::DeleteUser { user, expect } => match writes
                .iter_mut()
                .find(|w| matches!(w, Write::PutUser(u) if u.user_ref() == *user))
            {
                Some(Write::PutUser(u)) => {
                    u.version = *expect;
                    false
                }
                _ => true,
            },
            Write::DeleteEmailOwners { address, .. }
            | Write::PutEmailOwners(EmailOwners { address, .. }) => !writes
                .iter()
                .any(|w| matches!(w, Write::PutEmailOwners(r) if r.address == *address)),
            _ => true,
        };
        if keep {
            merged.push(c);
        }
    }
    merged.append(writes);
    *writes = merged;
}
