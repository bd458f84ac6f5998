//! Login (L-1..L-9): first factor, second factor, resend, logout.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use monban_core::Secret;
use monban_core::flow::login::LoginStep;
use monban_core::ports::{Mailer, Store};
use monban_core::service::LoginRequest as CoreLoginRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::types::{LoginMethod, Session, TotpEnrolment};
use crate::extract::{ApiJson, ClientIp, SessionToken, TransportCert};
use crate::http_error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The first factor (L-1, T-2, T-5). Which fields are needed depends on the policy: tenant code
/// and user ID (Kuroneko), the e-mail (e-Parcel), a login ID (seed 002), or — after a client
/// certificate — access key and password (SECOM).
///
/// The certificate is not a field: it comes from the transport (L-8), never from the body,
/// because a fingerprint is no secret and anyone could claim one.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Tenant code (defaults to the policy's tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// User ID, login ID or e-mail, per policy.
    #[serde(default)]
    pub identifier: Option<String>,
    /// Password.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<Secret>,
    /// The tenant's access key (T-2).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    pub access_key: Option<Secret>,
}

/// What comes after the first factor.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "next", rename_all = "snake_case")]
pub enum LoginResponse {
    /// L-1: send the code with `POST /login/otp`.
    SecondFactor {
        /// Hand back with the code.
        challenge: String,
        /// How the code comes.
        method: LoginMethod,
        /// When the current code (mail OTP) or the challenge (TOTP) expires.
        expires_at: i64,
        /// Present when the user must first add the authenticator (TOTP without a secret).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enrolment: Option<TotpEnrolment>,
    },
    /// Signed in (maybe only to change the password: see `session.scope`).
    Session {
        /// The session.
        session: Session,
    },
}

/// A second-factor code for a challenge.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    /// The challenge from `POST /login`.
    #[schema(value_type = String, format = Password)]
    pub challenge: Secret,
    /// The 6-digit code (surrounding spaces are ignored, M-3).
    #[schema(value_type = String, format = Password)]
    pub code: Secret,
}

/// A challenge whose mail OTP should be sent again.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    /// The challenge from `POST /login`.
    #[schema(value_type = String, format = Password)]
    pub challenge: Secret,
}

/// A new code was mailed; the previous one no longer works (L-3).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Resent {
    /// When the new code expires.
    pub expires_at: i64,
}

/// First factor.
#[utoipa::path(post, path = "/login", tag = "login",
    request_body = LoginRequest,
    params(("X-Client-Cert-Sha256" = Option<String>, Header,
        description = "SHA-256 fingerprint of the client certificate (L-8); read only when the server is configured to trust its TLS terminator's header")),
    responses(
        (status = 200, description = "Second factor next, or signed in", body = LoginResponse),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`login_failed`: the same answer whichever field was wrong (L-5)", body = ErrorBody),
        (status = 403, description = "`mail_otp_not_configured` (L-2)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 423, description = "`locked`: only to someone who gave the right password (L-6)", body = ErrorBody),
        (status = 429, description = "`throttled`: too many failed logins from this client address (AB-1); `Retry-After` says when to try again", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn login<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    ClientIp(addr): ClientIp,
    TransportCert(certificate): TransportCert,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let req = CoreLoginRequest {
        tenant: req.tenant,
        identifier: req.identifier,
        password: req.password,
        access_key: req.access_key,
        certificate,
    };
    // SPEC: AB-1 — a blocked address is refused before any password work.
    st.service().address_gate(&addr).await?;
    // SPEC: L-5 — whatever the core answers goes out unchanged: one status, one body.
    let step = st.service().login(req).await;
    if matches!(step, Err(monban_core::Error::LoginFailed)) {
        // The failure's answer stays `login_failed` even if the counter cannot be written.
        if let Err(e) = st.service().record_address_failure(&addr).await {
            tracing::warn!(
                code = e.code(),
                "cannot count a failed login for its address"
            );
        }
    }
    let out = match step? {
        LoginStep::SecondFactor(c) => LoginResponse::SecondFactor {
            challenge: c.token.expose().to_owned(),
            method: c.method.into(),
            expires_at: c.expires_at.secs(),
            enrolment: c.enrolment.map(Into::into),
        },
        LoginStep::Session(s) => LoginResponse::Session { session: s.into() },
    };
    Ok(Json(out))
}

/// Second factor.
#[utoipa::path(post, path = "/login/otp", tag = "login",
    request_body = OtpRequest,
    responses(
        (status = 200, description = "Signed in (maybe only to change the password)", body = Session),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`otp_invalid` (counts toward the lock, L-4), `challenge_expired`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_input`", body = ErrorBody),
        (status = 423, description = "`locked`", body = ErrorBody),
        (status = 429, description = "`throttled`: this client address is blocked (AB-1); `Retry-After` says when to try again", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn verify_otp<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    ClientIp(addr): ClientIp,
    ApiJson(req): ApiJson<OtpRequest>,
) -> Result<Json<Session>, ApiError> {
    // SPEC: AB-1
    st.service().address_gate(&addr).await?;
    let s = st
        .service()
        .verify_second_factor(req.challenge.expose(), &req.code)
        .await?;
    Ok(Json(s.into()))
}

/// Mail the OTP again.
#[utoipa::path(post, path = "/login/otp/resend", tag = "login",
    request_body = ResendRequest,
    responses(
        (status = 200, description = "A new code was mailed", body = Resent),
        (status = 400, description = "`invalid_request`", body = ErrorBody),
        (status = 401, description = "`challenge_expired`", body = ErrorBody),
        (status = 403, description = "`mail_otp_not_configured`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 429, description = "`resend_limited` (L-3)", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn resend_otp<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    ApiJson(req): ApiJson<ResendRequest>,
) -> Result<Json<Resent>, ApiError> {
    let t = st.service().resend_otp(req.challenge.expose()).await?;
    Ok(Json(Resent {
        expires_at: t.secs(),
    }))
}

/// Ends every session of the user.
#[utoipa::path(post, path = "/logout", tag = "login",
    security(("session" = [])),
    responses(
        (status = 204, description = "This session ended; the user's other sessions go on (S-4)"),
        (status = 401, description = "`session_invalid`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
pub async fn logout<S: Store + 'static, M: Mailer + 'static>(
    State(st): State<AppState<S, M>>,
    SessionToken(token): SessionToken,
) -> Result<StatusCode, ApiError> {
    st.service().logout(token.expose()).await?;
    Ok(StatusCode::NO_CONTENT)
}
