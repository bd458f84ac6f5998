//! What every page shares: the request's context (language, cookies), CSRF checking of a
//! posted form, rendering with the security headers, and errors shown next to their fields.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use cookie::{Cookie, SameSite};
use monban_core::ports::{Mailer, Store};
use monban_core::{Lang, Secret};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq as _;

use super::theme::{CookieMode, Theme};
use crate::http_error::{ApiError, OwnBody, request_lang};
use crate::state::AppState;

/// The strict policy every page is sent with (UI-2): nothing but this origin's stylesheet and
/// images, no script at all, forms post only here, never framed.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The session cookie's name (without the `__Host-` prefix).
pub(crate) const SESSION: &str = "monban-session";
/// The pending second factor's challenge.
pub(crate) const CHALLENGE: &str = "monban-challenge";
/// The CSRF token (double-submit: the form's `csrf` field must equal it).
pub(crate) const CSRF: &str = "monban-csrf";
/// The language chosen with the page's switch (not a secret: no `HttpOnly` needed, kept anyway).
pub(crate) const LANG: &str = "monban-lang";

/// The stable code of a refused form (403).
pub const CSRF_CODE: &str = "csrf_invalid";

/// A cookie's name in `mode`.
pub fn cookie_name(mode: CookieMode, base: &str) -> String {
    match mode {
        CookieMode::Host => format!("__Host-{base}"),
        CookieMode::DevHttp => base.to_owned(),
    }
}

/// What a page knows of its request.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The page language: the switch's cookie, else `Accept-Language`, else the policy's.
    pub(crate) lang: Lang,
    /// The session token from the cookie.
    pub(crate) session: Option<Secret>,
    /// The pending login challenge from the cookie.
    pub(crate) challenge: Option<Secret>,
    /// The CSRF token: the cookie's, or a new one (then set on the answer).
    pub(crate) csrf: String,
    csrf_is_new: bool,
    /// The cookie mode.
    pub(crate) mode: CookieMode,
    /// `Set-Cookie` values for the answer.
    pub(crate) set_cookies: Vec<String>,
}

fn new_token() -> String {
    let mut b = [0u8; 32];
    // As `monban_embedded::OsRandom`: bytes that are not random would make a guessable token,
    // so a failing OS source (which `monban serve` probes at start) stops this request.
    if let Err(e) = getrandom::fill(&mut b) {
        tracing::error!(error = %e, "the operating system's random source failed");
        #[allow(clippy::panic)]
        {
            panic!("the operating system's random source failed: {e}");
        }
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'static>> + '_ {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()).filter_map(Result::ok))
}

impl Ctx {
    /// Reads the request's parts.
    pub(crate) fn of<S: Store + 'static, M: Mailer + 'static>(
        parts: &Parts,
        st: &AppState<S, M>,
    ) -> Self {
        let mode = st.page_theme().cookies();
        let get = |base: &str| {
            let name = cookie_name(mode, base);
            cookies(&parts.headers)
                .find(|c| c.name() == name && !c.value().is_empty())
                .map(|c| c.value().to_owned())
        };
        let lang = get(LANG)
            .and_then(|l| Lang::from_tag(&l))
            .unwrap_or_else(|| {
                request_lang(&parts.headers, st.service().policy().mail.default_lang)
            });
        let (csrf, csrf_is_new) = match get(CSRF).filter(|t| t.len() == 43) {
            Some(t) => (t, false),
            None => (new_token(), true),
        };
        let mut ctx = Self {
            lang,
            session: get(SESSION).map(Secret::new),
            challenge: get(CHALLENGE).map(Secret::new),
            csrf,
            csrf_is_new,
            mode,
            set_cookies: Vec::new(),
        };
        if ctx.csrf_is_new {
            let v = ctx.csrf.clone();
            ctx.set(CSRF, &v, None);
        }
        ctx
    }

    /// Sets cookie `base` to `value` (`max_age` seconds; `None`: until the browser closes).
    pub(crate) fn set(&mut self, base: &str, value: &str, max_age: Option<i64>) {
        let mut c = Cookie::build((cookie_name(self.mode, base), value.to_owned()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.mode == CookieMode::Host)
            .build();
        if let Some(s) = max_age {
            c.set_max_age(cookie::time::Duration::seconds(s.max(0)));
        }
        self.set_cookies.push(c.to_string());
    }

    /// Removes cookie `base`.
    pub(crate) fn clear(&mut self, base: &str) {
        self.set(base, "", Some(0));
    }
}

impl<S: Store + 'static, M: Mailer + 'static> FromRequestParts<AppState<S, M>> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &AppState<S, M>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Ctx::of(parts, st))
    }
}

/// A posted form whose CSRF token matched (UI-2): `T` from the urlencoded body, plus the
/// request's [`Ctx`]. A missing or wrong token, a cross-site request (`Sec-Fetch-Site`), a body
/// that is no form, or a new CSRF cookie (none came with the request) → 403 `csrf_invalid`.
#[derive(Debug)]
pub(crate) struct Posted<T> {
    /// The request's context.
    pub(crate) ctx: Ctx,
    /// The form.
    pub(crate) form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<S: Store + 'static, M: Mailer + 'static, T: DeserializeOwned> FromRequest<AppState<S, M>>
    for Posted<T>
{
    type Rejection = Response;

    async fn from_request(req: Request, st: &AppState<S, M>) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let ctx = Ctx::of(&parts, st);
        let refuse = |ctx: &Ctx| refused(st.page_theme(), ctx);
        let cross_site = parts
            .headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if cross_site || !is_form || ctx.csrf_is_new {
            return Err(refuse(&ctx));
        }
        let bytes = match Bytes::from_request(Request::from_parts(parts, body), &()).await {
            Ok(b) => b,
            Err(r) => return Err(r.into_response()),
        };
        let sent: CsrfField = serde_urlencoded::from_bytes(&bytes).map_err(|_| refuse(&ctx))?;
        if !bool::from(sent.csrf.as_bytes().ct_eq(ctx.csrf.as_bytes())) {
            return Err(refuse(&ctx));
        }
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            let mut r = message(
                st.page_theme(),
                &ctx,
                StatusCode::BAD_REQUEST,
                "error_title",
                &ApiError::from(crate::http_error::HttpProblem::InvalidRequest)
                    .body(ctx.lang)
                    .message,
            );
            r.headers_mut()
                .insert("x-monban-code", HeaderValue::from_static("invalid_request"));
            r
        })?;
        Ok(Posted { ctx, form })
    }
}

fn refused(theme: &Theme, ctx: &Ctx) -> Response {
    let mut r = message(
        theme,
        ctx,
        StatusCode::FORBIDDEN,
        "error_title",
        &theme.text(ctx.lang, "csrf_invalid"),
    );
    r.headers_mut()
        .insert("x-monban-code", HeaderValue::from_static(CSRF_CODE));
    r
}

/// Adds the headers every page carries and the context's cookies.
pub(crate) fn finish_page(ctx: &Ctx, mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The login URL may carry the access key (`?key=`), the reset link its token.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    for c in &ctx.set_cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    res.extensions_mut().insert(OwnBody);
    res
}

/// `303 See Other` to `to` (a path on this server).
pub(crate) fn redirect(ctx: &Ctx, to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    finish_page(ctx, res)
}

/// Renders template `name` with the common context (`t` texts, `lang`, `csrf`) and `page`.
pub(crate) fn render(
    theme: &Theme,
    ctx: &Ctx,
    status: StatusCode,
    name: &str,
    page: Value,
) -> Response {
    let mut all = Map::new();
    all.insert("t".into(), theme.texts(ctx.lang).clone());
    all.insert(
        "lang".into(),
        Value::from(match ctx.lang {
            Lang::Ja => "ja",
            Lang::En => "en",
        }),
    );
    all.insert("csrf".into(), Value::from(ctx.csrf.clone()));
    all.insert("signed_in".into(), Value::from(ctx.session.is_some()));
    if let Value::Object(m) = page {
        all.extend(m);
    }
    let res = match theme.render(name, &Value::Object(all)) {
        Ok(html) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "a page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    };
    finish_page(ctx, res)
}

/// A page with a title and one message (outcomes and errors).
pub(crate) fn message(
    theme: &Theme,
    ctx: &Ctx,
    status: StatusCode,
    title_key: &str,
    text: &str,
) -> Response {
    render(
        theme,
        ctx,
        status,
        "message.html",
        json!({"title": theme.text(ctx.lang, title_key), "message": text}),
    )
}

/// The field an error belongs next to, by the form's field names; `_form` for the whole form.
pub(crate) fn error_field(e: &ApiError, lang: Lang) -> (String, Value) {
    let body = e.body(lang);
    let field = match (body.code.as_str(), body.field.as_deref()) {
        ("password_mismatch", _) => "confirm",
        ("password_rejected", _) => "new",
        ("current_password_wrong", _) => "current",
        ("otp_invalid", _) => "code",
        ("email_taken" | "email_required_for_mail_otp", _) => "email",
        ("user_id_taken", _) => "user_id",
        ("same_as_admin_taken", _) => "same_as_admin",
        ("shipping_not_allowed", _) => "role",
        ("invalid_input" | "field_not_editable", Some("tenant_code")) => "tenant",
        ("invalid_input" | "field_not_editable", Some("password")) => "password",
        ("invalid_input" | "field_not_editable", Some(f)) => {
            return (f.to_owned(), Value::from(body.message));
        }
        _ => "_form",
    };
    let mut msg = body.message;
    if let Some(problems) = body.problems {
        for p in problems {
            msg.push(' ');
            msg.push_str(&p.message);
        }
    }
    (field.to_owned(), Value::from(msg))
}

/// `{"errors": {field: message}}` for `e`.
pub(crate) fn errors_of(e: &ApiError, lang: Lang) -> Value {
    let (f, m) = error_field(e, lang);
    let mut errors = Map::new();
    errors.insert(f, m);
    Value::Object(errors)
}
