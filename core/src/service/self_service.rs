//! What a user does to their own account: password, profile, authenticator.

use super::common::bounded;
use super::{AuthService, MAX_ATTEMPTS, UserView};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::{Error, Field, InputProblem, Result};
use crate::flow::account::{self, SelfEdit};
use crate::flow::login::{self, ChangeCheck, Session, TotpEnrolment};
use crate::flow::{Decision, put_user};
use crate::model::{LoginMethod, User};
use crate::password;
use crate::ports::{Mailer, Store};
use crate::role::{Permission, Role};
use crate::secret::Secret;
use crate::token::SessionScope;
use crate::totp;
use std::sync::Arc;

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// PW-2..PW-5, RS-9: changes the password. A change-password-only session (PW-3, PW-4)
    /// needs no current password; a full session does. Returns a new full session; every
    /// older session stops working.
    pub async fn change_password(
        &self,
        token: &str,
        current: Option<&Secret>,
        new: &Secret,
        confirm: &Secret,
    ) -> Result<Session> {
        let now = self.clock.now();
        bounded(Field::Password, new.expose())?;
        bounded(Field::Password, confirm.expose())?;
        let (claims, mut user) = self.authenticate(token).await?;
        password::check_new(&self.policy.password, new, confirm, Some(&user.user_id))?;
        let mut out = Err(Error::Conflict);
        let mut cache: Option<(String, ChangeCheck)> = None;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                self.backoff(attempt).await;
            }
            let check = match cache.take() {
                Some((phc, c)) if phc == user.password.phc => c,
                _ => self.change_check(claims.scope, current, new, &user).await?,
            };
            let phc_now = user.password.phc.clone();
            let factors = crate::flow::session::factors_of(&user, &claims.session_id);
            let d = login::change_password(&self.ctx(now), user, &check, factors);
            if let Some(o) = self.apply(d).await? {
                out = o;
                break;
            }
            cache = Some((phc_now, check));
            user = self
                .user(&claims.user_ref())
                .await?
                .ok_or(Error::SessionInvalid)?;
            // The session may have ended meanwhile (S-2).
            login::check_session(&self.ctx(now), &claims, Some(&user))?;
        }
        out
    }

    /// The argon2 work of a password change, done once per stored password.
    async fn change_check(
        &self,
        scope: SessionScope,
        current: Option<&Secret>,
        new: &Secret,
        user: &User,
    ) -> Result<ChangeCheck> {
        let current_ok = match (scope, current) {
            (SessionScope::ChangePassword, _) => true,
            (SessionScope::Full, Some(c)) => self.verify(c, &user.password.phc).await?,
            (SessionScope::Full, None) => false,
        };
        let (h, n, cur, prev, keep) = (
            Arc::clone(&self.hasher),
            new.clone(),
            user.password.phc.clone(),
            user.password_history.clone(),
            self.policy.password.history,
        );
        let reuse = self
            .offloaded(move || h.reuse_problem(&n, &cur, &prev, keep))
            .await?;
        Ok(ChangeCheck {
            current_ok,
            reuse,
            new_phc: self.hash(new).await?,
        })
    }

    /// P-3 (self): edits the session user's own profile.
    pub async fn edit_self(&self, token: &str, edit: &SelfEdit) -> Result<UserView> {
        let now = self.clock.now();
        let (claims, _) = self.full_session(token, Permission::EditSelf).await?;
        let r = claims.user_ref();
        retrying!(self, {
            let (tenant, user) = self
                .tenant_and_user(&r)
                .await?
                .ok_or(Error::SessionInvalid)?;
            let new_email = match edit.email.as_deref().map(str::trim) {
                Some("") => None,
                Some(e) => Some(e.to_owned()),
                None => user.email.clone(),
            };
            let st = self
                .email_state(user.email.as_deref(), new_email.as_deref())
                .await?;
            let followers = if user.role == Role::Admin {
                self.followers(&user).await?
            } else {
                Vec::new()
            };
            account::edit_self(&self.ctx(now), &tenant, user, edit, &st, followers)
        })?;
        self.whoami(token).await
    }

    /// L-2 (self): starts adding an authenticator; confirm with [`AuthService::confirm_totp`].
    /// Needs [`Permission::ChooseLoginMethod`] (`forbidden` where the admin sets the method,
    /// as for Kuroneko general and shipping users; they enrol at their next login instead).
    pub async fn begin_totp(&self, token: &str) -> Result<TotpEnrolment> {
        let now = self.clock.now();
        let (claims, _) = self
            .full_session(token, Permission::ChooseLoginMethod)
            .await?;
        retrying!(self, {
            let (tenant, mut user) = self
                .tenant_and_user(&claims.user_ref())
                .await?
                .ok_or(Error::SessionInvalid)?;
            let secret = totp::generate_secret(&*self.rng);
            let ctx = self.ctx(now);
            let e = login::enrolment_for(&ctx, &tenant, &user, &secret);
            user.totp_pending = Some(ctx.seal(&secret));
            Decision::ok(e).write(put_user(user))
        })
    }

    /// L-2 (self): the first code from the new authenticator; the login method becomes TOTP.
    pub async fn confirm_totp(&self, token: &str, code: &Secret) -> Result<()> {
        let now = self.clock.now();
        bounded(Field::Code, code.expose())?;
        let (claims, _) = self
            .full_session(token, Permission::ChooseLoginMethod)
            .await?;
        retrying!(self, {
            let mut user = self
                .user(&claims.user_ref())
                .await?
                .ok_or(Error::SessionInvalid)?;
            let Some(stored) = user.totp_pending.take() else {
                return Err(Error::invalid(Field::Code, InputProblem::Missing));
            };
            let ctx = self.ctx(now);
            let secret = ctx.open(&stored)?;
            let Some(step) = totp::verify(&secret, code, now, None, &self.policy.otp) else {
                return Err(Error::OtpInvalid);
            };
            user.totp = Some(crate::model::TotpRecord {
                secret: ctx.seal(&secret),
                last_step: Some(step),
            });
            user.login_method = LoginMethod::Totp;
            let r = user.user_ref();
            Decision::ok(())
                .audit(AuditEvent::success(
                    now,
                    AuditKind::AuthenticatorReset,
                    Actor::user(&r),
                    Some(&r),
                ))
                .write(put_user(user))
        })
    }
}
