//! The routes, their JSON types (DTOs) and the OpenAPI document built from them.
//!
//! The DTOs here are the HTTP contract: they derive `Deserialize`/`Serialize` + `ToSchema` and
//! convert to and from the core's types, which know nothing of HTTP or utoipa.

pub mod admin;
pub mod document;
pub mod limits;
pub mod login;
pub mod mail;
pub mod me;
pub mod policy;
pub mod recovery;
pub mod support;
pub mod types;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use monban_core::ports::{Mailer, Store};
use monban_core::{Error, Field, InputProblem};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::http_error::{ApiError, ErrorBody, HttpProblem, finish};
use crate::state::AppState;

/// Largest request body accepted (64 KiB); larger → 413 `payload_too_large`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Longest tenant code or user ID accepted in a path (the core's own input bound).
pub const MAX_PATH_ID: usize = 1024;

/// Refuses a path ID that is over-long or holds control characters before any work is done.
pub(crate) fn checked_id(field: Field, s: &str) -> Result<(), ApiError> {
    if s.chars().count() > MAX_PATH_ID {
        return Err(Error::invalid(field, InputProblem::TooLong { max: MAX_PATH_ID }).into());
    }
    if s.chars().any(char::is_control) {
        return Err(Error::invalid(field, InputProblem::ControlCharacter).into());
    }
    Ok(())
}

/// `GET /health`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// Liveness: the router answers.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document, with the input rules of the running policy", content_type = "application/json", body = Object)))]
pub async fn openapi<S: Store + 'static, M: Mailer + 'static>(
    axum::extract::State(st): axum::extract::State<AppState<S, M>>,
) -> Response {
    // The running policy's rules and examples (see `document`).
    let doc = document::document::<S>(st.service().policy()).to_string();
    let mut res = doc.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

async fn route_not_found() -> ApiError {
    HttpProblem::RouteNotFound.into()
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut session = Http::new(HttpAuthScheme::Bearer);
        session.description = Some(
            "A session token from `POST /login` → `POST /login/otp` (L-9): `Authorization: Bearer <token>`."
                .into(),
        );
        components.add_security_scheme("session", SecurityScheme::Http(session));
        let mut support = Http::new(HttpAuthScheme::Bearer);
        support.description = Some(
            "The support API token configured at the server's start (R-4): `Authorization: Bearer <token>`."
                .into(),
        );
        components.add_security_scheme("support", SecurityScheme::Http(support));
    }
}

/// The OpenAPI document: every route the [`router`] serves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "monban",
        description = "The monban authentication API. JSON in and out (snake_case); every error is `{\"code\", \"message\"}` with the message in the language of `Accept-Language` (ja or en). Times are seconds since the Unix epoch, except an audit record's `at`: an RFC 3339 UTC string."
    ),
    paths(
        health,
        openapi,
        policy::password_rules,
        login::login,
        login::verify_otp,
        login::resend_otp,
        login::logout,
        me::whoami,
        me::edit_self,
        me::change_password,
        me::begin_totp,
        me::confirm_totp,
        me::permission,
        me::list_sessions,
        me::end_session,
        me::end_other_sessions,
        admin::list_users,
        admin::create_user,
        admin::get_user,
        admin::edit_user,
        admin::delete_user,
        admin::unlock,
        admin::end_sessions,
        admin::reset_password,
        admin::reset_authenticator,
        support::create_tenant,
        support::list_tenants,
        support::get_tenant,
        support::edit_tenant,
        support::delete_tenant,
        support::list_users,
        support::create_user,
        support::get_user,
        support::delete_user,
        support::end_sessions,
        support::unlock,
        support::reset_password,
        support::change_admin_email,
        support::bind_certificate,
        support::sweep,
        support::audit,
        limits::list,
        limits::clear,
        mail::list,
        mail::retry,
        recovery::request_reset,
        recovery::open_link_post,
        recovery::open_link_get,
        recovery::identity_reset,
        recovery::forgot_login_id,
        recovery::password_notification,
    ),
    components(schemas(ErrorBody, types::Permission)),
    modifiers(&Security),
    tags(
        (name = "login", description = "L-1..L-9: first factor, second factor, logout"),
        (name = "self", description = "The signed-in user's own account"),
        (name = "admin", description = "R-1: the tenant admin's user management"),
        (name = "support", description = "R-4: support staff, with the support API token"),
        (name = "recovery", description = "RS-1..RS-6: recovery without a session"),
        (name = "meta", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// Middleware for `router(..).layer(axum::middleware::from_fn(log_request))`: one info line per
/// request with the method, the route *template* (a path may hold a reset token), the status,
/// whether a verified client certificate came with it, and the time taken. `monban serve` and
/// the `bootstrap` Lambda function both log through it.
pub async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let client_cert = req
        .extensions()
        .get::<crate::extract::VerifiedClientCert>()
        .is_some();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::info!(
        method = %method,
        route = route.as_deref().unwrap_or("-"),
        status = res.status().as_u16(),
        client_cert,
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    res
}

/// CORS for `origins`: the API's methods and request headers, `Retry-After` readable, no
/// credentials (the API's credential is the `Authorization` header, never a cookie), preflight
/// cached 10 minutes. `None` when no origin is configured.
fn cors(origins: &[HeaderValue]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::Method;
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT_LANGUAGE,
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The whole HTTP API as one router (DESIGN principle 7): the local server, the Lambda and the
/// tests all build this.
pub fn router<S: Store + 'static, M: Mailer + 'static>(state: AppState<S, M>) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi::<S, M>))
        .route("/policy/password", get(policy::password_rules::<S, M>))
        .route("/login", post(login::login::<S, M>))
        .route("/login/otp", post(login::verify_otp::<S, M>))
        .route("/login/otp/resend", post(login::resend_otp::<S, M>))
        .route("/logout", post(login::logout::<S, M>))
        .route("/me", get(me::whoami::<S, M>).patch(me::edit_self::<S, M>))
        .route("/me/password", post(me::change_password::<S, M>))
        .route("/me/totp", post(me::begin_totp::<S, M>))
        .route("/me/totp/confirm", post(me::confirm_totp::<S, M>))
        .route("/me/permissions/{permission}", get(me::permission::<S, M>))
        .route("/me/sessions", get(me::list_sessions::<S, M>))
        .route(
            "/me/sessions/end-others",
            post(me::end_other_sessions::<S, M>),
        )
        .route(
            "/me/sessions/{id}",
            axum::routing::delete(me::end_session::<S, M>),
        )
        .route(
            "/admin/users",
            get(admin::list_users::<S, M>).post(admin::create_user::<S, M>),
        )
        .route(
            "/admin/users/{id}",
            get(admin::get_user::<S, M>)
                .patch(admin::edit_user::<S, M>)
                .delete(admin::delete_user::<S, M>),
        )
        .route("/admin/users/{id}/unlock", post(admin::unlock::<S, M>))
        .route(
            "/admin/users/{id}/end-sessions",
            post(admin::end_sessions::<S, M>),
        )
        .route(
            "/admin/users/{id}/reset-password",
            post(admin::reset_password::<S, M>),
        )
        .route(
            "/admin/users/{id}/reset-authenticator",
            post(admin::reset_authenticator::<S, M>),
        )
        .route(
            "/support/tenants",
            get(support::list_tenants::<S, M>).post(support::create_tenant::<S, M>),
        )
        .route(
            "/support/tenants/{code}",
            get(support::get_tenant::<S, M>)
                .patch(support::edit_tenant::<S, M>)
                .delete(support::delete_tenant::<S, M>),
        )
        .route(
            "/support/tenants/{code}/users",
            get(support::list_users::<S, M>).post(support::create_user::<S, M>),
        )
        .route(
            "/support/tenants/{code}/users/{id}",
            get(support::get_user::<S, M>).delete(support::delete_user::<S, M>),
        )
        .route(
            "/support/tenants/{code}/users/{id}/end-sessions",
            post(support::end_sessions::<S, M>),
        )
        .route(
            "/support/tenants/{code}/users/{id}/unlock",
            post(support::unlock::<S, M>),
        )
        .route(
            "/support/tenants/{code}/users/{id}/reset-password",
            post(support::reset_password::<S, M>),
        )
        .route(
            "/support/tenants/{code}/admin-email",
            put(support::change_admin_email::<S, M>),
        )
        .route(
            "/support/tenants/{code}/users/{id}/certificates",
            post(support::bind_certificate::<S, M>),
        )
        .route("/support/sweep", post(support::sweep::<S, M>))
        .route("/support/audit", get(support::audit::<S, M>))
        .route("/support/mail", get(mail::list::<S, M>))
        .route("/support/mail/{id}/retry", post(mail::retry::<S, M>))
        .route("/support/limits", get(limits::list::<S, M>))
        .route(
            "/support/limits/{address}",
            axum::routing::delete(limits::clear::<S, M>),
        )
        .route("/reset", post(recovery::request_reset::<S, M>))
        .route("/reset/open", post(recovery::open_link_post::<S, M>))
        .route("/reset/identity", post(recovery::identity_reset::<S, M>))
        .route("/reset/{token}", get(recovery::open_link_get::<S, M>))
        .route("/forgot-login-id", post(recovery::forgot_login_id::<S, M>))
        .route(
            "/password-notification",
            post(recovery::password_notification::<S, M>),
        );
    // Browser apps on the configured origins may call the API (preflight answered here);
    // the pages below are same-origin only.
    let api = match cors(state.cors_allowed()) {
        Some(layer) => api.layer(layer),
        None => api,
    };
    api
        // SPEC: UI-1 — the pages, on the same router (so on `monban serve` and on Lambda).
        .merge(crate::pages::routes::<S, M>())
        .fallback(route_not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::extract::read_body_in_time::<S, M>,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            finish::<S, M>,
        ))
        .with_state(state)
}
