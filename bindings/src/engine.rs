//! The pure engine functions and the [`Policy`] object.

use crate::types::{MailMessage, MonbanError, OwnerInfo, PasswordProblem, TotpSecret, to_usize};
use monban_core as core;
use monban_core::Secret;
use monban_core::ports::SecureRandom;
use monban_core::secret::SecretBytes;
use monban_embedded::OsRandom;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

/// A validated policy: a preset by name or a JSON document.
#[derive(Debug, uniffi::Object)]
pub struct Policy {
    pub(crate) inner: core::Policy,
}

#[uniffi::export]
impl Policy {
    /// A preset by name: `kuroneko`, `e_parcel`, `secom_passport`, `identity_reset`, `nist`
    /// (also `default`), `pci_dss`.
    #[uniffi::constructor]
    pub fn preset(name: String) -> Result<Arc<Self>, MonbanError> {
        Ok(Arc::new(Self {
            inner: core::Policy::preset(&name)?,
        }))
    }

    /// Parses and validates a JSON policy (the shape `to_json` writes).
    #[uniffi::constructor]
    pub fn from_json(json: String) -> Result<Arc<Self>, MonbanError> {
        Ok(Arc::new(Self {
            inner: core::Policy::from_json(&json)?,
        }))
    }

    /// The policy's name.
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// The JSON form of the policy.
    pub fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// A copy with fast, weak hashing: for tests and examples only.
    pub fn with_test_hashing(&self) -> Arc<Policy> {
        Arc::new(Self {
            inner: self.inner.clone().with_test_hashing(),
        })
    }

    /// The prefix of the reset links mailed (RS-1); the rest of a link is the token that
    /// `Auth.open_reset_link` takes.
    pub fn reset_base_url(&self) -> String {
        self.inner.mail.reset_base_url.clone()
    }

    /// The tenant code used when a request names none (single-tenant policies).
    pub fn default_tenant(&self) -> Option<String> {
        self.inner.login.default_tenant.clone()
    }

    /// Whether `role` has `permission` under this policy.
    pub fn can(&self, role: crate::Role, permission: crate::Permission) -> bool {
        self.inner.can(role.into(), permission.into())
    }
}

/// The names `Policy.preset` accepts.
#[uniffi::export]
pub fn policy_presets() -> Vec<String> {
    core::Policy::PRESETS
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// Every reason `password` breaks the policy's password rules (PW-1), in a stable order;
/// empty when it is acceptable.
#[uniffi::export(default(user_id = None))]
pub fn check_password(
    policy: &Policy,
    password: String,
    user_id: Option<String>,
) -> Vec<PasswordProblem> {
    core::password::problems(&policy.inner.password, &password, user_id.as_deref())
        .into_iter()
        .map(Into::into)
        .collect()
}

/// PW-2 then PW-1: `password_mismatch` when the confirmation differs, else
/// `password_rejected` listing every problem.
#[uniffi::export(default(user_id = None))]
pub fn check_new_password(
    policy: &Policy,
    new: String,
    confirm: String,
    user_id: Option<String>,
) -> Result<(), MonbanError> {
    core::password::check_new(
        &policy.inner.password,
        &Secret::new(new),
        &Secret::new(confirm),
        user_id.as_deref(),
    )?;
    Ok(())
}

fn hasher(policy: &Policy) -> Result<core::password::Hasher, MonbanError> {
    Ok(core::password::Hasher::new(policy.inner.password.hash)?)
}

fn os_random() -> Result<OsRandom, MonbanError> {
    OsRandom::new().map_err(|e| MonbanError::other("store_unavailable", e))
}

/// The argon2id PHC string of `password` with the policy's parameters and a fresh salt.
#[uniffi::export]
pub fn hash_password(policy: &Policy, password: String) -> Result<String, MonbanError> {
    let mut salt = [0u8; 16];
    os_random()?.fill(&mut salt);
    Ok(hasher(policy)?.hash(&Secret::new(password), &salt)?)
}

/// Whether `password` matches the PHC string `phc` (constant time; false for a malformed PHC).
#[uniffi::export]
pub fn verify_password(
    policy: &Policy,
    password: String,
    phc: String,
) -> Result<bool, MonbanError> {
    Ok(hasher(policy)?.verify(&Secret::new(password), &phc))
}

fn totp_secret_bytes(secret_base32: &str) -> Result<SecretBytes, MonbanError> {
    totp_rs::Secret::try_from_base32(secret_base32.trim().to_ascii_uppercase())
        .map(|s| SecretBytes::new(s.to_vec()))
        .map_err(|_| {
            MonbanError::from(core::Error::invalid(
                core::Field::Other,
                core::InputProblem::Format,
            ))
        })
}

/// A fresh TOTP secret and its `otpauth://` URI for `account` (issuer: the policy's).
#[uniffi::export]
pub fn totp_enrol(policy: &Policy, account: String) -> Result<TotpSecret, MonbanError> {
    let secret = core::totp::generate_secret(&os_random()?);
    Ok(TotpSecret {
        secret_base32: core::totp::secret_base32(&secret),
        uri: core::totp::otpauth_uri(
            &secret,
            &policy.inner.otp.totp_issuer,
            &account,
            &policy.inner.otp,
        ),
    })
}

/// Verifies a TOTP `code` at `now` (Unix seconds) within the policy's skew, refusing steps at or
/// before `last_step` (replay). Returns the matched step (store it as the new `last_step`), or
/// none when the code is wrong.
#[uniffi::export(default(last_step = None))]
pub fn totp_verify(
    policy: &Policy,
    secret_base32: String,
    code: String,
    now: i64,
    last_step: Option<u64>,
) -> Result<Option<u64>, MonbanError> {
    let secret = totp_secret_bytes(&secret_base32)?;
    Ok(core::totp::verify(
        &secret,
        &Secret::new(code),
        core::Timestamp(now),
        last_step,
        &policy.inner.otp,
    ))
}

/// What a [`Totp`] holds: the keyed verifier and the last step it accepted.
#[derive(Debug)]
struct TotpState {
    verifier: core::totp::Verifier,
    last_step: Mutex<Option<u64>>,
}

impl TotpState {
    fn verify(&self, code: u32, now: i64) -> bool {
        let Ok(mut last) = self.last_step.lock() else {
            return false;
        };
        match self
            .verifier
            .verify_number(u64::from(code), core::Timestamp(now), *last)
        {
            Some(step) => {
                *last = Some(step);
                true
            }
            None => false,
        }
    }
}

/// The live [`Totp`] objects by [`Totp::id`], for [`totp_check`]. An object is in it from its
/// construction to its drop.
static TOTPS: LazyLock<Mutex<HashMap<u64, Arc<TotpState>>>> = LazyLock::new(Default::default);
static NEXT_TOTP_ID: AtomicU64 = AtomicU64::new(1);

fn totps() -> MutexGuard<'static, HashMap<u64, Arc<TotpState>>> {
    // A panic while the lock was held cannot leave the map half-changed (insert and remove
    // only), so a poisoned lock is still good.
    TOTPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An authenticator secret decoded once, for fast checks (L-2): one call per code, with plain
/// integers. It remembers the last step it accepted, so a code works once (RFC 6238 §5.2); store
/// [`Totp::last_step`] with the user and pass it back when making the object again.
#[derive(Debug, uniffi::Object)]
pub struct Totp {
    id: u64,
    state: Arc<TotpState>,
}

impl Drop for Totp {
    fn drop(&mut self) {
        totps().remove(&self.id);
    }
}

#[uniffi::export]
impl Totp {
    /// The secret in base32 (as `totp_enrol` gives it) with the policy's digits, step and
    /// skew; `last_step`: the step accepted last time, if any.
    #[uniffi::constructor(default(last_step = None))]
    pub fn new(
        policy: &Policy,
        secret_base32: String,
        last_step: Option<u64>,
    ) -> Result<Arc<Self>, MonbanError> {
        let secret = totp_secret_bytes(&secret_base32)?;
        let state = Arc::new(TotpState {
            verifier: core::totp::Verifier::new(&secret, &policy.inner.otp),
            last_step: Mutex::new(last_step),
        });
        let id = NEXT_TOTP_ID.fetch_add(1, Ordering::Relaxed);
        totps().insert(id, Arc::clone(&state));
        Ok(Arc::new(Self { id, state }))
    }

    /// Whether `code` (the digits as a number: 012345 is 12345) is right at `now` (Unix
    /// seconds) within the policy's skew and newer than the last accepted step. An accepted
    /// code's step is remembered: the same code is refused the next time.
    pub fn verify(&self, code: u32, now: i64) -> bool {
        self.state.verify(code, now)
    }

    /// A number for this object while it lives, for [`totp_check`]: the same check as
    /// [`Totp::verify`] in one call with plain integers (a method call also clones the
    /// object's handle, a second call across the FFI).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The step accepted last (store it with the user), if any.
    pub fn last_step(&self) -> Option<u64> {
        self.state.last_step.lock().ok().and_then(|l| *l)
    }

    /// The code an authenticator app shows at `now` (Unix seconds), as a number; none before
    /// 1970.
    pub fn code_at(&self, now: i64) -> Option<u64> {
        self.state.verifier.code_at(core::Timestamp(now))
    }
}

/// [`Totp::verify`] of the live `Totp` whose [`Totp::id`] is `totp_id` (false when there is none):
/// one call with plain integers, what Python's `monban.Totp.verify` makes.
#[uniffi::export]
pub fn totp_check(totp_id: u64, code: u32, now: i64) -> bool {
    let state = totps().get(&totp_id).cloned();
    state.is_some_and(|s| s.verify(code, now))
}

/// The TOTP code an authenticator app shows at `now` (Unix seconds): for tests and tooling that
/// play the part of the app.
#[uniffi::export]
pub fn totp_code(policy: &Policy, secret_base32: String, now: i64) -> Result<String, MonbanError> {
    let secret = totp_secret_bytes(&secret_base32)?;
    let step = core::totp::step_at(core::Timestamp(now), &policy.inner.otp).ok_or_else(|| {
        MonbanError::from(core::Error::invalid(
            core::Field::Other,
            core::InputProblem::Format,
        ))
    })?;
    Ok(core::totp::code_at_step(&secret, step, &policy.inner.otp))
}

/// Whether `claimant` may hold the address that `owners` hold now (E-1..E-4): `email_taken` or
/// `same_as_admin_taken` otherwise.
#[uniffi::export]
pub fn check_email_share(
    policy: &Policy,
    claimant: OwnerInfo,
    owners: Vec<OwnerInfo>,
) -> Result<(), MonbanError> {
    let owners: Vec<core::email::OwnerInfo> = owners.into_iter().map(Into::into).collect();
    core::email::check_share(&policy.inner.email, &claimant.into(), &owners)?;
    Ok(())
}

/// The comparison key of a name (P-5: width, case and spacing folded).
#[uniffi::export]
pub fn name_key(name: String) -> String {
    core::normalize::name_key(&name)
}

/// Whether two names are the same person's per P-5.
#[uniffi::export]
pub fn names_match(a: String, b: String) -> bool {
    core::normalize::names_match(&a, &b)
}

/// The comparison key of a phone number (digits only, full-width folded).
#[uniffi::export]
pub fn phone_key(phone: String) -> String {
    core::normalize::phone_key(&phone)
}

/// Whether two phone numbers are the same.
#[uniffi::export]
pub fn phones_match(a: String, b: String) -> bool {
    core::normalize::phones_match(&a, &b)
}

/// The normalized key of an e-mail address (what uniqueness is checked on).
#[uniffi::export]
pub fn email_key(email: String) -> String {
    core::normalize::email_key(&email)
}

/// The display width of `s` (full-width characters count two).
#[uniffi::export]
pub fn display_width(s: String) -> u64 {
    u64::try_from(core::normalize::display_width(&s)).unwrap_or(u64::MAX)
}

/// The secret a mail delivers: the reset URL, the temporary password or the code; none for
/// other kinds. For tests and tooling that play the person reading the mail.
#[uniffi::export]
pub fn extract_secret(mail: MailMessage) -> Option<String> {
    core::mail::extract_secret(&mail.into())
}

/// The login ID a forgot-login-ID mail delivers; none for other kinds.
#[uniffi::export]
pub fn extract_login_id(mail: MailMessage) -> Option<String> {
    core::mail::extract_login_id(&mail.into())
}

pub(crate) fn limit(n: u32) -> usize {
    to_usize(u64::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_check_is_verify_by_id_while_the_object_lives() {
        let policy = Policy::preset("nist".into()).unwrap();
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".to_owned();
        let totp = Totp::new(&policy, secret.clone(), None).unwrap();
        let now = 1_800_000_000;
        let code = |t: i64| u32::try_from(totp.code_at(t).unwrap()).unwrap();
        let (id, right, next) = (totp.id(), code(now), code(now + 60));
        assert!(!totp_check(id, (right + 1) % 1_000_000, now));
        assert!(totp_check(id, right, now));
        assert!(!totp_check(id, right, now), "a code works once");
        assert_eq!(totp.last_step(), Some(1_800_000_000 / 30));
        let twin = Totp::new(&policy, secret, None).unwrap();
        assert_ne!(twin.id(), id);
        drop(totp);
        assert!(!totp_check(id, next, now + 60), "gone with its object");
        assert!(twin.verify(next, now + 60));
    }
}
