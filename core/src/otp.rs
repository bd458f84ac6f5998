//! L-3: mail one-time passwords — 6 digits, 10 minutes, single use, stored hashed, resend voids
//! the old code, resends limited.
//!
//! STUB: implemented by the OTP task.

use crate::policy::OtpPolicy;
use crate::ports::SecureRandom;
use crate::secret::Secret;
use crate::time::Timestamp;

/// A uniformly random code of `digits` decimal digits.
pub fn generate_code(digits: u32, rng: &dyn SecureRandom) -> Secret {
    let _ = (digits, rng);
    Secret::new("000000")
}

/// The code as typed back, normalized (M-3): surrounding white space trimmed and full-width
/// digits folded to ASCII. `None` when it is not all digits.
pub fn normalize_code(typed: &Secret) -> Option<Secret> {
    Some(typed.trimmed())
}

/// L-3: whether another code may be sent, given when earlier ones were sent.
pub fn may_send(policy: &OtpPolicy, sends: &[Timestamp], now: Timestamp) -> bool {
    let _ = (policy, sends, now);
    true
}

/// The sends still inside the window at `now`, plus `now` (the new send).
pub fn record_send(policy: &OtpPolicy, sends: &[Timestamp], now: Timestamp) -> Vec<Timestamp> {
    let _ = policy;
    let mut v = sends.to_vec();
    v.push(now);
    v
}
