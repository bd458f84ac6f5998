//! PW-6: `Hasher` (argon2-rust underneath) gives byte for byte the tags of RustCrypto's
//! `argon2`, the reference it replaced, over thousands of random passwords, salts and parameter
//! sets; and PHC strings made by RustCrypto (any algorithm, version, salt and tag length) verify.
//!
//! Memory stays small (8..256 KiB) so that the thousands of cases run in seconds; the code path
//! is the same at the presets' 19 MiB.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use argon2::{Algorithm, Argon2, Version};
use monban_core::Secret;
use monban_core::password::Hasher;
use monban_core::policy::HashParams;
use password_hash::phc::{Output, PasswordHash, Salt};
use proptest::prelude::*;

/// m 8..256 KiB (at least 8 × p, as argon2 requires), t 1..3, p 1..4.
fn params() -> impl Strategy<Value = HashParams> {
    (1u32..=4, 1u32..=3, 0u32..=248).prop_map(|(p_cost, t_cost, extra)| HashParams {
        m_cost: (8 * p_cost + extra).min(256),
        t_cost,
        p_cost,
    })
}

/// Any password of up to 64 bytes, UTF-8 as monban's are (`Secret` holds a `String`).
fn password() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,64}",
        any::<Vec<char>>().prop_map(|c| c.into_iter().take(24).collect()),
    ]
}

fn reference(algorithm: Algorithm, version: Version, p: HashParams, len: usize) -> Argon2<'static> {
    Argon2::new(
        algorithm,
        version,
        argon2::Params::new(p.m_cost, p.t_cost, p.p_cost, Some(len)).unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// `Hasher::hash` writes RustCrypto's tag into the PHC string, and verifies it.
    #[test]
    fn hash_equals_rustcrypto(p in params(), pw in password(), salt in any::<[u8; 16]>()) {
        let hasher = Hasher::new(p).unwrap();
        let phc = hasher.hash(&Secret::new(pw.clone()), &salt).unwrap();
        let mut expected = [0u8; 32];
        reference(Algorithm::Argon2id, Version::V0x13, p, 32)
            .hash_password_into(pw.as_bytes(), &salt, &mut expected)
            .unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        let tag = parsed.hash.unwrap();
        prop_assert_eq!(tag.as_bytes(), &expected[..]);
        prop_assert!(hasher.verify(&Secret::new(pw), &phc));
        // The tag came from argon2-rust, not from the RustCrypto fallback.
        prop_assert_eq!(Hasher::reference_fallbacks(), 0);
    }

    /// A PHC string made by RustCrypto verifies through `Hasher`, whatever its algorithm,
    /// version, salt length (8..48 bytes) and tag length (10..64 bytes, the PHC minimum to the maximum); one flipped tag bit
    /// does not.
    #[test]
    fn rustcrypto_phc_verifies(
        p in params(),
        pw in password(),
        salt in proptest::collection::vec(any::<u8>(), 8..48),
        len in 10usize..=64,
        algorithm in prop_oneof![
            Just(Algorithm::Argon2id),
            Just(Algorithm::Argon2i),
            Just(Algorithm::Argon2d),
        ],
        version in prop_oneof![Just(Version::V0x13), Just(Version::V0x10)],
        flip in any::<usize>(),
    ) {
        let mut tag = vec![0u8; len];
        reference(algorithm, version, p, len)
            .hash_password_into(pw.as_bytes(), &salt, &mut tag)
            .unwrap();
        let phc = PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(u32::from(version)),
            params: format!("m={},t={},p={}", p.m_cost, p.t_cost, p.p_cost).parse().unwrap(),
            salt: Some(Salt::new(&salt).unwrap()),
            hash: Some(Output::new(&tag).unwrap()),
        }
        .to_string();
        // The verifying hasher's own parameters do not matter: the string's are used.
        let hasher = Hasher::new(HashParams::TEST_ONLY).unwrap();
        prop_assert!(hasher.verify(&Secret::new(pw.clone()), &phc), "{}", phc);
        let bit = flip % (len * 8);
        tag[bit / 8] ^= 1 << (bit % 8);
        let wrong = PasswordHash::new(&phc)
            .map(|mut h| {
                h.hash = Some(Output::new(&tag).unwrap());
                h.to_string()
            })
            .unwrap();
        prop_assert!(!hasher.verify(&Secret::new(pw), &wrong));
        prop_assert_eq!(Hasher::reference_fallbacks(), 0);
    }
}

/// Hashes stored before argon2-rust (made by RustCrypto's `argon2` 0.6 through `Hasher`, at
/// the presets' parameters and at the test parameters) keep verifying.
#[test]
fn stored_hashes_keep_verifying() {
    let hasher = Hasher::new(HashParams::OWASP).unwrap();
    let pw = Secret::new("Kt7mQ2xR9wLp");
    for stored in [STORED_OWASP, STORED_TEST, STORED_P2] {
        assert!(hasher.verify(&pw, stored), "{stored}");
        assert!(
            !hasher.verify(&Secret::new("Kt7mQ2xR9wLq"), stored),
            "{stored}"
        );
    }
    assert_eq!(Hasher::reference_fallbacks(), 0);
}

/// `$argon2id$v=19$m=19456,t=2,p=1`, password "Kt7mQ2xR9wLp", salt "bench-salt-16byt",
/// made by RustCrypto `argon2` 0.6.0 (`hash_password_with_salt`), what `Hasher` ran before.
const STORED_OWASP: &str = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2gtc2FsdC0xNmJ5dA$GZlsJCH8GWl0KvD7PcCQbx/NaJqywJLlrrLqzWaBsO4";
/// The same at `HashParams::TEST_ONLY` (m=64, t=1, p=1).
const STORED_TEST: &str = "$argon2id$v=19$m=64,t=1,p=1$YmVuY2gtc2FsdC0xNmJ5dA$HAug/D5Uf2i9Jnzxcy2DnSnt2nckVRleNk9xa+PMYZ4";
/// The same at m=128, t=2, p=2 (two lanes).
const STORED_P2: &str = "$argon2id$v=19$m=128,t=2,p=2$YmVuY2gtc2FsdC0xNmJ5dA$CNbfAcOqZzr60GnMK38Tpz3O5WZ2q0HCPxqt6il92tc";
