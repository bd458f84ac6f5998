//! every auth event, with time, actor, subject, tenant and outcome — never a password,
//! code or token.

use crate::model::UserRef;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A first factor or second factor succeeded and a session was issued.
    LoginSucceeded,
    /// A first-factor failure.
    LoginFailed,
    /// The account locked (L-6).
    Locked,
    /// The account was unlocked by an admin or support.
    Unlocked,
    /// A mail OTP was sent.
    OtpSent,
    /// A second factor was verified.
    OtpVerified,
    /// A second factor failed.
    OtpFailed,
    /// A reset was asked for (link, identity, notification).
    ResetRequested,
    /// A reset issued a temporary password.
    ResetCompleted,
    /// The password was changed.
    PasswordChanged,
    /// A tenant was created.
    TenantCreated,
    /// A tenant's name, flags, numbers, access key or language changed (the detail names the
    /// fields, never a value).
    TenantEdited,
    /// A tenant was deleted (its users first, each with its own `user_deleted`).
    TenantDeleted,
    /// A user was created.
    UserCreated,
    /// A user's profile was edited.
    UserEdited,
    /// A user was deleted (admin or dormancy sweep).
    UserDeleted,
    /// An e-mail address changed.
    EmailChanged,
    /// A role changed.
    RoleChanged,
    /// A certificate was bound or re-bound.
    CertificateBound,
    /// The authenticator was enrolled or reset.
    AuthenticatorReset,
    /// A login ID was mailed (RS-5).
    LoginIdNotified,
    /// A session was ended.
    LoggedOut,
    /// AB-1: a client address was blocked for failing too often (the address is in `detail`).
    ThrottlingStarted,
    /// AB-2: a recovery mail was not sent: the account's mail limit was reached.
    RecoveryMailSuppressed,
    /// AB-1: an operator cleared an address's block (the address is in `detail`).
    ThrottlingCleared,
    /// M-4: the courier gave up on a queued mail or request (the entry's ID and the last error
    /// are in `detail`); it stays in the outbox, marked failed.
    DeliveryFailed,
    /// M-4: an operator put a failed outbox entry back in the queue.
    DeliveryRetried,
}

impl AuditKind {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginSucceeded => "login_succeeded",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::Locked => "locked",
            AuditKind::Unlocked => "unlocked",
            AuditKind::OtpSent => "otp_sent",
            AuditKind::OtpVerified => "otp_verified",
            AuditKind::OtpFailed => "otp_failed",
            AuditKind::ResetRequested => "reset_requested",
            AuditKind::ResetCompleted => "reset_completed",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::TenantCreated => "tenant_created",
            AuditKind::TenantEdited => "tenant_edited",
            AuditKind::TenantDeleted => "tenant_deleted",
            AuditKind::UserCreated => "user_created",
            AuditKind::UserEdited => "user_edited",
            AuditKind::UserDeleted => "user_deleted",
            AuditKind::EmailChanged => "email_changed",
            AuditKind::RoleChanged => "role_changed",
            AuditKind::CertificateBound => "certificate_bound",
            AuditKind::AuthenticatorReset => "authenticator_reset",
            AuditKind::LoginIdNotified => "login_id_notified",
            AuditKind::LoggedOut => "logged_out",
            AuditKind::ThrottlingStarted => "throttling_started",
            AuditKind::RecoveryMailSuppressed => "recovery_mail_suppressed",
            AuditKind::ThrottlingCleared => "throttling_cleared",
            AuditKind::DeliveryFailed => "delivery_failed",
            AuditKind::DeliveryRetried => "delivery_retried",
        }
    }

    /// Parses [`AuditKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Actor {
    /// A signed-in user.
    User {
        /// Tenant code.
        tenant: String,
        /// User ID.
        user_id: String,
    },
    /// Support staff.
    Support,
    /// A scheduled job (dormancy sweep).
    System,
    /// Someone not signed in (a login or reset request).
    Anonymous,
}

impl Actor {
    /// A user actor.
    pub fn user(r: &UserRef) -> Self {
        Actor::User {
            tenant: r.tenant.clone(),
            user_id: r.user_id.clone(),
        }
    }
}

/// Success, or failure with the stable error code.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "code")]
pub enum Outcome {
    /// It worked.
    Success,
    /// It failed with this [`crate::Error::code`].
    Failure(String),
}

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    pub at: Timestamp,
    /// What.
    pub kind: AuditKind,
    /// Who acted.
    pub actor: Actor,
    /// Tenant concerned, if known (unknown tenant codes are not recorded verbatim).
    pub tenant: Option<String>,
    /// User concerned, if it exists.
    pub subject: Option<String>,
    /// Result.
    pub outcome: Outcome,
    /// Free detail without secrets (e.g. `role general -> shipping`).
    pub detail: Option<String>,
}

impl AuditEvent {
    /// A success event about `subject`.
    pub fn success(
        at: Timestamp,
        kind: AuditKind,
        actor: Actor,
        subject: Option<&UserRef>,
    ) -> Self {
        Self {
            at,
            kind,
            actor,
            tenant: subject.map(|s| s.tenant.clone()),
            subject: subject.map(|s| s.user_id.clone()),
            outcome: Outcome::Success,
            detail: None,
        }
    }

    /// A failure event about `subject` with an error code.
    pub fn failure(
        at: Timestamp,
        kind: AuditKind,
        actor: Actor,
        subject: Option<&UserRef>,
        code: &str,
    ) -> Self {
        Self {
            outcome: Outcome::Failure(code.to_owned()),
            ..Self::success(at, kind, actor, subject)
        }
    }

    /// Adds a detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the tenant (for events without a subject user).
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}

/// Which audit events to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this subject user ID.
    pub subject: Option<String>,
    /// Only this kind.
    pub kind: Option<AuditKind>,
}

impl AuditFilter {
    /// Whether `e` passes the filter.
    pub fn matches(&self, e: &AuditEvent) -> bool {
        self.tenant
            .as_ref()
            .is_none_or(|t| e.tenant.as_ref() == Some(t))
            && self
                .subject
                .as_ref()
                .is_none_or(|s| e.subject.as_ref() == Some(s))
            && self.kind.is_none_or(|k| e.kind == k)
    }
}
