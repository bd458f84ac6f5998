//! L-2: authenticator apps — RFC 6238 TOTP (SHA-1, 6 digits, 30 s, ±1 step) with a replay guard.
//!
//! HMAC-SHA1 comes from the `totp-rs` crate (a `Totp` with a 1-second step signs the counter
//! as is, which is plain RFC 4226 HOTP); the dynamic truncation and the formatting are done
//! here so that no input can make them panic. `totp-rs` also checks the enrolment URI in the
//! tests (`Totp::from_url`).
//!
//! Replay guard (RFC 6238 §5.2): [`verify`] returns the matched time step, which the caller
//! stores on the user as `last_step` (with a conditional write); a later call refuses that
//! step and every earlier one, so a code is accepted once.

use crate::policy::OtpPolicy;
use crate::ports::SecureRandom;
use crate::secret::{Secret, SecretBytes};
use crate::time::Timestamp;
use std::fmt::Write as _;
use totp_rs::{Algorithm, Builder};

/// Most digits [`hotp`] produces: a truncated HOTP value is a 31-bit number, which has at most
/// 10 decimal digits, so more digits would only add leading zeros.
pub const MAX_HOTP_DIGITS: usize = 10;

/// A fresh 20-byte (160-bit) shared secret.
pub fn generate_secret(rng: &dyn SecureRandom) -> SecretBytes {
    let mut b = vec![0u8; 20];
    rng.fill(&mut b);
    SecretBytes::new(b)
}

/// RFC 4648 base32 (no padding) of the secret, as authenticator apps take it.
pub fn secret_base32(secret: &SecretBytes) -> String {
    totp_rs::Secret::from(secret.expose()).to_base32()
}

/// Percent-encodes `s` for an otpauth label or query value: everything but the RFC 3986
/// unreserved characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX` of its UTF-8 bytes.
fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// An issuer or account name made fit for the label `issuer:account`: neither half may contain
/// a colon (the Key URI format splits the label at the first one, literal or `%3A`), so a colon
/// is shown as the full-width colon U+FF1A, then the text is percent-encoded.
fn label_part(s: &str) -> String {
    percent_encode(&s.replace(':', "\u{ff1a}"))
}

/// The `otpauth://totp/...` enrolment URI.
///
/// `otpauth://totp/{issuer}:{account}?secret={base32}&issuer={issuer}&algorithm=SHA1&digits={d}&period={p}`
/// with the issuer and account percent-encoded as UTF-8 (a colon inside either is replaced by
/// the full-width colon U+FF1A, see the Key URI format) and the secret in base32 without
/// padding. An empty issuer leaves out the label prefix and the `issuer` parameter. The
/// parameters are written even at their default values, for apps that do not assume them.
pub fn otpauth_uri(
    secret: &SecretBytes,
    issuer: &str,
    account: &str,
    policy: &OtpPolicy,
) -> String {
    let issuer = label_part(issuer);
    let account = label_part(account);
    let mut uri = String::from("otpauth://totp/");
    if !issuer.is_empty() {
        uri.push_str(&issuer);
        uri.push(':');
    }
    uri.push_str(&account);
    uri.push_str("?secret=");
    uri.push_str(&secret_base32(secret));
    if !issuer.is_empty() {
        uri.push_str("&issuer=");
        uri.push_str(&issuer);
    }
    // Writing to a String cannot fail.
    let _ = write!(
        uri,
        "&algorithm=SHA1&digits={}&period={}",
        policy.totp_digits, policy.totp_step_secs
    );
    uri
}

/// RFC 4226 §5.3 dynamic truncation: 31 bits of the MAC at the offset its last nibble names.
fn truncate(mac: &[u8]) -> Option<u32> {
    let offset = usize::from(mac.last()? & 0x0f);
    let bytes: [u8; 4] = mac.get(offset..offset.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes) & 0x7fff_ffff)
}

/// RFC 4226 HOTP value of `counter` with `digits` digits.
///
/// HMAC-SHA1 with the secret as key and the counter as 8 big-endian bytes; any secret length
/// works. `digits` above [`MAX_HOTP_DIGITS`] is treated as [`MAX_HOTP_DIGITS`]; 0 gives an
/// empty string (which [`verify`] never accepts).
pub fn hotp(secret: &[u8], counter: u64, digits: usize) -> String {
    let digits = digits.min(MAX_HOTP_DIGITS);
    if digits == 0 {
        return String::new();
    }
    // A 1-second step makes `sign(t)` sign the counter `t` itself (plain HOTP).
    let engine = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(secret)
        .with_step_duration(1)
        .build_noncompliant();
    let Some(value) = truncate(engine.sign(counter).as_ref()) else {
        return String::new();
    };
    let modulus = 10u64.pow(u32::try_from(digits).unwrap_or(0));
    format!("{:0digits$}", u64::from(value) % modulus)
}

/// The TOTP code for time step `step`.
pub fn code_at_step(secret: &SecretBytes, step: u64, policy: &OtpPolicy) -> String {
    hotp(secret.expose(), step, policy.totp_digits)
}

/// The time step `now` falls in (`now / totp_step_secs`); `None` before 1970 or with a zero
/// step.
pub fn step_at(now: Timestamp, policy: &OtpPolicy) -> Option<u64> {
    let secs = u64::try_from(now.secs()).ok()?;
    secs.checked_div(policy.totp_step_secs)
}

/// Verifies `code` at `now` within ±skew steps; refuses steps at or before `last_step` (replay).
/// Returns the matched step, to be stored as the new `last_step`.
///
/// The code is normalized first (M-3: surrounding white space, full-width digits) and must
/// have exactly `totp_digits` digits. Every step of the window is computed and compared in
/// constant time; when the code matches several steps the latest is returned, so storing it
/// also burns the earlier ones. `None` for times before 1970 and for a zero step.
pub fn verify(
    secret: &SecretBytes,
    code: &Secret,
    now: Timestamp,
    last_step: Option<u64>,
    policy: &OtpPolicy,
) -> Option<u64> {
    let code = crate::otp::normalize_code(code)?;
    if code.expose().len() != policy.totp_digits {
        return None;
    }
    let current = step_at(now, policy)?;
    let skew = u64::from(policy.totp_skew);
    let mut matched = None;
    for step in current.saturating_sub(skew)..=current.saturating_add(skew) {
        if last_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = Secret::new(code_at_step(secret, step, policy));
        if expected.ct_eq(&code) {
            matched = Some(step);
        }
    }
    matched
}

/// A TOTP secret keyed once for many checks with plain numbers (the bindings' `Totp`): the
/// same answers as [`verify`] for a code of exactly `totp_digits` digits, without building an
/// HMAC key, a string or a `Secret` per check.
#[derive(Clone)]
pub struct Verifier {
    /// HMAC-SHA1 keyed with the secret; cloned per step.
    mac: hmac::Hmac<sha1::Sha1>,
    digits: usize,
    modulus: u64,
    step_secs: u64,
    skew: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &"[redacted]")
            .field("digits", &self.digits)
            .field("step_secs", &self.step_secs)
            .field("skew", &self.skew)
            .finish()
    }
}

impl Verifier {
    /// Keys HMAC-SHA1 with `secret` for the policy's digits, step and skew.
    pub fn new(secret: &SecretBytes, policy: &OtpPolicy) -> Self {
        use hmac::KeyInit as _;
        let digits = policy.totp_digits.min(MAX_HOTP_DIGITS);
        // HMAC takes a key of any length (RFC 2104), so keying cannot fail.
        let mac = <hmac::Hmac<sha1::Sha1>>::new_from_slice(secret.expose())
            .unwrap_or_else(|_| <hmac::Hmac<sha1::Sha1>>::new(&Default::default()));
        Self {
            mac,
            digits,
            modulus: 10u64.pow(u32::try_from(digits).unwrap_or(0)),
            step_secs: policy.totp_step_secs,
            skew: u64::from(policy.totp_skew),
        }
    }

    /// The HOTP value of `counter` as a number (what [`hotp`] formats).
    fn value(&self, counter: u64) -> Option<u64> {
        use hmac::Mac as _;
        let mut m = self.mac.clone();
        m.update(&counter.to_be_bytes());
        let out = m.finalize().into_bytes();
        Some(u64::from(truncate(&out)?) % self.modulus.max(1))
    }

    /// The code an authenticator app shows at `now`, as a number (`None` before 1970).
    pub fn code_at(&self, now: Timestamp) -> Option<u64> {
        let step = u64::try_from(now.secs())
            .ok()?
            .checked_div(self.step_secs)?;
        self.value(step)
    }

    /// [`verify`] for a code given as a number (leading zeros are implied: a 6-digit policy
    /// reads 1234 as "001234"): the matched step, the latest of the window, or `None`. Steps at
    /// or before `last_step` are refused (replay). Every step of the window is computed and
    /// compared in constant time.
    pub fn verify_number(&self, code: u64, now: Timestamp, last_step: Option<u64>) -> Option<u64> {
        use subtle::ConstantTimeEq as _;
        if self.digits == 0 || code >= self.modulus {
            return None;
        }
        let current = u64::try_from(now.secs())
            .ok()?
            .checked_div(self.step_secs)?;
        let mut matched = None;
        for step in current.saturating_sub(self.skew)..=current.saturating_add(self.skew) {
            if last_step.is_some_and(|last| step <= last) {
                continue;
            }
            let Some(expected) = self.value(step) else {
                continue;
            };
            if bool::from(expected.ct_eq(&code)) {
                matched = Some(step);
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::otp::tests::TestRng;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn policy() -> OtpPolicy {
        crate::Policy::kuroneko().otp
    }

    fn rfc_secret() -> SecretBytes {
        SecretBytes::new(RFC_SECRET.to_vec())
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        // SPEC: L-2
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, want) in (0u64..).zip(expected) {
            assert_eq!(hotp(RFC_SECRET, counter, 6), want, "counter {counter}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        // SPEC: L-2
        let mut p = policy();
        p.totp_digits = 8;
        let secret = rfc_secret();
        for (t, want) in [
            (59i64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let step = step_at(Timestamp(t), &p).unwrap();
            assert_eq!(step, u64::try_from(t).unwrap() / 30);
            assert_eq!(code_at_step(&secret, step, &p), want, "T={t}");
            assert_eq!(
                verify(&secret, &Secret::new(want), Timestamp(t), None, &p),
                Some(step),
                "T={t}"
            );
        }
    }

    #[test]
    fn hotp_agrees_with_totp_rs() {
        // SPEC: L-2 — our truncation and formatting match the crate's own generator.
        let rng = TestRng::new(3);
        for digits in 6u8..=8 {
            for _ in 0..50 {
                let secret = generate_secret(&rng);
                let mut c = [0u8; 8];
                rng.fill(&mut c);
                let counter = u64::from_be_bytes(c) >> 8;
                let reference = Builder::new()
                    .with_secret(secret.expose())
                    .with_digits(digits)
                    .with_step_duration(1)
                    .build()
                    .unwrap()
                    .generate(counter)
                    .to_string();
                assert_eq!(
                    hotp(secret.expose(), counter, usize::from(digits)),
                    reference
                );
            }
        }
    }

    #[test]
    fn hotp_odd_inputs_do_not_panic() {
        assert_eq!(hotp(RFC_SECRET, 0, 0), "");
        assert_eq!(hotp(RFC_SECRET, 1, 10).len(), 10);
        assert_eq!(hotp(RFC_SECRET, 1, usize::MAX).len(), MAX_HOTP_DIGITS);
        assert!(hotp(RFC_SECRET, 1, 10).ends_with(&hotp(RFC_SECRET, 1, 6)));
        assert_eq!(hotp(b"", u64::MAX, 6).len(), 6);
        assert_eq!(hotp(&[7u8; 300], 5, 6).len(), 6);
    }

    #[test]
    fn verify_accepts_one_step_either_side_only() {
        // SPEC: L-2 — 30 s steps, ±1 step.
        let p = policy();
        let secret = generate_secret(&TestRng::new(11));
        let now = Timestamp(1_700_000_015);
        let current = step_at(now, &p).unwrap();
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = current.checked_add_signed(offset).unwrap();
            let code = Secret::new(code_at_step(&secret, step, &p));
            let got = verify(&secret, &code, now, None, &p);
            assert_eq!(got, accepted.then_some(step), "offset {offset}");
        }
        // The window follows `now`: 30 s later the old current step is the one before.
        let code = Secret::new(code_at_step(&secret, current, &p));
        assert_eq!(
            verify(&secret, &code, now.plus_secs(30), None, &p),
            Some(current)
        );
        assert_eq!(verify(&secret, &code, now.plus_secs(60), None, &p), None);
    }

    #[test]
    fn verify_refuses_replay() {
        // SPEC: L-2 — a code is accepted once: the matched step and every earlier one are
        // refused afterwards.
        let p = policy();
        let secret = generate_secret(&TestRng::new(12));
        let now = Timestamp(1_700_000_000);
        let current = step_at(now, &p).unwrap();
        let code_now = Secret::new(code_at_step(&secret, current, &p));
        let last = verify(&secret, &code_now, now, None, &p);
        assert_eq!(last, Some(current));
        // Same code again, same step: refused.
        assert_eq!(verify(&secret, &code_now, now, last, &p), None);
        assert_eq!(verify(&secret, &code_now, now.plus_secs(5), last, &p), None);
        // An older (still in-window) step: refused.
        let code_prev = Secret::new(code_at_step(&secret, current - 1, &p));
        assert_eq!(verify(&secret, &code_prev, now, last, &p), None);
        // The next step is still fine.
        let code_next = Secret::new(code_at_step(&secret, current + 1, &p));
        assert_eq!(
            verify(&secret, &code_next, now, last, &p),
            Some(current + 1)
        );
        assert_eq!(verify(&secret, &code_now, now, Some(u64::MAX), &p), None);
    }

    #[test]
    fn verify_returns_latest_of_several_matching_steps() {
        // SPEC: L-2 — with 1-digit codes collisions are common; the latest matching step is
        // returned so a replay at a later step of the same window is refused.
        let mut p = policy();
        p.totp_digits = 1;
        let secret = rfc_secret();
        let (step, code) = (1u64..10_000)
            .find_map(|s| {
                let a = code_at_step(&secret, s, &p);
                (a == code_at_step(&secret, s + 1, &p)).then_some((s, a))
            })
            .unwrap();
        let now = Timestamp(i64::try_from(step * 30).unwrap());
        let code = Secret::new(code);
        let got = verify(&secret, &code, now, None, &p);
        assert!(got >= Some(step + 1));
        assert_eq!(verify(&secret, &code, now, got, &p), None);
    }

    #[test]
    fn verify_normalizes_typed_codes() {
        // SPEC: M-3
        let p = policy();
        let secret = rfc_secret();
        let now = Timestamp(1_234_567_890);
        let step = step_at(now, &p).unwrap();
        let code = code_at_step(&secret, step, &p);
        let full_width: String = code
            .chars()
            .map(|c| char::from_u32(u32::from(c) - u32::from('0') + u32::from('０')).unwrap())
            .collect();
        for typed in [
            format!(" {code} "),
            format!("\t{code}\n"),
            format!("\u{3000}{code}\u{3000}"),
            full_width.clone(),
            format!(" {full_width}\u{3000}"),
        ] {
            assert_eq!(
                verify(&secret, &Secret::new(typed.clone()), now, None, &p),
                Some(step),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn verify_refuses_malformed_codes() {
        // SPEC: L-2
        let p = policy();
        let secret = rfc_secret();
        let now = Timestamp(1_234_567_890);
        let step = step_at(now, &p).unwrap();
        let code = code_at_step(&secret, step, &p);
        let wrong_len = format!("0{code}");
        let inner_space = format!("{} {}", &code[..3], &code[3..]);
        for typed in ["", " ", "abcdef", &code[..5], &wrong_len, &inner_space] {
            assert_eq!(verify(&secret, &Secret::new(typed), now, None, &p), None);
        }
        // Wrong secret.
        let other = SecretBytes::new(b"another secret of 20".to_vec());
        assert_eq!(verify(&other, &Secret::new(code), now, None, &p), None);
    }

    #[test]
    fn verify_never_panics_on_odd_times_and_policies() {
        let secret = rfc_secret();
        let code = Secret::new("123456");
        let mut p = policy();
        for now in [i64::MIN, -31, -1, 0, 29, i64::MAX] {
            let _ = verify(&secret, &code, Timestamp(now), None, &p);
            let _ = verify(&secret, &code, Timestamp(now), Some(u64::MAX), &p);
        }
        assert_eq!(verify(&secret, &code, Timestamp(-1), None, &p), None);
        p.totp_skew = u8::MAX;
        let _ = verify(&secret, &code, Timestamp(i64::MAX), None, &p);
        let _ = verify(&secret, &code, Timestamp(0), None, &p);
        p.totp_step_secs = 0;
        assert_eq!(verify(&secret, &code, Timestamp(100), None, &p), None);
        p.totp_step_secs = u64::MAX;
        let _ = verify(&secret, &code, Timestamp(i64::MAX), None, &p);
        p.totp_digits = 0;
        assert_eq!(
            verify(&secret, &Secret::new(""), Timestamp(100), None, &p),
            None
        );
    }

    #[test]
    fn base32_is_rfc4648_without_padding() {
        // SPEC: L-2 — RFC 4648 §10 vectors, padding removed.
        for (raw, b32) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(
                secret_base32(&SecretBytes::new(raw.as_bytes().to_vec())),
                b32
            );
        }
        assert_eq!(
            secret_base32(&rfc_secret()),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn generated_secrets_are_20_fresh_bytes() {
        // SPEC: L-2
        let rng = TestRng::new(5);
        let a = generate_secret(&rng);
        let b = generate_secret(&rng);
        assert_eq!(a.expose().len(), 20);
        assert_ne!(a, b);
        assert_eq!(secret_base32(&a).len(), 32);
    }

    #[test]
    fn otpauth_uri_round_trips() {
        // SPEC: L-2
        let p = policy();
        let secret = generate_secret(&TestRng::new(9));
        let issuer = "クロネコwebコレクト";
        let account = "123456789/taro.yamada@example.jp";
        let uri = otpauth_uri(&secret, issuer, account, &p);
        let b32 = secret_base32(&secret);
        let enc_issuer = percent_encode(issuer);
        assert!(
            uri.starts_with(&format!("otpauth://totp/{enc_issuer}:")),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={b32}")), "{uri}");
        assert!(uri.contains(&format!("issuer={enc_issuer}")), "{uri}");
        assert!(uri.contains("algorithm=SHA1"), "{uri}");
        assert!(uri.contains("digits=6"), "{uri}");
        assert!(uri.contains("period=30"), "{uri}");
        assert!(uri.is_ascii() && !uri.contains(' '));
        assert!(enc_issuer.starts_with("%E3%82%AF"));

        let parsed = totp_rs::Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.issuer(), Some(issuer));
        assert_eq!(parsed.account_name(), account);
        assert_eq!(parsed.algorithm(), Algorithm::SHA1);
        assert_eq!(parsed.digits(), 6);
        assert_eq!(parsed.step(), 30);
        assert_eq!(parsed.secret().as_bytes(), secret.expose());
        // The parsed generator produces the codes we accept.
        let now = Timestamp(1_700_000_000);
        let code = Secret::new(parsed.generate(1_700_000_000).to_string());
        assert_eq!(verify(&secret, &code, now, None, &p), step_at(now, &p));
    }

    #[test]
    fn otpauth_uri_escapes_awkward_names() {
        // SPEC: L-2 — spaces, '&', '?', '%', '#', '/' and colons cannot break the URI.
        let mut p = policy();
        p.totp_digits = 8;
        p.totp_step_secs = 60;
        let secret = rfc_secret();
        let issuer = "A&B Co.: 100% #1?";
        let account = "ta ro:x/y=z&q";
        let uri = otpauth_uri(&secret, issuer, account, &p);
        assert!(
            uri.contains("digits=8") && uri.contains("period=60"),
            "{uri}"
        );
        let parsed = totp_rs::Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.issuer(), Some("A&B Co.\u{ff1a} 100% #1?"));
        assert_eq!(parsed.account_name(), "ta ro\u{ff1a}x/y=z&q");
        assert_eq!(parsed.digits(), 8);
        assert_eq!(parsed.step(), 60);

        // No issuer: the label is the account alone.
        let uri = otpauth_uri(&secret, "", "taro", &policy());
        assert!(uri.starts_with("otpauth://totp/taro?secret="), "{uri}");
        assert!(!uri.contains("issuer="));
        let parsed = totp_rs::Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.issuer(), None);
        assert_eq!(parsed.account_name(), "taro");
    }
}

#[cfg(test)]
mod verifier_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_verifier_answers_as_verify(
            secret in proptest::collection::vec(any::<u8>(), 1..64),
            code in 0u64..1_000_000,
            now in 0i64..4_000_000_000,
            offset in -3i64..=3,
            last in proptest::option::of(0u64..200_000_000),
        ) {
            // SPEC: L-2 — the same code, window and replay guard as `verify`.
            let policy = crate::Policy::kuroneko().otp;
            let secret = SecretBytes::new(secret);
            let v = Verifier::new(&secret, &policy);
            // Half the cases with a real code of a nearby step, half with a random one.
            let real = code_at_step(&secret, step_at(Timestamp(now + offset * 30), &policy).unwrap(), &policy);
            for c in [real.parse::<u64>().unwrap(), code] {
                let text = Secret::new(format!("{c:06}"));
                prop_assert_eq!(
                    v.verify_number(c, Timestamp(now), last),
                    verify(&secret, &text, Timestamp(now), last, &policy)
                );
            }
            prop_assert_eq!(
                v.code_at(Timestamp(now)).map(|c| format!("{c:06}")),
                step_at(Timestamp(now), &policy).map(|s| code_at_step(&secret, s, &policy))
            );
        }
    }

    #[test]
    fn out_of_range_codes_and_times_are_refused() {
        // SPEC: L-2
        let policy = crate::Policy::kuroneko().otp;
        let v = Verifier::new(&SecretBytes::new(b"12345678901234567890".to_vec()), &policy);
        assert_eq!(v.verify_number(1_000_000, Timestamp(59), None), None);
        assert_eq!(v.verify_number(287_082, Timestamp(-5), None), None);
        // RFC 6238 appendix B, SHA-1, T = 59: 94287082 (8 digits) → 287082 with 6.
        assert_eq!(v.verify_number(287_082, Timestamp(59), None), Some(1));
        assert_eq!(v.verify_number(287_082, Timestamp(59), Some(1)), None);
        assert!(!format!("{v:?}").contains("1234"));
    }
}
