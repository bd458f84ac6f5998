//! The signed-in user's own account (P-3, PW-2..PW-5, L-2, R-5).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use monban_core::Secret;
use monban_core::flow::account::SelfEdit as CoreSelfEdit;
use monban_core::ports::{Mailer, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::{
    Lang, LoginMethod, Permission, Session, SessionList, SessionsEnded, TotpEnrolment, User,
};
use crate::extract::{ApiJson, ApiPath, SessionToken};
use crate::http_error::{ApiError, ErrorBody};
use crate::state::AppState;

/// P-3: what a user may change of itself. Absent fields stay.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfEdit {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Family name (`""` clears it).
    #[serde(default)]
    pub family_name: Option<String>,
    /// E-mail (`""` clears it). An admin's address is changed by support (P-6).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone (`""` clears it).
    #[serde(default)]
    pub phone: Option<String>,
    /// Mail language.
    #[serde(default)]
    pub lang: Option<Lang>,
    /// e-Parcel Password Protect (L-8).
    #[serde(default)]
    pub password_protect: Option<bool>,
    /// Back to mail OTP (E-6 applies); switching to TOTP goes through `POST /me/totp`.
    #[serde(default)]
    pub login_method: Option<LoginMethod>,
}

impl From<SelfEdit> for CoreSelfEdit {
    fn from(e: SelfEdit) -> Self {
        CoreSelfEdit {
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

/// PW-2..PW-5: a new password, entered twice.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The current password: needed with a full session, not with a change-password-only one
    /// (temporary or expired password). A wrong one counts toward the lock.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub current: Option<Secret>,
    /// The new password.
    #[schema(value_type = String, format = Password)]
    pub new: Secret,
    /// The new password again (PW-2: a mismatch is its own error, checked first).
    #[schema(value_type = String, format = Password)]
    pub confirm: Secret,
}

/// A code from the new authenticator.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The 6-digit code.
    #[schema(value_type = String, format = Password)]
    pub code: Secret,
}

/// whether the session holds a permission.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
pub struct Allowed {
    /// `false` also for a change-password-only session.
    pub allowed: bool,
}

/// Who the session belongs to.
#[utoipa::path(get, path = "/me", tag = "self",
    security(("session" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn whoami<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
) -> Result<Json<User>, ApiError> {
    Ok(Json(st.service().whoami(token.expose()).await?.into()))
}

/// Edits one's own profile (P-3).
#[utoipa::path(patch, path = "/me", tag = "self",
    security(("session" = [])),
    request_body = SelfEdit,
    responses(
        (status = 200, description = "The user after the edit", body = User),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`password_change_required`, `support_only` (P-6), `forbidden`", body = ErrorBody),
        (status = 409, description = "`email_taken` (E-1)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`, `email_required_for_mail_otp` (E-6), `field_not_editable` (P-4)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn edit_self<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiJson(edit): ApiJson<SelfEdit>,
) -> Result<Json<User>, ApiError> {
    let v = st.service().edit_self(token.expose(), &edit.into()).await?;
    Ok(Json(v.into()))
}

/// Changes the password; answers a new full session (older sessions end, RS-9).
#[utoipa::path(post, path = "/me/password", tag = "self",
    security(("session" = [])),
    request_body = ChangePassword,
    responses(
        (status = 200, description = "A new full session", body = Session),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`password_mismatch` (PW-2), `password_rejected` (PW-1, PW-5), `current_password_wrong`, `invalid_input`", body = ErrorBody),
        (status = 423, description = "`locked`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn change_password<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiJson(req): ApiJson<ChangePassword>,
) -> Result<Json<Session>, ApiError> {
    let s = st
        .service()
        .change_password(token.expose(), req.current.as_ref(), &req.new, &req.confirm)
        .await?;
    Ok(Json(s.into()))
}

/// Starts adding an authenticator (L-2); confirm with `POST /me/totp/confirm`.
#[utoipa::path(post, path = "/me/totp", tag = "self",
    security(("session" = [])),
    responses(
        (status = 200, description = "The secret to add to the app", body = TotpEnrolment),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`password_change_required`, `forbidden`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn begin_totp<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
) -> Result<Json<TotpEnrolment>, ApiError> {
    Ok(Json(st.service().begin_totp(token.expose()).await?.into()))
}

/// The first code from the new authenticator; the login method becomes TOTP.
#[utoipa::path(post, path = "/me/totp/confirm", tag = "self",
    security(("session" = [])),
    request_body = CodeRequest,
    responses(
        (status = 204, description = "The authenticator is the login method now"),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`session_invalid`, `otp_invalid`", body = ErrorBody),
        (status = 403, description = "`password_change_required`, `forbidden`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input` (no enrolment started)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn confirm_totp<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    st.service().confirm_totp(token.expose(), &req.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// whether the session's role holds a permission (a business menu, say).
#[utoipa::path(get, path = "/me/permissions/{permission}", tag = "self",
    security(("session" = [])),
    params(("permission" = Permission, Path, description = "A permission name")),
    responses(
        (status = 200, description = "The answer", body = Allowed),
        (status = 400, description = "`invalid_request`: not a permission name", body = ErrorBody),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn permission<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(p): ApiPath<Permission>,
) -> Result<Json<Allowed>, ApiError> {
    let allowed = st.service().can(token.expose(), p.into()).await?;
    Ok(Json(Allowed { allowed }))
}

/// The signed-in user's live sessions, most recently used first (S-4).
#[utoipa::path(get, operation_id = "list_my_sessions", path = "/me/sessions", tag = "self",
    security(("session" = [])),
    responses(
        (status = 200, description = "The live sessions; `current` marks this one", body = SessionList),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn list_sessions<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
) -> Result<Json<SessionList>, ApiError> {
    let items = st.service().list_sessions(token.expose()).await?;
    Ok(Json(SessionList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Ends one of the signed-in user's sessions (S-4); ending the current one is a logout.
#[utoipa::path(delete, operation_id = "end_my_session", path = "/me/sessions/{id}", tag = "self",
    security(("session" = [])),
    params(("id" = String, Path, description = "Session ID, from `GET /me/sessions`")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 404, description = "`session_not_found`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn end_session<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    st.service().end_session(token.expose(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the signed-in user but this one (S-4).
#[utoipa::path(post, operation_id = "end_my_other_sessions", path = "/me/sessions/end-others", tag = "self",
    security(("session" = [])),
    responses(
        (status = 200, description = "How many sessions ended", body = SessionsEnded),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn end_other_sessions<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
) -> Result<Json<SessionsEnded>, ApiError> {
    let ended = st.service().end_other_sessions(token.expose()).await?;
    Ok(Json(SessionsEnded { ended }))
}
