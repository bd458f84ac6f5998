//! The records and enums that cross the FFI boundary, mirroring the core types one to one, with
//! the conversions both ways. Secrets (passwords, tokens, codes, URIs) travel as plain strings:
//! the foreign side owns them once they cross.

use monban_core as core;
use monban_core::Secret;

/// Builds a fieldless FFI enum mirroring a fieldless core enum, with `From` both ways.
macro_rules! mirror_enum {
    ($(#[$doc:meta])* $name:ident = $core:path { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                match v {
                    $(<$core>::$variant => $name::$variant),+
                }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => <$core>::$variant),+
                }
            }
        }

        impl $name {
            /// The HTTP API's string of each variant, in declaration order: the core enum's serde
            /// name (`Role::General` is `"general"`).
            pub(crate) fn wire_names() -> Vec<String> {
                [$($name::$variant),+]
                    .into_iter()
                    .map(|v| wire_name(<$core>::from(v)))
                    .collect()
            }
        }
    };
}

/// A fieldless core enum's serde name (what the HTTP API writes), e.g. `"mail_otp"`.
fn wire_name<T: serde::Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("<not a string: {other:?}>"),
    }
}

/// The HTTP API's strings of every fieldless enum the bindings have, by enum name, each in the
/// order of the enum's variants. The Python package's string enums are tested against it.
pub(crate) fn all_wire_names() -> std::collections::HashMap<String, Vec<String>> {
    [
        ("AccountKind", AccountKind::wire_names()),
        ("ChangeReason", ChangeReason::wire_names()),
        ("CharClass", CharClass::wire_names()),
        ("Factor", Factor::wire_names()),
        ("Lang", Lang::wire_names()),
        ("LoginMethod", LoginMethod::wire_names()),
        ("MailKind", MailKind::wire_names()),
        ("Permission", Permission::wire_names()),
        ("Role", Role::wire_names()),
        ("SessionScope", SessionScope::wire_names()),
    ]
    .into_iter()
    .map(|(name, wire)| (name.to_owned(), wire))
    .collect()
}

mirror_enum!(
    /// A role (R-1..R-5).
    Role = core::Role {
        /// The tenant's administrator.
        Admin,
        /// A business user.
        General,
        /// A shipping-only user.
        Shipping,
        /// The operator's support staff.
        Support,
    }
);

mirror_enum!(
    /// What a role may do.
    Permission = core::Permission {
        /// The business menus.
        BusinessMenus,
        /// The shipping menus.
        ShippingMenus,
        /// Edit one's own profile.
        EditSelf,
        /// List the tenant's users.
        ListUsers,
        /// Create users.
        CreateUser,
        /// Edit users.
        EditUser,
        /// Delete users.
        DeleteUser,
        /// Reset a user's password.
        ResetUserPassword,
        /// Reset a user's authenticator.
        ResetUserAuthenticator,
        /// Unlock a user.
        UnlockUser,
        /// Create tenants (support).
        CreateTenant,
        /// Unlock an admin (support).
        UnlockAdmin,
        /// Reset an admin (support).
        ResetAdmin,
        /// Change an admin's e-mail (support).
        ChangeAdminEmail,
        /// Bind client certificates (support).
        BindCertificate,
        /// Run the dormancy sweep.
        Sweep,
        /// Read the audit trail.
        ReadAudit,
        /// Choose or change one's own second-factor method (L-2).
        ChooseLoginMethod,
    }
);

mirror_enum!(
    /// Individual or organization account (T-6).
    AccountKind = core::model::AccountKind {
        /// A person.
        Individual,
        /// A company.
        Organization,
    }
);

mirror_enum!(
    /// How the second factor is delivered (L-2).
    LoginMethod = core::model::LoginMethod {
        /// A code by mail.
        MailOtp,
        /// An authenticator app.
        Totp,
    }
);

mirror_enum!(
    /// A message language.
    Lang = core::Lang {
        /// Japanese.
        Ja,
        /// English.
        En,
    }
);

mirror_enum!(
    /// The kinds of mail (M-1).
    MailKind = core::mail::MailKind {
        /// The reset link.
        ResetStarted,
        /// A temporary password.
        TemporaryPassword,
        /// A mail one-time code.
        Otp,
        /// A new user's welcome with its temporary password.
        UserRegistered,
        /// The login ID (forgot login ID).
        LoginIdNotice,
        /// Tells the admin that a user without e-mail asked for a reset.
        AdminResetNotice,
    }
);

mirror_enum!(
    /// Why a session may only change the password.
    ChangeReason = core::flow::login::ChangeReason {
        /// A temporary password (PW-4).
        Temporary,
        /// The password is past its max age (PW-3).
        Expired,
    }
);

mirror_enum!(
    /// What a session may do.
    SessionScope = core::token::SessionScope {
        /// Everything the role allows.
        Full,
        /// Only change the password.
        ChangePassword,
    }
);

mirror_enum!(
    /// Character classes a password policy may require.
    CharClass = core::error::CharClass {
        /// a–z
        Lower,
        /// A–Z
        Upper,
        /// 0–9
        Digit,
        /// Printable ASCII that is not a letter or digit.
        Symbol,
    }
);

/// One reason a new password is refused (PW-1, PW-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum PasswordProblem {
    /// Fewer code points than the minimum.
    TooShort {
        /// The minimum.
        min: u64,
    },
    /// More code points than the maximum.
    TooLong {
        /// The maximum.
        max: u64,
    },
    /// A character outside the allowed set.
    CharacterNotAllowed,
    /// A required character class is missing.
    MissingClass {
        /// The class.
        class: CharClass,
    },
    /// On the blocklist of common passwords.
    Common,
    /// Equal to the user ID.
    SameAsUserId,
    /// Equal to the current password.
    SameAsCurrent,
    /// Equal to one of the last passwords.
    Reused,
    /// A problem this version of the bindings does not know.
    Other,
}

/// A point in time. Kotlin and Swift see seconds since the Unix epoch (a `Long` / `Int64`);
/// Python sees an aware `datetime` in UTC (the conversion is in the crate's `uniffi.toml`).
/// `repr()` shows it as RFC 3339 (`2026-12-05T17:06:00Z`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

uniffi::custom_newtype!(Timestamp, i64);

impl From<core::Timestamp> for Timestamp {
    fn from(t: core::Timestamp) -> Self {
        Self(t.secs())
    }
}

impl std::fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&core::Timestamp(self.0).rfc3339())
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

pub(crate) fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl From<core::PasswordProblem> for PasswordProblem {
    fn from(p: core::PasswordProblem) -> Self {
        use core::PasswordProblem as P;
        match p {
            P::TooShort { min } => Self::TooShort { min: to_u64(min) },
            P::TooLong { max } => Self::TooLong { max: to_u64(max) },
            P::CharacterNotAllowed => Self::CharacterNotAllowed,
            P::MissingClass { class } => Self::MissingClass {
                class: class.into(),
            },
            P::Common => Self::Common,
            P::SameAsUserId => Self::SameAsUserId,
            P::SameAsCurrent => Self::SameAsCurrent,
            P::Reused => Self::Reused,
            _ => Self::Other,
        }
    }
}

/// Builds [`MonbanError`]: one variant per stable code, each with the same fields, so that
/// Kotlin and Swift get one exception class (case) per code.
macro_rules! monban_error {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)+) => {
        /// Every error monban reports: one variant per stable code (`docs/errors.md`), each with
        /// the code, the messages in both languages and the details some codes carry.
        #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
        pub enum MonbanError {
            $(
                $(#[$doc])*
                #[error("{code}: {message_en}")]
                $variant {
                    /// The stable machine code.
                    code: String,
                    /// The message for a person, in Japanese.
                    message_ja: String,
                    /// The message for a person, in English.
                    message_en: String,
                    /// Whether the same request may succeed if sent again unchanged.
                    retryable: bool,
                    /// The input field the error is about (`invalid_input`, ...).
                    field: Option<String>,
                    /// Every reason of a `password_rejected` error.
                    problems: Vec<PasswordProblem>,
                },
            )+
            /// A code this version of the bindings does not know.
            #[error("{code}: {message_en}")]
            Other {
                /// The stable machine code.
                code: String,
                /// The message for a person, in Japanese.
                message_ja: String,
                /// The message for a person, in English.
                message_en: String,
                /// Whether the same request may succeed if sent again unchanged.
                retryable: bool,
                /// The input field the error is about, if any.
                field: Option<String>,
                /// Every reason of a `password_rejected` error.
                problems: Vec<PasswordProblem>,
            },
        }

        /// The stable codes the variants stand for, in order.
        pub(crate) const CODES: &[&str] = &[$($code),+];

        impl MonbanError {
            /// The variant of `code`, with its fields.
            fn of(details: ErrorDetails) -> Self {
                let ErrorDetails { code, message_ja, message_en, retryable, field, problems } =
                    details;
                match code.as_str() {
                    $($code => Self::$variant {
                        code, message_ja, message_en, retryable, field, problems,
                    },)+
                    _ => Self::Other { code, message_ja, message_en, retryable, field, problems },
                }
            }

            /// The fields every variant has.
            pub fn details(&self) -> ErrorDetails {
                match self {
                    $(Self::$variant { code, message_ja, message_en, retryable, field, problems })|+
                    | Self::Other { code, message_ja, message_en, retryable, field, problems } => {
                        ErrorDetails {
                            code: code.clone(),
                            message_ja: message_ja.clone(),
                            message_en: message_en.clone(),
                            retryable: *retryable,
                            field: field.clone(),
                            problems: problems.clone(),
                        }
                    }
                }
            }

            /// The stable machine code.
            pub fn code(&self) -> &str {
                match self {
                    $(Self::$variant { code, .. })|+ | Self::Other { code, .. } => code,
                }
            }
        }
    };
}

monban_error! {
    /// The input is missing, too long or malformed; `field` names it.
    InvalidInput = "invalid_input",
    /// The new password and its confirmation differ.
    PasswordMismatch = "password_mismatch",
    /// The new password breaks the policy; `problems` lists every reason.
    PasswordRejected = "password_rejected",
    /// The login failed (it never says which input was wrong).
    LoginFailed = "login_failed",
    /// The account is locked after too many failures.
    Locked = "locked",
    /// The current password given for a voluntary change is wrong.
    CurrentPasswordWrong = "current_password_wrong",
    /// Mail one-time codes are chosen but the user has no e-mail address.
    MailOtpNotConfigured = "mail_otp_not_configured",
    /// The one-time code is wrong or already used.
    OtpInvalid = "otp_invalid",
    /// The login challenge has expired or was used up.
    ChallengeExpired = "challenge_expired",
    /// A new code was asked for too often.
    ResendLimited = "resend_limited",
    /// The e-mail address is already used in a way the rules forbid.
    EmailTaken = "email_taken",
    /// The tenant already has its one user marked "same as the admin".
    SameAsAdminTaken = "same_as_admin_taken",
    /// Mail one-time codes need an e-mail address.
    EmailRequiredForMailOtp = "email_required_for_mail_otp",
    /// The user ID is already used in the tenant.
    UserIdTaken = "user_id_taken",
    /// A tenant with this code already exists.
    TenantExists = "tenant_exists",
    /// The client certificate is already bound to another user.
    CertificateTaken = "certificate_taken",
    /// Shipping users need a tenant that ships goods.
    ShippingNotAllowed = "shipping_not_allowed",
    /// The session's role may not do this.
    Forbidden = "forbidden",
    /// Only support staff may do this.
    SupportOnly = "support_only",
    /// This field cannot be changed; `field` names it.
    FieldNotEditable = "field_not_editable",
    /// No such user or tenant.
    NotFound = "not_found",
    /// No such live session of this user.
    SessionNotFound = "session_not_found",
    /// The session may only change the password.
    PasswordChangeRequired = "password_change_required",
    /// The session token is invalid, expired or ended.
    SessionInvalid = "session_invalid",
    /// The reset link is invalid, expired or already used.
    ResetLinkInvalid = "reset_link_invalid",
    /// The details given for the reset do not match.
    ResetInputInvalid = "reset_input_invalid",
    /// The policy does not enable this feature.
    NotEnabled = "not_enabled",
    /// The policy is invalid.
    PolicyInvalid = "policy_invalid",
    /// Someone else changed the same record at the same time (retryable).
    Conflict = "conflict",
    /// The service is busy (retryable).
    Busy = "busy",
    /// Too many attempts in a short time (retryable later).
    Throttled = "throttled",
    /// The database could not be reached (retryable).
    StoreUnavailable = "store_unavailable",
    /// A mail could not be handed to the mailer.
    MailFailed = "mail_failed",
    /// The request could not be read (a bad cursor, for example).
    InvalidRequest = "invalid_request",
}

/// The fields of every [`MonbanError`] variant (Rust-side only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorDetails {
    /// The stable machine code.
    pub code: String,
    /// The message for a person, in Japanese.
    pub message_ja: String,
    /// The message for a person, in English.
    pub message_en: String,
    /// Whether the same request may succeed if sent again unchanged.
    pub retryable: bool,
    /// The input field the error is about, if any.
    pub field: Option<String>,
    /// Every reason of a `password_rejected` error.
    pub problems: Vec<PasswordProblem>,
}

impl MonbanError {
    /// An error of the bindings themselves (bad argument, I/O), with a core-style code.
    pub(crate) fn other(code: &str, detail: impl std::fmt::Display) -> Self {
        Self::of(ErrorDetails {
            code: code.to_owned(),
            message_ja: detail.to_string(),
            message_en: detail.to_string(),
            retryable: false,
            field: None,
            problems: Vec::new(),
        })
    }
}

impl From<core::Error> for MonbanError {
    fn from(e: core::Error) -> Self {
        let field = match &e {
            core::Error::InvalidInput { field, .. } | core::Error::FieldNotEditable { field } => {
                Some(field.as_str().to_owned())
            }
            core::Error::NotEnabled { feature } => {
                feature.input_field().map(|f| f.as_str().to_owned())
            }
            _ => None,
        };
        let problems = match &e {
            core::Error::PasswordRejected(found) => found.iter().map(|&p| p.into()).collect(),
            _ => Vec::new(),
        };
        MonbanError::of(ErrorDetails {
            code: e.code().to_owned(),
            message_ja: e.message(core::Lang::Ja),
            message_en: e.message(core::Lang::En),
            retryable: e.is_retryable(),
            field,
            problems,
        })
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for MonbanError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        MonbanError::other(
            "mail_failed",
            format!("mailer callback failed: {}", e.reason),
        )
    }
}

/// A rendered mail as the host's [`crate::Mailer`] receives it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct MailMessage {
    /// Recipient address.
    pub to: String,
    /// Kind.
    pub kind: MailKind,
    /// Language.
    pub lang: Lang,
    /// Subject line.
    pub subject: String,
    /// Plain-text body (may hold the one secret the mail delivers).
    pub body: String,
    /// The outbox entry's ID: unique per mail and the same when the courier sends a mail a
    /// second time after a crash, so a mailer may drop the repeat. Empty outside the outbox.
    #[uniffi(default)]
    pub id: String,
}

impl From<&core::mail::Mail> for MailMessage {
    fn from(m: &core::mail::Mail) -> Self {
        Self {
            id: m.id.clone(),
            to: m.to.clone(),
            kind: m.kind.into(),
            lang: m.lang.into(),
            subject: m.subject.clone(),
            body: m.body.clone(),
        }
    }
}

impl From<MailMessage> for core::mail::Mail {
    fn from(m: MailMessage) -> Self {
        Self {
            id: m.id,
            to: m.to,
            kind: m.kind.into(),
            lang: m.lang.into(),
            subject: m.subject,
            body: m.body,
        }
    }
}

/// What one `deliver_pending` did (M-4).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct DeliveryReport {
    /// Mails sent.
    pub sent: u32,
    /// Recovery requests resolved.
    pub resolved: u32,
    /// Attempts that failed and will be tried again later.
    pub retried: u32,
    /// Mails given up on after their last attempt (kept as failed).
    pub failed: u32,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<core::service::Delivery> for DeliveryReport {
    fn from(d: core::service::Delivery) -> Self {
        Self {
            sent: count(d.sent),
            resolved: count(d.resolved),
            retried: count(d.retried),
            failed: count(d.failed),
        }
    }
}

/// A queued or failed mail as an operator sees it: no content, no recipient.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct OutboxEntryView {
    /// The entry's ID (the mail's `id`).
    pub id: String,
    /// `otp`, `reset_started`, … or `request:<kind>` for a queued recovery request.
    pub kind: String,
    /// The tenant concerned, if known.
    pub tenant: Option<String>,
    /// `pending` or `failed`.
    pub state: String,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// Its next attempt, or when it failed for good.
    pub due_at: Timestamp,
    /// Attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl From<core::outbox::OutboxView> for OutboxEntryView {
    fn from(v: core::outbox::OutboxView) -> Self {
        Self {
            id: v.id,
            kind: v.kind,
            tenant: v.tenant,
            state: v.state,
            queued_at: v.queued_at.into(),
            due_at: v.due_at.into(),
            attempts: v.attempts,
            last_error: v.last_error,
        }
    }
}

/// A reference to one user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct UserRef {
    /// Tenant code.
    pub tenant: String,
    /// User ID within the tenant.
    pub user_id: String,
}

impl From<core::model::UserRef> for UserRef {
    fn from(r: core::model::UserRef) -> Self {
        Self {
            tenant: r.tenant,
            user_id: r.user_id,
        }
    }
}

impl From<UserRef> for core::model::UserRef {
    fn from(r: UserRef) -> Self {
        Self {
            tenant: r.tenant,
            user_id: r.user_id,
        }
    }
}

/// A client certificate as the TLS terminator saw it (L-8).
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct ClientCert {
    /// SHA-256 fingerprint of the DER certificate, hex.
    #[uniffi(default)]
    pub sha256: Option<String>,
    /// Serial number, hex.
    #[uniffi(default)]
    pub serial: Option<String>,
    /// Subject distinguished name.
    #[uniffi(default)]
    pub subject_dn: Option<String>,
}

impl From<ClientCert> for core::cert::ClientCert {
    fn from(c: ClientCert) -> Self {
        Self {
            sha256: c.sha256,
            serial: c.serial,
            subject_dn: c.subject_dn,
        }
    }
}

fn secret(s: Option<String>) -> Option<Secret> {
    s.map(Secret::new)
}

/// A first-factor request (T-2, T-5, L-8).
#[derive(Clone, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct LoginRequest {
    /// Tenant code (defaults to the policy's tenant).
    #[uniffi(default)]
    pub tenant: Option<String>,
    /// User ID, login ID or e-mail, per policy.
    #[uniffi(default)]
    pub identifier: Option<String>,
    /// Password.
    #[uniffi(default)]
    pub password: Option<String>,
    /// The tenant's access key (T-2).
    #[uniffi(default)]
    pub access_key: Option<String>,
    /// A client certificate (L-8).
    #[uniffi(default)]
    pub certificate: Option<ClientCert>,
}

impl From<LoginRequest> for core::service::LoginRequest {
    fn from(r: LoginRequest) -> Self {
        Self {
            tenant: r.tenant,
            identifier: r.identifier,
            password: secret(r.password),
            access_key: secret(r.access_key),
            certificate: r.certificate.map(Into::into),
        }
    }
}

/// What a session token says.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct SessionClaims {
    /// Tenant code.
    pub tenant: String,
    /// User ID.
    pub user_id: String,
    /// The session's ID (S-1), as `Auth.list_sessions` lists it.
    pub session_id: String,
    /// Role at login.
    pub role: Role,
    /// The user's credential version at login.
    pub credential_version: u64,
    /// Scope.
    pub scope: SessionScope,
    /// Issued.
    pub issued_at: Timestamp,
    /// Expires.
    pub expires_at: Timestamp,
}

impl From<core::token::SessionClaims> for SessionClaims {
    fn from(c: core::token::SessionClaims) -> Self {
        Self {
            tenant: c.tenant,
            user_id: c.user_id,
            session_id: c.session_id,
            role: c.role.into(),
            credential_version: c.credential_version,
            scope: c.scope.into(),
            issued_at: c.issued_at.into(),
            expires_at: c.expires_at.into(),
        }
    }
}

/// A signed-in session (L-9).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct Session {
    /// The bearer token.
    pub token: String,
    /// What it says.
    pub claims: SessionClaims,
    /// Set when the session may only change the password.
    pub must_change_password: Option<ChangeReason>,
}

impl From<core::flow::login::Session> for Session {
    fn from(s: core::flow::login::Session) -> Self {
        Self {
            token: s.token.expose().to_owned(),
            claims: s.claims.into(),
            must_change_password: s.must_change_password.map(Into::into),
        }
    }
}

mirror_enum!(
    /// How the user proved who it is when a session began (S-1).
    Factor = core::model::Factor {
        /// The password (or a temporary password).
        Password,
        /// A bound client certificate.
        Certificate,
        /// A one-time password sent by mail.
        MailOtp,
        /// A code from an authenticator app.
        Totp,
    }
);

/// One live session of a user (S-4).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct SessionInfo {
    /// Its ID (what `Auth.end_session` takes).
    pub id: String,
    /// Whether it is the session asking.
    pub current: bool,
    /// How the user proved who it is.
    pub factors: Vec<Factor>,
    /// What it may do.
    pub scope: SessionScope,
    /// When it began.
    pub started_at: Timestamp,
    /// Its last use, to within a minute.
    pub last_used_at: Timestamp,
    /// When it ends if not used again.
    pub ends_at: Timestamp,
}

impl From<core::service::SessionView> for SessionInfo {
    fn from(v: core::service::SessionView) -> Self {
        Self {
            id: v.id,
            current: v.current,
            factors: v.factors.into_iter().map(Into::into).collect(),
            scope: v.scope.into(),
            started_at: v.started_at.into(),
            last_used_at: v.last_used_at.into(),
            ends_at: v.ends_at.into(),
        }
    }
}

/// An authenticator to add to the user's app.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct TotpEnrolment {
    /// The secret in base32.
    pub secret_base32: String,
    /// The `otpauth://` URI (QR code content).
    pub uri: String,
}

impl From<core::flow::login::TotpEnrolment> for TotpEnrolment {
    fn from(e: core::flow::login::TotpEnrolment) -> Self {
        Self {
            secret_base32: e.secret_base32.expose().to_owned(),
            uri: e.uri.expose().to_owned(),
        }
    }
}

/// A login waiting for its second factor.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct Challenge {
    /// Hand back with the code.
    pub token: String,
    /// How the code comes.
    pub method: LoginMethod,
    /// When the current code expires or the challenge dies.
    pub expires_at: Timestamp,
    /// Present when the user must first add the authenticator.
    pub enrolment: Option<TotpEnrolment>,
}

/// The answer to a first factor.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum LoginStep {
    /// Second factor next.
    SecondFactor {
        /// The challenge.
        challenge: Challenge,
    },
    /// Signed in.
    Session {
        /// The session.
        session: Session,
    },
}

impl From<core::flow::login::LoginStep> for LoginStep {
    fn from(s: core::flow::login::LoginStep) -> Self {
        match s {
            core::flow::login::LoginStep::SecondFactor(c) => LoginStep::SecondFactor {
                challenge: Challenge {
                    token: c.token.expose().to_owned(),
                    method: c.method.into(),
                    expires_at: c.expires_at.into(),
                    enrolment: c.enrolment.map(Into::into),
                },
            },
            core::flow::login::LoginStep::Session(s) => LoginStep::Session { session: s.into() },
        }
    }
}

/// What may be shown of a user.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct UserView {
    /// Tenant code.
    pub tenant: String,
    /// User ID.
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// Individual or organization.
    pub kind: AccountKind,
    /// Name.
    pub name: String,
    /// Family name.
    pub family_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Same as the admin (P-4).
    pub same_as_admin: bool,
    /// Second factor (L-2).
    pub login_method: LoginMethod,
    /// Whether an authenticator is enrolled.
    pub totp_enrolled: bool,
    /// Locked (L-6).
    pub locked: bool,
    /// Consecutive failures.
    pub failures: u32,
    /// Last login.
    pub last_login_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// When the password must be changed (none: never).
    pub password_expires_at: Option<Timestamp>,
    /// The password is temporary.
    pub temporary_password: bool,
    /// Bound certificate keys.
    pub certificates: Vec<String>,
    /// e-Parcel Password Protect.
    pub password_protect: bool,
    /// Mail language.
    pub lang: Option<Lang>,
}

impl From<core::service::UserView> for UserView {
    fn from(u: core::service::UserView) -> Self {
        Self {
            tenant: u.tenant,
            user_id: u.user_id,
            role: u.role.into(),
            kind: u.kind.into(),
            name: u.name,
            family_name: u.family_name,
            email: u.email,
            phone: u.phone,
            same_as_admin: u.same_as_admin,
            login_method: u.login_method.into(),
            totp_enrolled: u.totp_enrolled,
            locked: u.locked,
            failures: u.failures,
            last_login_at: u.last_login_at.map(Into::into),
            created_at: u.created_at.into(),
            password_expires_at: u.password_expires_at.map(Into::into),
            temporary_password: u.temporary_password,
            certificates: u.certificates,
            password_protect: u.password_protect,
            lang: u.lang.map(Into::into),
        }
    }
}

/// One page of users.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct UserPage {
    /// The users.
    pub items: Vec<UserView>,
    /// Cursor of the next page, if any.
    pub next: Option<String>,
}

impl From<core::model::Page<core::service::UserView>> for UserPage {
    fn from(p: core::model::Page<core::service::UserView>) -> Self {
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            next: p.next,
        }
    }
}

/// Name, contact and language of a person (P-1, P-2, T-6).
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct ProfileInput {
    /// Name (or first name where the policy has two fields).
    pub name: String,
    /// Family name where the policy has two fields.
    #[uniffi(default)]
    pub family_name: Option<String>,
    /// E-mail.
    #[uniffi(default)]
    pub email: Option<String>,
    /// Phone.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// Individual or organization (default: individual).
    #[uniffi(default)]
    pub kind: Option<AccountKind>,
    /// Mail language.
    #[uniffi(default)]
    pub lang: Option<Lang>,
}

impl From<ProfileInput> for core::flow::account::ProfileInput {
    fn from(p: ProfileInput) -> Self {
        Self {
            name: p.name,
            family_name: p.family_name,
            email: p.email,
            phone: p.phone,
            kind: p.kind.map(Into::into).unwrap_or_default(),
            lang: p.lang.map(Into::into),
        }
    }
}

/// A new tenant with its admin (T-1..T-3).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct NewTenant {
    /// Tenant code; the admin's user ID equals it.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The admin.
    pub admin: ProfileInput,
    /// 13-digit corporate number.
    #[uniffi(default)]
    pub corporate_number: Option<String>,
    /// The tenant ships goods.
    #[uniffi(default = false)]
    pub logistics: bool,
    /// The access key every login must present (T-2).
    #[uniffi(default)]
    pub access_key: Option<String>,
    /// Mail language of the tenant.
    #[uniffi(default)]
    pub lang: Option<Lang>,
    /// The admin's second factor (default: mail OTP).
    #[uniffi(default)]
    pub admin_login_method: Option<LoginMethod>,
    /// Mail the admin a temporary password now (LC-2) instead of starting with a reset.
    #[uniffi(default = false)]
    pub welcome_mail: bool,
}

impl From<NewTenant> for core::flow::account::NewTenant {
    fn from(t: NewTenant) -> Self {
        Self {
            code: t.code,
            name: t.name,
            corporate_number: t.corporate_number,
            logistics: t.logistics,
            access_key: secret(t.access_key),
            lang: t.lang.map(Into::into),
            admin: t.admin.into(),
            admin_login_method: t.admin_login_method.map(Into::into).unwrap_or_default(),
            welcome_mail: t.welcome_mail,
        }
    }
}

/// A new user (T-4, LC-2).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct NewUser {
    /// User ID.
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// Profile.
    pub profile: ProfileInput,
    /// Second factor (default: mail OTP).
    #[uniffi(default)]
    pub login_method: Option<LoginMethod>,
    /// Same as the admin (P-4).
    #[uniffi(default = false)]
    pub same_as_admin: bool,
}

impl From<NewUser> for core::flow::account::NewUser {
    fn from(u: NewUser) -> Self {
        Self {
            user_id: u.user_id,
            role: u.role.into(),
            login_method: u.login_method.map(Into::into).unwrap_or_default(),
            same_as_admin: u.same_as_admin,
            profile: u.profile.into(),
        }
    }
}

/// An admin's edit of a user. Absent fields stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct UserEdit {
    /// New user ID (refused: T-4).
    #[uniffi(default)]
    pub user_id: Option<String>,
    /// Role.
    #[uniffi(default)]
    pub role: Option<Role>,
    /// Second factor.
    #[uniffi(default)]
    pub login_method: Option<LoginMethod>,
    /// Same as the admin.
    #[uniffi(default)]
    pub same_as_admin: Option<bool>,
    /// Name.
    #[uniffi(default)]
    pub name: Option<String>,
    /// Family name.
    #[uniffi(default)]
    pub family_name: Option<String>,
    /// E-mail.
    #[uniffi(default)]
    pub email: Option<String>,
    /// Phone.
    #[uniffi(default)]
    pub phone: Option<String>,
}

impl From<UserEdit> for core::flow::account::UserEdit {
    fn from(e: UserEdit) -> Self {
        Self {
            user_id: e.user_id,
            role: e.role.map(Into::into),
            login_method: e.login_method.map(Into::into),
            same_as_admin: e.same_as_admin,
            name: e.name,
            family_name: e.family_name,
            email: e.email,
            phone: e.phone,
        }
    }
}

/// A user's edit of itself (P-3). Absent fields stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct SelfEdit {
    /// Name.
    #[uniffi(default)]
    pub name: Option<String>,
    /// Family name.
    #[uniffi(default)]
    pub family_name: Option<String>,
    /// E-mail.
    #[uniffi(default)]
    pub email: Option<String>,
    /// Phone.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// Mail language.
    #[uniffi(default)]
    pub lang: Option<Lang>,
    /// e-Parcel Password Protect.
    #[uniffi(default)]
    pub password_protect: Option<bool>,
    /// Second factor.
    #[uniffi(default)]
    pub login_method: Option<LoginMethod>,
}

impl From<SelfEdit> for core::flow::account::SelfEdit {
    fn from(e: SelfEdit) -> Self {
        Self {
            name: e.name,
            family_name: e.family_name,
            email: e.email,
            phone: e.phone,
            lang: e.lang.map(Into::into),
            password_protect: e.password_protect,
            login_method: e.login_method.map(Into::into),
        }
    }
}

/// A created user (or tenant admin).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct Created {
    /// The user.
    pub user: UserRef,
    /// The temporary password when it was not mailed.
    pub temporary_password: Option<String>,
}

impl From<core::flow::account::Created> for Created {
    fn from(c: core::flow::account::Created) -> Self {
        Self {
            user: c.user.into(),
            temporary_password: c.temporary_password.map(|s| s.expose().to_owned()),
        }
    }
}

/// A link-reset request (RS-1).
#[derive(Clone, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct ResetRequest {
    /// User ID.
    pub user_id: String,
    /// Tenant code (defaults to the policy's tenant).
    #[uniffi(default)]
    pub tenant: Option<String>,
    /// The tenant's access key (T-2).
    #[uniffi(default)]
    pub access_key: Option<String>,
}

impl From<ResetRequest> for core::service::ResetRequest {
    fn from(r: ResetRequest) -> Self {
        Self {
            tenant: r.tenant,
            user_id: r.user_id,
            access_key: secret(r.access_key),
        }
    }
}

/// What the identity-verification form says (RS-4).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct IdentityClaim {
    /// Login ID.
    pub login_id: String,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: String,
    /// E-mail.
    pub email: String,
}

impl From<IdentityClaim> for core::flow::recovery::IdentityClaim {
    fn from(c: IdentityClaim) -> Self {
        Self {
            login_id: c.login_id,
            name: c.name,
            phone: c.phone,
            email: c.email,
        }
    }
}

/// A forgot-login-ID request (RS-5).
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct ForgotLoginId {
    /// The registered e-mail.
    pub email: String,
    /// Name, where the policy asks for it.
    #[uniffi(default)]
    pub name: Option<String>,
    /// Phone, where the policy asks for it.
    #[uniffi(default)]
    pub phone: Option<String>,
}

impl From<ForgotLoginId> for core::service::ForgotLoginId {
    fn from(r: ForgotLoginId) -> Self {
        Self {
            email: r.email,
            name: r.name,
            phone: r.phone,
        }
    }
}

/// What a dormancy sweep did (LC-1).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct SweepReport {
    /// Users examined.
    pub scanned: u64,
    /// Users deleted.
    pub deleted: Vec<UserRef>,
}

impl From<core::service::SweepReport> for SweepReport {
    fn from(r: core::service::SweepReport) -> Self {
        Self {
            scanned: to_u64(r.scanned),
            deleted: r.deleted.into_iter().map(Into::into).collect(),
        }
    }
}

/// Which audit events to read. `kind` is a stable snake_case name (`login_failed`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct AuditFilter {
    /// Only this tenant.
    #[uniffi(default)]
    pub tenant: Option<String>,
    /// Only this subject user ID.
    #[uniffi(default)]
    pub subject: Option<String>,
    /// Only this kind.
    #[uniffi(default)]
    pub kind: Option<String>,
}

impl TryFrom<AuditFilter> for core::audit::AuditFilter {
    type Error = MonbanError;
    fn try_from(f: AuditFilter) -> Result<Self, MonbanError> {
        let kind = match f.kind {
            None => None,
            Some(k) => Some(core::audit::AuditKind::parse(&k).ok_or_else(|| {
                MonbanError::from(core::Error::invalid(
                    core::Field::Other,
                    core::InputProblem::Format,
                ))
            })?),
        };
        Ok(Self {
            tenant: f.tenant,
            subject: f.subject,
            kind,
        })
    }
}

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct AuditEvent {
    /// When.
    pub at: Timestamp,
    /// What: a stable snake_case name (`login_succeeded`, `otp_failed`, ...).
    pub kind: String,
    /// Who acted: `user`, `support`, `system` or `anonymous`.
    pub actor: String,
    /// The acting user's tenant, when the actor is a user.
    pub actor_tenant: Option<String>,
    /// The acting user's ID, when the actor is a user.
    pub actor_user_id: Option<String>,
    /// Tenant concerned.
    pub tenant: Option<String>,
    /// User concerned.
    pub subject: Option<String>,
    /// Whether it worked.
    pub success: bool,
    /// The error code when it failed.
    pub error_code: Option<String>,
    /// Free detail without secrets.
    pub detail: Option<String>,
}

impl From<core::audit::AuditEvent> for AuditEvent {
    fn from(e: core::audit::AuditEvent) -> Self {
        use core::audit::{Actor, Outcome};
        let (actor, actor_tenant, actor_user_id) = match e.actor {
            Actor::User { tenant, user_id } => ("user", Some(tenant), Some(user_id)),
            Actor::Support => ("support", None, None),
            Actor::System => ("system", None, None),
            Actor::Anonymous => ("anonymous", None, None),
        };
        let (success, error_code) = match e.outcome {
            Outcome::Success => (true, None),
            Outcome::Failure(code) => (false, Some(code)),
        };
        Self {
            at: e.at.into(),
            kind: e.kind.as_str().to_owned(),
            actor: actor.to_owned(),
            actor_tenant,
            actor_user_id,
            tenant: e.tenant,
            subject: e.subject,
            success,
            error_code,
            detail: e.detail,
        }
    }
}

/// One page of audit events.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct AuditPage {
    /// The events, oldest first.
    pub items: Vec<AuditEvent>,
    /// Cursor of the next page, if any.
    pub next: Option<String>,
}

/// What the e-mail sharing rules need to know about one (would-be) owner of an address.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct OwnerInfo {
    /// The user.
    pub user: UserRef,
    /// Its role.
    pub role: Role,
    /// Its tenant's contract number (first 7 digits of the code).
    pub contract_number: String,
    /// Its name as stored.
    pub name: String,
    /// Its tenant's corporate number.
    #[uniffi(default)]
    pub corporate_number: Option<String>,
    /// Same as the admin (P-4 / E-2).
    #[uniffi(default = false)]
    pub same_as_admin: bool,
}

impl From<OwnerInfo> for core::email::OwnerInfo {
    fn from(o: OwnerInfo) -> Self {
        Self {
            user: o.user.into(),
            role: o.role.into(),
            contract_number: o.contract_number,
            corporate_number: o.corporate_number,
            name: o.name,
            same_as_admin: o.same_as_admin,
        }
    }
}

/// A TOTP secret for an authenticator app.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct TotpSecret {
    /// The secret in base32 (no padding).
    pub secret_base32: String,
    /// The `otpauth://totp/...` URI (QR code content).
    pub uri: String,
}

/// Marks a secret field in a record's `Debug` output (and so in Python's `repr()` and `str()`,
/// Kotlin's `toString()`, Swift's `description`): `"[redacted]"`, or `None` when absent.
trait Redact {
    fn redacted(&self) -> Option<&'static str>;
}

impl Redact for String {
    fn redacted(&self) -> Option<&'static str> {
        Some("[redacted]")
    }
}

impl Redact for Option<String> {
    fn redacted(&self) -> Option<&'static str> {
        self.as_ref().map(|_| "[redacted]")
    }
}

/// `Debug` for a record holding secrets: the plain fields as they are, the secret ones redacted.
macro_rules! redacted_debug {
    ($name:ident; $($plain:ident),*; secret $($secret:ident),+) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                $(d.field(stringify!($plain), &self.$plain);)*
                $(match Redact::redacted(&self.$secret) {
                    Some(r) => d.field(stringify!($secret), &format_args!("{r}")),
                    None => d.field(stringify!($secret), &None::<()>),
                };)+
                d.finish()
            }
        }
    };
}

/// `Display` as `Debug`: what `str()` of a record shows in Python.
macro_rules! display_as_debug {
    ($($name:ident),+ $(,)?) => {
        $(impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self, f)
            }
        })+
    };
}

/// The records that hold secrets: their `Debug` with the secret fields redacted, and
/// [`SECRET_FIELDS`], the same list for the foreign side (Python's `to_dict()` redacts these).
macro_rules! secret_records {
    ($($name:ident; $($plain:ident),*; secret $($secret:ident),+;)+) => {
        $(redacted_debug!($name; $($plain),*; secret $($secret),+);)+

        /// The secret fields of each record that has some, by record name.
        pub(crate) const SECRET_FIELDS: &[(&str, &[&str])] =
            &[$((stringify!($name), &[$(stringify!($secret)),+])),+];
    };
}

secret_records! {
    MailMessage; id, to, kind, lang, subject; secret body;
    LoginRequest; tenant, identifier, certificate; secret password, access_key;
    Session; claims, must_change_password; secret token;
    TotpEnrolment; ; secret secret_base32, uri;
    Challenge; method, expires_at, enrolment; secret token;
    NewTenant; code, name, admin, corporate_number, logistics, lang, admin_login_method, welcome_mail; secret access_key;
    Created; user; secret temporary_password;
    ResetRequest; user_id, tenant; secret access_key;
    TotpSecret; ; secret secret_base32, uri;
}

display_as_debug!(
    DeliveryReport,
    OutboxEntryView,
    SessionInfo,
    MailMessage,
    UserRef,
    ClientCert,
    LoginRequest,
    SessionClaims,
    Session,
    TotpEnrolment,
    Challenge,
    UserView,
    UserPage,
    ProfileInput,
    NewTenant,
    NewUser,
    UserEdit,
    SelfEdit,
    Created,
    ResetRequest,
    IdentityClaim,
    ForgotLoginId,
    SweepReport,
    AuditFilter,
    AuditEvent,
    AuditPage,
    OwnerInfo,
    TotpSecret,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_keep_their_code_messages_and_details() {
        let e = MonbanError::from(core::Error::PasswordRejected(vec![
            core::PasswordProblem::TooShort { min: 8 },
            core::PasswordProblem::Common,
        ]));
        assert!(matches!(e, MonbanError::PasswordRejected { .. }));
        let ErrorDetails {
            code,
            message_ja,
            message_en,
            retryable,
            field,
            problems,
        } = e.details();
        assert_eq!(code, "password_rejected");
        assert!(!message_ja.is_empty() && !message_en.is_empty());
        assert!(!retryable && field.is_none());
        assert_eq!(
            problems,
            vec![
                PasswordProblem::TooShort { min: 8 },
                PasswordProblem::Common
            ]
        );
        let e = MonbanError::from(core::Error::invalid(
            core::Field::Email,
            core::InputProblem::Format,
        ));
        assert!(matches!(e, MonbanError::InvalidInput { .. }));
        let ErrorDetails { code, field, .. } = e.details();
        assert_eq!(
            (code.as_str(), field.as_deref()),
            ("invalid_input", Some("email"))
        );
        assert!(
            MonbanError::from(core::Error::Conflict)
                .to_string()
                .starts_with("conflict: ")
        );
    }

    #[test]
    fn every_documented_code_has_its_variant() {
        // The codes of docs/errors.md's status table, less those only the HTTP server answers.
        let docs = include_str!("../../docs/errors.md");
        let table = docs
            .split("<!-- generated:statuses -->")
            .nth(1)
            .and_then(|t| t.split("<!-- /generated -->").next())
            .unwrap();
        let http_only = [
            "unauthorized",
            "route_not_found",
            "method_not_allowed",
            "request_timeout",
            "payload_too_large",
            "internal",
        ];
        let mut documented: Vec<&str> = table
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|c| !http_only.contains(c))
            .collect();
        documented.sort_unstable();
        let mut ours = CODES.to_vec();
        ours.sort_unstable();
        assert_eq!(documented, ours);
        for code in CODES {
            let e = MonbanError::other(code, "x");
            assert!(!matches!(e, MonbanError::Other { .. }), "{code}");
            assert_eq!(e.code(), *code);
        }
        assert!(matches!(
            MonbanError::other("no_such_code", "x"),
            MonbanError::Other { .. }
        ));
    }

    #[test]
    fn enums_round_trip() {
        for r in [Role::Admin, Role::General, Role::Shipping, Role::Support] {
            assert_eq!(Role::from(core::Role::from(r)), r);
        }
        for k in [
            MailKind::Otp,
            MailKind::ResetStarted,
            MailKind::LoginIdNotice,
        ] {
            assert_eq!(MailKind::from(core::mail::MailKind::from(k)), k);
        }
    }
}
