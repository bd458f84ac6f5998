//! `monban_core::Error` → HTTP, mapped once (DESIGN principle 4), plus the few problems only the
//! HTTP layer knows (a body that is not JSON, an unknown route, ...).
//!
//! Every error answer is JSON `{"code": ..., "message": ...}` (plus `field` where the error names
//! one, and `feature` where the policy turns the feature off). The message is in the language the
//! request's `Accept-Language` asks for (Japanese or English), else in the policy's
//! `mail.default_lang`: handlers and extractors return an [`ApiError`], and the [`finish`]
//! middleware — which knows the request — renders it. The same middleware turns any other error
//! response (axum's own 404 / 405 / 413, a rejection that slipped through) into that JSON shape,
//! so a client never sees a plain-text rejection.
//!
//! Status codes, chosen once:
//!
//! | status | codes | why |
//! |---|---|---|
//! | 400 | `invalid_request` | the request could not be read: malformed JSON, wrong types, unknown fields, missing content type, non-UTF-8, a bad path or query parameter (also a paging cursor `after` the service never issued, on every store) |
//! | 401 | `login_failed`, `session_invalid`, `challenge_expired`, `otp_invalid`, `unauthorized` | a credential is missing or wrong (L-5, L-9; `unauthorized`: the support token) |
//! | 403 | `forbidden`, `support_only`, `password_change_required`, `mail_otp_not_configured` | understood, refused for this actor or account |
//! | 404 | `not_found`, `session_not_found`, `not_enabled`, `route_not_found` | no such user; no such session of the user; the policy turns the feature off; no such endpoint |
//! | 405 | `method_not_allowed` | |
//! | 408 | `request_timeout` | the body did not arrive within the server's deadline (AB-5) |
//! | 409 | `email_taken`, `same_as_admin_taken`, `user_id_taken`, `tenant_exists`, `certificate_taken`, `conflict` | clashes with stored state (E-1, E-2, T-4, L-8: a certificate another account holds, without `replace`); `conflict` may be retried |
//! | 410 | `reset_link_invalid` | the one-time link is used, superseded or expired (RS-1) |
//! | 413 | `payload_too_large` | body over 64 KiB |
//! | 422 | `invalid_input`, `password_mismatch`, `password_rejected`, `current_password_wrong`, `email_required_for_mail_otp`, `shipping_not_allowed`, `field_not_editable`, `reset_input_invalid` | the request was read, and the rules refuse what it says (PW-1, PW-2, E-6, R-3, T-4, RS-3 opt-in) |
//! | 423 | `locked` | L-6 |
//! | 429 | `resend_limited`, `throttled` | L-3; `throttled`: this client address failed or asked too often, with `Retry-After` in seconds (AB-1, AB-2) |
//! | 500 | `policy_invalid`, `internal` | a server fault, never the client's input |
//! | 503 | `busy`, `store_unavailable`, `mail_failed` | retry later (`busy`: every password-hashing slot is taken, with `Retry-After` (AB-4); the state is stored; `mail_failed` is no longer answered: mails are queued, M-4) |
//!
//! 400 versus 422: 400 means "I could not read this request"; 422 means "I read it, and the
//! rules say no" — the message then is the seed text a person should see.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use monban_core::ports::{Mailer, Store};
use monban_core::{Error, Lang};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// An error problem only the HTTP layer knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpProblem {
    /// The request could not be read (JSON syntax, types, unknown fields, content type, UTF-8,
    /// path or query parameters).
    InvalidRequest,
    /// The body is over [`crate::BODY_LIMIT`].
    PayloadTooLarge,
    /// The body did not arrive within the server's body deadline (AB-5).
    RequestTimeout,
    /// The support token is missing or wrong.
    Unauthorized,
    /// No such endpoint.
    RouteNotFound,
    /// The endpoint does not take this method.
    MethodNotAllowed,
    /// A server fault.
    Internal,
}

impl HttpProblem {
    /// Every problem.
    pub const ALL: [HttpProblem; 7] = [
        HttpProblem::InvalidRequest,
        HttpProblem::PayloadTooLarge,
        HttpProblem::RequestTimeout,
        HttpProblem::Unauthorized,
        HttpProblem::RouteNotFound,
        HttpProblem::MethodNotAllowed,
        HttpProblem::Internal,
    ];

    fn code(self) -> &'static str {
        match self {
            HttpProblem::InvalidRequest => "invalid_request",
            HttpProblem::PayloadTooLarge => "payload_too_large",
            HttpProblem::RequestTimeout => "request_timeout",
            HttpProblem::Unauthorized => "unauthorized",
            HttpProblem::RouteNotFound => "route_not_found",
            HttpProblem::MethodNotAllowed => "method_not_allowed",
            HttpProblem::Internal => "internal",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            HttpProblem::InvalidRequest => StatusCode::BAD_REQUEST,
            HttpProblem::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            HttpProblem::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            HttpProblem::Unauthorized => StatusCode::UNAUTHORIZED,
            HttpProblem::RouteNotFound => StatusCode::NOT_FOUND,
            HttpProblem::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            HttpProblem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (HttpProblem::InvalidRequest, Lang::Ja) => "リクエストの形式が正しくありません。",
            (HttpProblem::InvalidRequest, Lang::En) => {
                "The request could not be read: check the JSON body, its fields and types, and the parameters."
            }
            (HttpProblem::PayloadTooLarge, Lang::Ja) => "リクエストが大きすぎます。",
            (HttpProblem::PayloadTooLarge, Lang::En) => "The request body is too large.",
            (HttpProblem::RequestTimeout, Lang::Ja) => {
                "リクエストの受信が時間内に完了しませんでした。もう一度お試しください。"
            }
            (HttpProblem::RequestTimeout, Lang::En) => {
                "The request body did not arrive in time. Please try again."
            }
            (HttpProblem::Unauthorized, Lang::Ja) => "認証情報がないか、正しくありません。",
            (HttpProblem::Unauthorized, Lang::En) => "The credentials are missing or not valid.",
            (HttpProblem::RouteNotFound, Lang::Ja) => "指定されたURLは存在しません。",
            (HttpProblem::RouteNotFound, Lang::En) => "No such endpoint.",
            (HttpProblem::MethodNotAllowed, Lang::Ja) => {
                "このURLではそのメソッドは使用できません。"
            }
            (HttpProblem::MethodNotAllowed, Lang::En) => "This method is not allowed here.",
            (HttpProblem::Internal, Lang::Ja) => {
                "ただいま処理できません。しばらくしてから再度お試しください。"
            }
            (HttpProblem::Internal, Lang::En) => "An internal error occurred.",
        }
    }
}

/// What a handler or extractor answers when it fails: a core error or an HTTP-level problem.
/// Rendered to `{code, message}` in the request's language by [`finish`].
#[derive(Clone, Debug)]
pub enum ApiError {
    /// From the core.
    Core(Error),
    /// From the HTTP layer.
    Http(HttpProblem),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Core(e)
    }
}

impl From<HttpProblem> for ApiError {
    fn from(p: HttpProblem) -> Self {
        ApiError::Http(p)
    }
}

/// The one place that maps a core error to a status (see the table in the module doc).
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidInput { .. }
        | Error::PasswordMismatch
        | Error::PasswordRejected(_)
        | Error::CurrentPasswordWrong
        | Error::EmailRequiredForMailOtp
        | Error::ShippingNotAllowed
        | Error::FieldNotEditable { .. }
        | Error::ResetInputInvalid => StatusCode::UNPROCESSABLE_ENTITY,
        Error::LoginFailed
        | Error::SessionInvalid
        | Error::ChallengeExpired
        | Error::OtpInvalid => StatusCode::UNAUTHORIZED,
        Error::Locked => StatusCode::LOCKED,
        Error::Forbidden
        | Error::SupportOnly
        | Error::PasswordChangeRequired
        | Error::MailOtpNotConfigured => StatusCode::FORBIDDEN,
        Error::NotFound | Error::SessionNotFound | Error::NotEnabled { .. } => {
            StatusCode::NOT_FOUND
        }
        Error::EmailTaken
        | Error::SameAsAdminTaken
        | Error::UserIdTaken
        | Error::TenantExists
        | Error::CertificateTaken
        | Error::Conflict => StatusCode::CONFLICT,
        Error::ResetLinkInvalid => StatusCode::GONE,
        Error::ResendLimited | Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        // A paging cursor the service never issued: code `invalid_request` like the other
        // unreadable query parameters.
        Error::InvalidCursor => StatusCode::BAD_REQUEST,
        Error::Busy | Error::StoreUnavailable | Error::MailFailed => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        // PolicyInvalid, and any code a newer core adds before this table learns it.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Core(e) => status_of(e),
            ApiError::Http(p) => p.status(),
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Core(e) => e.code(),
            ApiError::Http(p) => p.code(),
        }
    }

    /// The body in `lang`.
    pub fn body(&self, lang: Lang) -> ErrorBody {
        match self {
            ApiError::Core(e) => ErrorBody {
                code: e.code().to_owned(),
                message: e.message(lang),
                field: match e {
                    Error::InvalidInput { field, .. } | Error::FieldNotEditable { field } => {
                        Some(field.as_str().to_owned())
                    }
                    Error::NotEnabled { feature } => {
                        feature.input_field().map(|f| f.as_str().to_owned())
                    }
                    _ => None,
                },
                feature: match e {
                    Error::NotEnabled { feature } => Some(feature.as_str().to_owned()),
                    _ => None,
                },
                problems: match e {
                    Error::PasswordRejected(found) => {
                        Some(found.iter().map(|&p| ProblemBody::of(p, lang)).collect())
                    }
                    _ => None,
                },
            },
            ApiError::Http(p) => ErrorBody {
                code: p.code().to_owned(),
                message: p.message(lang).to_owned(),
                field: None,
                feature: None,
                problems: None,
            },
        }
    }

    /// The response in `lang`, marked so that [`finish`] can re-render it.
    pub fn response(&self, lang: Lang) -> axum::response::Response {
        let mut res = (self.status(), Json(self.body(lang))).into_response();
        if res.status() == StatusCode::UNAUTHORIZED {
            // RFC 9110: a 401 names the scheme. The same header on every 401, so it tells
            // nothing about which credential was wrong (L-5).
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::Core(Error::Busy)) {
            // AB-4: a hashing slot frees within a few hash times.
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::Core(Error::Throttled { retry_after_secs }) = self {
            // AB-1, AB-2: when the address may try again.
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        res.extensions_mut().insert(self.clone());
        res
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        // English until `finish` knows the request's language.
        self.response(Lang::En)
    }
}

/// Every error answer: `{"code", "message"}`, plus `field` for `invalid_input` and
/// `field_not_editable`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine code (see [`ERROR_CODES`]).
    #[schema(schema_with = error_code_schema)]
    pub code: String,
    /// For a person, in the language of `Accept-Language` (ja or en), else the policy's default.
    /// Never carries a secret, and never says which login field was wrong (L-5).
    pub message: String,
    /// The input field concerned (`invalid_input`, `field_not_editable`, and `not_enabled`
    /// when the feature that is off is an input such as `access_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The feature the policy turns off (`not_enabled` only): `reset_link`, `identity_reset`,
    /// `forgot_login_id`, `password_notification` or `access_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// Every reason a new password was refused (`password_rejected` only), each with its limit,
    /// so a form can show them next to the field (PW-1, PW-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<ProblemBody>>,
}

/// One reason a new password was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ProblemBody {
    /// `too_short`, `too_long`, `character_not_allowed`, `missing_class`, `common`,
    /// `same_as_user_id`, `same_as_current` or `reused`.
    pub kind: String,
    /// `too_short`: the minimum length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// `too_long`: the maximum length in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// `missing_class`: `lower`, `upper`, `digit` or `symbol`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The sentence for a person, in the request's language.
    pub message: String,
}

impl ProblemBody {
    fn of(p: monban_core::PasswordProblem, lang: Lang) -> Self {
        // The core's serde form: `{"kind": ..., "min"|"max"|"class": ...}`.
        let v = serde_json::to_value(p).unwrap_or_default();
        Self {
            kind: v["kind"].as_str().unwrap_or_default().to_owned(),
            min: v["min"].as_u64(),
            max: v["max"].as_u64(),
            class: v["class"].as_str().map(str::to_owned),
            message: p.message(lang),
        }
    }
}

/// Every error code the API answers, with its status.
pub const ERROR_CODES: &[(&str, u16)] = &[
    ("invalid_request", 400),
    ("login_failed", 401),
    ("session_invalid", 401),
    ("challenge_expired", 401),
    ("otp_invalid", 401),
    ("unauthorized", 401),
    ("forbidden", 403),
    ("support_only", 403),
    ("password_change_required", 403),
    ("mail_otp_not_configured", 403),
    ("not_found", 404),
    ("session_not_found", 404),
    ("not_enabled", 404),
    ("route_not_found", 404),
    ("method_not_allowed", 405),
    ("request_timeout", 408),
    ("email_taken", 409),
    ("same_as_admin_taken", 409),
    ("user_id_taken", 409),
    ("tenant_exists", 409),
    ("certificate_taken", 409),
    ("conflict", 409),
    ("reset_link_invalid", 410),
    ("payload_too_large", 413),
    ("invalid_input", 422),
    ("password_mismatch", 422),
    ("password_rejected", 422),
    ("current_password_wrong", 422),
    ("email_required_for_mail_otp", 422),
    ("shipping_not_allowed", 422),
    ("field_not_editable", 422),
    ("reset_input_invalid", 422),
    ("locked", 423),
    ("resend_limited", 429),
    ("throttled", 429),
    ("policy_invalid", 500),
    ("internal", 500),
    ("busy", 503),
    ("store_unavailable", 503),
    ("mail_failed", 503),
];

fn error_code_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ERROR_CODES.iter().map(|(c, _)| *c)))
        .description(Some("Stable machine code."))
        .build()
}

/// The language of a request: `Accept-Language` (ja or en), else `default`.
pub fn request_lang(headers: &HeaderMap, default: Lang) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_tag)
        .unwrap_or(default)
}

/// Marks a response whose body a handler rendered itself (the HTML page of a reset link), so
/// [`finish`] leaves it alone even when it is an error.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OwnBody;

/// The outermost middleware: renders every error in the request's language, turns any other
/// error response into JSON `{code, message}`, and sets the headers every answer carries.
pub async fn finish<S: Store + 'static, M: Mailer + 'static>(
    State(state): State<AppState<S, M>>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    let lang = request_lang(req.headers(), state.service().policy().mail.default_lang);
    let res = next.run(req).await;
    let mut res = if let Some(e) = res.extensions().get::<ApiError>().cloned() {
        rerender(res, &e, lang)
    } else if (res.status().is_client_error() || res.status().is_server_error())
        && res.extensions().get::<OwnBody>().is_none()
    {
        let p = match res.status() {
            StatusCode::NOT_FOUND => HttpProblem::RouteNotFound,
            StatusCode::METHOD_NOT_ALLOWED => HttpProblem::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => HttpProblem::PayloadTooLarge,
            s if s.is_client_error() => HttpProblem::InvalidRequest,
            _ => HttpProblem::Internal,
        };
        rerender(res, &ApiError::Http(p), lang)
    } else {
        res
    };
    let h = res.headers_mut();
    // Answers carry tokens, temporary passwords' outcomes and personal data: never cached.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// `res` with its body replaced by `e` in `lang`; status from `e`, other headers kept (such as
/// axum's `Allow` on a 405).
fn rerender(res: axum::response::Response, e: &ApiError, lang: Lang) -> axum::response::Response {
    let (parts, _) = res.into_parts();
    let fresh = e.response(lang);
    let (fresh_parts, body) = fresh.into_parts();
    let mut out = Response::from_parts(parts, body);
    *out.status_mut() = fresh_parts.status;
    let h = out.headers_mut();
    h.remove(header::CONTENT_LENGTH);
    for (k, v) in &fresh_parts.headers {
        h.insert(k, v.clone());
    }
    out.extensions_mut().insert(e.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use monban_core::{Field, InputProblem};

    #[test]
    fn every_code_has_one_status_and_the_table_agrees_with_the_mapping() {
        let core = Error::one_of_each();
        let http = HttpProblem::ALL;
        let all: Vec<ApiError> = core
            .into_iter()
            .map(ApiError::Core)
            .chain(http.into_iter().map(ApiError::Http))
            .collect();
        // Error::InvalidCursor shares `invalid_request` with HttpProblem::InvalidRequest.
        let mut codes: Vec<&str> = all.iter().map(ApiError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ERROR_CODES.len());
        for e in &all {
            let listed = ERROR_CODES.iter().find(|(c, _)| *c == e.code());
            assert_eq!(
                listed.map(|(_, s)| *s),
                Some(e.status().as_u16()),
                "{}",
                e.code()
            );
            for lang in [Lang::Ja, Lang::En] {
                assert!(!e.body(lang).message.is_empty());
            }
        }
    }

    #[test]
    fn bad_input_is_never_a_server_error() {
        // Every error a client's input can cause is a 4xx.
        for e in [
            Error::invalid(Field::UserId, InputProblem::TooLong { max: 20 }),
            Error::invalid(Field::TenantCode, InputProblem::Format),
            Error::invalid(Field::Name, InputProblem::ControlCharacter),
            Error::PasswordRejected(vec![]),
        ] {
            assert!(status_of(&e).is_client_error());
        }
    }

    #[test]
    fn accept_language_picks_the_message_language() {
        // SPEC: M-2
        let mut h = HeaderMap::new();
        assert_eq!(request_lang(&h, Lang::Ja), Lang::Ja);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-US,en;q=0.9"),
        );
        assert_eq!(request_lang(&h, Lang::Ja), Lang::En);
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("de"));
        assert_eq!(request_lang(&h, Lang::En), Lang::En);
        // SPEC: L-5
        assert_eq!(
            ApiError::Core(Error::LoginFailed).body(Lang::Ja).message,
            "ログインに失敗しました。入力内容を確認してください。"
        );
    }
}
