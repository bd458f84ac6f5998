//! PW-1..PW-7: password rules, argon2id hashing, temporary passwords.
//!
//! STUB: the contract below is implemented by the password task.

use crate::error::{PasswordProblem, Result};
use crate::model::PasswordRecord;
use crate::policy::{HashParams, PasswordPolicy};
use crate::ports::SecureRandom;
use crate::secret::Secret;
use crate::time::Timestamp;

/// PW-2 then PW-1: `Err(PasswordMismatch)` when `new != confirm` (checked first), else
/// `Err(PasswordRejected(every problem))` when [`problems`] finds any.
pub fn check_new(
    policy: &PasswordPolicy,
    new: &Secret,
    confirm: &Secret,
    user_id: Option<&str>,
) -> Result<()> {
    let _ = (policy, new, confirm, user_id);
    Ok(())
}

/// Every PW-1 problem of `password` (length in code points, charset, classes, blocklist,
/// equal to the user ID). History (PW-5) is checked by [`Hasher::reuse_problem`].
pub fn problems(
    policy: &PasswordPolicy,
    password: &str,
    user_id: Option<&str>,
) -> Vec<PasswordProblem> {
    let _ = (policy, password, user_id);
    Vec::new()
}

/// Whether `password` is on the shipped blocklist (case-insensitive).
pub fn is_common(password: &str) -> bool {
    let _ = password;
    false
}

/// PW-4: a random temporary password that satisfies `policy`.
pub fn generate_temporary(policy: &PasswordPolicy, rng: &dyn SecureRandom) -> Secret {
    let _ = (policy, rng);
    Secret::new("Temp1234Abcd")
}

/// PW-3: whether a (non-temporary) password is past the policy's max age at `now`.
pub fn is_expired(policy: &PasswordPolicy, record: &PasswordRecord, now: Timestamp) -> bool {
    let _ = (policy, record, now);
    false
}

/// PW-4: whether a temporary password is past its lifetime at `now` (false for a normal one).
pub fn temporary_expired(record: &PasswordRecord, now: Timestamp) -> bool {
    record.temporary_until.is_some_and(|t| now >= t)
}

/// argon2id with the policy's parameters, reusing memory buffers between hashes.
pub struct Hasher {
    params: HashParams,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.params)
            .finish()
    }
}

impl Hasher {
    /// A hasher for `params`.
    pub fn new(params: HashParams) -> Result<Self> {
        Ok(Self { params })
    }
    /// PHC string of `password` with a 16-byte `salt`.
    pub fn hash(&self, password: &Secret, salt: &[u8; 16]) -> Result<String> {
        let _ = salt;
        Ok(format!("stub${}", password.expose()))
    }
    /// Whether `password` matches `phc` (parameters from the PHC string).
    pub fn verify(&self, password: &Secret, phc: &str) -> bool {
        phc == format!("stub${}", password.expose())
    }
    /// L-5: spends the same work as a real verification, against a fixed dummy hash.
    pub fn dummy_verify(&self, password: &Secret) {
        let _ = password;
    }
    /// PW-6: whether `phc` was made with other (weaker) parameters than this hasher's.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let _ = phc;
        false
    }
    /// PW-5: `SameAsCurrent` when `new` matches `current_phc`, `Reused` when it matches one of
    /// the first `history` entries of `previous`, else `None`.
    pub fn reuse_problem(
        &self,
        new: &Secret,
        current_phc: &str,
        previous: &[String],
        history: usize,
    ) -> Option<PasswordProblem> {
        let _ = (new, current_phc, previous, history);
        None
    }
}
