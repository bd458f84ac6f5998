//! The tenant admin's user management (R-1, LC-2, LC-3, P-3, P-4, RS-7, L-6), with the admin's
//! session token.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use monban_core::Error;
use monban_core::Field;
use monban_core::flow::account::{
    NewUser as CoreNewUser, ProfileInput as CoreProfile, UserEdit as CoreUserEdit,
};
use monban_core::ports::{Mailer, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::checked_id;
use super::types::{
    AccountKind, Created, Lang, LoginMethod, PasswordReset, Role, SessionsEnded, User, UserPage,
};
use crate::extract::{ApiJson, ApiPath, ApiQuery, SessionToken};
use crate::http_error::HttpProblem;
use crate::http_error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Default page size of the listings.
pub const DEFAULT_LIMIT: usize = 100;

/// A page of a listing.
#[derive(Clone, Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// Page size (1..=500; default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Largest page of a listing (`limit`).
pub const MAX_LIMIT: usize = 500;

/// The page a listing's query asks for: `limit` in 1..=[`MAX_LIMIT`] (absent: [`DEFAULT_LIMIT`])
/// and `after` of the form every store's cursors take — non-empty printable text without white
/// space, at most [`super::MAX_PATH_ID`] characters. Anything else is 400 `invalid_request`, on
/// every listing alike (issue 11: `limit=0` was served, `after=` refused on one listing and
/// ignored on another).
pub(crate) fn checked_page(
    after: Option<&str>,
    limit: Option<usize>,
) -> Result<(Option<&str>, usize), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(HttpProblem::InvalidRequest.into());
    }
    if let Some(a) = after
        && (a.is_empty()
            || a.chars().count() > super::MAX_PATH_ID
            || a.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return Err(HttpProblem::InvalidRequest.into());
    }
    Ok((after, limit))
}

/// Name, contact and language of a person (P-1, P-2, T-6).
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// Name (P-1: at most 60 half-width or 30 full-width characters in Kuroneko).
    pub name: String,
    /// Family name, where the policy has two name fields.
    #[serde(default)]
    pub family_name: Option<String>,
    /// E-mail (P-2).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Individual (default) or organization.
    #[serde(default)]
    pub kind: AccountKind,
    /// Mail language.
    #[serde(default)]
    pub lang: Option<Lang>,
}

impl From<ProfileInput> for CoreProfile {
    fn from(p: ProfileInput) -> Self {
        CoreProfile {
            name: p.name,
            family_name: p.family_name,
            email: p.email,
            phone: p.phone,
            kind: p.kind.into(),
            lang: p.lang.map(Into::into),
        }
    }
}

/// A new general or shipping user (LC-2, T-4, R-3).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// User ID (T-4): 1–20 half-width alphanumerics in Kuroneko; never changes.
    pub user_id: String,
    /// `general` or `shipping`.
    pub role: Role,
    /// L-2 (default `mail_otp`).
    #[serde(default)]
    pub login_method: LoginMethod,
    /// P-4 / E-2: the admin's own person (takes the admin's name and e-mail).
    #[serde(default)]
    pub same_as_admin: bool,
    /// Name and contact.
    pub profile: ProfileInput,
}

impl From<NewUser> for CoreNewUser {
    fn from(u: NewUser) -> Self {
        CoreNewUser {
            user_id: u.user_id,
            role: u.role.into(),
            login_method: u.login_method.into(),
            same_as_admin: u.same_as_admin,
            profile: u.profile.into(),
        }
    }
}

/// P-3, P-4: an admin's edit of a general or shipping user. Absent fields stay.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserEdit {
    /// Never editable (T-4): present and different → `field_not_editable`.
    #[serde(default)]
    pub user_id: Option<String>,
    /// General ↔ shipping.
    #[serde(default)]
    pub role: Option<Role>,
    /// L-2.
    #[serde(default)]
    pub login_method: Option<LoginMethod>,
    /// P-4.
    #[serde(default)]
    pub same_as_admin: Option<bool>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Family name (`""` clears it).
    #[serde(default)]
    pub family_name: Option<String>,
    /// E-mail (`""` clears it).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone (`""` clears it).
    #[serde(default)]
    pub phone: Option<String>,
}

impl From<UserEdit> for CoreUserEdit {
    fn from(e: UserEdit) -> Self {
        CoreUserEdit {
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

/// The tenant's users, by user ID.
#[utoipa::path(get, operation_id = "admin_list_users", path = "/admin/users", tag = "admin",
    security(("session" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn list_users<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let (after, limit) = checked_page(q.after.as_deref(), q.limit)?;
    let page = st
        .service()
        .admin_list_users(token.expose(), after, limit)
        .await?;
    Ok(Json(page.into()))
}

/// Creates a general or shipping user; its temporary password is mailed (LC-2).
#[utoipa::path(post, path = "/admin/users", tag = "admin",
    security(("session" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created; `temporary_password` only when the user has no e-mail", body = Created),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`", body = ErrorBody),
        (status = 409, description = "`user_id_taken` (T-4), `email_taken` (E-1), `same_as_admin_taken` (E-2)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`, `email_required_for_mail_otp` (E-6), `shipping_not_allowed` (R-3)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn create_user<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiJson(input): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let c = st
        .service()
        .admin_create_user(token.expose(), &input.into())
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// One user of the tenant.
#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin",
    security(("session" = [])),
    params(("id" = String, Path, description = "User ID")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn get_user<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<User>, ApiError> {
    checked_id(Field::UserId, &id)?;
    // The core has no single-user read for admins: page through the listing from just before
    // `id` (IDs are ordered; the prefix without the last character sorts before it).
    // A prefix that is no cursor (white space: no user ID has any) starts from the first page
    // rather than answering 400 for the cursor the client never sent.
    let mut after: Option<String> = id
        .char_indices()
        .last()
        .and_then(|(i, _)| id.get(..i))
        .filter(|p| checked_page(Some(p), None).is_ok())
        .map(str::to_owned);
    loop {
        let page = st
            .service()
            .admin_list_users(token.expose(), after.as_deref(), 500)
            .await?;
        if let Some(u) = page.items.into_iter().find(|u| u.user_id == id) {
            return Ok(Json(u.into()));
        }
        match page.next {
            Some(n) if n.as_str() < id.as_str() => after = Some(n),
            _ => return Err(Error::NotFound.into()),
        }
    }
}

/// Edits a general or shipping user (P-3, P-4).
#[utoipa::path(patch, path = "/admin/users/{id}", tag = "admin",
    security(("session" = [])),
    params(("id" = String, Path, description = "User ID")),
    request_body = UserEdit,
    responses(
        (status = 200, description = "The user after the edit", body = User),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`, `support_only` (P-6)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`email_taken`, `same_as_admin_taken`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`, `field_not_editable` (T-4, P-4), `email_required_for_mail_otp`, `shipping_not_allowed`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn edit_user<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(id): ApiPath<String>,
    ApiJson(edit): ApiJson<UserEdit>,
) -> Result<Json<User>, ApiError> {
    checked_id(Field::UserId, &id)?;
    let v = st
        .service()
        .admin_edit_user(token.expose(), &id, &edit.into())
        .await?;
    Ok(Json(v.into()))
}

/// Deletes a general or shipping user; its ID and e-mail become free (LC-3).
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin",
    security(("session" = [])),
    params(("id" = String, Path, description = "User ID")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn delete_user<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    checked_id(Field::UserId, &id)?;
    st.service().admin_delete_user(token.expose(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unlocks a general or shipping user (L-6).
#[utoipa::path(post, operation_id = "admin_unlock", path = "/admin/users/{id}/unlock", tag = "admin",
    security(("session" = [])),
    params(("id" = String, Path, description = "User ID")),
    responses(
        (status = 204, description = "Unlocked"),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn unlock<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    checked_id(Field::UserId, &id)?;
    st.service().admin_unlock(token.expose(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of a general or shipping user (S-4).
#[utoipa::path(post, operation_id = "admin_end_sessions", path = "/admin/users/{id}/end-sessions", tag = "admin",
    security(("session" = [])),
    params(("id" = String, Path, description = "User ID")),
    responses(
        (status = 200, description = "How many sessions ended", body = SessionsEnded),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn end_sessions<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    checked_id(Field::UserId, &id)?;
    let ended = st.service().admin_end_sessions(token.expose(), &id).await?;
    Ok(Json(SessionsEnded { ended }))
}

/// A new temporary password for a general or shipping user, mailed to it (RS-7).
#[utoipa::path(post, operation_id = "admin_reset_password", path = "/admin/users/{id}/reset-password", tag = "admin",
    security(("session" = [])),
    params(("id" = String, Path, description = "User ID")),
    responses(
        (status = 200, description = "Reset; `temporary_password` only when the user has no e-mail", body = PasswordReset),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn reset_password<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PasswordReset>, ApiError> {
    checked_id(Field::UserId, &id)?;
    let t = st
        .service()
        .admin_reset_password(token.expose(), &id)
        .await?;
    Ok(Json(t.into()))
}

/// Re-provisions a user's authenticator; it is enrolled again at the next login (RS-7).
#[utoipa::path(post, path = "/admin/users/{id}/reset-authenticator", tag = "admin",
    security(("session" = [])),
    params(("id" = String, Path, description = "User ID")),
    responses(
        (status = 204, description = "Reset"),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `password_change_required`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn reset_authenticator<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    checked_id(Field::UserId, &id)?;
    st.service()
        .admin_reset_authenticator(token.expose(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
