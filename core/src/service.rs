//! [`AuthService`]: runs each flow against the ports — load → decide → conditional write →
//! mail → audit (DESIGN principles 1–3).
//!
//! The service is async but runtime-free. A write that conflicts (another request changed a
//! record in between) re-runs the step on fresh records, so parallel failures all count, and
//! one-time things (codes, links, temporary passwords) are consumed once. Mail goes out only
//! after the state it talks about is stored; if sending fails the caller gets `mail_failed`
//! and can retry.

use crate::audit::{Actor, AuditEvent, AuditFilter, AuditKind};
use crate::cert::ClientCert;
use crate::email::OwnerInfo;
use crate::error::{Error, Field, InputProblem, Result};
use crate::flow::account::{
    self, Created, EmailState, NewTenant, NewUser, Resetter, SelfEdit, Temp, UserEdit,
};
use crate::flow::login::{self, ChangeCheck, FirstFactorCheck, LoginStep, Session, TotpEnrolment};
use crate::flow::recovery::{self, IdentityClaim};
use crate::flow::{Ctx, Decision, put_user};
use crate::lang::Lang;
use crate::model::{
    AccountKind, CertBinding, CertOwner, EmailOwners, LoginMethod, Page, Tenant, User, UserRef,
    Write,
};
use crate::normalize::{self, email_key};
use crate::password::{self, Hasher};
use crate::policy::{CertificateLogin, Identifier, Policy, UserIdRule};
use crate::ports::{Clock, Inline, Mailer, Offload, SecureRandom, Store, StoreError};
use crate::role::{Permission, Role};
use crate::secret::{Digest, Secret};
use crate::time::Timestamp;
use crate::token::{SessionClaims, SessionKey, SessionScope, parse_opaque};
use crate::totp;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times a step is re-run when its writes conflict.
const MAX_ATTEMPTS: usize = 100;
/// Longest identifier, code or password accepted before any work is done.
const MAX_INPUT: usize = 1024;

/// A first-factor request (T-2, T-5, L-8).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Tenant code (defaults to the policy's tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// User ID, login ID or e-mail, per policy (may be absent with a certificate).
    #[serde(default)]
    pub identifier: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// The tenant's access key (T-2).
    #[serde(default)]
    pub access_key: Option<Secret>,
    /// A client certificate from the TLS terminator (L-8).
    #[serde(default)]
    pub certificate: Option<ClientCert>,
}

/// A link-reset request (RS-1).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Tenant code (defaults to the policy's tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// User ID.
    pub user_id: String,
    /// The tenant's access key (T-2).
    #[serde(default)]
    pub access_key: Option<Secret>,
}

/// A forgot-login-ID request (RS-5).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotLoginId {
    /// The registered e-mail.
    pub email: String,
    /// Name, where the policy asks for it.
    #[serde(default)]
    pub name: Option<String>,
    /// Phone, where the policy asks for it.
    #[serde(default)]
    pub phone: Option<String>,
}

/// What may be shown of a user: no hashes, codes or secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// Tenant code.
    pub tenant: String,
    /// User ID.
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// Individual or organization.
    pub kind: AccountKind,
    /// Name.
    pub name: String,
    /// Family name.
    pub family_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// P-4.
    pub same_as_admin: bool,
    /// L-2.
    pub login_method: LoginMethod,
    /// Whether an authenticator is enrolled.
    pub totp_enrolled: bool,
    /// L-6.
    pub locked: bool,
    /// Consecutive failures.
    pub failures: u32,
    /// L-7.
    pub last_login_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// PW-3: when the password must be changed (None: never).
    pub password_expires_at: Option<Timestamp>,
    /// PW-4: the password is temporary.
    pub temporary_password: bool,
    /// L-8: bound certificate keys.
    pub certificates: Vec<String>,
    /// e-Parcel Password Protect.
    pub password_protect: bool,
    /// Mail language.
    pub lang: Option<Lang>,
}

impl UserView {
    fn of(policy: &Policy, u: &User, now: Timestamp) -> Self {
        Self {
            tenant: u.tenant.clone(),
            user_id: u.user_id.clone(),
            role: u.role,
            kind: u.kind,
            name: u.name.clone(),
            family_name: u.family_name.clone(),
            email: u.email.clone(),
            phone: u.phone.clone(),
            same_as_admin: u.same_as_admin,
            login_method: u.login_method,
            totp_enrolled: u.totp.is_some(),
            locked: matches!(
                crate::lockout::status(&u.lock, &policy.lockout, now),
                crate::lockout::LockStatus::Locked { .. }
            ),
            failures: u.lock.failures,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            password_expires_at: match (u.password.temporary_until, policy.password.max_age_days) {
                (Some(t), _) => Some(t),
                (None, Some(d)) => Some(u.password.set_at.plus_days(i64::from(d))),
                (None, None) => None,
            },
            temporary_password: u.password.temporary_until.is_some(),
            certificates: u.certificates.iter().map(|c| c.key.clone()).collect(),
            password_protect: u.password_protect,
            lang: u.lang,
        }
    }
}

/// What a dormancy sweep did (LC-1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Users examined.
    pub scanned: usize,
    /// Users deleted.
    pub deleted: Vec<UserRef>,
}

/// The monban engine over a store and a mailer.
pub struct AuthService<S, M> {
    store: S,
    mailer: M,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn SecureRandom>,
    offload: Arc<dyn Offload>,
    policy: Arc<Policy>,
    key: SessionKey,
    hasher: Arc<Hasher>,
    audit_failures: AtomicU64,
}

impl<S, M> std::fmt::Debug for AuthService<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("policy", &self.policy.name)
            .finish_non_exhaustive()
    }
}

fn store_err(e: StoreError) -> Error {
    match e {
        StoreError::Conflict => Error::Conflict,
        StoreError::Unavailable(_) => Error::StoreUnavailable,
    }
}

fn bounded(field: Field, s: &str) -> Result<()> {
    if s.chars().count() > MAX_INPUT {
        return Err(Error::invalid(
            field,
            InputProblem::TooLong { max: MAX_INPUT },
        ));
    }
    Ok(())
}

/// Runs `$step` (an expression that loads and decides, evaluated afresh each attempt) until its
/// writes commit, then mails and audits.
macro_rules! retrying {
    ($self:ident, $step:expr) => {{
        let mut out = Err(Error::Conflict);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                $self.backoff(attempt).await;
            }
            let d = $step;
            if let Some(o) = $self.apply(d).await? {
                out = o;
                break;
            }
        }
        out
    }};
}

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// A service with the given policy (validated), signing key and ports. Hashing runs inline
    /// until [`AuthService::with_offload`] says otherwise.
    pub fn new(
        policy: Policy,
        key: SessionKey,
        store: S,
        mailer: M,
        clock: impl Clock + 'static,
        rng: impl SecureRandom + 'static,
    ) -> Result<Self> {
        policy.validate()?;
        let hasher = Hasher::new(policy.password.hash)?;
        Ok(Self {
            store,
            mailer,
            clock: Arc::new(clock),
            rng: Arc::new(rng),
            offload: Arc::new(Inline),
            policy: Arc::new(policy),
            key,
            hasher: Arc::new(hasher),
            audit_failures: AtomicU64::new(0),
        })
    }

    /// Runs argon2 through `offload` (e.g. a blocking pool) instead of inline.
    #[must_use]
    pub fn with_offload(mut self, offload: impl Offload + 'static) -> Self {
        self.offload = Arc::new(offload);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// How many audit appends failed (after the operation itself had succeeded).
    pub fn audit_failures(&self) -> u64 {
        self.audit_failures.load(Ordering::Relaxed)
    }

    fn ctx(&self, now: Timestamp) -> Ctx<'_> {
        Ctx {
            policy: &self.policy,
            now,
            rng: &*self.rng,
            key: &self.key,
        }
    }

    // ---- plumbing -------------------------------------------------------------------------

    async fn offloaded<R: Send + 'static>(
        &self,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R> {
        let slot = Arc::new(std::sync::Mutex::new(None));
        let out = Arc::clone(&slot);
        self.offload
            .run(Box::new(move || {
                let r = job();
                if let Ok(mut g) = out.lock() {
                    *g = Some(r);
                }
            }))
            .await;
        let r = slot.lock().map_err(|_| Error::StoreUnavailable)?.take();
        r.ok_or(Error::StoreUnavailable)
    }

    async fn hash(&self, password: &Secret) -> Result<String> {
        let mut salt = [0u8; 16];
        self.rng.fill(&mut salt);
        let (h, p) = (Arc::clone(&self.hasher), password.clone());
        self.offloaded(move || h.hash(&p, &salt)).await?
    }

    async fn verify(&self, password: &Secret, phc: &str) -> Result<bool> {
        let (h, p, phc) = (Arc::clone(&self.hasher), password.clone(), phc.to_owned());
        self.offloaded(move || h.verify(&p, &phc)).await
    }

    async fn dummy_verify(&self, password: Option<&Secret>) -> Result<()> {
        let (h, p) = (
            Arc::clone(&self.hasher),
            password.cloned().unwrap_or_default(),
        );
        self.offloaded(move || h.dummy_verify(&p)).await
    }

    async fn temporary(&self) -> Result<(Secret, String)> {
        let temp = password::generate_temporary(&self.policy.password, &*self.rng);
        let phc = self.hash(&temp).await?;
        Ok((temp, phc))
    }

    /// Commits, mails, audits. `Ok(None)`: the writes conflicted; decide again.
    async fn apply<T>(&self, d: Decision<T>) -> Result<Option<Result<T>>> {
        let Decision {
            mut outcome,
            writes,
            mails,
            mut audit,
        } = d;
        if !writes.is_empty() {
            match self.store.commit(writes).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => return Ok(None),
                Err(e) => return Err(store_err(e)),
            }
        }
        for m in &mails {
            if self.mailer.send(m).await.is_err() {
                if let Some(ev) = audit
                    .iter_mut()
                    .rev()
                    .find(|e| matches!(e.outcome, crate::audit::Outcome::Success))
                {
                    ev.outcome =
                        crate::audit::Outcome::Failure(Error::MailFailed.code().to_owned());
                }
                if outcome.is_ok() {
                    outcome = Err(Error::MailFailed);
                }
                break;
            }
        }
        self.record(audit).await;
        Ok(Some(outcome))
    }

    /// Waits before attempt `attempt` (1, 2, …) of a step whose writes conflicted: a random
    /// time up to 2^attempt ms, at most 100 ms (full jitter).
    async fn backoff(&self, attempt: usize) {
        let cap = 1u64 << attempt.min(7);
        let mut r = [0u8; 8];
        self.rng.fill(&mut r);
        let millis = u64::from_le_bytes(r) % cap.min(100) + 1;
        self.clock.pause(millis).await;
    }

    async fn record(&self, events: Vec<AuditEvent>) {
        if events.is_empty() {
            return;
        }
        if self.store.append_audit(events.clone()).await.is_err()
            && self.store.append_audit(events).await.is_err()
        {
            self.audit_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn tenant(&self, code: &str) -> Result<Option<Tenant>> {
        self.store.tenant(code).await.map_err(store_err)
    }

    async fn user(&self, r: &UserRef) -> Result<Option<User>> {
        self.store.user(r).await.map_err(store_err)
    }

    async fn tenant_and_user(&self, r: &UserRef) -> Result<Option<(Tenant, User)>> {
        let Some(t) = self.tenant(&r.tenant).await? else {
            return Ok(None);
        };
        Ok(self.user(r).await?.map(|u| (t, u)))
    }

    fn tenant_code<'a>(&'a self, given: Option<&'a str>) -> Result<&'a str> {
        match given.map(str::trim).filter(|t| !t.is_empty()).or(self
            .policy
            .login
            .default_tenant
            .as_deref())
        {
            Some(t) => {
                bounded(Field::TenantCode, t)?;
                if Some(t) != self.policy.login.default_tenant.as_deref() {
                    normalize::validate_tenant_code(t, &self.policy.profile)?;
                }
                Ok(t)
            }
            None => Err(Error::invalid(Field::TenantCode, InputProblem::Missing)),
        }
    }

    /// E-state for a user moving from `old` to `new` address.
    async fn email_state(&self, old: Option<&str>, new: Option<&str>) -> Result<EmailState> {
        let (old_k, new_k) = (old.map(email_key), new.map(email_key));
        if old_k == new_k {
            return Ok(EmailState::default());
        }
        let old = match &old_k {
            Some(k) => self.store.email_owners(k).await.map_err(store_err)?,
            None => None,
        };
        let (new, infos) = match &new_k {
            Some(k) => {
                let rec = self.store.email_owners(k).await.map_err(store_err)?;
                let infos = self.owner_infos(rec.as_ref()).await?;
                (rec, infos)
            }
            None => (None, Vec::new()),
        };
        Ok(EmailState {
            old,
            new,
            new_owner_infos: infos,
        })
    }

    async fn owner_infos(&self, rec: Option<&EmailOwners>) -> Result<Vec<OwnerInfo>> {
        let mut out = Vec::new();
        for o in rec.map(|r| r.owners.as_slice()).unwrap_or_default() {
            // A dormant owner is as good as deleted (LC-1) and holds nothing.
            if let Some((t, u)) = self
                .tenant_and_user(o)
                .await?
                .filter(|(_, u)| self.is_live(self.clock.now(), u))
            {
                out.push(account::owner_info(&t, &u));
            }
        }
        Ok(out)
    }

    /// The tenant's same-as-admin users (P-4), found among the owners of the admin's address.
    async fn followers(&self, admin: &User) -> Result<Vec<User>> {
        let Some(e) = &admin.email else {
            return Ok(Vec::new());
        };
        let rec = self
            .store
            .email_owners(&email_key(e))
            .await
            .map_err(store_err)?;
        let mut out = Vec::new();
        for o in rec.map(|r| r.owners).unwrap_or_default() {
            if o.tenant == admin.tenant
                && o.user_id != admin.user_id
                && let Some(u) = self.user(&o).await?
                && u.same_as_admin
            {
                out.push(u);
            }
        }
        Ok(out)
    }

    fn is_live(&self, now: Timestamp, u: &User) -> bool {
        !login::is_dormant(&self.ctx(now), u)
    }

    // ---- login -----------------------------------------------------------------------------

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
                .filter(|(_, u)| self.is_live(now, u)),
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
        let access_key_ok = match &tenant.access_key {
            None => true,
            Some(d) => req
                .access_key
                .as_ref()
                .is_some_and(|k| Digest::of(k.trimmed().expose().as_bytes()) == *d),
        };
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
        let mut credentials_ok =
            password_ok && identifier_matches && (!cert_required || cert_key.is_some());
        let user_ref = user.user_ref();
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
                credentials_ok =
                    password_ok && identifier_matches && (!cert_required || cert_key.is_some());
            }
            let rehash = match &typed {
                Some(p)
                    if credentials_ok
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

    /// L-9: the claims and user of a valid session (any scope).
    pub async fn authenticate(&self, token: &str) -> Result<(SessionClaims, User)> {
        let now = self.clock.now();
        if token.len() > 4096 {
            return Err(Error::SessionInvalid);
        }
        let claims = self.key.verify(token.trim(), now)?;
        let user = self.user(&claims.user_ref()).await?;
        login::check_session(&self.ctx(now), &claims, user.as_ref())?;
        let user = user.ok_or(Error::SessionInvalid)?;
        Ok((claims, user))
    }

    /// A session with full scope (not only password change) holding `permission`.
    async fn full_session(
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

    /// Ends every session of the user (the credential version moves on).
    pub async fn logout(&self, token: &str) -> Result<()> {
        let now = self.clock.now();
        let (claims, _) = self.authenticate(token).await?;
        retrying!(self, {
            let Some(mut u) = self.user(&claims.user_ref()).await? else {
                return Ok(());
            };
            if u.credential_version != claims.credential_version {
                return Ok(());
            }
            u.credential_version = u.credential_version.saturating_add(1);
            let r = u.user_ref();
            Decision::ok(())
                .audit(AuditEvent::success(
                    now,
                    AuditKind::LoggedOut,
                    Actor::user(&r),
                    Some(&r),
                ))
                .write(put_user(u))
        })
    }

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
            let d = login::change_password(&self.ctx(now), user, &check);
            if let Some(o) = self.apply(d).await? {
                out = o;
                break;
            }
            cache = Some((phc_now, check));
            user = self
                .user(&claims.user_ref())
                .await?
                .ok_or(Error::SessionInvalid)?;
            if user.credential_version != claims.credential_version {
                return Err(Error::SessionInvalid);
            }
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
    pub async fn begin_totp(&self, token: &str) -> Result<TotpEnrolment> {
        let now = self.clock.now();
        let (claims, _) = self.full_session(token, Permission::EditSelf).await?;
        retrying!(self, {
            let (tenant, mut user) = self
                .tenant_and_user(&claims.user_ref())
                .await?
                .ok_or(Error::SessionInvalid)?;
            let secret = totp::generate_secret(&*self.rng);
            let e = login::enrolment_for(&self.ctx(now), &tenant, &user, &secret);
            user.totp_pending = Some(secret);
            Decision::ok(e).write(put_user(user))
        })
    }

    /// L-2 (self): the first code from the new authenticator; the login method becomes TOTP.
    pub async fn confirm_totp(&self, token: &str, code: &Secret) -> Result<()> {
        let now = self.clock.now();
        bounded(Field::Code, code.expose())?;
        let (claims, _) = self.full_session(token, Permission::EditSelf).await?;
        retrying!(self, {
            let mut user = self
                .user(&claims.user_ref())
                .await?
                .ok_or(Error::SessionInvalid)?;
            let Some(secret) = user.totp_pending.take() else {
                return Err(Error::invalid(Field::Code, InputProblem::Missing));
            };
            let Some(step) = totp::verify(&secret, code, now, None, &self.policy.otp) else {
                return Err(Error::OtpInvalid);
            };
            user.totp = Some(crate::model::TotpRecord {
                secret,
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

    // ---- admin -----------------------------------------------------------------------------

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

    async fn list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserView>> {
        let now = self.clock.now();
        let page = self
            .store
            .list_users(tenant, after, limit.clamp(1, 500))
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

    /// The claims `u` holds: its e-mail owners record and its certificate owner records.
    async fn claims_of(&self, u: &User) -> Result<(Option<EmailOwners>, Vec<CertOwner>)> {
        let email = match &u.email {
            Some(e) => self
                .store
                .email_owners(&email_key(e))
                .await
                .map_err(store_err)?,
            None => None,
        };
        let mut certs = Vec::new();
        for c in &u.certificates {
            if let Some(o) = self.store.cert_owner(&c.key).await.map_err(store_err)? {
                certs.push(o);
            }
        }
        Ok((email, certs))
    }

    /// The writes that delete `u` and release its claims.
    async fn removal(&self, u: &User) -> Result<Vec<Write>> {
        let (email, certs) = self.claims_of(u).await?;
        Ok(account::removal_writes(u, email.as_ref(), &certs))
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

    // ---- support ---------------------------------------------------------------------------
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

    /// L-8, LC-4: binds a client certificate to a user; with `replace`, the user's other
    /// certificates stop working (re-binding to a new person in charge).
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
            .audit(filter, after, limit.clamp(1, 1000))
            .await
            .map_err(store_err)
    }

    // ---- recovery --------------------------------------------------------------------------

    /// RS-3: the answer for an unknown account (or a failed check).
    fn as_unknown(&self) -> Result<()> {
        if self.policy.reset.reveal_unknown_accounts_leaks_existence {
            Err(Error::ResetInputInvalid)
        } else {
            Ok(())
        }
    }

    async fn record_unknown(&self, now: Timestamp, kind: AuditKind) -> Result<()> {
        self.record(vec![AuditEvent::failure(
            now,
            kind,
            Actor::Anonymous,
            None,
            "unknown_account",
        )])
        .await;
        self.as_unknown()
    }

    /// RS-1..RS-3: asks for a reset link. The answer does not say whether the account exists.
    pub async fn request_password_reset(&self, req: &ResetRequest) -> Result<()> {
        let now = self.clock.now();
        if !self.policy.reset.link {
            return Err(Error::NotEnabled);
        }
        bounded(Field::UserId, &req.user_id)?;
        let tenant = self.tenant_code(req.tenant.as_deref())?.to_owned();
        let r = UserRef::new(&tenant, req.user_id.trim());
        let Some((t, _)) = self
            .tenant_and_user(&r)
            .await?
            .filter(|(_, u)| self.is_live(now, u))
        else {
            return self.record_unknown(now, AuditKind::ResetRequested).await;
        };
        if let Some(d) = &t.access_key
            && !req
                .access_key
                .as_ref()
                .is_some_and(|k| Digest::of(k.trimmed().expose().as_bytes()) == *d)
        {
            return self.record_unknown(now, AuditKind::ResetRequested).await;
        }
        let known = retrying!(self, {
            let u = self.user(&r).await?.ok_or(Error::NotFound)?;
            let admin = self.user(&UserRef::new(&tenant, &tenant)).await?;
            recovery::request_link(&self.ctx(now), &t, u, admin.as_ref())
        })?;
        if known { Ok(()) } else { self.as_unknown() }
    }

    /// RS-1: opens a reset link: a temporary password is mailed and the link dies.
    pub async fn open_reset_link(&self, token: &str) -> Result<()> {
        let now = self.clock.now();
        let (r, nonce) = parse_opaque(token.trim()).ok_or(Error::ResetLinkInvalid)?;
        let (temp, phc) = self.temporary().await?;
        retrying!(self, {
            let (t, u) = self
                .tenant_and_user(&r)
                .await?
                .ok_or(Error::ResetLinkInvalid)?;
            recovery::open_link(&self.ctx(now), &t, u, &nonce, &temp, &phc)
        })
    }

    /// RS-4: identity-verification reset; a temporary password goes to the registered address
    /// when login ID, name, phone and e-mail all match. The answer never says which did not.
    pub async fn identity_reset(&self, claim: &IdentityClaim) -> Result<()> {
        let now = self.clock.now();
        if !self.policy.reset.identity {
            return Err(Error::NotEnabled);
        }
        for (f, v) in [
            (Field::Identifier, &claim.login_id),
            (Field::Name, &claim.name),
            (Field::Phone, &claim.phone),
            (Field::Email, &claim.email),
        ] {
            bounded(f, v)?;
        }
        let tenant = self.tenant_code(None)?.to_owned();
        let r = UserRef::new(&tenant, claim.login_id.trim());
        // The temporary password is made (and hashed) whatever the outcome, so a mismatch takes
        // as long as a match.
        let (temp, phc) = self.temporary().await?;
        let Some((t, _)) = self
            .tenant_and_user(&r)
            .await?
            .filter(|(_, u)| self.is_live(now, u))
        else {
            return self.record_unknown(now, AuditKind::ResetRequested).await;
        };
        let ok = retrying!(self, {
            let u = self.user(&r).await?.ok_or(Error::NotFound)?;
            recovery::identity_reset(&self.ctx(now), &t, u, claim, &temp, &phc)
        })?;
        if ok { Ok(()) } else { self.as_unknown() }
    }

    /// RS-5: mails the login ID to the registered address.
    pub async fn forgot_login_id(&self, req: &ForgotLoginId) -> Result<()> {
        let now = self.clock.now();
        if !self.policy.reset.forgot_login_id {
            return Err(Error::NotEnabled);
        }
        bounded(Field::Email, &req.email)?;
        let owners = self
            .store
            .email_owners(&email_key(&req.email))
            .await
            .map_err(store_err)?;
        let mut sent = false;
        for o in owners.map(|o| o.owners).unwrap_or_default() {
            let Some((t, u)) = self
                .tenant_and_user(&o)
                .await?
                .filter(|(_, u)| self.is_live(now, u))
            else {
                continue;
            };
            let d = recovery::forgot_login_id(
                &self.ctx(now),
                &t,
                &u,
                req.name.as_deref(),
                req.phone.as_deref(),
            );
            sent |= matches!(self.apply(d).await?, Some(Ok(true)));
        }
        if sent {
            Ok(())
        } else {
            self.record_unknown(now, AuditKind::LoginIdNotified).await
        }
    }

    /// RS-6 / PW-7: e-Parcel password notification: a temporary password to the ID address.
    pub async fn request_password_notification(&self, email: &str) -> Result<()> {
        let now = self.clock.now();
        if !self.policy.reset.notification {
            return Err(Error::NotEnabled);
        }
        bounded(Field::Email, email)?;
        let (temp, phc) = self.temporary().await?;
        let owners = self
            .store
            .email_owners(&email_key(email))
            .await
            .map_err(store_err)?;
        let Some(r) = owners.and_then(|o| match o.owners.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }) else {
            return self.record_unknown(now, AuditKind::ResetRequested).await;
        };
        let ok = retrying!(self, {
            let Some((t, u)) = self
                .tenant_and_user(&r)
                .await?
                .filter(|(_, u)| self.is_live(now, u))
            else {
                return self.record_unknown(now, AuditKind::ResetRequested).await;
            };
            recovery::notify_password(&self.ctx(now), &t, u, &temp, &phc)
        })?;
        if ok { Ok(()) } else { self.as_unknown() }
    }

    // ---- lifecycle -------------------------------------------------------------------------

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

/// Puts the deletion of a dormant predecessor (same user ID) before the creation writes. A
/// record both deleted and re-created in one batch becomes one update: the user record takes
/// the predecessor's version, and the creation's e-mail claim (built on the same loaded owners
/// record, where the predecessor's reference is the new user's) replaces the release.
fn merge_cleanup(cleanup: &mut Vec<Write>, writes: &mut Vec<Write>) {
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

#[cfg(all(test, feature = "test-util"))]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::flow::account::ProfileInput;
    use crate::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
    use crate::policy::HashParams;

    type Svc = AuthService<Arc<MemoryStore>, Arc<CapturingMailer>>;

    fn service(
        policy: Policy,
        store: &Arc<MemoryStore>,
        mailer: &Arc<CapturingMailer>,
        clock: &Arc<ManualClock>,
    ) -> Svc {
        let key = SessionKey::new(vec![7u8; 32]).unwrap();
        AuthService::new(
            policy,
            key,
            Arc::clone(store),
            Arc::clone(mailer),
            Arc::clone(clock),
            SeededRandom::new(42),
        )
        .unwrap()
    }

    fn tenant(code: &str) -> NewTenant {
        NewTenant {
            code: code.into(),
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
            welcome_mail: true,
        }
    }

    struct Fixture {
        store: Arc<MemoryStore>,
        mailer: Arc<CapturingMailer>,
        clock: Arc<ManualClock>,
        svc: Svc,
        temp: Secret,
    }

    /// A Kuroneko service (test hashing) on fresh in-memory ports.
    fn fixture() -> Fixture {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(CapturingMailer::new());
        let clock = Arc::new(ManualClock::at(Timestamp(1_800_000_000)));
        let svc = service(
            Policy::kuroneko().with_test_hashing(),
            &store,
            &mailer,
            &clock,
        );
        Fixture {
            store,
            mailer,
            clock,
            svc,
            temp: Secret::default(),
        }
    }

    /// [`fixture`] with tenant 999999999 created and its admin's mailed temporary password.
    async fn with_tenant() -> Fixture {
        let mut f = fixture();
        f.svc
            .support_create_tenant(&tenant("999999999"))
            .await
            .unwrap();
        f.temp = Secret::new(
            crate::mail::extract_secret(&f.mailer.last_to("admin@example.com").unwrap()).unwrap(),
        );
        f
    }

    async fn first_login(
        svc: &Svc,
        mailer: &CapturingMailer,
        code: &str,
        password: &Secret,
    ) -> Session {
        let req = LoginRequest {
            tenant: Some(code.into()),
            identifier: Some(code.into()),
            password: Some(password.clone()),
            ..Default::default()
        };
        let LoginStep::SecondFactor(ch) = svc.login(req).await.unwrap() else {
            panic!("second factor expected")
        };
        let otp =
            crate::mail::extract_secret(&mailer.last_to("admin@example.com").unwrap()).unwrap();
        svc.verify_second_factor(ch.token.expose(), &Secret::new(otp))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn weaker_hash_is_replaced_at_the_next_login() {
        // SPEC: PW-6
        // GIVEN a user whose password was hashed at weaker parameters
        let Fixture {
            store,
            mailer,
            clock,
            svc: weak,
            temp,
        } = with_tenant().await;
        let s = first_login(&weak, &mailer, "999999999", &temp).await;
        let pw = Secret::new("Kuro2024neko");
        weak.change_password(s.token.expose(), None, &pw, &pw)
            .await
            .unwrap();
        let r = UserRef::new("999999999", "999999999");
        let before = store.user(&r).await.unwrap().unwrap().password.phc;
        assert!(before.contains("m=64,"), "{before}");
        // WHEN the policy's parameters are raised and the user logs in
        let mut strong_policy = Policy::kuroneko().with_test_hashing();
        strong_policy.password.hash = HashParams {
            m_cost: 128,
            t_cost: 2,
            p_cost: 1,
        };
        let strong = service(strong_policy, &store, &mailer, &clock);
        first_login(&strong, &mailer, "999999999", &pw).await;
        // THEN the stored hash uses the new parameters and still verifies the same password
        let after = store.user(&r).await.unwrap().unwrap().password.phc;
        assert!(after.contains("m=128,t=2,p=1"), "{after}");
        first_login(&strong, &mailer, "999999999", &pw).await;
    }

    #[tokio::test]
    async fn a_failed_mail_leaves_the_state_stored_and_the_request_retryable() {
        // SPEC: L-3
        // GIVEN an admin with a known password and a mailer that fails
        let Fixture {
            mailer, svc, temp, ..
        } = with_tenant().await;
        mailer.set_failing(true);
        let req = LoginRequest {
            tenant: Some("999999999".into()),
            identifier: Some("999999999".into()),
            password: Some(temp.clone()),
            ..Default::default()
        };
        // WHEN the OTP mail cannot be sent
        let e = svc.login(req.clone()).await.unwrap_err();
        // THEN the caller hears mail_failed, and a retry once mail works succeeds
        assert_eq!(e.code(), "mail_failed");
        mailer.set_failing(false);
        assert!(matches!(
            svc.login(req).await.unwrap(),
            LoginStep::SecondFactor(_)
        ));
        let failed = svc
            .audit_events(
                &AuditFilter {
                    kind: Some(AuditKind::OtpSent),
                    ..Default::default()
                },
                None,
                10,
            )
            .await
            .unwrap();
        assert!(
            failed
                .items
                .iter()
                .any(|e| e.outcome == crate::audit::Outcome::Failure("mail_failed".into()))
        );
    }

    #[tokio::test]
    async fn oversized_inputs_are_refused_before_any_work() {
        let Fixture { store, svc, .. } = fixture();
        let huge = "9".repeat(MAX_INPUT + 1);
        let req = LoginRequest {
            tenant: Some("999999999".into()),
            identifier: Some(huge.clone()),
            password: Some(Secret::new("x")),
            ..Default::default()
        };
        assert_eq!(svc.login(req).await.unwrap_err().code(), "invalid_input");
        let req = LoginRequest {
            tenant: Some("999999999".into()),
            identifier: Some("a".into()),
            password: Some(Secret::new(huge)),
            ..Default::default()
        };
        assert_eq!(svc.login(req).await.unwrap_err().code(), "invalid_input");
        assert_eq!(store.commits(), 0);
    }
}
