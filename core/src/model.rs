//! The stored records. Every record carries the `version` it was read at; a write expects that
//! version and stores `version + 1` (DESIGN principle 2). A record not yet stored has version 0.

use crate::lang::Lang;
use crate::role::Role;
use crate::seal::{AccessKeyHash, Sealed};
use crate::secret::Digest;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A tenant (T-1): a merchant or organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Tenant code (Kuroneko: 9 half-width digits).
    pub code: String,
    /// Display name (shop or organization name).
    pub name: String,
    /// 13-digit corporate number, if any (E-4).
    pub corporate_number: Option<String>,
    /// Whether the tenant ships goods (R-3: shipping users need it).
    pub logistics: bool,
    /// The access key (T-2) as a keyed hash (K-1), if the tenant has one.
    pub access_key: Option<AccessKeyHash>,
    /// Mail language for the tenant's users (M-2); `None`: the policy's default.
    pub lang: Option<Lang>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Record version.
    pub version: u64,
}

impl Tenant {
    /// T-1: the contract number, the first 7 characters of the code.
    pub fn contract_number(&self) -> &str {
        self.code.get(..7).unwrap_or(&self.code)
    }
}

/// A reference to one user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserRef {
    /// Tenant code.
    pub tenant: String,
    /// User ID within the tenant.
    pub user_id: String,
}

impl UserRef {
    /// Builds a reference.
    pub fn new(tenant: impl Into<String>, user_id: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            user_id: user_id.into(),
        }
    }
}

/// T-6: individual or organization account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person.
    #[default]
    Individual,
    /// A company; name, phone and e-mail are the person in charge's.
    Organization,
}

/// L-2: how the second factor is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// A 6-digit code by mail.
    #[default]
    MailOtp,
    /// An authenticator app (TOTP).
    Totp,
}

/// The user's current password (PW-3, PW-4, PW-6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordRecord {
    /// argon2id PHC string.
    pub phc: String,
    /// When it was set.
    pub set_at: Timestamp,
    /// `Some(until)`: a temporary password (PW-4), valid until then and to be changed at once.
    pub temporary_until: Option<Timestamp>,
}

/// RS-10: a temporary password issued by a self-service reset, waiting beside the current one.
///
/// It is kept twice: as an argon2id PHC string (what becomes the current password when it is
/// first used) and as a keyed digest under the deployment's key (what a login compares). So a
/// login still runs exactly one argon2 verification — against the current password, or a dummy
/// hash for an unknown account (L-5) — whether or not a temporary password waits: the keyed
/// digest costs microseconds and is computed on every password login. The temporary password
/// is random and at least the policy's temporary length, so a keyed digest of it is no easier
/// to attack than its argon2 hash, and useless without the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPassword {
    /// argon2id PHC string of the temporary password.
    pub phc: String,
    /// Keyed digest of the temporary password (see [`crate::flow::temp_digest`]).
    pub check: Digest,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// It fails like a wrong password from then on (PW-4).
    pub until: Timestamp,
}

/// The user's authenticator (L-2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpRecord {
    /// The shared secret, sealed (K-1).
    pub secret: Sealed,
    /// The last time step a code was accepted for (replay guard).
    pub last_step: Option<u64>,
}

/// Lockout counters (L-4, L-6, L-7), stored on the user so every instance sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LockState {
    /// Consecutive failures since the last success or unlock.
    pub failures: u32,
    /// When the account locked, if it is locked.
    pub locked_at: Option<Timestamp>,
}

/// A login waiting for its second factor (L-1..L-4): stored on the user, so that consuming it
/// is the same conditional write that resets the failure count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// SHA-256 of the challenge nonce handed to the client.
    pub nonce: Digest,
    /// SHA-256 of the mailed code (mail OTP), `None` for TOTP.
    pub code: Option<Digest>,
    /// When the current code (or, for TOTP, the challenge) expires.
    pub expires_at: Timestamp,
    /// When codes were sent, for the resend limit (L-3); carried over to the next login so a
    /// new login does not reset the limit.
    pub sends: Vec<Timestamp>,
    /// When the challenge started; it dies `login.challenge_ttl_secs` later whatever the resends.
    pub started_at: Timestamp,
    /// A TOTP secret being enrolled by this login (the user's method is TOTP and it has none).
    pub enrol: Option<Sealed>,
    /// RS-10: the first factor was the waiting temporary password with this keyed digest; the
    /// second factor then completes the reset.
    #[serde(default)]
    pub via_temporary: Option<Digest>,
    /// S-1: the factors the first step proved (the second adds its own).
    #[serde(default)]
    pub first_factors: Vec<Factor>,
}

/// An outstanding reset link (RS-1): single use, superseded by the next request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReset {
    /// SHA-256 of the link's secret part.
    pub nonce: Digest,
    /// When the link expires.
    pub expires_at: Timestamp,
}

/// A client certificate bound to a user (L-8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertBinding {
    /// The lookup key: `sha256:<hex>` or `serial:<hex>/<dn>` (see [`crate::cert::ClientCert::key`]).
    pub key: String,
    /// Serial number as presented (hex), if known.
    pub serial: Option<String>,
    /// Subject DN, if known.
    pub subject_dn: Option<String>,
    /// When it was bound.
    pub bound_at: Timestamp,
}

/// A user of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Tenant code.
    pub tenant: String,
    /// User ID (T-3: the admin's equals the tenant code; T-4: never changes).
    pub user_id: String,
    /// Role (R-1..R-3).
    pub role: Role,
    /// T-6.
    pub kind: AccountKind,
    /// Name, or first name where the policy has two name fields (P-1).
    pub name: String,
    /// Family name where the policy has two name fields.
    pub family_name: Option<String>,
    /// E-mail as entered (P-2); compared case-insensitively.
    pub email: Option<String>,
    /// Phone number as entered (P-5 compares digits only).
    pub phone: Option<String>,
    /// P-4 / E-2: takes the admin's name and e-mail.
    pub same_as_admin: bool,
    /// L-2.
    pub login_method: LoginMethod,
    /// The current password.
    pub password: PasswordRecord,
    /// PHC strings of previous passwords, newest first (PW-5).
    pub password_history: Vec<String>,
    /// The authenticator, when enrolled.
    pub totp: Option<TotpRecord>,
    /// A secret handed out by a self-service enrolment, waiting for its first code.
    pub totp_pending: Option<Sealed>,
    /// L-6.
    pub lock: LockState,
    /// L-9 / RS-9: bumped by every password change, reset and re-initialization.
    pub credential_version: u64,
    /// Created.
    pub created_at: Timestamp,
    /// L-7: last successful login.
    pub last_login_at: Option<Timestamp>,
    /// A login waiting for its second factor.
    pub pending_login: Option<PendingLogin>,
    /// An outstanding reset link.
    pub pending_reset: Option<PendingReset>,
    /// RS-10: a temporary password from a self-service reset, waiting beside the current one.
    #[serde(default)]
    pub pending_password: Option<PendingPassword>,
    /// L-8: bound certificates.
    pub certificates: Vec<CertBinding>,
    /// e-Parcel "Password Protect": the certificate alone does not log in.
    pub password_protect: bool,
    /// Mail language (M-2); `None`: the tenant's.
    pub lang: Option<Lang>,
    /// S-1: the user's sessions, kept on its record so that a check reads them with the user
    /// and a password change ends them in the same write.
    #[serde(default)]
    pub sessions: Vec<SessionRecord>,
    /// Record version.
    pub version: u64,
}

/// How the user proved who it is when a session began (S-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// The password (or a temporary password).
    Password,
    /// A bound client certificate (L-8).
    Certificate,
    /// A one-time password sent by mail (L-1).
    MailOtp,
    /// A code from an authenticator app (L-1).
    Totp,
}

impl Factor {
    /// The name used over HTTP and in the bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Password => "password",
            Factor::Certificate => "certificate",
            Factor::MailOtp => "mail_otp",
            Factor::Totp => "totp",
        }
    }

    /// The factor named `s` (the inverse of [`Factor::as_str`]).
    pub fn parse(s: &str) -> Option<Self> {
        [
            Factor::Password,
            Factor::Certificate,
            Factor::MailOtp,
            Factor::Totp,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// A signed-in session (S-1..S-3), stored on its user's record. Its ID is named by the session
/// token, which is signed (L-9): the ID alone does not make a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// 128 random bits, base64url.
    pub id: String,
    /// How the user proved who it is.
    pub factors: Vec<Factor>,
    /// What the session may do.
    pub scope: crate::token::SessionScope,
    /// When it began.
    pub started_at: Timestamp,
    /// Its last use, written at most once a minute (S-3).
    pub last_used_at: Timestamp,
    /// When it ends whatever its use (the absolute lifetime).
    pub expires_at: Timestamp,
}

impl SessionRecord {
    /// When the session ends if it is not used again: the earlier of its absolute end and its
    /// last use plus the idle time (S-3).
    pub fn ends_at(&self, idle_secs: i64) -> Timestamp {
        self.expires_at.min(self.last_used_at.plus_secs(idle_secs))
    }

    /// Whether the session is still alive at `now` (S-3).
    pub fn is_live(&self, idle_secs: i64, now: Timestamp) -> bool {
        now < self.ends_at(idle_secs)
    }
}

impl User {
    /// This user's reference.
    pub fn user_ref(&self) -> UserRef {
        UserRef::new(self.tenant.clone(), self.user_id.clone())
    }
}

/// The owners of one e-mail address (E-1..E-5): one record per normalized address, written in
/// the same transaction as the users it names, so sharing rules and races are exact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailOwners {
    /// The normalized address (the key).
    pub address: String,
    /// Current owners.
    pub owners: Vec<UserRef>,
    /// Record version (0: no record).
    pub version: u64,
}

/// The owner of a certificate key (L-8, LC-4): a uniqueness claim like [`EmailOwners`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertOwner {
    /// The certificate key.
    pub key: String,
    /// Its owner.
    pub owner: UserRef,
    /// Record version.
    pub version: u64,
}

/// One conditional write. A batch of them is committed atomically (all or nothing): each `Put`
/// requires the stored version to equal the record's `version` (absent counts as 0) and stores
/// `version + 1`; each `Delete` requires the stored version to equal `expect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Create or update a tenant.
    PutTenant(Tenant),
    /// Delete a tenant (T-1). Its users are deleted first, each in its own batch with its
    /// claims; this removes the tenant record only.
    DeleteTenant {
        /// Tenant code.
        code: String,
        /// The version read.
        expect: u64,
    },
    /// Create or update a user.
    PutUser(Box<User>),
    /// Delete a user.
    DeleteUser {
        /// Which user.
        user: UserRef,
        /// The version read.
        expect: u64,
    },
    /// Create or update an e-mail owners record.
    PutEmailOwners(EmailOwners),
    /// Delete an e-mail owners record (its last owner left).
    DeleteEmailOwners {
        /// Normalized address.
        address: String,
        /// The version read.
        expect: u64,
    },
    /// Claim a certificate key.
    PutCertOwner(CertOwner),
    /// Release a certificate key.
    DeleteCertOwner {
        /// The key.
        key: String,
        /// The version read.
        expect: u64,
    },
    /// M-4: queue a mail or request, or update a queued one (its attempts, its state).
    PutOutbox(Box<crate::outbox::OutboxEntry>),
    /// M-4: remove a delivered (or void) outbox entry.
    DeleteOutbox {
        /// The entry's ID.
        id: String,
        /// The version read.
        expect: u64,
    },
    /// append an audit event, in the same batch as the state change it records. It has
    /// no condition and never conflicts.
    Audit(Box<crate::audit::AuditEvent>),
}

/// A page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` at the end.
    pub next: Option<String>,
}
