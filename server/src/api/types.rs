//! The HTTP contract's shared types: enums and views, each converted to or from its core type.
//!
//! They mirror the core on purpose rather than re-export it: the wire format stays stable when
//! the core's types change, and the core does not depend on utoipa. A conversion from a core
//! enum is an exhaustive `match`, so a new core variant is a compile error here, not a silent
//! change of the API. Times are whole seconds since the Unix epoch (UTC).

use monban_core::flow::login::{ChangeReason as CoreChangeReason, Session as CoreSession};
use monban_core::model::{AccountKind as CoreAccountKind, LoginMethod as CoreLoginMethod};
use monban_core::service::UserView;
use monban_core::token::SessionScope as CoreScope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// R-1..R-4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// manages the tenant's general and shipping users.
    Admin,
    /// every business menu.
    General,
    /// the shipping menus.
    Shipping,
    /// the operator's support staff.
    Support,
}

impl From<monban_core::Role> for Role {
    fn from(r: monban_core::Role) -> Self {
        match r {
            monban_core::Role::Admin => Role::Admin,
            monban_core::Role::General => Role::General,
            monban_core::Role::Shipping => Role::Shipping,
            monban_core::Role::Support => Role::Support,
        }
    }
}

impl From<Role> for monban_core::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => monban_core::Role::Admin,
            Role::General => monban_core::Role::General,
            Role::Shipping => monban_core::Role::Shipping,
            Role::Support => monban_core::Role::Support,
        }
    }
}

/// L-2: how the second factor comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// A 6-digit code by mail.
    #[default]
    MailOtp,
    /// An authenticator app (TOTP).
    Totp,
}

impl From<CoreLoginMethod> for LoginMethod {
    fn from(m: CoreLoginMethod) -> Self {
        match m {
            CoreLoginMethod::MailOtp => LoginMethod::MailOtp,
            CoreLoginMethod::Totp => LoginMethod::Totp,
        }
    }
}

impl From<LoginMethod> for CoreLoginMethod {
    fn from(m: LoginMethod) -> Self {
        match m {
            LoginMethod::MailOtp => CoreLoginMethod::MailOtp,
            LoginMethod::Totp => CoreLoginMethod::Totp,
        }
    }
}

/// T-6: a person or a company.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person.
    #[default]
    Individual,
    /// A company: name, phone and e-mail are the person in charge's.
    Organization,
}

impl From<CoreAccountKind> for AccountKind {
    fn from(k: CoreAccountKind) -> Self {
        match k {
            CoreAccountKind::Individual => AccountKind::Individual,
            CoreAccountKind::Organization => AccountKind::Organization,
        }
    }
}

impl From<AccountKind> for CoreAccountKind {
    fn from(k: AccountKind) -> Self {
        match k {
            AccountKind::Individual => CoreAccountKind::Individual,
            AccountKind::Organization => CoreAccountKind::Organization,
        }
    }
}

/// M-2: mail language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Japanese.
    Ja,
    /// English.
    En,
}

impl From<monban_core::Lang> for Lang {
    fn from(l: monban_core::Lang) -> Self {
        match l {
            monban_core::Lang::Ja => Lang::Ja,
            monban_core::Lang::En => Lang::En,
        }
    }
}

impl From<Lang> for monban_core::Lang {
    fn from(l: Lang) -> Self {
        match l {
            Lang::Ja => monban_core::Lang::Ja,
            Lang::En => monban_core::Lang::En,
        }
    }
}

/// a named permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Every business menu.
    BusinessMenus,
    /// The shipping menus.
    ShippingMenus,
    /// Edit one's own name, e-mail and password.
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
    /// Re-provision a user's authenticator.
    ResetUserAuthenticator,
    /// Unlock a user.
    UnlockUser,
    /// Create a tenant.
    CreateTenant,
    /// Unlock an admin.
    UnlockAdmin,
    /// Reset an admin's password.
    ResetAdmin,
    /// Change an admin's e-mail.
    ChangeAdminEmail,
    /// Bind login certificates.
    BindCertificate,
    /// Delete dormant users.
    Sweep,
    /// Read the audit log.
    ReadAudit,
    /// Choose or change one's own second-factor method (L-2).
    ChooseLoginMethod,
}

impl From<Permission> for monban_core::Permission {
    fn from(p: Permission) -> Self {
        use monban_core::Permission as P;
        match p {
            Permission::BusinessMenus => P::BusinessMenus,
            Permission::ShippingMenus => P::ShippingMenus,
            Permission::EditSelf => P::EditSelf,
            Permission::ListUsers => P::ListUsers,
            Permission::CreateUser => P::CreateUser,
            Permission::EditUser => P::EditUser,
            Permission::DeleteUser => P::DeleteUser,
            Permission::ResetUserPassword => P::ResetUserPassword,
            Permission::ResetUserAuthenticator => P::ResetUserAuthenticator,
            Permission::UnlockUser => P::UnlockUser,
            Permission::CreateTenant => P::CreateTenant,
            Permission::UnlockAdmin => P::UnlockAdmin,
            Permission::ResetAdmin => P::ResetAdmin,
            Permission::ChangeAdminEmail => P::ChangeAdminEmail,
            Permission::BindCertificate => P::BindCertificate,
            Permission::Sweep => P::Sweep,
            Permission::ReadAudit => P::ReadAudit,
            Permission::ChooseLoginMethod => P::ChooseLoginMethod,
        }
    }
}

/// What a session may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionScope {
    /// Everything the role allows.
    Full,
    /// PW-3 / PW-4: only `POST /me/password`.
    ChangePassword,
}

impl From<CoreScope> for SessionScope {
    fn from(s: CoreScope) -> Self {
        match s {
            CoreScope::Full => SessionScope::Full,
            CoreScope::ChangePassword => SessionScope::ChangePassword,
        }
    }
}

/// Why the session may only change the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// PW-4: the password is temporary.
    Temporary,
    /// PW-3: the password is past its max age.
    Expired,
}

impl From<CoreChangeReason> for ChangeReason {
    fn from(r: CoreChangeReason) -> Self {
        match r {
            CoreChangeReason::Temporary => ChangeReason::Temporary,
            CoreChangeReason::Expired => ChangeReason::Expired,
        }
    }
}

/// A signed-in session (L-9). Send `token` as `Authorization: Bearer <token>`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// The bearer token (signed, expiring; a password change or logout ends it).
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Tenant code.
    pub tenant: String,
    /// User ID.
    pub user_id: String,
    /// The session's ID (S-1), as `GET /me/sessions` lists it.
    pub session_id: String,
    /// Role.
    pub role: Role,
    /// `change_password`: only `POST /me/password` works until the password is changed.
    pub scope: SessionScope,
    /// When the session ends at the latest (its absolute lifetime); it ends earlier when it
    /// is not used for the policy's idle time (S-3).
    pub expires_at: i64,
    /// Set when the password must be changed first (PW-3, PW-4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_change_password: Option<ChangeReason>,
}

impl From<CoreSession> for Session {
    fn from(s: CoreSession) -> Self {
        Self {
            token: s.token.expose().to_owned(),
            token_type: "Bearer".into(),
            tenant: s.claims.tenant.clone(),
            user_id: s.claims.user_id.clone(),
            session_id: s.claims.session_id.clone(),
            role: s.claims.role.into(),
            scope: s.claims.scope.into(),
            expires_at: s.claims.expires_at.secs(),
            must_change_password: s.must_change_password.map(Into::into),
        }
    }
}

/// How the user proved who it is when a session began (S-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// The password (or a temporary password).
    Password,
    /// A bound client certificate.
    Certificate,
    /// A one-time password sent by mail.
    MailOtp,
    /// A code from an authenticator app.
    Totp,
}

impl From<monban_core::model::Factor> for Factor {
    fn from(f: monban_core::model::Factor) -> Self {
        use monban_core::model::Factor as F;
        match f {
            F::Password => Factor::Password,
            F::Certificate => Factor::Certificate,
            F::MailOtp => Factor::MailOtp,
            F::Totp => Factor::Totp,
        }
    }
}

/// One live session of the signed-in user (S-4).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// Its ID: `DELETE /me/sessions/{id}` ends it.
    pub id: String,
    /// Whether it is the session making this request.
    pub current: bool,
    /// How the user proved who it is.
    pub factors: Vec<Factor>,
    /// `change_password`: a session that may only change the password.
    pub scope: SessionScope,
    /// When it began.
    pub started_at: i64,
    /// Its last use, to within a minute.
    pub last_used_at: i64,
    /// When it ends if not used again: the idle limit or its absolute end, whichever is first.
    pub ends_at: i64,
}

impl From<monban_core::service::SessionView> for SessionInfo {
    fn from(v: monban_core::service::SessionView) -> Self {
        Self {
            id: v.id,
            current: v.current,
            factors: v.factors.into_iter().map(Into::into).collect(),
            scope: v.scope.into(),
            started_at: v.started_at.secs(),
            last_used_at: v.last_used_at.secs(),
            ends_at: v.ends_at.secs(),
        }
    }
}

/// The live sessions of the signed-in user, most recently used first (S-4).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// The sessions.
    pub items: Vec<SessionInfo>,
}

/// How many sessions an ending ended (S-4).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionsEnded {
    /// Sessions ended.
    pub ended: usize,
}

/// An authenticator to add to the user's app (L-2).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// The shared secret in base32, for typing in.
    pub secret_base32: String,
    /// The `otpauth://` URI (QR code content).
    pub uri: String,
}

impl From<monban_core::flow::login::TotpEnrolment> for TotpEnrolment {
    fn from(e: monban_core::flow::login::TotpEnrolment) -> Self {
        Self {
            secret_base32: e.secret_base32.expose().to_owned(),
            uri: e.uri.expose().to_owned(),
        }
    }
}

/// What may be shown of a user: no hashes, codes or secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Tenant code.
    pub tenant: String,
    /// User ID.
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// Individual or organization (T-6).
    pub kind: AccountKind,
    /// Name (or first name).
    pub name: String,
    /// Family name, where the policy has two name fields.
    pub family_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// P-4: takes the admin's name and e-mail.
    pub same_as_admin: bool,
    /// L-2.
    pub login_method: LoginMethod,
    /// Whether an authenticator is enrolled.
    pub totp_enrolled: bool,
    /// L-6.
    pub locked: bool,
    /// Consecutive failures.
    pub failures: u32,
    /// L-7: last successful login.
    pub last_login_at: Option<i64>,
    /// Created.
    pub created_at: i64,
    /// PW-3 / PW-4: when the password must be changed (`null`: never).
    pub password_expires_at: Option<i64>,
    /// PW-4: the current password is temporary.
    pub has_temporary_password: bool,
    /// L-8: bound certificate keys.
    pub certificates: Vec<String>,
    /// e-Parcel Password Protect: the certificate alone does not log in.
    pub password_protect: bool,
    /// Mail language (`null`: the tenant's).
    pub lang: Option<Lang>,
}

impl From<UserView> for User {
    fn from(u: UserView) -> Self {
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
            last_login_at: u.last_login_at.map(|t| t.secs()),
            created_at: u.created_at.secs(),
            password_expires_at: u.password_expires_at.map(|t| t.secs()),
            has_temporary_password: u.temporary_password,
            certificates: u.certificates,
            password_protect: u.password_protect,
            lang: u.lang.map(Into::into),
        }
    }
}

/// A page of users, ordered by user ID.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    /// The users.
    pub items: Vec<User>,
    /// Pass as `after` for the next page; `null` at the end.
    pub next: Option<String>,
}

impl From<monban_core::model::Page<UserView>> for UserPage {
    fn from(p: monban_core::model::Page<UserView>) -> Self {
        Self {
            items: p.items.into_iter().map(Into::into).collect(),
            next: p.next,
        }
    }
}

/// A created user (LC-2) or tenant admin (T-3).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Created {
    /// Tenant code.
    pub tenant: String,
    /// User ID.
    pub user_id: String,
    /// The temporary password, only when no mail could carry it (the user has no e-mail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_password: Option<String>,
}

impl From<monban_core::flow::account::Created> for Created {
    fn from(c: monban_core::flow::account::Created) -> Self {
        Self {
            tenant: c.user.tenant.clone(),
            user_id: c.user.user_id.clone(),
            temporary_password: c.temporary_password.map(|p| p.expose().to_owned()),
        }
    }
}

/// A password reset by an admin or support (RS-7, RS-8).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PasswordReset {
    /// Whether the temporary password was mailed to the user.
    pub mailed: bool,
    /// The temporary password, only when the user has no e-mail to carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_password: Option<String>,
}

impl From<Option<monban_core::Secret>> for PasswordReset {
    fn from(p: Option<monban_core::Secret>) -> Self {
        Self {
            mailed: p.is_none(),
            temporary_password: p.map(|p| p.expose().to_owned()),
        }
    }
}

/// The fixed answer to a recovery request: the same whether or not the account exists
/// (RS-3, RS-4, RS-5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: String,
}

impl Accepted {
    /// The one value.
    pub fn new() -> Self {
        Self {
            status: "accepted".into(),
        }
    }
}

impl Default for Accepted {
    fn default() -> Self {
        Self::new()
    }
}
