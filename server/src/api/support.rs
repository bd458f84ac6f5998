//! Support staff operations (R-4, T-1..T-3, RS-8, P-6, L-8, LC-4, LC-1, A-1), authenticated by
//! the support API token (`Authorization: Bearer <support token>`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use monban_core::audit::{Actor as CoreActor, AuditEvent, AuditFilter, AuditKind, Outcome};
use monban_core::cert::ClientCert as CoreCert;
use monban_core::flow::account::{NewTenant as CoreNewTenant, TenantEdit as CoreTenantEdit};
use monban_core::model::UserRef as CoreUserRef;
use monban_core::ports::{Mailer, Store};
use monban_core::service::{SweepReport as CoreSweep, TenantView};
use monban_core::{Field, Secret};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::{ListQuery, NewUser, ProfileInput, checked_page};
use super::checked_id;
use super::types::{Created, Lang, LoginMethod, PasswordReset, User, UserPage};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Support};
use crate::http_error::{ApiError, ErrorBody, HttpProblem};
use crate::state::AppState;

/// A new tenant with its admin, whose user ID is the tenant code (T-1..T-3).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Tenant code (Kuroneko: 9 half-width digits).
    pub code: String,
    /// Display name.
    pub name: String,
    /// 13-digit corporate number (E-4).
    #[serde(default)]
    pub corporate_number: Option<String>,
    /// Ships goods (R-3: shipping users need it).
    #[serde(default)]
    pub logistics: bool,
    /// Access key every login and reset must present (T-2); only its hash is kept.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub access_key: Option<Secret>,
    /// Mail language of the tenant.
    #[serde(default)]
    pub lang: Option<Lang>,
    /// The admin.
    pub admin: ProfileInput,
    /// The admin's second factor (default `mail_otp`).
    #[serde(default)]
    pub admin_login_method: LoginMethod,
    /// Mail the admin a temporary password now (LC-2). Otherwise the admin starts with the
    /// reset link (`POST /reset`), as in the Kuroneko manual.
    #[serde(default)]
    pub welcome_mail: bool,
}

impl From<NewTenant> for CoreNewTenant {
    fn from(t: NewTenant) -> Self {
        CoreNewTenant {
            code: t.code,
            name: t.name,
            corporate_number: t.corporate_number,
            logistics: t.logistics,
            access_key: t.access_key,
            lang: t.lang.map(Into::into),
            admin: t.admin.into(),
            admin_login_method: t.admin_login_method.into(),
            welcome_mail: t.welcome_mail,
        }
    }
}

/// A tenant as support sees it (T-1): never its access key, only whether one is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    /// Tenant code.
    pub code: String,
    /// The contract number: the code's first 7 characters (E-3).
    pub contract_number: String,
    /// Display name.
    pub name: String,
    /// 13-digit corporate number (E-4).
    pub corporate_number: Option<String>,
    /// Ships goods.
    pub logistics: bool,
    /// Whether logins and resets must present an access key (T-2).
    pub access_key_set: bool,
    /// Mail language (`null`: the policy's default).
    pub lang: Option<Lang>,
    /// Created (seconds since the Unix epoch).
    pub created_at: i64,
}

impl From<TenantView> for Tenant {
    fn from(t: TenantView) -> Self {
        Self {
            code: t.code,
            contract_number: t.contract_number,
            name: t.name,
            corporate_number: t.corporate_number,
            logistics: t.logistics,
            access_key_set: t.access_key_set,
            lang: t.lang.map(Into::into),
            created_at: t.created_at.secs(),
        }
    }
}

/// A page of tenants, ordered by code.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantPage {
    /// The tenants.
    pub items: Vec<Tenant>,
    /// Pass as `after` for the next page; `null` at the end.
    pub next: Option<String>,
}

/// A change to a tenant (T-1). Absent fields stay; the code never changes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantEdit {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Ships goods; cannot be turned off while the tenant has shipping users.
    #[serde(default)]
    pub logistics: Option<bool>,
    /// 13-digit corporate number with its check digit (E-4); `""` removes it.
    #[serde(default)]
    pub corporate_number: Option<String>,
    /// The access key every login and reset must present (T-2); only its hash is kept. `""`
    /// removes it.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub access_key: Option<Secret>,
    /// Mail language of the tenant.
    #[serde(default)]
    pub lang: Option<Lang>,
}

impl From<TenantEdit> for CoreTenantEdit {
    fn from(e: TenantEdit) -> Self {
        CoreTenantEdit {
            name: e.name,
            logistics: e.logistics,
            corporate_number: e.corporate_number,
            access_key: e.access_key,
            lang: e.lang.map(Into::into),
        }
    }
}

/// P-6: the admin's new e-mail (its same-as-admin users follow, P-4).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminEmail {
    /// The new address.
    pub email: String,
}

/// A client certificate as the TLS terminator saw it (L-8): the SHA-256 fingerprint, or serial
/// number and subject DN.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientCert {
    /// SHA-256 fingerprint of the DER certificate, hex (colons and case ignored).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Serial number, hex.
    #[serde(default)]
    pub serial: Option<String>,
    /// Subject distinguished name.
    #[serde(default)]
    pub subject_dn: Option<String>,
}

/// L-8, LC-4: a certificate to bind.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindCertificate {
    /// The certificate.
    pub certificate: ClientCert,
    /// Re-bind (LC-4): a certificate another account holds moves here and that account loses
    /// it in the same write (without `replace`: 409 `certificate_taken`); the user's other
    /// certificates stop working (a new person in charge).
    #[serde(default)]
    pub replace: bool,
}

/// A user, by tenant and user ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRef {
    /// Tenant code.
    pub tenant: String,
    /// User ID.
    pub user_id: String,
}

impl From<CoreUserRef> for UserRef {
    fn from(r: CoreUserRef) -> Self {
        Self {
            tenant: r.tenant,
            user_id: r.user_id,
        }
    }
}

/// What a dormancy sweep did (LC-1).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SweepReport {
    /// Users examined.
    pub scanned: usize,
    /// Users deleted (in a dry run: who would be).
    pub deleted: Vec<UserRef>,
    /// Present and `true` in a dry run: nothing was deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl From<CoreSweep> for SweepReport {
    fn from(r: CoreSweep) -> Self {
        Self {
            scanned: r.scanned,
            deleted: r.deleted.into_iter().map(Into::into).collect(),
            dry_run: r.dry_run,
        }
    }
}

/// Largest page of `GET /support/tenants`.
pub const MAX_TENANT_PAGE: usize = 500;

/// Every audit event kind.
pub const AUDIT_KINDS: &[&str] = &[
    "login_succeeded",
    "login_failed",
    "locked",
    "unlocked",
    "otp_sent",
    "otp_verified",
    "otp_failed",
    "reset_requested",
    "reset_completed",
    "password_changed",
    "tenant_created",
    "tenant_edited",
    "tenant_deleted",
    "user_created",
    "user_edited",
    "user_deleted",
    "email_changed",
    "role_changed",
    "certificate_bound",
    "authenticator_reset",
    "login_id_notified",
    "logged_out",
    "throttling_started",
    "recovery_mail_suppressed",
    "throttling_cleared",
    "delivery_failed",
    "delivery_retried",
];

fn audit_kind_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(AUDIT_KINDS.iter().copied()))
        .description(Some("What happened."))
        .build()
}

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A signed-in user (`actor_tenant`, `actor_user_id`).
    User,
    /// Support staff.
    Support,
    /// A scheduled job (the dormancy sweep).
    System,
    /// Someone not signed in (a login or reset request).
    Anonymous,
}

/// One audit record: never a password, code or token.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    /// When, in RFC 3339 UTC (e.g. `2026-12-05T17:06:00Z`).
    #[schema(format = DateTime)]
    pub at: String,
    /// What.
    #[schema(schema_with = audit_kind_schema)]
    pub kind: String,
    /// Who acted.
    pub actor: ActorKind,
    /// The acting user's tenant (`actor: user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_tenant: Option<String>,
    /// The acting user (`actor: user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<String>,
    /// Tenant concerned.
    pub tenant: Option<String>,
    /// User concerned.
    pub subject: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// The error code of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Detail without secrets.
    pub detail: Option<String>,
}

impl From<AuditEvent> for AuditRecord {
    fn from(e: AuditEvent) -> Self {
        let (actor, actor_tenant, actor_user_id) = match e.actor {
            CoreActor::User { tenant, user_id } => (ActorKind::User, Some(tenant), Some(user_id)),
            CoreActor::Support => (ActorKind::Support, None, None),
            CoreActor::System => (ActorKind::System, None, None),
            CoreActor::Anonymous => (ActorKind::Anonymous, None, None),
        };
        let (outcome, error_code) = match e.outcome {
            Outcome::Success => ("success", None),
            Outcome::Failure(c) => ("failure", Some(c)),
        };
        Self {
            at: e.at.rfc3339(),
            kind: e.kind.as_str().to_owned(),
            actor,
            actor_tenant,
            actor_user_id,
            tenant: e.tenant,
            subject: e.subject,
            outcome: outcome.to_owned(),
            error_code,
            detail: e.detail,
        }
    }
}

/// A page of audit records, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The records.
    pub items: Vec<AuditRecord>,
    /// Pass as `after` for the next page; `null` at the end.
    pub next: Option<String>,
}

/// Which audit records to read.
#[derive(Clone, Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Only this subject user ID.
    #[serde(default)]
    pub subject: Option<String>,
    /// Only this kind (an audit kind name).
    #[serde(default)]
    pub kind: Option<String>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// Page size (1..=1000; default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Creates a tenant and its admin (T-1..T-3).
#[utoipa::path(post, path = "/support/tenants", tag = "support",
    security(("support" = [])),
    request_body = NewTenant,
    responses(
        (status = 201, description = "Created; `user_id` is the admin's (the tenant code)", body = Created),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`: support token missing or wrong", body = ErrorBody),
        (status = 403, description = "`forbidden`: no support token configured", body = ErrorBody),
        (status = 409, description = "`tenant_exists`, `email_taken`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input` (e.g. full-width digits in the code), `email_required_for_mail_otp`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn create_tenant<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiJson(input): ApiJson<NewTenant>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let c = st.service().support_create_tenant(&input.into()).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// A tenant's users.
#[utoipa::path(get, path = "/support/tenants/{code}/users", tag = "support",
    operation_id = "support_list_users",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code"), ListQuery),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn list_users<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<UserPage>, ApiError> {
    checked_id(Field::TenantCode, &code)?;
    let (after, limit) = checked_page(q.after.as_deref(), q.limit)?;
    let page = st.service().support_list_users(&code, after, limit).await?;
    Ok(Json(page.into()))
}

/// The tenants, ordered by code (T-1).
#[utoipa::path(get, path = "/support/tenants", tag = "support",
    operation_id = "support_list_tenants",
    security(("support" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of tenants", body = TenantPage),
        (status = 400, description = "`invalid_request` (e.g. `limit` outside 1..=500)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn list_tenants<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<TenantPage>, ApiError> {
    let (after, limit) = checked_page(q.after.as_deref(), q.limit)?;
    let page = st.service().support_list_tenants(after, limit).await?;
    Ok(Json(TenantPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// One tenant (T-1).
#[utoipa::path(get, path = "/support/tenants/{code}", tag = "support",
    operation_id = "support_get_tenant",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code")),
    responses(
        (status = 200, description = "The tenant", body = Tenant),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn get_tenant<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<Tenant>, ApiError> {
    checked_id(Field::TenantCode, &code)?;
    Ok(Json(st.service().support_tenant(&code).await?.into()))
}

/// Changes a tenant's name, logistics flag, corporate number, access key or language (T-1),
/// validated as at creation.
#[utoipa::path(patch, path = "/support/tenants/{code}", tag = "support",
    operation_id = "support_edit_tenant",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code")),
    request_body = TenantEdit,
    responses(
        (status = 200, description = "The tenant after the change", body = Tenant),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`, `not_enabled` (the rules have no access keys)", body = ErrorBody),
        (status = 409, description = "`email_taken` (E-7: the admin's shared address would leave its exception)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input` (name, corporate number check digit, access key digits), `shipping_not_allowed` (logistics off under shipping users)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn edit_tenant<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath(code): ApiPath<String>,
    ApiJson(edit): ApiJson<TenantEdit>,
) -> Result<Json<Tenant>, ApiError> {
    checked_id(Field::TenantCode, &code)?;
    let t = st
        .service()
        .support_update_tenant(&code, &edit.into())
        .await?;
    Ok(Json(t.into()))
}

/// Deletes a tenant with all its users, freeing their e-mail addresses and certificates
/// (T-1). Safe to repeat after an interruption.
#[utoipa::path(delete, path = "/support/tenants/{code}", tag = "support",
    operation_id = "support_delete_tenant",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: users kept being created meanwhile; repeat", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn delete_tenant<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath(code): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    checked_id(Field::TenantCode, &code)?;
    st.service().support_delete_tenant(&code).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn user_ref(code: &str, id: &str) -> Result<CoreUserRef, ApiError> {
    checked_id(Field::TenantCode, code)?;
    checked_id(Field::UserId, id)?;
    Ok(CoreUserRef::new(code, id))
}

/// Creates a general or shipping user in a tenant, under the rules an admin creating one
/// follows; its temporary password is mailed (LC-2).
#[utoipa::path(post, path = "/support/tenants/{code}/users", tag = "support",
    operation_id = "support_create_user",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code")),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created; `temporary_password` only when the user has no e-mail", body = Created),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden` (e.g. the role is not general or shipping)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such tenant", body = ErrorBody),
        (status = 409, description = "`user_id_taken` (T-4), `email_taken` (E-1), `same_as_admin_taken` (E-2)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`, `email_required_for_mail_otp` (E-6), `shipping_not_allowed` (R-3)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn create_user<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath(code): ApiPath<String>,
    ApiJson(input): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    checked_id(Field::TenantCode, &code)?;
    let c = st
        .service()
        .support_create_user(&code, &input.into())
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// One user of a tenant.
#[utoipa::path(get, path = "/support/tenants/{code}/users/{id}", tag = "support",
    operation_id = "support_get_user",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code"), ("id" = String, Path, description = "User ID")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn get_user<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath((code, id)): ApiPath<(String, String)>,
) -> Result<Json<User>, ApiError> {
    let u = st.service().support_user(&user_ref(&code, &id)?).await?;
    Ok(Json(u.into()))
}

/// Deletes a general or shipping user; its user ID, e-mail and certificates become free
/// (LC-3). The admin goes only with its tenant.
#[utoipa::path(delete, path = "/support/tenants/{code}/users/{id}", tag = "support",
    operation_id = "support_delete_user",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code"), ("id" = String, Path, description = "User ID")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: the tenant's admin (delete the tenant instead)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn delete_user<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath((code, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.service()
        .support_delete_user(&user_ref(&code, &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of a user, and any login waiting for its second factor (S-4).
#[utoipa::path(post, path = "/support/tenants/{code}/users/{id}/end-sessions", tag = "support",
    operation_id = "support_end_sessions",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code"), ("id" = String, Path, description = "User ID")),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn end_sessions<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath((code, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.service()
        .support_end_sessions(&user_ref(&code, &id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unlocks any user, admins included.
#[utoipa::path(post, path = "/support/tenants/{code}/users/{id}/unlock", tag = "support",
    operation_id = "support_unlock",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code"), ("id" = String, Path, description = "User ID")),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn unlock<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath((code, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.service().support_unlock(&user_ref(&code, &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-initializes a user's password: temporary password, forced change, lock cleared (RS-8).
#[utoipa::path(post, path = "/support/tenants/{code}/users/{id}/reset-password", tag = "support",
    operation_id = "support_reset_password",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code"), ("id" = String, Path, description = "User ID")),
    responses(
        (status = 200, description = "Reset; `temporary_password` only when the user has no e-mail", body = PasswordReset),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn reset_password<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath((code, id)): ApiPath<(String, String)>,
) -> Result<Json<PasswordReset>, ApiError> {
    let t = st
        .service()
        .support_reset_password(&user_ref(&code, &id)?)
        .await?;
    Ok(Json(t.into()))
}

/// Changes a tenant admin's e-mail; same-as-admin users follow (P-6, P-4).
#[utoipa::path(put, path = "/support/tenants/{code}/admin-email", tag = "support",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code")),
    request_body = AdminEmail,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn change_admin_email<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath(code): ApiPath<String>,
    ApiJson(req): ApiJson<AdminEmail>,
) -> Result<StatusCode, ApiError> {
    checked_id(Field::TenantCode, &code)?;
    st.service()
        .support_change_admin_email(&code, &req.email)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Binds (or, with `replace`, re-binds) a login certificate to a user (L-8, LC-4).
#[utoipa::path(post, path = "/support/tenants/{code}/users/{id}/certificates", tag = "support",
    security(("support" = [])),
    params(("code" = String, Path, description = "Tenant code"), ("id" = String, Path, description = "User ID")),
    request_body = BindCertificate,
    responses(
        (status = 204, description = "Bound"),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`certificate_taken`: another account holds it and `replace` is not set (L-8); `conflict`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input` (the certificate names no fingerprint, or no serial and DN)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn bind_certificate<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiPath((code, id)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<BindCertificate>,
) -> Result<StatusCode, ApiError> {
    let r = user_ref(&code, &id)?;
    let cert = CoreCert {
        sha256: req.certificate.sha256,
        serial: req.certificate.serial,
        subject_dn: req.certificate.subject_dn,
    };
    st.service()
        .support_bind_certificate(&r, &cert, req.replace)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /support/sweep` options.
#[derive(Clone, Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SweepQuery {
    /// `true`: only list who would be deleted now; delete nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// Deletes dormant general and shipping users (LC-1). Meant for a scheduler. With
/// `dry_run=true` it deletes nothing and lists who would be deleted.
#[utoipa::path(post, path = "/support/sweep", tag = "support",
    security(("support" = [])),
    params(SweepQuery),
    responses(
        (status = 200, description = "What the sweep did (or, in a dry run, would do)", body = SweepReport),
        (status = 400, description = "`invalid_request` (e.g. `dry_run` neither true nor false)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn sweep<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiQuery(q): ApiQuery<SweepQuery>,
) -> Result<Json<SweepReport>, ApiError> {
    let report = if q.dry_run == Some(true) {
        st.service().sweep_dormant_dry_run().await?
    } else {
        st.service().sweep_dormant().await?
    };
    Ok(Json(report.into()))
}

/// Reads the audit log, oldest first.
#[utoipa::path(get, path = "/support/audit", tag = "support",
    security(("support" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit records", body = AuditPage),
        (status = 400, description = "`invalid_request` (e.g. an unknown `kind`)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn audit<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    _: Support,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(AuditKind::parse(k).ok_or(HttpProblem::InvalidRequest)?),
        None => None,
    };
    let filter = AuditFilter {
        tenant: q.tenant.filter(|t| !t.is_empty()),
        subject: q.subject.filter(|s| !s.is_empty()),
        kind,
    };
    let (after, limit) = checked_page(q.after.as_deref(), q.limit)?;
    let page = st.service().audit_events(&filter, after, limit).await?;
    Ok(Json(AuditPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next: page.next,
    }))
}
