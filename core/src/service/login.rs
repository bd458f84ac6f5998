//! Login: first and second factor, sessions, who am I, logout.

use super::common::{bounded, store_err};
use super::{AuthService, LoginRequest, MAX_ATTEMPTS, UserView};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::{Error, Field, Result};
use crate::flow::account;
use crate::flow::login::{self, FirstFactorCheck, LoginStep, Session};
use crate::flow::session;
use crate::model::{Factor, User, UserRef};
use crate::normalize::email_key;
use crate::policy::{CertificateLogin, Identifier};
use crate::ports::{Mailer, Store};
use crate::role::Permission;
use crate::secret::Secret;
use crate::time::Timestamp;
use crate::token::{SessionClaims, SessionScope, parse_opaque};

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// Resolves the user a login names: by certificate, e-mail, login ID or tenant + user ID.
    async fn resolve(&self, req: &LoginRequest, by_cert: Option<&str>) -> Result<Option<UserRef>> {
        if let Some(key) = by_cert {
            return Ok(self
                .store
                .cert_owner(key)
                .await
                .map_err(store_err)?
                .map(|c| c.owner));
        }
        let Some(id) = req
            .identifier
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
        else {
            return Ok(None);
        };
        bounded(Field::Identifier, id)?;
        match self.policy.login.identifier {
            Identifier::Email => {
                let owners = self
                    .store
                    .email_owners(&email_key(id))
                    .await
                    .map_err(store_err)?;
                Ok(owners.and_then(|o| match o.owners.as_slice() {
                    [one] => Some(one.clone()),
                    _ => None,
                }))
            }
            Identifier::LoginId | Identifier::TenantAndUserId => {
                let tenant = self.tenant_code(req.tenant.as_deref())?;
                Ok(Some(UserRef::new(tenant, id)))
            }
        }
    }

    /// L-1 first factor: identifiers + password (+ access key, + certificate per policy).
    /// Answers the next step: a second-factor challenge (the code is mailed) or a session.
    pub async fn login(&self, req: LoginRequest) -> Result<LoginStep> {
        let now = self.clock.now();
        if let Some(p) = &req.password {
            bounded(Field::Password, p.expose())?;
        }
        if let Some(k) = &req.access_key {
            bounded(Field::AccessKey, k.expose())?;
        }
        let mode = self.policy.login.certificate;
        let cert_key = match (&req.certificate, mode) {
            (Some(c), m) if m != CertificateLogin::Off => Some(c.key()?),
            _ => None,
        };
        let target = self.resolve(&req, cert_key.as_deref()).await?;
        let found = match &target {
            Some(r) => self
                .tenant_and_user(r)
                .await?
                .filter(|(_, u)| self.is_live(now, u))
                // L-8, defence in depth: the owner record and the user's own list must agree.
                .filter(|(_, u)| {
                    cert_key
                        .as_deref()
                        .is_none_or(|k| u.certificates.iter().any(|c| c.key == k))
                }),
            None => None,
        };
        let Some((tenant, mut user)) = found else {
            // L-5: the same work and the same answer as a wrong password.
            self.dummy_verify(req.password.as_ref()).await?;
            let mut ev = AuditEvent::failure(
                now,
                AuditKind::LoginFailed,
                Actor::Anonymous,
                None,
                Error::LoginFailed.code(),
            );
            if let Some(r) = &target
                && self.tenant(&r.tenant).await?.is_some()
            {
                ev = ev.with_tenant(r.tenant.clone());
            }
            self.record(vec![ev]).await;
            return Err(Error::LoginFailed);
        };
        let access_key_ok = self.access_key_ok(&tenant, req.access_key.as_ref()).await;
        // Which credentials this login needs (L-8).
        let identifier_matches = req
            .identifier
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .is_none_or(|i| {
                i == user.user_id
                    || user
                        .email
                        .as_deref()
                        .is_some_and(|e| email_key(e) == email_key(i))
            });
        let needs_password = match (mode, cert_key.is_some()) {
            (CertificateLogin::PasswordProtect, true) => user.password_protect,
            _ => true,
        };
        let cert_required = mode != CertificateLogin::Off;
        let mut checked_phc = user.password.phc.clone();
        let mut typed = typed_password(&user, req.password.as_ref());
        let mut password_ok = self
            .password_check(needs_password, typed.as_ref(), &checked_phc)
            .await?;
        // RS-10: a temporary password waiting beside the current one is compared by its keyed
        // digest, computed for every password login: still exactly one argon2 verification on
        // every path (L-5), known account or not, temporary password waiting or not.
        let temp_check = req
            .password
            .as_ref()
            .map(|p| crate::flow::temp_digest(&self.key, &user.user_ref(), p));
        let user_ref = user.user_ref();
        // S-1: what this first step proves when it succeeds.
        let factors: Vec<Factor> = [
            (needs_password, Factor::Password),
            (cert_key.is_some(), Factor::Certificate),
        ]
        .into_iter()
        .filter_map(|(used, f)| used.then_some(f))
        .collect();
        let mut out = Err(Error::Conflict);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                self.backoff(attempt).await;
            }
            if user.password.phc != checked_phc {
                checked_phc = user.password.phc.clone();
                typed = typed_password(&user, req.password.as_ref());
                password_ok = self
                    .password_check(needs_password, typed.as_ref(), &checked_phc)
                    .await?;
            }
            let via_temporary = match &temp_check {
                Some(d)
                    if needs_password
                        && !password_ok
                        && crate::flow::pending_matches(&self.ctx(now), &user, d) =>
                {
                    Some(*d)
                }
                _ => None,
            };
            let credentials_ok = (password_ok || via_temporary.is_some())
                && identifier_matches
                && (!cert_required || cert_key.is_some());
            let rehash = match &typed {
                Some(p)
                    if password_ok
                        && credentials_ok
                        && needs_password
                        && self.hasher.needs_rehash(&checked_phc) =>
                {
                    Some(self.hash(p).await?)
                }
                _ => None,
            };
            let check = FirstFactorCheck {
                credentials_ok,
                access_key_ok,
                rehash,
                via_temporary,
                factors: factors.clone(),
            };
            let d = login::first_factor(&self.ctx(now), &tenant, user, &check);
            if let Some(o) = self.apply(d).await? {
                out = o;
                break;
            }
            match self.user(&user_ref).await? {
                Some(u) if self.is_live(now, &u) => user = u,
                _ => return Err(Error::LoginFailed),
            }
        }
        out
    }

    async fn password_check(
        &self,
        needed: bool,
        given: Option<&Secret>,
        phc: &str,
    ) -> Result<bool> {
        if !needed {
            return Ok(true);
        }
        match given {
            Some(p) => self.verify(p, phc).await,
            None => {
                self.dummy_verify(None).await?;
                Ok(false)
            }
        }
    }

    /// L-1..L-4: the second factor (mail OTP or authenticator code) for a challenge.
    pub async fn verify_second_factor(&self, challenge: &str, code: &Secret) -> Result<Session> {
        let now = self.clock.now();
        bounded(Field::Code, code.expose())?;
        let (r, nonce) = parse_opaque(challenge.trim()).ok_or(Error::ChallengeExpired)?;
        retrying!(self, {
            let u = self
                .user(&r)
                .await?
                .filter(|u| self.is_live(now, u))
                .ok_or(Error::ChallengeExpired)?;
            login::second_factor(&self.ctx(now), u, &nonce, code)
        })
    }

    /// L-3: a new mail OTP for a live challenge; the previous code stops working.
    pub async fn resend_otp(&self, challenge: &str) -> Result<Timestamp> {
        let now = self.clock.now();
        let (r, nonce) = parse_opaque(challenge.trim()).ok_or(Error::ChallengeExpired)?;
        let tenant = self
            .tenant(&r.tenant)
            .await?
            .ok_or(Error::ChallengeExpired)?;
        retrying!(self, {
            let u = self.user(&r).await?.ok_or(Error::ChallengeExpired)?;
            login::resend(&self.ctx(now), &tenant, u, &nonce)
        })
    }

    /// L-9, S-2: the claims and user of a valid session (any scope). The session's last use
    /// is written when it is a minute old or more (S-3); the user returned is then the one
    /// stored after that write.
    pub async fn authenticate(&self, token: &str) -> Result<(SessionClaims, User)> {
        let now = self.clock.now();
        if token.len() > 4096 {
            return Err(Error::SessionInvalid);
        }
        let claims = self.key.verify(token.trim(), now)?;
        let user = self.user(&claims.user_ref()).await?;
        let check = login::check_session(&self.ctx(now), &claims, user.as_ref())?;
        let mut user = user.ok_or(Error::SessionInvalid)?;
        if check == session::Check::LiveTouch {
            user = self.touch_session(&claims, user).await?;
        }
        Ok((claims, user))
    }

    /// A session with full scope (not only password change) holding `permission`.
    pub(super) async fn full_session(
        &self,
        token: &str,
        permission: Permission,
    ) -> Result<(SessionClaims, User)> {
        let (c, u) = self.authenticate(token).await?;
        if c.scope != SessionScope::Full {
            return Err(Error::PasswordChangeRequired);
        }
        account::require(&self.ctx(self.clock.now()), u.role, permission)?;
        Ok((c, u))
    }

    /// Who the session belongs to.
    pub async fn whoami(&self, token: &str) -> Result<UserView> {
        let (_, u) = self.authenticate(token).await?;
        Ok(UserView::of(&self.policy, &u, self.clock.now()))
    }

    /// whether the session's role holds `permission` (a business menu, say).
    pub async fn can(&self, token: &str, permission: Permission) -> Result<bool> {
        let (c, u) = self.authenticate(token).await?;
        Ok(c.scope == SessionScope::Full && self.policy.can(u.role, permission))
    }

    /// S-4: ends this session only; the user's other sessions go on.
    pub async fn logout(&self, token: &str) -> Result<()> {
        let (claims, _) = self.authenticate(token).await?;
        self.end_sessions_of(
            &claims.user_ref(),
            session::Ending::One(&claims.session_id),
            &Actor::user(&claims.user_ref()),
        )
        .await
        .map(|_| ())
    }
}

/// The password as it is checked: a temporary password was delivered by mail and is trimmed of
/// the white space a copy and paste brings along (M-3); a chosen password is taken as typed.
fn typed_password(user: &User, given: Option<&Secret>) -> Option<Secret> {
    given.map(|p| {
        if user.password.temporary_until.is_some() {
            p.trimmed()
        } else {
            p.clone()
        }
    })
}
