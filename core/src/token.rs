//! Tokens: session tokens (L-9, HMAC-SHA256, expiring, carrying tenant / user / role /
//! credential version) and opaque one-time tokens for login challenges and reset links (RS-1).
//!
//! STUB: implemented by the token task.

use crate::error::{Error, Result};
use crate::model::UserRef;
use crate::ports::SecureRandom;
use crate::role::Role;
use crate::secret::{Digest, Secret, SecretBytes};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

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
    /// A signed token for `claims`.
    pub fn sign(&self, claims: &SessionClaims) -> Secret {
        let _ = claims;
        Secret::new("")
    }
    /// The claims of a valid, unexpired token; `Err(SessionInvalid)` otherwise.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<SessionClaims> {
        let _ = (token, now);
        Err(Error::SessionInvalid)
    }
    /// HMAC-SHA256 of `data` under this key, separated by `domain` (used to store OTP codes so
    /// a stolen database does not give them away by brute force).
    pub fn keyed_digest(&self, domain: &str, data: &[u8]) -> Digest {
        let _ = (domain, data);
        Digest::default()
    }
}

/// A new opaque one-time token naming `user`: the token for the client, and the digest of its
/// random part for the store.
pub fn issue_opaque(user: &UserRef, rng: &dyn SecureRandom) -> (Secret, Digest) {
    let _ = (user, rng);
    (Secret::new(""), Digest::default())
}

/// The user and nonce digest of an opaque token; `None` when malformed.
pub fn parse_opaque(token: &str) -> Option<(UserRef, Digest)> {
    let _ = token;
    None
}
