//! L-3: mail one-time passwords — 6 digits, 10 minutes, single use, stored hashed, resend voids
//! the old code, resends limited.
//!
//! This module holds the pure parts: drawing a code ([`generate_code`]), reading one typed back
//! ([`normalize_code`], M-3) and the resend limit ([`may_send`], [`record_send`]). Storing the
//! code hashed (with [`crate::token::SessionKey::keyed_digest`]), its expiry and its single use
//! are the flows' business.

use crate::policy::OtpPolicy;
use crate::ports::SecureRandom;
use crate::secret::Secret;
use crate::time::Timestamp;
use std::fmt::Write as _;
use zeroize::Zeroizing;

/// Longest code [`normalize_code`] accepts (digits).
pub const MAX_CODE_LEN: usize = 16;

/// Decimal digits drawn per random `u64` (10^18 < 2^64).
const DIGITS_PER_DRAW: u32 = 18;

/// Draws after which [`uniform_below`] stops rejecting. A draw is rejected with probability
/// below `modulus / 2^64` (under 10^-9 for 10 digits, under 6 % for an 18-digit chunk), so with
/// a working random source this bound is never reached; it keeps a broken source (for example
/// one that always returns `0xff` bytes) from hanging the caller.
const MAX_DRAWS: u32 = 64;

/// A uniformly random code of `digits` decimal digits.
///
/// Leading zeros are kept, so every one of the `10^digits` codes is equally likely. The code is
/// built from chunks of up to 18 digits, each drawn from a random `u64` by rejection sampling
/// (no modulo bias). `digits` is bounded by policy validation (6..=10); 0 gives an empty code.
pub fn generate_code(digits: u32, rng: &dyn SecureRandom) -> Secret {
    // Exact capacity: the buffer never reallocates, so no unwiped copy is left behind.
    let mut code = Zeroizing::new(String::with_capacity(usize::try_from(digits).unwrap_or(0)));
    let mut left = digits;
    while left > 0 {
        let n = left.min(DIGITS_PER_DRAW);
        let value = uniform_below(10u64.pow(n), rng);
        let width = usize::try_from(n).unwrap_or(0);
        // Writing to a String cannot fail.
        let _ = write!(code, "{value:0width$}");
        left -= n;
    }
    Secret::new(std::mem::take(&mut *code))
}

/// A uniformly random integer in `0..modulus` (`modulus > 0`), by rejection sampling on
/// random `u64`s drawn from `rng`.
fn uniform_below(modulus: u64, rng: &dyn SecureRandom) -> u64 {
    if modulus <= 1 {
        return 0;
    }
    // The largest multiple of `modulus` not above u64::MAX: values below it map evenly.
    let limit = u64::MAX - u64::MAX % modulus;
    let mut x = 0u64;
    for _ in 0..MAX_DRAWS {
        let mut b = [0u8; 8];
        rng.fill(&mut b);
        x = u64::from_be_bytes(b);
        if x < limit {
            return x % modulus;
        }
    }
    // Only reachable with a broken random source (see MAX_DRAWS).
    x % modulus
}

/// Whether `c` is white space trimmed from typed codes (M-3): Unicode `White_Space`, which
/// covers ASCII space, tab and new lines and the full-width space U+3000.
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// The code as typed back, normalized (M-3): surrounding white space trimmed and full-width
/// digits folded to ASCII. `None` when it is not all digits.
///
/// White space is ASCII white space, the full-width space U+3000 and the other Unicode
/// `White_Space` characters; full-width digits are U+FF10..=U+FF19. The result must be 1 to
/// [`MAX_CODE_LEN`] ASCII digits; white space inside the code is refused.
pub fn normalize_code(typed: &Secret) -> Option<Secret> {
    let trimmed = typed.expose().trim_matches(is_space);
    if trimmed.is_empty() {
        return None;
    }
    // Wiped on drop, also when a bad character ends the loop early.
    let mut out = Zeroizing::new(String::with_capacity(MAX_CODE_LEN));
    for c in trimmed.chars() {
        let ascii = match c {
            '0'..='9' => c,
            '０'..='９' => char::from_digit(u32::from(c) - u32::from('０'), 10)?,
            _ => return None,
        };
        if out.len() >= MAX_CODE_LEN {
            return None;
        }
        out.push(ascii);
    }
    Some(Secret::new(std::mem::take(&mut *out)))
}

/// Whether the send at `sent` is still inside the resend window at `now`: strictly less than
/// `resend_window_secs` ago. A send exactly `resend_window_secs` ago is outside; a send in the
/// future (clock skew between servers) counts as inside.
fn in_window(policy: &OtpPolicy, sent: Timestamp, now: Timestamp) -> bool {
    now.since(sent) < policy.resend_window_secs
}

/// L-3: whether another code may be sent, given when earlier ones were sent.
///
/// Decided: at most `policy.max_sends` sends (the first send counts) within the last
/// `policy.resend_window_secs` seconds (5 per 10 minutes by default). A send at exactly
/// `now - resend_window_secs` no longer counts.
pub fn may_send(policy: &OtpPolicy, sends: &[Timestamp], now: Timestamp) -> bool {
    let recent = sends
        .iter()
        .filter(|&&sent| in_window(policy, sent, now))
        .count();
    recent < policy.max_sends
}

/// The sends still inside the window at `now`, plus `now` (the new send).
pub fn record_send(policy: &OtpPolicy, sends: &[Timestamp], now: Timestamp) -> Vec<Timestamp> {
    let mut v: Vec<Timestamp> = sends
        .iter()
        .copied()
        .filter(|&sent| in_window(policy, sent, now))
        .collect();
    v.push(now);
    v
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A deterministic `SecureRandom` for tests (SplitMix64 over a counter). Shared with the
    /// totp and token tests.
    pub(crate) struct TestRng(AtomicU64);

    impl TestRng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(AtomicU64::new(seed))
        }
    }

    impl SecureRandom for TestRng {
        fn fill(&self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let mut z = self
                    .0
                    .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
                    .wrapping_add(0x9e37_79b9_7f4a_7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                let bytes = z.to_be_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
        }
    }

    /// Returns scripted big-endian u64 values, then zeros.
    struct Script(Mutex<VecDeque<u64>>);

    impl Script {
        fn new(values: &[u64]) -> Self {
            Self(Mutex::new(values.iter().copied().collect()))
        }
    }

    impl SecureRandom for Script {
        fn fill(&self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let v = self.0.lock().unwrap().pop_front().unwrap_or(0);
                chunk.copy_from_slice(&v.to_be_bytes()[..chunk.len()]);
            }
        }
    }

    fn policy() -> OtpPolicy {
        crate::Policy::kuroneko().otp
    }

    #[test]
    fn code_has_exactly_the_digits_asked_for() {
        // SPEC: L-3
        let rng = TestRng::new(1);
        for digits in [0u32, 1, 6, 8, 10, 18, 19, 40] {
            for _ in 0..50 {
                let code = generate_code(digits, &rng);
                assert_eq!(code.expose().len(), digits as usize);
                assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
            }
        }
        let p = policy();
        assert_eq!(generate_code(p.mail_digits, &rng).expose().len(), 6);
    }

    #[test]
    fn code_keeps_leading_zeros() {
        // SPEC: L-3
        assert_eq!(generate_code(6, &Script::new(&[42])).expose(), "000042");
        assert_eq!(generate_code(6, &Script::new(&[0])).expose(), "000000");
        // 20 digits: an 18-digit chunk then a 2-digit chunk.
        assert_eq!(
            generate_code(20, &Script::new(&[7, 5])).expose(),
            "00000000000000000705"
        );
    }

    #[test]
    fn code_rejects_biased_draws() {
        // SPEC: L-3 — values in the incomplete top range are redrawn, not folded by modulo.
        let rng = Script::new(&[u64::MAX, u64::MAX - 3, 123_456]);
        assert_eq!(generate_code(6, &rng).expose(), "123456");
        // The first value below the limit is used as is.
        let limit = u64::MAX - u64::MAX % 1_000_000;
        let rng = Script::new(&[limit, limit - 1]);
        assert_eq!(generate_code(6, &rng).expose(), "999999");
    }

    #[test]
    fn broken_random_source_does_not_hang() {
        struct AllOnes;
        impl SecureRandom for AllOnes {
            fn fill(&self, dest: &mut [u8]) {
                dest.fill(0xff);
            }
        }
        assert_eq!(generate_code(6, &AllOnes).expose().len(), 6);
    }

    #[test]
    fn code_distribution_is_flat() {
        // SPEC: L-3 — every digit at every position about equally often.
        let rng = TestRng::new(7);
        let n = 20_000;
        let mut counts = [[0u32; 10]; 6];
        let mut leading_zero = false;
        for _ in 0..n {
            let code = generate_code(6, &rng);
            for (pos, b) in code.expose().bytes().enumerate() {
                counts[pos][usize::from(b - b'0')] += 1;
            }
            leading_zero |= code.expose().starts_with('0');
        }
        assert!(leading_zero);
        // Expected 2000 per cell, standard deviation about 42.
        for row in counts {
            for c in row {
                assert!((1800..=2200).contains(&c), "{row:?}");
            }
        }
    }

    #[test]
    fn normalize_code_trims_and_folds() {
        // SPEC: M-3
        let n = |s: &str| normalize_code(&Secret::new(s)).map(|c| c.expose().to_owned());
        assert_eq!(n("123456").as_deref(), Some("123456"));
        assert_eq!(n(" 012345 ").as_deref(), Some("012345"));
        assert_eq!(n("\t\r\n123456\n").as_deref(), Some("123456"));
        assert_eq!(n("\u{3000}123456\u{3000}").as_deref(), Some("123456"));
        assert_eq!(n("１２３４５６").as_deref(), Some("123456"));
        assert_eq!(n("\u{3000}０１2３4５ ").as_deref(), Some("012345"));
        assert_eq!(n(&"9".repeat(16)).as_deref(), Some("9999999999999999"));
        assert_eq!(n(&"９".repeat(16)).as_deref(), Some("9999999999999999"));
    }

    #[test]
    fn normalize_code_refuses_non_codes() {
        // SPEC: M-3
        let n = |s: &str| normalize_code(&Secret::new(s)).map(|c| c.expose().to_owned());
        for bad in [
            "",
            " ",
            "\u{3000}",
            "12 34",
            "123\u{3000}456",
            "12345a",
            "+12345",
            "-12345",
            "١٢٣٤٥٦", // Arabic-Indic digits are not folded
            "12345６x",
            "①②③",
        ] {
            assert_eq!(n(bad), None, "{bad:?}");
        }
        assert_eq!(n(&"1".repeat(17)), None);
        assert_eq!(n(&"１".repeat(17)), None);
        assert_eq!(n(&"1".repeat(100_000)), None);
    }

    #[test]
    fn five_sends_per_ten_minutes() {
        // SPEC: L-3 — decided: at most 5 sends (the first counts) per 10 minutes.
        let p = policy();
        assert_eq!((p.max_sends, p.resend_window_secs), (5, 600));
        let mut sends = Vec::new();
        let mut now = Timestamp(1_000_000);
        for _ in 0..5 {
            assert!(may_send(&p, &sends, now));
            sends = record_send(&p, &sends, now);
            now = now.plus_secs(60);
        }
        assert_eq!(sends.len(), 5);
        // Sixth within the window: refused, up to the last second of the window.
        let first = Timestamp(1_000_000);
        assert!(!may_send(&p, &sends, now));
        assert!(!may_send(&p, &sends, first.plus_secs(599)));
        // Exactly 600 s after the first send, the first no longer counts.
        assert!(may_send(&p, &sends, first.plus_secs(600)));
        let after = record_send(&p, &sends, first.plus_secs(600));
        assert_eq!(after.len(), 5);
        assert!(!after.contains(&first));
        assert!(!may_send(&p, &after, first.plus_secs(600)));
        // Long after: everything is forgotten.
        let later = first.plus_secs(10_000);
        assert!(may_send(&p, &after, later));
        assert_eq!(record_send(&p, &after, later), vec![later]);
    }

    #[test]
    fn sends_in_the_future_count() {
        // SPEC: L-3 — clock skew does not buy extra sends.
        let p = policy();
        let now = Timestamp(1_000);
        let sends = vec![now.plus_secs(5); 5];
        assert!(!may_send(&p, &sends, now));
        assert_eq!(record_send(&p, &sends, now).len(), 6);
    }

    #[test]
    fn extreme_times_do_not_panic() {
        let p = policy();
        let sends = [Timestamp(i64::MIN), Timestamp(i64::MAX), Timestamp(0)];
        for now in [
            Timestamp(i64::MIN),
            Timestamp(-1),
            Timestamp(0),
            Timestamp(i64::MAX),
        ] {
            let _ = may_send(&p, &sends, now);
            let _ = record_send(&p, &sends, now);
        }
    }
}
