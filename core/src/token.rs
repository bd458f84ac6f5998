//! Tokens: session tokens (L-9, HMAC-SHA256, expiring, carrying tenant / user / role /
//! credential version) and opaque one-time tokens for login challenges and reset links (RS-1).
//!
//! # Session tokens (L-9)
//!
//! ```text
//! v1.<payload>.<mac>
//! payload = base64url(JSON of SessionClaims)                        (no padding)
//! mac     = base64url(HMAC-SHA256(key, "monban-session-v1." + payload))  (no padding, 32 bytes)
//! ```
//!
//! [`SessionKey::verify`] refuses tokens longer than [`SESSION_TOKEN_MAX_LEN`], checks the
//! version prefix, compares the MAC in constant time *before* decoding or parsing the payload,
//! then parses the claims and checks `now < expires_at`. Every failure is
//! [`Error::SessionInvalid`]. The payload is signed, not encrypted: it is readable by whoever
//! holds the token, so it carries nothing secret. Checking the claims' `credential_version`
//! against the user record (RS-9) is the caller's job.
//!
//! # Opaque one-time tokens (RS-1)
//!
//! ```text
//! base64url( 0x01 | len(tenant) u8 | tenant UTF-8 | len(user_id) u8 | user_id UTF-8 | nonce 32 bytes )
//! ```
//!
//! without padding, at most [`OPAQUE_TOKEN_MAX_LEN`] characters, fit for a URL.
//!
//! **The opaque token is not signed.** It only names the user and carries 32 random bytes; its
//! authority is the digest of those random bytes ([`Digest::of`] the nonce) stored on the user
//! record when the token was issued. Whoever redeems it must load the named user and compare
//! the stored digest with the one [`parse_opaque`] returns — [`Digest`]'s `==` is constant
//! time — and check expiry and single use there. Changing the user part of a token only
//! points it at a record whose digest does not match; changing the nonce changes the digest.

use crate::error::{Error, Result};
use crate::model::UserRef;
use crate::ports::SecureRandom;
use crate::role::Role;
use crate::secret::{Digest, Secret, SecretBytes, ct_eq_bytes};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Longest session token [`SessionKey::verify`] looks at (bytes).
pub const SESSION_TOKEN_MAX_LEN: usize = 4096;
/// Version prefix of session tokens.
const SESSION_PREFIX: &str = "v1.";
/// What the session MAC covers before the payload (domain separation from
/// [`SessionKey::keyed_digest`], whose input starts with a caller's domain and a 0x00 byte).
const SESSION_MAC_DOMAIN: &[u8] = b"monban-session-v1.";

/// Longest opaque token [`parse_opaque`] accepts (characters).
pub const OPAQUE_TOKEN_MAX_LEN: usize = 512;
/// Random bytes in an opaque token.
pub const OPAQUE_NONCE_LEN: usize = 32;
/// First byte of an opaque token.
const OPAQUE_VERSION: u8 = 1;
/// HMAC-SHA256 block size: keys are padded (or first hashed) to this length (RFC 2104).
const HMAC_BLOCK: usize = 64;

/// What a session may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionScope {
    /// Everything the role allows.
    Full,
    /// PW-3 / PW-4: only change the password.
    ChangePassword,
}

/// What a session token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Tenant code.
    pub tenant: String,
    /// User ID.
    pub user_id: String,
    /// The session record this token names (S-1): 128 random bits, base64url.
    #[serde(rename = "sid")]
    pub session_id: String,
    /// Role at login.
    pub role: Role,
    /// The user's credential version at login (RS-9).
    pub credential_version: u64,
    /// Scope.
    pub scope: SessionScope,
    /// Issued.
    pub issued_at: Timestamp,
    /// Expires.
    pub expires_at: Timestamp,
}

impl SessionClaims {
    /// The user.
    pub fn user_ref(&self) -> UserRef {
        UserRef::new(self.tenant.clone(), self.user_id.clone())
    }
}

/// The server's 256-bit (or longer) secret for signing sessions and keying digests.
#[derive(Clone)]
pub struct SessionKey(SecretBytes);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

impl SessionKey {
    /// At least 32 bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() < 32 {
            return Err(Error::PolicyInvalid(
                "session key shorter than 32 bytes".into(),
            ));
        }
        Ok(Self(SecretBytes::new(bytes)))
    }
    /// A signed token for `claims` (format in the module documentation).
    ///
    /// Claims whose token would exceed [`SESSION_TOKEN_MAX_LEN`] (absurdly long tenant codes or
    /// user IDs) still get a token, which [`SessionKey::verify`] refuses.
    pub fn sign(&self, claims: &SessionClaims) -> Secret {
        // Serializing these plain fields cannot fail; if it ever did, the empty token is
        // refused by `verify`.
        let Ok(json) = serde_json::to_vec(claims) else {
            return Secret::new("");
        };
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mac = self.session_mac(&payload);
        Secret::new(format!(
            "{SESSION_PREFIX}{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac)
        ))
    }

    /// The claims of a valid, unexpired token; `Err(SessionInvalid)` otherwise.
    ///
    /// Length bound, version prefix, constant-time MAC check, then (only for an authentic
    /// token) payload decoding, JSON parsing and `now < expires_at`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<SessionClaims> {
        self.verify_inner(token, now).ok_or(Error::SessionInvalid)
    }

    fn verify_inner(&self, token: &str, now: Timestamp) -> Option<SessionClaims> {
        if token.len() > SESSION_TOKEN_MAX_LEN {
            return None;
        }
        let (payload, mac) = token.strip_prefix(SESSION_PREFIX)?.split_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if !ct_eq_bytes(&self.session_mac(payload), &mac) {
            return None;
        }
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let claims: SessionClaims = serde_json::from_slice(&json).ok()?;
        (now < claims.expires_at).then_some(claims)
    }

    /// HMAC-SHA256 of `data` under this key, separated by `domain` (used to store OTP codes so
    /// a stolen database does not give them away by brute force).
    ///
    /// `HMAC-SHA256(key, domain || 0x00 || data)`; `domain` is a constant naming the use (it
    /// should not contain a NUL byte).
    pub fn keyed_digest(&self, domain: &str, data: &[u8]) -> Digest {
        let mut mac = self.hmac();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        Digest(mac.finalize().into_bytes().into())
    }

    /// The session MAC of a base64url payload.
    fn session_mac(&self, payload: &str) -> [u8; 32] {
        let mut mac = self.hmac();
        mac.update(SESSION_MAC_DOMAIN);
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// An HMAC-SHA256 instance keyed with this key.
    ///
    /// The key is brought to the block size here as RFC 2104 does (zero-padded, or hashed
    /// first when longer than a block) so that keying is infallible; the padded copy is wiped.
    fn hmac(&self) -> HmacSha256 {
        let key = self.0.expose();
        let mut block = Zeroizing::new([0u8; HMAC_BLOCK]);
        if let Some(dest) = block.get_mut(..key.len()) {
            dest.copy_from_slice(key);
        } else {
            use sha2::Digest as _;
            let hashed = Sha256::digest(key);
            if let Some(dest) = block.get_mut(..hashed.len()) {
                dest.copy_from_slice(&hashed);
            }
        }
        HmacSha256::new((&*block).into())
    }
}

/// Whether an opaque token for `user` can be issued: both IDs are non-empty, free of control
/// characters, at most 255 bytes each, and the token fits in [`OPAQUE_TOKEN_MAX_LEN`] (at most
/// 349 bytes of IDs together). Validated tenant codes and user IDs always fit.
pub fn opaque_fits(user: &UserRef) -> bool {
    let (t, u) = (user.tenant.len(), user.user_id.len());
    valid_id(&user.tenant)
        && valid_id(&user.user_id)
        && t <= usize::from(u8::MAX)
        && u <= usize::from(u8::MAX)
        && base64_len(3 + t + u + OPAQUE_NONCE_LEN) <= OPAQUE_TOKEN_MAX_LEN
}

/// Characters of unpadded base64 for `n` bytes.
fn base64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// An ID an opaque token may carry: non-empty, no control characters.
fn valid_id(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

/// A new opaque one-time token naming `user`: the token for the client, and the digest of its
/// random part for the store.
///
/// Format and trust model in the module documentation. The digest is [`Digest::of`] the 32
/// random bytes. When `user` does not fit ([`opaque_fits`] is false) the token is empty, which
/// [`parse_opaque`] refuses: such a link fails closed.
pub fn issue_opaque(user: &UserRef, rng: &dyn SecureRandom) -> (Secret, Digest) {
    let mut nonce = Zeroizing::new([0u8; OPAQUE_NONCE_LEN]);
    rng.fill(&mut *nonce);
    let digest = Digest::of(&*nonce);
    let token = if opaque_fits(user) {
        encode_opaque(user, &nonce)
    } else {
        String::new()
    };
    (Secret::new(token), digest)
}

/// The token for `user` and `nonce` (the caller checked [`opaque_fits`]).
fn encode_opaque(user: &UserRef, nonce: &[u8; OPAQUE_NONCE_LEN]) -> String {
    let (t, u) = (user.tenant.as_bytes(), user.user_id.as_bytes());
    let mut raw = Zeroizing::new(Vec::with_capacity(3 + t.len() + u.len() + OPAQUE_NONCE_LEN));
    raw.push(OPAQUE_VERSION);
    raw.push(u8::try_from(t.len()).unwrap_or(0));
    raw.extend_from_slice(t);
    raw.push(u8::try_from(u.len()).unwrap_or(0));
    raw.extend_from_slice(u);
    raw.extend_from_slice(nonce);
    URL_SAFE_NO_PAD.encode(&*raw)
}

/// The user and nonce digest of an opaque token; `None` when malformed.
///
/// Strict: at most [`OPAQUE_TOKEN_MAX_LEN`] characters of canonical unpadded base64url, version
/// byte 1, two length-prefixed IDs that are non-empty UTF-8 without control characters, then
/// exactly 32 random bytes and nothing else. The result still has to be checked against the
/// digest stored on the user (see the module documentation).
pub fn parse_opaque(token: &str) -> Option<(UserRef, Digest)> {
    if token.is_empty() || token.len() > OPAQUE_TOKEN_MAX_LEN {
        return None;
    }
    let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(token).ok()?);
    let (&version, rest) = raw.split_first()?;
    if version != OPAQUE_VERSION {
        return None;
    }
    let (tenant, rest) = take_id(rest)?;
    let (user_id, nonce) = take_id(rest)?;
    if nonce.len() != OPAQUE_NONCE_LEN {
        return None;
    }
    Some((UserRef::new(tenant, user_id), Digest::of(nonce)))
}

/// A length-prefixed ID and what follows it.
fn take_id(b: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = b.split_first()?;
    let (id, rest) = rest.split_at_checked(usize::from(len))?;
    let id = std::str::from_utf8(id).ok()?;
    valid_id(id).then_some((id, rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::otp::tests::TestRng;
    use proptest::prelude::*;

    fn key(byte: u8) -> SessionKey {
        SessionKey::new(vec![byte; 32]).unwrap()
    }

    fn claims() -> SessionClaims {
        SessionClaims {
            tenant: "123456789".into(),
            user_id: "taro".into(),
            session_id: "AAECAwQFBgcICQoLDA0ODw".into(),
            role: Role::General,
            credential_version: 7,
            scope: SessionScope::Full,
            issued_at: Timestamp(1_700_000_000),
            expires_at: Timestamp(1_700_043_200),
        }
    }

    fn b64(raw: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn session_round_trip() {
        // SPEC: L-9
        let k = key(1);
        let c = claims();
        let token = k.sign(&c);
        let t = token.expose();
        assert!(t.starts_with("v1."));
        assert_eq!(t.matches('.').count(), 2);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(k.verify(t, c.issued_at).unwrap(), c);
        assert_eq!(k.verify(t, c.expires_at.plus_secs(-1)).unwrap(), c);
        assert_eq!(k.verify(t, c.issued_at).unwrap().user_ref(), c.user_ref());
        // Unicode IDs and the change-password scope survive.
        let c2 = SessionClaims {
            tenant: "クロネコ".into(),
            user_id: "山田\"太郎\"".into(),
            role: Role::Support,
            scope: SessionScope::ChangePassword,
            credential_version: u64::MAX,
            ..claims()
        };
        assert_eq!(k.verify(k.sign(&c2).expose(), c2.issued_at).unwrap(), c2);
    }

    #[test]
    fn session_expiry_boundary() {
        // SPEC: L-9 — valid while now < expires_at.
        let k = key(1);
        let c = claims();
        let t = k.sign(&c);
        assert!(k.verify(t.expose(), c.expires_at.plus_secs(-1)).is_ok());
        for now in [c.expires_at, c.expires_at.plus_secs(1), Timestamp(i64::MAX)] {
            assert_eq!(k.verify(t.expose(), now), Err(Error::SessionInvalid));
        }
    }

    #[test]
    fn session_tampering_is_refused() {
        // SPEC: L-9
        let k = key(1);
        let c = claims();
        let token = k.sign(&c);
        let t = token.expose();
        let (prefix_payload, mac) = t.rsplit_once('.').unwrap();
        let payload = prefix_payload.strip_prefix("v1.").unwrap();

        // A forged payload (admin role) with the original MAC.
        let forged = SessionClaims {
            role: Role::Admin,
            ..c.clone()
        };
        let forged_payload = b64(&serde_json::to_vec(&forged).unwrap());
        let forged_token = format!("v1.{forged_payload}.{mac}");
        assert_eq!(
            k.verify(&forged_token, c.issued_at),
            Err(Error::SessionInvalid)
        );

        // Every single-character change of the token is refused.
        for i in 0..t.len() {
            let mut bytes = t.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            if changed != t {
                assert!(k.verify(&changed, c.issued_at).is_err(), "position {i}");
            }
        }

        // Truncated or extended MAC, swapped parts, other version.
        for bad in [
            format!("v1.{payload}.{}", &mac[..mac.len() - 1]),
            format!("v1.{payload}.{mac}A"),
            format!("v1.{payload}.{mac}="),
            format!("v1.{payload}.{mac}.{mac}"),
            format!("v1.{mac}.{payload}"),
            format!("v2.{payload}.{mac}"),
            format!("{payload}.{mac}"),
            format!(" {t}"),
            format!("{t} "),
            format!("{t}\n"),
        ] {
            assert_eq!(
                k.verify(&bad, c.issued_at),
                Err(Error::SessionInvalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn session_wrong_key_is_refused() {
        // SPEC: L-9
        let c = claims();
        let t = key(1).sign(&c);
        assert_eq!(
            key(2).verify(t.expose(), c.issued_at),
            Err(Error::SessionInvalid)
        );
        let longer = SessionKey::new(vec![1; 33]).unwrap();
        assert_eq!(
            longer.verify(t.expose(), c.issued_at),
            Err(Error::SessionInvalid)
        );
    }

    #[test]
    fn session_authentic_but_malformed_payload_is_refused() {
        // SPEC: L-9 — parsing happens after the MAC check and fails cleanly.
        let k = key(1);
        let sign_raw = |payload: &str| format!("v1.{payload}.{}", b64(&k.session_mac(payload)));
        let json = serde_json::to_value(claims()).unwrap();
        let mut missing = json.clone();
        missing.as_object_mut().unwrap().remove("expires_at");
        let mut bad_role = json.clone();
        bad_role["role"] = "root".into();
        for payload in [
            String::new(),
            "!!".into(),
            "QQ=".into(),
            b64(b"not json"),
            b64(b"{}"),
            b64(b"null"),
            b64(&serde_json::to_vec(&missing).unwrap()),
            b64(&serde_json::to_vec(&bad_role).unwrap()),
            b64(&[0xff, 0xfe, 0x00]),
        ] {
            let t = sign_raw(&payload);
            assert_eq!(
                k.verify(&t, claims().issued_at),
                Err(Error::SessionInvalid),
                "{t}"
            );
        }
        // The helper itself produces valid tokens.
        let good = sign_raw(&b64(&serde_json::to_vec(&claims()).unwrap()));
        assert!(k.verify(&good, claims().issued_at).is_ok());
    }

    #[test]
    fn session_garbage_is_refused_without_panic() {
        // SPEC: L-9
        let k = key(1);
        let now = Timestamp(0);
        let huge = "v1.".to_owned() + &"A".repeat(SESSION_TOKEN_MAX_LEN) + ".AAAA";
        let long_valid_shape = format!("v1.{}.{}", "A".repeat(5000), "A".repeat(43));
        for bad in [
            "",
            ".",
            "..",
            "v1",
            "v1.",
            "v1..",
            "v1...",
            "v1.a.b",
            "v1.!!!.???",
            "v1.eyJ9.%%%%",
            "v1.\u{3000}.\u{3000}",
            "\0",
            huge.as_str(),
            long_valid_shape.as_str(),
        ] {
            assert_eq!(k.verify(bad, now), Err(Error::SessionInvalid), "{bad:.40}");
        }
    }

    #[test]
    fn oversized_claims_fail_closed() {
        // SPEC: L-9
        let k = key(1);
        let c = SessionClaims {
            user_id: "x".repeat(4000),
            ..claims()
        };
        let t = k.sign(&c);
        assert!(t.expose().len() > SESSION_TOKEN_MAX_LEN);
        assert_eq!(
            k.verify(t.expose(), c.issued_at),
            Err(Error::SessionInvalid)
        );
    }

    #[test]
    fn claims_round_trip_through_json() {
        // SPEC: L-9
        let c = SessionClaims {
            scope: SessionScope::ChangePassword,
            ..claims()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"scope\":\"change_password\""), "{json}");
        assert!(json.contains("\"role\":\"general\""), "{json}");
        assert!(json.contains("\"credential_version\":7"), "{json}");
        assert!(json.contains("\"expires_at\":1700043200"), "{json}");
        assert_eq!(serde_json::from_str::<SessionClaims>(&json).unwrap(), c);
    }

    #[test]
    fn session_key_is_redacted_and_at_least_256_bits() {
        // SPEC: L-9
        let k = SessionKey::new(b"super secret signing key material!".to_vec()).unwrap();
        let dbg = format!("{k:?}");
        assert_eq!(dbg, "SessionKey([redacted])");
        assert!(!dbg.contains("secret"));
        assert!(SessionKey::new(vec![0; 31]).is_err());
    }

    #[test]
    fn hmac_keying_matches_rfc4231() {
        // RFC 4231 test cases 2 (short key) and 6 (key longer than a block), through the
        // infallible keying used by every MAC here.
        let short = SessionKey(SecretBytes::new(b"Jefe".to_vec()));
        let mut m = short.hmac();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let long = SessionKey(SecretBytes::new(vec![0xaa; 131]));
        let mut m = long.hmac();
        m.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex(&m.finalize().into_bytes()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        // A key of exactly one block is used as is.
        let block = SessionKey(SecretBytes::new((0u8..64).collect()));
        let mut reference = HmacSha256::new_from_slice(&(0u8..64).collect::<Vec<_>>()).unwrap();
        reference.update(b"x");
        let mut m = block.hmac();
        m.update(b"x");
        assert_eq!(m.finalize().into_bytes(), reference.finalize().into_bytes());
    }

    #[test]
    fn keyed_digest_is_keyed_and_domain_separated() {
        // SPEC: L-3 — OTP codes are stored as keyed digests.
        let k = key(1);
        let d = k.keyed_digest("mail-otp", b"123456");
        assert_eq!(d, k.keyed_digest("mail-otp", b"123456"));
        assert_ne!(d, k.keyed_digest("mail-otp", b"123457"));
        assert_ne!(d, k.keyed_digest("reset", b"123456"));
        assert_ne!(d, key(2).keyed_digest("mail-otp", b"123456"));
        assert_ne!(d, Digest::of(b"123456"));
        // The 0x00 separator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(k.keyed_digest("ab", b"c"), k.keyed_digest("a", b"bc"));
        // Exactly HMAC-SHA256(key, domain || 0x00 || data).
        let mut reference = HmacSha256::new_from_slice(&[1; 32]).unwrap();
        reference.update(b"mail-otp\x00123456");
        assert_eq!(d.0, <[u8; 32]>::from(reference.finalize().into_bytes()));
    }

    #[test]
    fn opaque_round_trip() {
        // SPEC: RS-1
        let rng = TestRng::new(21);
        for user in [
            UserRef::new("123456789", "taro"),
            UserRef::new("t", "u"),
            UserRef::new("クロネコ", "山田.太郎+x@example.jp"),
            UserRef::new("a".repeat(255), "b".repeat(85)),
        ] {
            assert!(opaque_fits(&user));
            let (token, digest) = issue_opaque(&user, &rng);
            let t = token.expose();
            assert!(
                !t.is_empty() && t.len() <= OPAQUE_TOKEN_MAX_LEN,
                "{}",
                t.len()
            );
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            let (back, back_digest) = parse_opaque(t).unwrap();
            assert_eq!(back, user);
            assert_eq!(back_digest, digest);
            // The digest is SHA-256 of the 32 random bytes at the end.
            let raw = URL_SAFE_NO_PAD.decode(t).unwrap();
            assert_eq!(digest, Digest::of(&raw[raw.len() - OPAQUE_NONCE_LEN..]));
        }
    }

    #[test]
    fn opaque_tokens_are_fresh() {
        // SPEC: RS-1 — a new token (and digest) every time, for the same user.
        let rng = TestRng::new(22);
        let user = UserRef::new("123456789", "taro");
        let (t1, d1) = issue_opaque(&user, &rng);
        let (t2, d2) = issue_opaque(&user, &rng);
        assert_ne!(t1.expose(), t2.expose());
        assert_ne!(d1, d2);
        assert_eq!(parse_opaque(t1.expose()).unwrap().1, d1);
        assert_eq!(parse_opaque(t2.expose()).unwrap().1, d2);
    }

    #[test]
    fn opaque_tampering_changes_the_digest_or_fails() {
        // SPEC: RS-1 — the token is not signed: changing the nonce gives another digest (which
        // the stored one refuses); changing the user names another user.
        let rng = TestRng::new(23);
        let user = UserRef::new("123456789", "taro");
        let (token, digest) = issue_opaque(&user, &rng);
        let raw = URL_SAFE_NO_PAD.decode(token.expose()).unwrap();
        for i in raw.len() - OPAQUE_NONCE_LEN..raw.len() {
            let mut changed = raw.clone();
            changed[i] ^= 0x01;
            let (u, d) = parse_opaque(&b64(&changed)).unwrap();
            assert_eq!(u, user);
            assert_ne!(d, digest);
        }
        let mut other_user = raw.clone();
        let pos = raw.len() - OPAQUE_NONCE_LEN - 1;
        other_user[pos] = b'u';
        let (u, d) = parse_opaque(&b64(&other_user)).unwrap();
        assert_eq!(u, UserRef::new("123456789", "taru"));
        assert_eq!(d, digest);
    }

    #[test]
    fn opaque_garbage_is_refused() {
        // SPEC: RS-1
        let rng = TestRng::new(24);
        let user = UserRef::new("123456789", "taro");
        let (token, _) = issue_opaque(&user, &rng);
        let t = token.expose();
        let raw = URL_SAFE_NO_PAD.decode(t).unwrap();
        let nonce = &raw[raw.len() - OPAQUE_NONCE_LEN..];
        let build = |version: u8, tenant: &[u8], user: &[u8], nonce: &[u8]| {
            let mut v = vec![version, u8::try_from(tenant.len()).unwrap()];
            v.extend_from_slice(tenant);
            v.push(u8::try_from(user.len()).unwrap());
            v.extend_from_slice(user);
            v.extend_from_slice(nonce);
            b64(&v)
        };
        // Sanity: the builder makes valid tokens.
        assert!(parse_opaque(&build(1, b"t", b"u", nonce)).is_some());
        let mut extra = raw.clone();
        extra.push(0);
        let bad: Vec<String> = vec![
            String::new(),
            "A".into(),
            "=".into(),
            "!!!!".into(),
            format!("{t}="),
            format!("{t}=="),
            format!(" {t}"),
            format!("{t} "),
            format!("{t}\n"),
            format!("{t}.x"),
            t[..t.len() - 1].to_owned(),
            b64(&raw[..raw.len() - 1]),
            b64(&extra),
            "A".repeat(OPAQUE_TOKEN_MAX_LEN + 1),
            "A".repeat(100_000),
            build(0, b"t", b"u", nonce),
            build(2, b"t", b"u", nonce),
            build(1, b"", b"u", nonce),
            build(1, b"t", b"", nonce),
            build(1, b"t\n", b"u", nonce),
            build(1, b"t", b"u\x00", nonce),
            build(1, b"t", b"\x7f", nonce),
            build(1, "t\u{85}".as_bytes(), b"u", nonce),
            build(1, b"\xff\xfe", b"u", nonce),
            build(1, b"t", b"\xc3", nonce),
            build(1, b"t", b"u", &nonce[..31]),
            build(1, b"t", b"u", &[nonce, &[0u8][..]].concat()),
            b64(&[1, 200, b't']),
            b64(&[1]),
            b64(&[1, 1, b't']),
            b64(&[1, 1, b't', 5, b'u']),
        ];
        for b in &bad {
            assert_eq!(parse_opaque(b), None, "{b:.60}");
        }
        // The standard alphabet ('+', '/') is refused: 0xff bytes encode to '_' in base64url.
        let ff = build(1, b"t", b"u", &[0xff; OPAQUE_NONCE_LEN]);
        assert!(ff.contains('_') && parse_opaque(&ff).is_some());
        assert_eq!(parse_opaque(&ff.replace('_', "/")), None);
        assert_eq!(parse_opaque(&ff.replace('_', "+")), None);
        // Non-canonical trailing bits are refused: 38 bytes leave 2 spare bits in the last
        // character, and flipping its lowest bit changes only those.
        let canonical = build(1, b"t", b"uu", nonce);
        assert!(parse_opaque(&canonical).is_some());
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = canonical.chars().last().unwrap();
        let bumped = char::from(alphabet.as_bytes()[alphabet.find(last).unwrap() ^ 1]);
        let noncanonical = format!("{}{bumped}", &canonical[..canonical.len() - 1]);
        assert_eq!(URL_SAFE_NO_PAD.decode(&canonical).unwrap().len(), 38);
        assert_eq!(parse_opaque(&noncanonical), None);
    }

    #[test]
    fn users_that_do_not_fit_get_a_dead_token() {
        // SPEC: RS-1 — fails closed.
        let rng = TestRng::new(25);
        for user in [
            UserRef::new("", "taro"),
            UserRef::new("t", ""),
            UserRef::new("t", "a\u{0}b"),
            UserRef::new("t", "x".repeat(256)),
            UserRef::new("a".repeat(255), "b".repeat(255)),
        ] {
            assert!(!opaque_fits(&user));
            let (token, _) = issue_opaque(&user, &rng);
            assert!(token.is_empty());
            assert_eq!(parse_opaque(token.expose()), None);
        }
    }

    proptest! {
        #[test]
        fn parse_opaque_never_panics(s in ".{0,700}") {
            // SPEC: RS-1
            let _ = parse_opaque(&s);
        }

        #[test]
        fn parse_opaque_never_panics_on_base64ish(s in "[A-Za-z0-9_=-]{0,600}") {
            // SPEC: RS-1
            let _ = parse_opaque(&s);
        }

        #[test]
        fn parse_opaque_never_panics_on_structured_bytes(
            raw in proptest::collection::vec(any::<u8>(), 0..400),
            version in 0u8..3,
        ) {
            // SPEC: RS-1
            let mut v = vec![version];
            v.extend(raw);
            let _ = parse_opaque(&b64(&v));
        }

        #[test]
        fn opaque_round_trips_for_any_fitting_user(
            tenant in "[^\\p{Cc}]{1,40}",
            user_id in "[^\\p{Cc}]{1,60}",
            seed in any::<u64>(),
        ) {
            // SPEC: RS-1
            let user = UserRef::new(tenant, user_id);
            prop_assume!(opaque_fits(&user));
            let (token, digest) = issue_opaque(&user, &TestRng::new(seed));
            let (back, d) = parse_opaque(token.expose()).unwrap();
            prop_assert_eq!(back, user);
            prop_assert_eq!(d, digest);
        }

        #[test]
        fn session_verify_never_panics(s in ".{0,600}", now in any::<i64>()) {
            // SPEC: L-9
            prop_assert_eq!(key(1).verify(&s, Timestamp(now)), Err(Error::SessionInvalid));
        }

        #[test]
        fn session_verify_never_panics_on_token_shapes(
            payload in "[A-Za-z0-9_-]{0,300}",
            mac in "[A-Za-z0-9_=-]{0,60}",
            now in any::<i64>(),
        ) {
            // SPEC: L-9
            let t = format!("v1.{payload}.{mac}");
            prop_assert_eq!(key(1).verify(&t, Timestamp(now)), Err(Error::SessionInvalid));
        }

        #[test]
        fn session_round_trips_for_any_claims(
            tenant in ".{0,40}",
            user_id in ".{0,60}",
            version in any::<u64>(),
            issued in any::<i64>(),
            ttl in 1i64..100_000,
        ) {
            // SPEC: L-9
            let k = key(3);
            let c = SessionClaims {
                tenant,
                user_id,
                credential_version: version,
                issued_at: Timestamp(issued),
                expires_at: Timestamp(issued).plus_secs(ttl),
                ..claims()
            };
            prop_assume!(c.issued_at < c.expires_at);
            prop_assert_eq!(k.verify(k.sign(&c).expose(), c.issued_at), Ok(c.clone()));
            prop_assert_eq!(k.verify(k.sign(&c).expose(), c.expires_at), Err(Error::SessionInvalid));
        }
    }
}
