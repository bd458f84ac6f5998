//! Secrets are typed: their `Debug` prints `[redacted]`, they are wiped on drop and compared in
//! constant time (DESIGN principle 6).

use serde::{Deserialize, Serialize};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string typed by a person or generated for one: a password, an OTP code, a token,
/// an access key. `Debug` and `Display` never show it.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a string.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself; call only where it is needed (hashing, the one mail that delivers it).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// M-3: codes and temporary passwords typed back are trimmed of surrounding white space
    /// (ASCII and full-width spaces, tabs, new lines).
    #[must_use]
    pub fn trimmed(&self) -> Secret {
        Secret(self.0.trim().to_owned())
    }
    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Constant-time equality of the two strings' bytes.
    pub fn ct_eq(&self, other: &Secret) -> bool {
        ct_eq_bytes(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}
impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Secret bytes (a TOTP key, a signing key). `Debug` never shows them.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps bytes.
    pub fn new(b: Vec<u8>) -> Self {
        Self(b)
    }
    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A SHA-256 digest of a one-time secret (OTP code, reset token, challenge nonce, access key).
/// Stored instead of the secret; compared in constant time.
#[derive(Clone, Copy, Default, Serialize, Deserialize, Eq)]
pub struct Digest(#[serde(with = "hex32")] pub [u8; 32]);

impl Digest {
    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        use sha2::Digest as _;
        let out = sha2::Sha256::digest(data);
        let mut d = [0u8; 32];
        d.copy_from_slice(&out);
        Self(d)
    }
    /// Lower-case hex, for storage keys.
    pub fn to_hex(&self) -> String {
        hex32::encode(&self.0)
    }
    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        hex32::decode(s).map(Self)
    }
}

impl PartialEq for Digest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest(..)")
    }
}

/// Constant-time comparison of two byte strings (the length is not secret).
pub fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn encode(b: &[u8; 32]) -> String {
        let mut s = String::with_capacity(64);
        for x in b {
            for nibble in [x >> 4, x & 0xf] {
                s.extend(char::from_digit(u32::from(nibble), 16));
            }
        }
        s
    }

    pub(crate) fn decode(s: &str) -> Option<[u8; 32]> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            *o = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(out)
    }

    pub(crate) fn serialize<S: Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(b))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        // SPEC: PW-6
        let s = Secret::new("hunter2hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let b = SecretBytes::new(b"key".to_vec());
        assert_eq!(format!("{b:?}"), "[redacted]");
    }

    #[test]
    fn trimmed_removes_ascii_and_full_width_space() {
        // SPEC: M-3
        assert_eq!(
            Secret::new(" \t123456\u{3000}\n").trimmed().expose(),
            "123456"
        );
    }

    #[test]
    fn digest_hex_round_trip() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(Digest::from_hex("zz"), None);
    }
}
