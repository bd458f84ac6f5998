//! Secrets at rest (K-1, K-2): authenticator secrets are stored sealed with XChaCha20-Poly1305,
//! tenant access keys as an HMAC — both under keys derived from the deployment's secret (the
//! [`SessionKey`]), so a copy of the database alone yields neither.
//!
//! Key derivation: `HMAC-SHA256(deployment secret, domain || 0x00)` for each use (the
//! deployment secret is uniformly random and at least 256 bits, so this is HKDF-Expand with the
//! secret as its pseudorandom key; HKDF's extract step would add nothing). Each derived key has
//! a 4-byte id, stored with what it sealed, so after a rotation (K-2) the records written under
//! an earlier secret stay readable — pass the earlier secrets as `previous` — until they are
//! re-written under the current one ([`needs_reseal`], `monban rekey`).
//!
//! A sealed secret is `"mb1" || key id (4) || nonce (24) || ciphertext || tag (16)`. Databases
//! from before K-1 hold the bare 20-byte secret; [`open`] still reads those (never mistaken for
//! a sealed one: a sealed 20-byte secret is 67 bytes) and [`needs_reseal`] names them.

use crate::error::{Error, Result};
use crate::ports::SecureRandom;
use crate::secret::{Digest, SecretBytes, ct_eq_bytes};
use crate::token::SessionKey;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const MAGIC: &[u8; 3] = b"mb1";
const KID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = MAGIC.len() + KID_LEN + NONCE_LEN;
const TOTP_KEY_DOMAIN: &str = "monban/seal/totp-secret/v1";
const TOTP_AAD: &[u8] = b"monban totp secret v1";
const OUTBOX_KEY_DOMAIN: &str = "monban/seal/outbox/v1";
const OUTBOX_AAD: &[u8] = b"monban outbox entry v1";
const ACCESS_KEY_DOMAIN: &str = "monban/access-key/v1";
const KID_DOMAIN: &str = "monban/key-id/v1";

/// A secret as stored: sealed under a deployment key, or (databases from before K-1) bare.
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(SecretBytes);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed([redacted])")
    }
}

impl Sealed {
    /// Stored bytes as read from a store.
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(SecretBytes::new(bytes))
    }

    /// The bytes to store.
    pub fn stored(&self) -> &[u8] {
        self.0.expose()
    }

    fn parts(&self) -> Option<([u8; KID_LEN], &[u8], &[u8])> {
        let b = self.0.expose();
        if b.len() < HEADER_LEN + TAG_LEN || !b.starts_with(MAGIC) {
            return None;
        }
        let (kid, rest) = b.get(MAGIC.len()..)?.split_at(KID_LEN);
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        Some((kid.try_into().ok()?, nonce, ct))
    }
}

/// The id of the key derived from `key` (stored next to what it sealed or keyed).
pub fn key_id(key: &SessionKey) -> [u8; KID_LEN] {
    let d = key.keyed_digest(KID_DOMAIN, b"");
    let mut id = [0u8; KID_LEN];
    id.copy_from_slice(&d.0[..KID_LEN]);
    id
}

/// What a sealed value is for: each use has a key of its own and binds its name as the
/// associated data, so a value sealed for one use never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// An authenticator (TOTP) secret (K-1).
    TotpSecret,
    /// A queued mail or recovery request in the outbox (M-4).
    Outbox,
}

impl Purpose {
    fn domain(self) -> &'static str {
        match self {
            Purpose::TotpSecret => TOTP_KEY_DOMAIN,
            Purpose::Outbox => OUTBOX_KEY_DOMAIN,
        }
    }
    fn aad(self) -> &'static [u8] {
        match self {
            Purpose::TotpSecret => TOTP_AAD,
            Purpose::Outbox => OUTBOX_AAD,
        }
    }
}

fn cipher(key: &SessionKey, purpose: Purpose) -> XChaCha20Poly1305 {
    let k = Zeroizing::new(key.keyed_digest(purpose.domain(), b"").0);
    // A 32-byte key always fits.
    XChaCha20Poly1305::new(&(*k).into())
}

/// Seals an authenticator secret under `key` with a fresh random nonce.
pub fn seal(key: &SessionKey, secret: &SecretBytes, rng: &dyn SecureRandom) -> Sealed {
    seal_for(Purpose::TotpSecret, key, secret, rng)
}

/// Seals `secret` for `purpose` under `key` with a fresh random nonce.
pub fn seal_for(
    purpose: Purpose,
    key: &SessionKey,
    secret: &SecretBytes,
    rng: &dyn SecureRandom,
) -> Sealed {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce);
    let payload = Payload {
        msg: secret.expose(),
        aad: purpose.aad(),
    };
    // Encryption fails only for messages beyond 256 GiB.
    let ct = cipher(key, purpose)
        .encrypt(&XNonce::from(nonce), payload)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_LEN + ct.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&key_id(key));
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Sealed(SecretBytes::new(out))
}

/// Opens a stored secret with `key` or, when it was sealed under an earlier deployment secret,
/// the matching one of `previous`. A bare secret from before K-1 is returned as it is.
pub fn open(key: &SessionKey, previous: &[SessionKey], stored: &Sealed) -> Result<SecretBytes> {
    let Some((kid, nonce, ct)) = stored.parts() else {
        return Ok(stored.0.clone());
    };
    open_parts(Purpose::TotpSecret, key, previous, kid, nonce, ct)
}

/// Opens what [`seal_for`] sealed for `purpose`, under `key` or one of `previous`.
pub fn open_for(
    purpose: Purpose,
    key: &SessionKey,
    previous: &[SessionKey],
    stored: &Sealed,
) -> Result<SecretBytes> {
    let (kid, nonce, ct) = stored.parts().ok_or_else(sealed_under_unknown_key)?;
    open_parts(purpose, key, previous, kid, nonce, ct)
}

fn open_parts(
    purpose: Purpose,
    key: &SessionKey,
    previous: &[SessionKey],
    kid: [u8; KID_LEN],
    nonce: &[u8],
    ct: &[u8],
) -> Result<SecretBytes> {
    let k = std::iter::once(key)
        .chain(previous)
        .find(|k| key_id(k) == kid)
        .ok_or_else(sealed_under_unknown_key)?;
    let nonce = XNonce::try_from(nonce).map_err(|_| sealed_under_unknown_key())?;
    cipher(k, purpose)
        .decrypt(
            &nonce,
            Payload {
                msg: ct,
                aad: purpose.aad(),
            },
        )
        .map(SecretBytes::new)
        .map_err(|_| sealed_under_unknown_key())
}

fn sealed_under_unknown_key() -> Error {
    // The store holds something this deployment cannot read: a server fault, not the client's.
    Error::PolicyInvalid(
        "a stored secret is sealed under a key this server does not have (pass the earlier key as a previous key)"
            .into(),
    )
}

/// Whether `stored` should be written again under `key`: it is bare (from before K-1) or
/// sealed under an earlier key.
pub fn needs_reseal(key: &SessionKey, stored: &Sealed) -> bool {
    stored.parts().is_none_or(|(kid, _, _)| kid != key_id(key))
}

/// How a tenant's access key is kept (K-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AccessKeyHash {
    /// `HMAC-SHA256` of the tenant code and the key under a key derived from the deployment
    /// secret whose id is `kid`.
    Keyed {
        /// The deriving key's id (hex in JSON).
        #[serde(with = "hex4")]
        kid: [u8; KID_LEN],
        /// The MAC.
        mac: Digest,
    },
    /// A bare SHA-256 of the key, from databases written before K-1; replaced by the keyed
    /// form at the tenant's next successful use.
    Legacy(Digest),
}

impl AccessKeyHash {
    /// The keyed hash of `access_key` for tenant `code` under `key`.
    pub fn new(key: &SessionKey, code: &str, access_key: &str) -> Self {
        AccessKeyHash::Keyed {
            kid: key_id(key),
            mac: access_key_mac(key, code, access_key),
        }
    }

    /// Whether `presented` is the access key (constant time in the key).
    pub fn matches(
        &self,
        key: &SessionKey,
        previous: &[SessionKey],
        code: &str,
        presented: &str,
    ) -> bool {
        match self {
            AccessKeyHash::Keyed { kid, mac } => std::iter::once(key)
                .chain(previous)
                .find(|k| key_id(k) == *kid)
                .is_some_and(|k| access_key_mac(k, code, presented) == *mac),
            AccessKeyHash::Legacy(d) => Digest::of(presented.as_bytes()) == *d,
        }
    }

    /// Whether it should be written again under `key` (legacy, or keyed by an earlier key).
    pub fn needs_rekey(&self, key: &SessionKey) -> bool {
        match self {
            AccessKeyHash::Keyed { kid, .. } => *kid != key_id(key),
            AccessKeyHash::Legacy(_) => true,
        }
    }

    /// The stored bytes: `kid || mac` (36 bytes) or, legacy, the bare digest (32 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            AccessKeyHash::Keyed { kid, mac } => [&kid[..], &mac.0[..]].concat(),
            AccessKeyHash::Legacy(d) => d.0.to_vec(),
        }
    }

    /// Reads [`AccessKeyHash::to_bytes`]'s form.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        match b.len() {
            32 => Some(AccessKeyHash::Legacy(Digest(b.try_into().ok()?))),
            36 => {
                let (kid, mac) = b.split_at(KID_LEN);
                Some(AccessKeyHash::Keyed {
                    kid: kid.try_into().ok()?,
                    mac: Digest(mac.try_into().ok()?),
                })
            }
            _ => None,
        }
    }
}

fn access_key_mac(key: &SessionKey, code: &str, access_key: &str) -> Digest {
    let mut data = Vec::with_capacity(code.len() + 1 + access_key.len());
    data.extend_from_slice(code.as_bytes());
    data.push(0);
    data.extend_from_slice(access_key.as_bytes());
    let d = key.keyed_digest(ACCESS_KEY_DOMAIN, &data);
    zeroize::Zeroize::zeroize(&mut data);
    d
}

/// Constant-time equality of two stored forms (tests and migrations).
pub fn same_stored(a: &Sealed, b: &Sealed) -> bool {
    ct_eq_bytes(a.stored(), b.stored())
}

mod hex4 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 4], s: S) -> Result<S::Ok, S::Error> {
        let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 4], D::Error> {
        let s = String::deserialize(d)?;
        let bad = || serde::de::Error::custom("a key id is 8 hex digits");
        if s.len() != 8 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 4];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(out)
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::memory::SeededRandom;

    fn key(b: u8) -> SessionKey {
        SessionKey::new(vec![b; 32]).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_shows_nothing() {
        // SPEC: K-1
        let rng = SeededRandom::new(1);
        let secret = SecretBytes::new(b"12345678901234567890".to_vec());
        let sealed = seal(&key(1), &secret, &rng);
        assert_eq!(sealed.stored().len(), HEADER_LEN + 20 + TAG_LEN);
        assert!(
            !sealed
                .stored()
                .windows(8)
                .any(|w| secret.expose().windows(8).any(|s| s == w))
        );
        assert_eq!(open(&key(1), &[], &sealed).unwrap(), secret);
        assert!(!needs_reseal(&key(1), &sealed));
        assert_eq!(format!("{sealed:?}"), "Sealed([redacted])");
        // Two seals of one secret differ (random nonce).
        assert!(!same_stored(&sealed, &seal(&key(1), &secret, &rng)));
    }

    #[test]
    fn a_wrong_key_or_a_changed_byte_does_not_open() {
        // SPEC: K-1
        let rng = SeededRandom::new(2);
        let secret = SecretBytes::new(vec![7; 20]);
        let sealed = seal(&key(1), &secret, &rng);
        assert!(open(&key(2), &[], &sealed).is_err());
        let mut bytes = sealed.stored().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(open(&key(1), &[], &Sealed::from_stored(bytes)).is_err());
    }

    #[test]
    fn after_a_rotation_old_records_open_with_the_previous_key_and_ask_to_be_resealed() {
        // SPEC: K-2
        let rng = SeededRandom::new(3);
        let secret = SecretBytes::new(vec![9; 20]);
        let old = seal(&key(1), &secret, &rng);
        assert_eq!(open(&key(2), &[key(1)], &old).unwrap(), secret);
        assert!(needs_reseal(&key(2), &old));
        let hash = AccessKeyHash::new(&key(1), "123456789", "1234567");
        assert!(hash.matches(&key(2), &[key(1)], "123456789", "1234567"));
        assert!(!hash.matches(&key(2), &[], "123456789", "1234567"));
        assert!(hash.needs_rekey(&key(2)));
    }

    #[test]
    fn bare_secrets_and_sha256_access_keys_from_before_still_work() {
        // SPEC: K-1 — existing databases keep working until re-written.
        let bare = Sealed::from_stored(vec![5; 20]);
        assert_eq!(open(&key(1), &[], &bare).unwrap().expose(), &[5; 20]);
        assert!(needs_reseal(&key(1), &bare));
        let legacy = AccessKeyHash::Legacy(Digest::of(b"1234567"));
        assert!(legacy.matches(&key(1), &[], "123456789", "1234567"));
        assert!(!legacy.matches(&key(1), &[], "123456789", "7654321"));
        assert!(legacy.needs_rekey(&key(1)));
    }

    #[test]
    fn access_keys_are_keyed_per_tenant_and_round_trip_in_both_forms() {
        // SPEC: K-1 — the same 7 digits give different stored values per tenant and per key.
        let a = AccessKeyHash::new(&key(1), "111111111", "1234567");
        let b = AccessKeyHash::new(&key(1), "222222222", "1234567");
        let c = AccessKeyHash::new(&key(2), "111111111", "1234567");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, AccessKeyHash::Legacy(Digest::of(b"1234567")));
        for h in [a, AccessKeyHash::Legacy(Digest::of(b"x"))] {
            assert_eq!(AccessKeyHash::from_bytes(&h.to_bytes()), Some(h));
            let json = serde_json::to_string(&h).unwrap();
            assert_eq!(serde_json::from_str::<AccessKeyHash>(&json).unwrap(), h);
        }
        assert!(a.matches(&key(1), &[], "111111111", "1234567"));
        assert!(!a.matches(&key(1), &[], "222222222", "1234567"));
    }
}
