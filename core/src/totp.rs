//! L-2: authenticator apps — RFC 6238 TOTP (SHA-1, 6 digits, 30 s, ±1 step) with a replay guard.
//!
//! STUB: implemented by the OTP task.

use crate::policy::OtpPolicy;
use crate::ports::SecureRandom;
use crate::secret::{Secret, SecretBytes};
use crate::time::Timestamp;

/// A fresh 20-byte (160-bit) shared secret.
pub fn generate_secret(rng: &dyn SecureRandom) -> SecretBytes {
    let mut b = vec![0u8; 20];
    rng.fill(&mut b);
    SecretBytes::new(b)
}

/// RFC 4648 base32 (no padding) of the secret, as authenticator apps take it.
pub fn secret_base32(secret: &SecretBytes) -> String {
    let _ = secret;
    String::new()
}

/// The `otpauth://totp/...` enrolment URI.
pub fn otpauth_uri(
    secret: &SecretBytes,
    issuer: &str,
    account: &str,
    policy: &OtpPolicy,
) -> String {
    let _ = (secret, issuer, account, policy);
    String::new()
}

/// RFC 4226 HOTP value of `counter` with `digits` digits.
pub fn hotp(secret: &[u8], counter: u64, digits: usize) -> String {
    let _ = (secret, counter, digits);
    String::new()
}

/// The TOTP code for time step `step`.
pub fn code_at_step(secret: &SecretBytes, step: u64, policy: &OtpPolicy) -> String {
    hotp(secret.expose(), step, policy.totp_digits)
}

/// Verifies `code` at `now` within ±skew steps; refuses steps at or before `last_step` (replay).
/// Returns the matched step, to be stored as the new `last_step`.
pub fn verify(
    secret: &SecretBytes,
    code: &Secret,
    now: Timestamp,
    last_step: Option<u64>,
    policy: &OtpPolicy,
) -> Option<u64> {
    let _ = (secret, code, now, last_step, policy);
    None
}
