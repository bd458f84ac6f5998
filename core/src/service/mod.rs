//! [`AuthService`]: runs each flow against the ports — load → decide → conditional write →
//! mail → audit (DESIGN principles 1–3).
//!
//! The service is async but runtime-free. A write that conflicts (another request changed a
//! record in between) re-runs the step on fresh records, so parallel failures all count, and
//! one-time things (codes, links, temporary passwords) are consumed once. A decision's mails and
//! audit events are written in the same atomic commit as its state (M-4, A-2: the outbox); a
//! courier ([`AuthService::deliver_pending`]) sends the mails afterwards, so no request waits
//! for a mail server and no crash loses a mail.

use crate::cert::ClientCert;
use crate::error::Result;
use crate::flow::Ctx;
use crate::lang::Lang;
use crate::model::{AccountKind, LoginMethod, User, UserRef};
use crate::password::Hasher;
use crate::policy::Policy;
use crate::ports::{Clock, Inline, Mailer, Offload, SecureRandom, Store};
use crate::role::Role;
use crate::secret::Secret;
use crate::time::Timestamp;
use crate::token::SessionKey;
pub use abuse::AddressBlock;
pub use courier::Delivery;
use serde::{Deserialize, Serialize};
pub use sessions::SessionView;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times a step is re-run when its writes conflict.
const MAX_ATTEMPTS: usize = 100;
/// Longest identifier, code or password accepted before any work is done.
const MAX_INPUT: usize = 1024;

// Defined before the `mod` lines below: a macro is visible only to code after it.
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

mod abuse;
mod admin;
mod common;
mod courier;
mod lifecycle;
mod login;
mod recovery;
mod self_service;
mod sessions;
mod support;
#[cfg(all(test, feature = "test-util"))]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests;

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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
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

/// What may be shown of a tenant (T-1): never the access key, only whether one is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantView {
    /// Tenant code.
    pub code: String,
    /// T-1: the contract number (the code's first 7 characters).
    pub contract_number: String,
    /// Display name.
    pub name: String,
    /// 13-digit corporate number.
    pub corporate_number: Option<String>,
    /// Ships goods.
    pub logistics: bool,
    /// T-2: whether logins and resets must present an access key.
    pub access_key_set: bool,
    /// Mail language; `None`: the policy's default.
    pub lang: Option<Lang>,
    /// Created.
    pub created_at: Timestamp,
}

impl TenantView {
    /// The view of `t`.
    pub fn of(t: &crate::model::Tenant) -> Self {
        Self {
            code: t.code.clone(),
            contract_number: t.contract_number().to_owned(),
            name: t.name.clone(),
            corporate_number: t.corporate_number.clone(),
            logistics: t.logistics,
            access_key_set: t.access_key.is_some(),
            lang: t.lang,
            created_at: t.created_at,
        }
    }
}

/// What a dormancy sweep did (LC-1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Users examined.
    pub scanned: usize,
    /// Users deleted (with `dry_run`: the users a sweep would delete now).
    pub deleted: Vec<UserRef>,
    /// Nothing was deleted: `deleted` lists who would be. Serialized only when set, so a real
    /// sweep's report keeps its shape.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// What a re-keying did (K-2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RekeyReport {
    /// Users examined.
    pub users_scanned: usize,
    /// Users whose authenticator secrets were re-written under the current key.
    pub users_resealed: usize,
    /// Tenants whose access key is still kept under an earlier key or as a bare SHA-256: it
    /// cannot be re-computed without the key itself, so it is re-written at the tenant's next
    /// successful use, or when support sets it again.
    pub tenants_pending: Vec<String>,
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
    previous_keys: Vec<SessionKey>,
    hasher: Arc<Hasher>,
    /// AB-4: hashes admitted now (running or waiting) and how many may be.
    hashing: std::sync::atomic::AtomicUsize,
    hash_capacity: usize,
    audit_failures: AtomicU64,
    courier: crate::outbox::CourierSettings,
    wake_courier: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Orders the outbox IDs this service hands out within one second.
    outbox_seq: AtomicU64,
}

impl<S, M> std::fmt::Debug for AuthService<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("policy", &self.policy.name)
            .finish_non_exhaustive()
    }
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
        let hash_capacity = policy.password.hash_capacity();
        Ok(Self {
            store,
            mailer,
            clock: Arc::new(clock),
            rng: Arc::new(rng),
            offload: Arc::new(Inline),
            policy: Arc::new(policy),
            key,
            previous_keys: Vec::new(),
            hasher: Arc::new(hasher),
            hashing: std::sync::atomic::AtomicUsize::new(0),
            hash_capacity,
            audit_failures: AtomicU64::new(0),
            courier: crate::outbox::CourierSettings::default(),
            wake_courier: None,
            outbox_seq: AtomicU64::new(0),
        })
    }

    /// K-2: earlier deployment secrets. What they sealed (authenticator secrets) or keyed
    /// (access keys) stays readable until re-written under the current key; sessions and
    /// one-time codes signed with them are not accepted.
    #[must_use]
    pub fn with_previous_keys(mut self, previous: Vec<SessionKey>) -> Self {
        self.previous_keys = previous;
        self
    }

    /// M-4: how the courier ([`AuthService::deliver_pending`]) retries.
    #[must_use]
    pub fn with_courier(mut self, settings: crate::outbox::CourierSettings) -> Self {
        self.courier = settings;
        self
    }

    /// M-4: `wake` is called after every commit that queued a mail or request, so a courier
    /// waiting for work (a task, a thread) can start at once instead of at its next poll. It
    /// must return at once (signal a condition, notify a task); it must not deliver itself.
    #[must_use]
    pub fn on_queued(mut self, wake: impl Fn() + Send + Sync + 'static) -> Self {
        self.wake_courier = Some(Arc::new(wake));
        self
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
            previous: &self.previous_keys,
        }
    }
}
