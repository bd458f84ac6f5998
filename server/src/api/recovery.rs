//! Recovery without a session (RS-1..RS-6): reset link, identity reset, forgot login ID,
//! password notification.
//!
//! SPEC: RS-3 — for an unknown account the core answers exactly as for a known one, and these
//! handlers turn both into the same `202 {"status":"accepted"}`: same status, same headers, same
//! body. Nothing here depends on whether the account exists.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap};
use axum::response::{IntoResponse, Response};
use monban_core::flow::recovery::IdentityClaim as CoreClaim;
use monban_core::ports::{Mailer, Store};
use monban_core::service::{ForgotLoginId as CoreForgot, ResetRequest as CoreReset};
use monban_core::{Lang, Secret};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::Accepted;
use crate::extract::{ApiJson, ApiPath, ClientIp};
use crate::http_error::{ApiError, ErrorBody, HttpProblem, request_lang};
use crate::state::AppState;

/// RS-1: asks for a reset link.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Tenant code (defaults to the policy's tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// User ID.
    pub user_id: String,
    /// The tenant's access key (T-2).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub access_key: Option<Secret>,
}

/// RS-1: the token of a reset link.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenLink {
    /// The last path segment of the mailed URL.
    #[schema(value_type = String, format = Password)]
    pub token: Secret,
}

/// RS-4: the identity-verification form: every field must match the account.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityClaim {
    /// Login ID.
    pub login_id: String,
    /// Name (full-width spaces, runs of spaces and case ignored, P-5).
    pub name: String,
    /// Phone (digits compared).
    pub phone: String,
    /// The registered e-mail (this form cannot set a new one).
    pub email: String,
}

/// RS-5: forgot login ID.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotLoginId {
    /// The registered e-mail.
    pub email: String,
    /// Name, where the policy asks for it.
    #[serde(default)]
    pub name: Option<String>,
    /// Phone, where the policy asks for it.
    #[serde(default)]
    pub phone: Option<String>,
}

/// RS-6: e-Parcel password notification.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordNotification {
    /// The ID (the e-mail address).
    pub email: String,
}

/// The link was opened: a temporary password is on its way (RS-1).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkOpened {
    /// Always `temporary_password_mailed`.
    pub status: String,
    /// For a person, in the request's language.
    pub message: String,
}

fn opened_message(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => {
            "仮パスワードを登録済みのメールアドレスへお送りしました。メールに記載の仮パスワードでログインし、パスワードを変更してください。"
        }
        Lang::En => {
            "A temporary password was sent to your registered e-mail address. Log in with it, then choose a new password."
        }
    }
}

fn accepted() -> (StatusCode, Json<Accepted>) {
    (StatusCode::ACCEPTED, Json(Accepted::new()))
}

/// Asks for a reset link (RS-1, RS-2).
#[utoipa::path(post, path = "/reset", tag = "recovery",
    request_body = ResetRequest,
    responses(
        (status = 202, description = "Accepted — the same answer whether or not the account exists (RS-3)", body = Accepted),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 404, description = "`not_enabled`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`; `reset_input_invalid` only where the policy opts into revealing unknown accounts", body = ErrorBody),
        (status = 429, description = "`throttled`: this client address is blocked (AB-1) or asked too often (AB-2); `Retry-After` says when to try again", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn request_reset<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    ClientIp(addr): ClientIp,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // SPEC: AB-1, AB-2 — before anything is looked up, hashed or mailed.
    st.service().recovery_gate(&addr).await?;
    let req = CoreReset {
        tenant: req.tenant,
        user_id: req.user_id,
        access_key: req.access_key,
    };
    st.service().request_password_reset(&req).await?;
    Ok(accepted())
}

/// Presses the reset page's button (RS-1): the link dies and a temporary password is mailed,
/// issued beside the current password (RS-10). Takes JSON `{"token"}` (API clients, answered
/// in JSON) or the page's form (`application/x-www-form-urlencoded`, answered with a page).
#[utoipa::path(post, path = "/reset/open", tag = "recovery",
    request_body(content(
        (OpenLink = "application/json"),
        (OpenLink = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The temporary password was mailed",
            content((LinkOpened = "application/json"), (String = "text/html"))),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 410, description = "`reset_link_invalid`: used, superseded or expired",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn open_link_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let lang = request_lang(&headers, st.service().policy().mail.default_lang);
    if is_form(&headers) {
        let bytes = match Bytes::from_request(req, &()).await {
            Ok(b) => b,
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(HttpProblem::PayloadTooLarge.into());
            }
            Err(_) => return Err(HttpProblem::InvalidRequest.into()),
        };
        let token = form_token(&bytes).ok_or(HttpProblem::InvalidRequest)?;
        let outcome = st.service().open_reset_link(token.expose()).await;
        return Ok(crate::pages::reset_link_page(
            &st,
            &headers,
            None,
            Some(outcome.map_err(ApiError::from)),
        ));
    }
    let ApiJson(req) = ApiJson::<OpenLink>::from_request(req, &()).await?;
    st.service().open_reset_link(req.token.expose()).await?;
    Ok(Json(LinkOpened {
        status: "temporary_password_mailed".into(),
        message: opened_message(lang).into(),
    })
    .into_response())
}

/// The reset link as mailed (RS-1). Opening it changes nothing — mail scanners fetch links
/// with GET and HEAD — and shows a page whose button POSTs the token to `/reset/open`
/// (a browser, `Accept` preferring `text/html`), or tells an API client to POST it.
#[utoipa::path(get, path = "/reset/{token}", tag = "recovery",
    params(("token" = String, Path, description = "The token from the mailed URL")),
    responses(
        (status = 200, description = "A page with the button that issues the temporary password; nothing is changed",
            content((LinkPage = "application/json"), (String = "text/html"))),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 410, description = "`reset_link_invalid`: used, superseded or expired",
            content((ErrorBody = "application/json"), (String = "text/html"))),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn open_link_get<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
) -> Response {
    let token = Secret::new(token);
    let lang = request_lang(&headers, st.service().policy().mail.default_lang);
    // Reads only: a dead link says so, a live one is left as it is.
    if let Err(e) = st.service().check_reset_link(token.expose()).await {
        return if wants_html(&headers) {
            crate::pages::reset_link_page(&st, &headers, None, Some(Err(e.into())))
        } else {
            ApiError::from(e).into_response()
        };
    }
    if !wants_html(&headers) {
        return Json(LinkPage {
            status: "confirm".into(),
            message: confirm_message(lang).into(),
        })
        .into_response();
    }
    // SPEC: UI-1 — the confirmation page (RS-1) from the theme's templates; its button
    // POSTs the token to `/reset/open` (the token is the form's proof: no CSRF cookie needed).
    crate::pages::reset_link_page(&st, &headers, Some(token.expose()), None)
}

/// What `GET /reset/{token}` tells an API client: POST the token to `/reset/open`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkPage {
    /// Always `confirm`.
    pub status: String,
    /// For a person, in the request's language.
    pub message: String,
}

fn confirm_message(lang: Lang) -> &'static str {
    match lang {
        Lang::Ja => {
            "パスワードを初期化するには、下のボタンを押してください。仮パスワードを登録済みのメールアドレスへお送りします。現在のパスワードは、仮パスワードでログインするまで引き続き使えます。"
        }
        Lang::En => {
            "To reset your password, press the button below: a temporary password will be sent to your registered e-mail address. Your current password keeps working until you log in with the temporary one."
        }
    }
}

/// `application/x-www-form-urlencoded`, parameters ignored.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The `token` field of a urlencoded form.
/// The `token` of the link page's form: its one field, as in the JSON body (any other field is
/// refused, as `deny_unknown_fields` refuses it there).
fn form_token(body: &[u8]) -> Option<Secret> {
    let body = std::str::from_utf8(body).ok()?;
    let mut token = None;
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=')?;
        if k != "token" || token.is_some() {
            return None;
        }
        token = Some(percent_decode(v)?);
    }
    token
}

fn percent_decode(v: &str) -> Option<Secret> {
    let mut out = Vec::with_capacity(v.len());
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok().map(Secret::new)
}

/// Whether the client prefers HTML to JSON (a browser opening the mailed link).
fn wants_html(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let q = |wanted: &str| {
        accept
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let media = it.next()?.trim();
                if !media.eq_ignore_ascii_case(wanted) {
                    return None;
                }
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some(q)
            })
            .fold(0.0_f32, f32::max)
    };
    let html = q("text/html");
    html > 0.0 && html >= q("application/json")
}

/// Identity-verification reset (RS-4): a temporary password goes to the registered address
/// when login ID, name, phone and e-mail all match.
#[utoipa::path(post, path = "/reset/identity", tag = "recovery",
    request_body = IdentityClaim,
    responses(
        (status = 202, description = "Accepted — the same answer on any mismatch (RS-4)", body = Accepted),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 404, description = "`not_enabled`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`; `reset_input_invalid` where the policy opts in", body = ErrorBody),
        (status = 429, description = "`throttled`: this client address is blocked (AB-1) or asked too often (AB-2); `Retry-After` says when to try again", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn identity_reset<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    ClientIp(addr): ClientIp,
    ApiJson(c): ApiJson<IdentityClaim>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // SPEC: AB-1, AB-2 — before anything is looked up, hashed or mailed.
    st.service().recovery_gate(&addr).await?;
    let claim = CoreClaim {
        login_id: c.login_id,
        name: c.name,
        phone: c.phone,
        email: c.email,
    };
    st.service().identity_reset(&claim).await?;
    Ok(accepted())
}

/// Forgot login ID (RS-5): the login ID is mailed to the registered address.
#[utoipa::path(post, path = "/forgot-login-id", tag = "recovery",
    request_body = ForgotLoginId,
    responses(
        (status = 202, description = "Accepted — the same answer whether or not the address is known (RS-5)", body = Accepted),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 404, description = "`not_enabled`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`; `reset_input_invalid` where the policy opts in", body = ErrorBody),
        (status = 429, description = "`throttled`: this client address is blocked (AB-1) or asked too often (AB-2); `Retry-After` says when to try again", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn forgot_login_id<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    ClientIp(addr): ClientIp,
    ApiJson(f): ApiJson<ForgotLoginId>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // SPEC: AB-1, AB-2 — before anything is looked up, hashed or mailed.
    st.service().recovery_gate(&addr).await?;
    let req = CoreForgot {
        email: f.email,
        name: f.name,
        phone: f.phone,
    };
    st.service().forgot_login_id(&req).await?;
    Ok(accepted())
}

/// e-Parcel password notification (RS-6, PW-7): a temporary password to the ID address.
#[utoipa::path(post, path = "/password-notification", tag = "recovery",
    request_body = PasswordNotification,
    responses(
        (status = 202, description = "Accepted — the same answer whether or not the address is known", body = Accepted),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 404, description = "`not_enabled`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`; `reset_input_invalid` where the policy opts in", body = ErrorBody),
        (status = 429, description = "`throttled`: this client address is blocked (AB-1) or asked too often (AB-2); `Retry-After` says when to try again", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn password_notification<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    ClientIp(addr): ClientIp,
    ApiJson(n): ApiJson<PasswordNotification>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // SPEC: AB-1, AB-2 — before anything is looked up, hashed or mailed.
    st.service().recovery_gate(&addr).await?;
    st.service().request_password_notification(&n.email).await?;
    Ok(accepted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::HeaderValue;

    #[test]
    fn browsers_get_html_and_api_clients_json() {
        let mut h = HeaderMap::new();
        assert!(!wants_html(&h));
        for (accept, html) in [
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                true,
            ),
            ("application/json", false),
            ("*/*", false),
            ("application/json, text/html;q=0.5", false),
            ("text/html;q=0", false),
            ("TEXT/HTML", true),
        ] {
            h.insert(header::ACCEPT, HeaderValue::from_static(accept));
            assert_eq!(wants_html(&h), html, "{accept}");
        }
    }
}
