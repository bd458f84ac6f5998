//! The seed manuals' screens as HTML pages (UI-1..UI-3), under `/ui/`, on the same router as
//! the JSON API.
//!
//! Every page calls the same handler the JSON API runs (`crate::api::*`), so the rules, the
//! address gates (AB-1, AB-2), the error codes and the seed-worded messages are the API's; a
//! page only turns a form into the handler's input and its answer or error into HTML, the error
//! next to the field it concerns. The session lives in a `__Host-` cookie, every form carries a
//! CSRF token equal to a second `__Host-` cookie, and every page is sent with a strict
//! Content-Security-Policy (no script, no inline style, never framed). See ARCHITECTURE.md.

mod reference;
mod theme;
mod web;

pub use theme::{CookieMode, Theme};
pub use web::{CSP, CSRF_CODE, cookie_name};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use monban_core::policy::{CertificateLogin, Identifier};
use monban_core::ports::{Mailer, Store};
use monban_core::{Error, Lang, Secret};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::types::{Role, SessionScope};
use crate::api::{admin, login, me, policy, recovery};
use crate::extract::{ApiJson, ApiPath, ApiQuery, ClientIp, SessionToken, TransportCert};
use crate::http_error::ApiError;
use crate::state::AppState;
use web::{CHALLENGE, Ctx, LANG, Posted, SESSION, errors_of, message, redirect, render};

type St<S, M> = State<AppState<S, M>>;

/// The pages' routes, merged into [`crate::router`].
pub fn routes<S: Store + 'static, M: Mailer + 'static>() -> Router<AppState<S, M>> {
    Router::new()
        .route(
            "/ui",
            get(|ctx: Ctx| async move { redirect(&ctx, "/ui/login") }),
        )
        .route("/ui/style.css", get(style::<S, M>))
        .route("/docs", get(reference::page))
        .route("/docs/redoc.standalone.js", get(reference::bundle))
        .route("/ui/lang", post(switch_lang))
        .route(
            "/ui/login",
            get(login_page::<S, M>).post(login_post::<S, M>),
        )
        .route(
            "/ui/login/otp",
            get(otp_page::<S, M>).post(otp_post::<S, M>),
        )
        .route("/ui/login/otp/resend", post(otp_resend::<S, M>))
        .route("/ui/logout", post(logout::<S, M>))
        .route(
            "/ui/password",
            get(password_page::<S, M>).post(password_post::<S, M>),
        )
        .route("/ui/home", get(home::<S, M>))
        .route("/ui/home/profile", post(profile_post::<S, M>))
        .route("/ui/home/sessions/end", post(end_session::<S, M>))
        .route("/ui/home/sessions/end-others", post(end_others::<S, M>))
        .route("/ui/totp", get(totp_page::<S, M>).post(totp_begin::<S, M>))
        .route("/ui/totp/confirm", post(totp_confirm::<S, M>))
        .route(
            "/ui/reset",
            get(recovery_page::<S, M>).post(reset_post::<S, M>),
        )
        .route(
            "/ui/reset/identity",
            get(recovery_page::<S, M>).post(identity_post::<S, M>),
        )
        .route(
            "/ui/forgot-login-id",
            get(recovery_page::<S, M>).post(forgot_post::<S, M>),
        )
        .route(
            "/ui/password-notification",
            get(recovery_page::<S, M>).post(notification_post::<S, M>),
        )
        .route("/ui/admin/users", get(admin_users::<S, M>))
        .route(
            "/ui/admin/users/new",
            get(admin_new::<S, M>).post(admin_confirm::<S, M>),
        )
        .route("/ui/admin/users/create", post(admin_create::<S, M>))
        .route(
            "/ui/admin/users/{id}",
            get(admin_edit::<S, M>).post(admin_edit_post::<S, M>),
        )
        .route("/ui/admin/users/{id}/{action}", post(admin_action::<S, M>))
}

async fn style<S: Store + 'static, M: Mailer + 'static>(st: St<S, M>) -> Response {
    let mut res = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        st.page_theme().css().to_owned(),
    )
        .into_response();
    res.extensions_mut().insert(crate::http_error::OwnBody);
    res
}

/// A path on these pages to go back to (never another site: an open redirect).
fn local(back: &str) -> &str {
    if back.starts_with("/ui") && !back.starts_with("//") && !back.contains('\\') {
        back
    } else {
        "/ui/login"
    }
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    #[serde(default)]
    back: String,
}

/// The language switch: a cookie, then back to the page.
async fn switch_lang(Posted { mut ctx, form }: Posted<LangForm>) -> Response {
    let lang = Lang::from_tag(&form.lang).unwrap_or(ctx.lang);
    ctx.lang = lang;
    let tag = if lang == Lang::Ja { "ja" } else { "en" };
    ctx.set(LANG, tag, Some(365 * 86_400));
    redirect(&ctx, local(&form.back))
}

/// What the login form shows, from the policy and whether a verified client certificate came
/// with the request (L-8): with one, the certificate names the user.
fn login_fields<S: Store + 'static, M: Mailer + 'static>(st: &AppState<S, M>, cert: bool) -> Value {
    let p = st.service().policy();
    let by_cert = cert && p.login.certificate != CertificateLogin::Off;
    json!({
        "by_cert": by_cert,
        "password_optional": by_cert && p.login.certificate == CertificateLogin::PasswordProtect,
        "tenant": !by_cert && matches!(p.login.identifier, Identifier::TenantAndUserId),
        "identifier": match p.login.identifier {
            Identifier::TenantAndUserId => "user_id",
            Identifier::Email => "email",
            Identifier::LoginId => "login_id",
        },
        "access_key": p.profile.access_key_digits.is_some()
            && (!by_cert || p.login.certificate == CertificateLogin::ThenAccessKeyAndPassword),
        "reset_link": p.reset.link,
        "identity_reset": p.reset.identity,
        "forgot_login_id": p.reset.forgot_login_id,
        "notification": p.reset.notification,
    })
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    /// The access key, as in the Kuroneko manual's login URL.
    #[serde(default)]
    key: Option<String>,
}

fn login_view<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    cert: bool,
    ctx: &Ctx,
    status: StatusCode,
    form: &LoginForm,
    errors: Value,
) -> Response {
    render(
        st.page_theme(),
        ctx,
        status,
        "login.html",
        json!({
            "fields": login_fields(st, cert),
            "form": {"tenant": form.tenant, "identifier": form.identifier},
            "key": form.access_key,
            "key_from_url": form.key_from_url,
            "errors": errors,
        }),
    )
}

// SPEC: UI-1 — the login screen; the access key may come from the URL (Kuroneko).
async fn login_page<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ctx: Ctx,
    TransportCert(cert): TransportCert,
    ApiQuery(q): ApiQuery<LoginQuery>,
) -> Response {
    let form = LoginForm {
        key_from_url: q.key.is_some(),
        access_key: q.key.unwrap_or_default(),
        ..LoginForm::default()
    };
    login_view(&st, cert.is_some(), &ctx, StatusCode::OK, &form, json!({}))
}

#[derive(Deserialize, Default)]
struct LoginForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    access_key: String,
    #[serde(default)]
    key_from_url: bool,
}

fn some(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Where a new session goes: the forced change, or the user's page.
fn after_session(ctx: &mut Ctx, s: &crate::api::types::Session) -> Response {
    ctx.set(SESSION, &s.token, None);
    ctx.clear(CHALLENGE);
    match (s.scope, s.role) {
        (SessionScope::ChangePassword, _) => redirect(ctx, "/ui/password"),
        (_, Role::Admin) => redirect(ctx, "/ui/admin/users"),
        _ => redirect(ctx, "/ui/home"),
    }
}

async fn login_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ip: ClientIp,
    cert: TransportCert,
    Posted { mut ctx, form }: Posted<LoginForm>,
) -> Response {
    let has_cert = cert.0.is_some();
    let req = login::LoginRequest {
        tenant: some(&form.tenant),
        identifier: some(&form.identifier),
        password: (!form.password.is_empty()).then(|| Secret::new(form.password.clone())),
        access_key: some(&form.access_key).map(Secret::new),
    };
    // SPEC: L-5 — the API's handler: one answer whichever field was wrong, so the page for an
    // unknown account is the page for a wrong password.
    match login::login(State(st.clone()), ip, cert, ApiJson(req)).await {
        Ok(axum::Json(login::LoginResponse::Session { session })) => {
            after_session(&mut ctx, &session)
        }
        Ok(axum::Json(login::LoginResponse::SecondFactor {
            challenge,
            expires_at,
            enrolment,
            method,
        })) => {
            let ttl = expires_at - now_secs();
            ctx.set(CHALLENGE, &challenge, Some(ttl.max(60)));
            match enrolment {
                // The authenticator is added on this one page: its secret never goes in a URL.
                Some(e) => otp_view(&st, &ctx, StatusCode::OK, method, Some(&e), json!({})),
                None => redirect(
                    &ctx,
                    &format!("/ui/login/otp?method={}", method_tag(method)),
                ),
            }
        }
        Err(e) => {
            let status = e.status();
            let errors = errors_of(&e, ctx.lang);
            login_view(&st, has_cert, &ctx, status, &form, errors)
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn method_tag(m: crate::api::types::LoginMethod) -> &'static str {
    match m {
        crate::api::types::LoginMethod::MailOtp => "mail_otp",
        crate::api::types::LoginMethod::Totp => "totp",
    }
}

fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // The XML declaration is not allowed inside HTML.
    let start = svg.find("<svg")?;
    Some(svg[start..].to_owned())
}

fn otp_view<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    ctx: &Ctx,
    status: StatusCode,
    method: crate::api::types::LoginMethod,
    enrolment: Option<&crate::api::types::TotpEnrolment>,
    extra: Value,
) -> Response {
    let mut page = json!({
        "method": method_tag(method),
        "errors": {},
    });
    if let Some(e) = enrolment {
        page["enrolment"] = json!({"secret": e.secret_base32});
        page["qr"] = Value::from(qr_svg(&e.uri).unwrap_or_default());
    }
    if let (Value::Object(p), Value::Object(x)) = (&mut page, extra) {
        p.extend(x);
    }
    render(st.page_theme(), ctx, status, "otp.html", page)
}

#[derive(Deserialize, Default)]
struct OtpQuery {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    resent: Option<String>,
}

fn method_of(q: Option<&str>) -> crate::api::types::LoginMethod {
    if q == Some("totp") {
        crate::api::types::LoginMethod::Totp
    } else {
        crate::api::types::LoginMethod::MailOtp
    }
}

// SPEC: UI-1 — the second factor, with 「ワンタイムパスワードを再送信」.
async fn otp_page<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<OtpQuery>,
) -> Response {
    if ctx.challenge.is_none() {
        return redirect(&ctx, "/ui/login");
    }
    otp_view(
        &st,
        &ctx,
        StatusCode::OK,
        method_of(q.method.as_deref()),
        None,
        json!({"resent": q.resent.is_some()}),
    )
}

#[derive(Deserialize, Default)]
struct OtpForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    method: Option<String>,
}

async fn otp_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ip: ClientIp,
    Posted { mut ctx, form }: Posted<OtpForm>,
) -> Response {
    let Some(challenge) = ctx.challenge.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    let req = login::OtpRequest {
        challenge,
        code: Secret::new(form.code),
    };
    match login::verify_otp(State(st.clone()), ip, ApiJson(req)).await {
        Ok(axum::Json(s)) => after_session(&mut ctx, &s),
        Err(e) => {
            if matches!(e, ApiError::Core(Error::ChallengeExpired)) {
                ctx.clear(CHALLENGE);
            }
            let errors = errors_of(&e, ctx.lang);
            otp_view(
                &st,
                &ctx,
                e.status(),
                method_of(form.method.as_deref()),
                None,
                json!({"errors": errors}),
            )
        }
    }
}

async fn otp_resend<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { ctx, .. }: Posted<Value>,
) -> Response {
    let Some(challenge) = ctx.challenge.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    match login::resend_otp(
        State(st.clone()),
        ApiJson(login::ResendRequest { challenge }),
    )
    .await
    {
        Ok(_) => redirect(&ctx, "/ui/login/otp?method=mail_otp&resent=1"),
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            otp_view(
                &st,
                &ctx,
                e.status(),
                crate::api::types::LoginMethod::MailOtp,
                None,
                json!({"errors": errors}),
            )
        }
    }
}

// SPEC: UI-2 — logout only by POST (a GET is 405).
async fn logout<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { mut ctx, .. }: Posted<Value>,
) -> Response {
    if let Some(t) = ctx.session.clone() {
        // An already-ended session is logged out all the same.
        let _ = login::logout(State(st.clone()), SessionToken(t)).await;
    }
    ctx.clear(SESSION);
    ctx.clear(CHALLENGE);
    redirect(&ctx, "/ui/login")
}

/// A session-page error: back to the login page when the session is gone, to the forced
/// change when only that is allowed, else the message.
fn session_error<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    ctx: &mut Ctx,
    e: &ApiError,
) -> Response {
    match e {
        ApiError::Core(Error::SessionInvalid) => {
            ctx.clear(SESSION);
            redirect(ctx, "/ui/login")
        }
        ApiError::Core(Error::PasswordChangeRequired) => redirect(ctx, "/ui/password"),
        e => message(
            st.page_theme(),
            ctx,
            e.status(),
            "error_title",
            &e.body(ctx.lang).message,
        ),
    }
}

async fn rules_view<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    lang: Lang,
) -> Value {
    let axum::Json(r) = policy::password_rules(State(st.clone())).await;
    let t = st.page_theme();
    let mut lines = vec![
        t.text(lang, "rule_length")
            .replace("{min}", &r.min_len.to_string())
            .replace("{max}", &r.max_len.to_string()),
    ];
    if r.charset == "half_width_alphanumeric" {
        lines.push(t.text(lang, "rule_charset_alnum"));
    }
    for c in &r.required_classes {
        lines.push(t.text(lang, &format!("rule_class_{c}")));
    }
    if r.forbid_user_id {
        lines.push(t.text(lang, "rule_not_user_id"));
    }
    if r.history > 0 {
        lines.push(
            t.text(lang, "rule_history")
                .replace("{n}", &r.history.to_string()),
        );
    }
    if r.blocklist {
        lines.push(t.text(lang, "rule_blocklist"));
    }
    json!(lines)
}

async fn password_view<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    ctx: &Ctx,
    status: StatusCode,
    forced: bool,
    errors: Value,
) -> Response {
    render(
        st.page_theme(),
        ctx,
        status,
        "password.html",
        json!({"forced": forced, "rules": rules_view(st, ctx.lang).await, "errors": errors}),
    )
}

/// Whether the session may only change its password (temporary or expired password).
async fn forced<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    token: &Secret,
) -> Result<bool, ApiError> {
    match st.service().whoami(token.expose()).await {
        Ok(_) => Ok(false),
        Err(Error::PasswordChangeRequired) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

// SPEC: UI-1 — the forced password change shows the rules.
async fn password_page<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    mut ctx: Ctx,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    match forced(&st, &token).await {
        Ok(f) => password_view(&st, &ctx, StatusCode::OK, f, json!({})).await,
        Err(e) => session_error(&st, &mut ctx, &e),
    }
}

#[derive(Deserialize, Default)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

async fn password_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { mut ctx, form }: Posted<PasswordForm>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    let was_forced = match forced(&st, &token).await {
        Ok(f) => f,
        Err(e) => return session_error(&st, &mut ctx, &e),
    };
    let req = me::ChangePassword {
        current: (!form.current.is_empty()).then(|| Secret::new(form.current)),
        new: Secret::new(form.new),
        confirm: Secret::new(form.confirm),
    };
    match me::change_password(State(st.clone()), SessionToken(token), ApiJson(req)).await {
        Ok(axum::Json(s)) => {
            ctx.set(SESSION, &s.token, None);
            let to = if s.role == Role::Admin {
                "/ui/admin/users?done=password"
            } else {
                "/ui/home?done=password"
            };
            redirect(&ctx, to)
        }
        Err(e @ ApiError::Core(Error::SessionInvalid)) => session_error(&st, &mut ctx, &e),
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            password_view(&st, &ctx, e.status(), was_forced, errors).await
        }
    }
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

fn done_text(st_theme: &Theme, lang: Lang, done: Option<&str>) -> Option<String> {
    let key = match done? {
        "password" => "done_password",
        "profile" => "done_profile",
        "sessions" => "done_sessions",
        "totp" => "done_totp",
        "deleted" => "done_deleted",
        "unlock" => "done_unlock",
        "reset-password" => "done_reset_password",
        "reset-authenticator" => "done_reset_authenticator",
        "end-sessions" => "done_sessions",
        "edit" => "done_profile",
        _ => return None,
    };
    Some(st_theme.text(lang, key))
}

async fn home_view<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    mut ctx: Ctx,
    status: StatusCode,
    done: Option<&str>,
    errors: Value,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    let user = match me::whoami(State(st.clone()), SessionToken(token.clone())).await {
        Ok(axum::Json(u)) => u,
        Err(e) => return session_error(st, &mut ctx, &e),
    };
    // L-2: the link to add an authenticator only where the user chooses its login method.
    let choose = st
        .service()
        .can(token.expose(), monban_core::Permission::ChooseLoginMethod)
        .await
        .unwrap_or(false);
    let sessions = match me::list_sessions(State(st.clone()), SessionToken(token)).await {
        Ok(axum::Json(l)) => l.items,
        Err(e) => return session_error(st, &mut ctx, &e),
    };
    let theme = st.page_theme();
    render(
        theme,
        &ctx,
        status,
        "home.html",
        json!({
            "user": user,
            "choose_method": choose,
            "sessions": sessions.iter().map(|s| json!({
                "id": s.id, "current": s.current, "started_at": fmt_time(s.started_at),
                "last_used_at": fmt_time(s.last_used_at),
            })).collect::<Vec<_>>(),
            "done": done_text(theme, ctx.lang, done),
            "errors": errors,
        }),
    )
}

/// A UTC time for a person.
fn fmt_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

// SPEC: UI-1 — the user's own settings and sessions.
async fn home<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<DoneQuery>,
) -> Response {
    home_view(&st, ctx, StatusCode::OK, q.done.as_deref(), json!({})).await
}

#[derive(Deserialize, Default)]
struct ProfileForm {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

async fn profile_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { mut ctx, form }: Posted<ProfileForm>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    let edit = me::SelfEdit {
        name: form.name.map(|s| s.trim().to_owned()),
        email: form.email.map(|s| s.trim().to_owned()),
        phone: form.phone.map(|s| s.trim().to_owned()),
        ..me::SelfEdit::default()
    };
    match me::edit_self(State(st.clone()), SessionToken(token), ApiJson(edit)).await {
        Ok(_) => redirect(&ctx, "/ui/home?done=profile"),
        Err(e @ ApiError::Core(Error::SessionInvalid | Error::PasswordChangeRequired)) => {
            session_error(&st, &mut ctx, &e)
        }
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            home_view(&st, ctx, e.status(), None, errors).await
        }
    }
}

#[derive(Deserialize, Default)]
struct SessionForm {
    #[serde(default)]
    id: String,
}

async fn end_session<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { mut ctx, form }: Posted<SessionForm>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    match me::end_session(State(st.clone()), SessionToken(token), ApiPath(form.id)).await {
        Ok(_) => redirect(&ctx, "/ui/home?done=sessions"),
        Err(e) => session_error(&st, &mut ctx, &e),
    }
}

async fn end_others<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { mut ctx, .. }: Posted<Value>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    match me::end_other_sessions(State(st.clone()), SessionToken(token)).await {
        Ok(_) => redirect(&ctx, "/ui/home?done=sessions"),
        Err(e) => session_error(&st, &mut ctx, &e),
    }
}

// SPEC: UI-1 — authenticator enrolment: a button (GET changes nothing), then the QR code.
async fn totp_page<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ctx: Ctx,
) -> Response {
    if ctx.session.is_none() {
        return redirect(&ctx, "/ui/login");
    }
    render(
        st.page_theme(),
        &ctx,
        StatusCode::OK,
        "totp.html",
        json!({"errors": {}}),
    )
}

async fn totp_begin<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { mut ctx, .. }: Posted<Value>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    match me::begin_totp(State(st.clone()), SessionToken(token)).await {
        Ok(axum::Json(e)) => {
            let qr = qr_svg(&e.uri).unwrap_or_default();
            render(
                st.page_theme(),
                &ctx,
                StatusCode::OK,
                "totp.html",
                json!({"enrolment": {"secret": e.secret_base32}, "qr": qr, "errors": {}}),
            )
        }
        Err(e) => session_error(&st, &mut ctx, &e),
    }
}

#[derive(Deserialize, Default)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn totp_confirm<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { mut ctx, form }: Posted<CodeForm>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    let req = me::CodeRequest {
        code: Secret::new(form.code),
    };
    match me::confirm_totp(State(st.clone()), SessionToken(token), ApiJson(req)).await {
        Ok(_) => redirect(&ctx, "/ui/home?done=totp"),
        Err(e @ ApiError::Core(Error::SessionInvalid)) => session_error(&st, &mut ctx, &e),
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            render(
                st.page_theme(),
                &ctx,
                e.status(),
                "totp.html",
                json!({"errors": errors}),
            )
        }
    }
}

/// Which recovery form a path is.
fn recovery_kind(path: &str) -> &'static str {
    match path {
        "/ui/reset/identity" => "identity",
        "/ui/forgot-login-id" => "forgot_login_id",
        "/ui/password-notification" => "notification",
        _ => "reset",
    }
}

fn recovery_view<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    ctx: &Ctx,
    status: StatusCode,
    kind: &str,
    form: &RecoveryForm,
    errors: Value,
) -> Response {
    render(
        st.page_theme(),
        ctx,
        status,
        "recovery.html",
        json!({
            "kind": kind,
            "fields": login_fields(st, false),
            "name_and_phone": st.service().policy().reset.forgot_login_id_requires_name_and_phone,
            "form": {
                "tenant": form.tenant, "user_id": form.user_id, "login_id": form.login_id,
                "name": form.name, "phone": form.phone, "email": form.email,
            },
            "key": form.access_key,
            "key_from_url": form.key_from_url,
            "errors": errors,
        }),
    )
}

// SPEC: UI-1 — the reset request, identity reset, forgot login ID and e-Parcel notification.
async fn recovery_page<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ctx: Ctx,
    uri: axum::http::Uri,
    ApiQuery(q): ApiQuery<LoginQuery>,
) -> Response {
    let form = RecoveryForm {
        key_from_url: q.key.is_some(),
        access_key: q.key.unwrap_or_default(),
        ..RecoveryForm::default()
    };
    recovery_view(
        &st,
        &ctx,
        StatusCode::OK,
        recovery_kind(uri.path()),
        &form,
        json!({}),
    )
}

#[derive(Deserialize, Default, Clone)]
struct RecoveryForm {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    access_key: String,
    #[serde(default)]
    key_from_url: bool,
    #[serde(default)]
    login_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

fn recovery_outcome<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    ctx: &Ctx,
    kind: &str,
    form: &RecoveryForm,
    out: Result<(), ApiError>,
) -> Response {
    match out {
        // SPEC: RS-3 — the same page whether or not the account exists.
        Ok(()) => render(
            st.page_theme(),
            ctx,
            StatusCode::OK,
            "message.html",
            json!({
                "title": st.page_theme().text(ctx.lang, &format!("{kind}_title")),
                "message": st.page_theme().text(ctx.lang, &format!("{kind}_accepted")),
                "to_login": true,
            }),
        ),
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            recovery_view(st, ctx, e.status(), kind, form, errors)
        }
    }
}

async fn reset_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ip: ClientIp,
    Posted { ctx, form }: Posted<RecoveryForm>,
) -> Response {
    let req = recovery::ResetRequest {
        tenant: some(&form.tenant),
        user_id: form.user_id.trim().to_owned(),
        access_key: some(&form.access_key).map(Secret::new),
    };
    let out = recovery::request_reset(State(st.clone()), ip, ApiJson(req))
        .await
        .map(drop);
    recovery_outcome(&st, &ctx, "reset", &form, out)
}

async fn identity_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ip: ClientIp,
    Posted { ctx, form }: Posted<RecoveryForm>,
) -> Response {
    let req = recovery::IdentityClaim {
        login_id: form.login_id.trim().to_owned(),
        name: form.name.clone(),
        phone: form.phone.clone(),
        email: form.email.trim().to_owned(),
    };
    let out = recovery::identity_reset(State(st.clone()), ip, ApiJson(req))
        .await
        .map(drop);
    recovery_outcome(&st, &ctx, "identity", &form, out)
}

async fn forgot_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ip: ClientIp,
    Posted { ctx, form }: Posted<RecoveryForm>,
) -> Response {
    let req = recovery::ForgotLoginId {
        email: form.email.trim().to_owned(),
        name: some(&form.name),
        phone: some(&form.phone),
    };
    let out = recovery::forgot_login_id(State(st.clone()), ip, ApiJson(req))
        .await
        .map(drop);
    recovery_outcome(&st, &ctx, "forgot_login_id", &form, out)
}

async fn notification_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ip: ClientIp,
    Posted { ctx, form }: Posted<RecoveryForm>,
) -> Response {
    let req = recovery::PasswordNotification {
        email: form.email.trim().to_owned(),
    };
    let out = recovery::password_notification(State(st.clone()), ip, ApiJson(req))
        .await
        .map(drop);
    recovery_outcome(&st, &ctx, "notification", &form, out)
}

/// The reset link's confirmation page (RS-1), for `GET /reset/{token}` from a browser.
pub(crate) fn reset_link_page<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    parts_headers: &axum::http::HeaderMap,
    token: Option<&str>,
    outcome: Option<Result<(), ApiError>>,
) -> Response {
    let mut parts = axum::http::Request::new(()).into_parts().0;
    parts.headers = parts_headers.clone();
    let ctx = Ctx::of(&parts, st);
    let theme = st.page_theme();
    let (status, page) = match outcome {
        None => (
            StatusCode::OK,
            json!({"token": token, "message": theme.text(ctx.lang, "reset_link_confirm")}),
        ),
        Some(Ok(())) => (
            StatusCode::OK,
            json!({"done": true, "message": theme.text(ctx.lang, "reset_link_opened")}),
        ),
        Some(Err(e)) => (
            e.status(),
            json!({"done": true, "code": e.code(), "message": e.body(ctx.lang).message}),
        ),
    };
    render(theme, &ctx, status, "reset_link.html", page)
}

// ---- the tenant admin's screens (R-1) ----

async fn admin_users<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    mut ctx: Ctx,
    ApiQuery(q): ApiQuery<DoneQuery>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    let page = match admin::list_users(
        State(st.clone()),
        SessionToken(token.clone()),
        ApiQuery(admin::ListQuery::default()),
    )
    .await
    {
        Ok(axum::Json(p)) => p,
        Err(e) => return session_error(&st, &mut ctx, &e),
    };
    let me = me::whoami(State(st.clone()), SessionToken(token))
        .await
        .ok()
        .map(|j| j.0);
    let theme = st.page_theme();
    render(
        theme,
        &ctx,
        StatusCode::OK,
        "admin_users.html",
        json!({
            "me": me,
            "users": page.items,
            "done": done_text(theme, ctx.lang, q.done.as_deref()),
        }),
    )
}

#[derive(Deserialize, Default, Clone, serde::Serialize)]
struct NewUserForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    login_method: String,
    #[serde(default)]
    same_as_admin: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    back: Option<String>,
}

impl NewUserForm {
    fn to_api(&self) -> Result<admin::NewUser, ApiError> {
        let role = match self.role.as_str() {
            "shipping" => Role::Shipping,
            "general" | "" => Role::General,
            _ => return Err(crate::http_error::HttpProblem::InvalidRequest.into()),
        };
        let login_method = match self.login_method.as_str() {
            "totp" => crate::api::types::LoginMethod::Totp,
            _ => crate::api::types::LoginMethod::MailOtp,
        };
        Ok(admin::NewUser {
            user_id: self.user_id.trim().to_owned(),
            role,
            login_method,
            same_as_admin: self.same_as_admin.is_some(),
            profile: admin::ProfileInput {
                name: self.name.trim().to_owned(),
                email: some(&self.email),
                phone: some(&self.phone),
                ..admin::ProfileInput::default()
            },
        })
    }
}

fn admin_new_view<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    ctx: &Ctx,
    status: StatusCode,
    form: &NewUserForm,
    errors: Value,
) -> Response {
    render(
        st.page_theme(),
        ctx,
        status,
        "admin_new.html",
        json!({"form": form, "errors": errors}),
    )
}

// SPEC: UI-1 — new user → confirm → done.
async fn admin_new<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ctx: Ctx,
) -> Response {
    if ctx.session.is_none() {
        return redirect(&ctx, "/ui/login");
    }
    let form = NewUserForm {
        role: "general".into(),
        login_method: "mail_otp".into(),
        ..NewUserForm::default()
    };
    admin_new_view(&st, &ctx, StatusCode::OK, &form, json!({}))
}

/// 「確認」: the entries shown back, nothing stored yet.
async fn admin_confirm<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { ctx, form }: Posted<NewUserForm>,
) -> Response {
    if ctx.session.is_none() {
        return redirect(&ctx, "/ui/login");
    }
    if let Err(e) = form.to_api() {
        let errors = errors_of(&e, ctx.lang);
        return admin_new_view(&st, &ctx, e.status(), &form, errors);
    }
    render(
        st.page_theme(),
        &ctx,
        StatusCode::OK,
        "admin_confirm.html",
        json!({"form": form}),
    )
}

/// 「登録」: the user is created; its temporary password goes by mail (LC-2).
async fn admin_create<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    Posted { mut ctx, form }: Posted<NewUserForm>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    if form.back.is_some() {
        return admin_new_view(&st, &ctx, StatusCode::OK, &form, json!({}));
    }
    let input = match form.to_api() {
        Ok(i) => i,
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            return admin_new_view(&st, &ctx, e.status(), &form, errors);
        }
    };
    match admin::create_user(State(st.clone()), SessionToken(token), ApiJson(input)).await {
        Ok((_, axum::Json(c))) => render(
            st.page_theme(),
            &ctx,
            StatusCode::OK,
            "message.html",
            json!({
                "title": st.page_theme().text(ctx.lang, "admin_done_title"),
                "message": st.page_theme().text(ctx.lang, "admin_done").replace("{user_id}", &c.user_id),
                "secret": c.temporary_password,
                "to_users": true,
            }),
        ),
        Err(e @ ApiError::Core(Error::SessionInvalid | Error::PasswordChangeRequired)) => {
            session_error(&st, &mut ctx, &e)
        }
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            admin_new_view(&st, &ctx, e.status(), &form, errors)
        }
    }
}

async fn admin_edit_view<S: Store + 'static, M: Mailer + 'static>(
    st: &AppState<S, M>,
    mut ctx: Ctx,
    id: String,
    status: StatusCode,
    done: Option<&str>,
    errors: Value,
    secret: Option<String>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    let user = match admin::get_user(State(st.clone()), SessionToken(token), ApiPath(id)).await {
        Ok(axum::Json(u)) => u,
        Err(e) => return session_error(st, &mut ctx, &e),
    };
    let theme = st.page_theme();
    render(
        theme,
        &ctx,
        status,
        "admin_edit.html",
        json!({
            "user": user,
            "done": done_text(theme, ctx.lang, done),
            "secret": secret,
            "errors": errors,
        }),
    )
}

// SPEC: UI-1 — edit, delete, unlock, reset password and reset authenticator.
async fn admin_edit<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ctx: Ctx,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DoneQuery>,
) -> Response {
    admin_edit_view(
        &st,
        ctx,
        id,
        StatusCode::OK,
        q.done.as_deref(),
        json!({}),
        None,
    )
    .await
}

#[derive(Deserialize, Default)]
struct EditForm {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    login_method: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

async fn admin_edit_post<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ApiPath(id): ApiPath<String>,
    Posted { mut ctx, form }: Posted<EditForm>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    let edit = admin::UserEdit {
        role: match form.role.as_deref() {
            Some("shipping") => Some(Role::Shipping),
            Some("general") => Some(Role::General),
            _ => None,
        },
        login_method: match form.login_method.as_deref() {
            Some("totp") => Some(crate::api::types::LoginMethod::Totp),
            Some("mail_otp") => Some(crate::api::types::LoginMethod::MailOtp),
            _ => None,
        },
        name: form.name.map(|s| s.trim().to_owned()),
        email: form.email.map(|s| s.trim().to_owned()),
        phone: form.phone.map(|s| s.trim().to_owned()),
        ..admin::UserEdit::default()
    };
    let path = format!("/ui/admin/users/{}", urlencode(&id));
    match admin::edit_user(
        State(st.clone()),
        SessionToken(token),
        ApiPath(id.clone()),
        ApiJson(edit),
    )
    .await
    {
        Ok(_) => redirect(&ctx, &format!("{path}?done=edit")),
        Err(e @ ApiError::Core(Error::SessionInvalid | Error::PasswordChangeRequired)) => {
            session_error(&st, &mut ctx, &e)
        }
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            admin_edit_view(&st, ctx, id, e.status(), None, errors, None).await
        }
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|v| v.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
struct ActionForm {
    /// Present once the admin pressed 「確認」 on the confirmation page.
    #[serde(default)]
    confirmed: Option<String>,
}

async fn admin_action<S: Store + 'static, M: Mailer + 'static>(
    State(st): St<S, M>,
    ApiPath((id, action)): ApiPath<(String, String)>,
    Posted { mut ctx, form }: Posted<ActionForm>,
) -> Response {
    let Some(token) = ctx.session.clone() else {
        return redirect(&ctx, "/ui/login");
    };
    // 「解除」 and 「削除」 ask first, as in the Kuroneko manual (「確認」).
    if matches!(action.as_str(), "delete" | "unlock") && form.confirmed.is_none() {
        let theme = st.page_theme();
        return render(
            theme,
            &ctx,
            StatusCode::OK,
            "admin_action_confirm.html",
            json!({
                "action": action,
                "user_id": id,
                "title": theme.text(ctx.lang, &format!("{action}_title")),
                "message": theme.text(ctx.lang, &format!("{action}_confirm")).replace("{user_id}", &id),
            }),
        );
    }
    let s = State(st.clone());
    let t = SessionToken(token);
    let p = ApiPath(id.clone());
    let out: Result<Option<String>, ApiError> = match action.as_str() {
        "delete" => admin::delete_user(s, t, p).await.map(|_| None),
        "unlock" => admin::unlock(s, t, p).await.map(|_| None),
        "end-sessions" => admin::end_sessions(s, t, p).await.map(|_| None),
        "reset-password" => admin::reset_password(s, t, p)
            .await
            .map(|j| j.0.temporary_password),
        "reset-authenticator" => admin::reset_authenticator(s, t, p).await.map(|_| None),
        _ => Err(crate::http_error::HttpProblem::RouteNotFound.into()),
    };
    match out {
        Ok(_) if action == "delete" => redirect(&ctx, "/ui/admin/users?done=deleted"),
        // A temporary password for a user without e-mail is shown once, never put in a URL.
        Ok(Some(secret)) => {
            admin_edit_view(
                &st,
                ctx,
                id,
                StatusCode::OK,
                Some(&action),
                json!({}),
                Some(secret),
            )
            .await
        }
        Ok(None) => redirect(
            &ctx,
            &format!("/ui/admin/users/{}?done={action}", urlencode(&id)),
        ),
        Err(e @ ApiError::Core(Error::SessionInvalid | Error::PasswordChangeRequired)) => {
            session_error(&st, &mut ctx, &e)
        }
        Err(e) => {
            let errors = errors_of(&e, ctx.lang);
            admin_edit_view(&st, ctx, id, e.status(), None, errors, None).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(fmt_time(1_700_000_000), "2023-11-14 22:13 UTC");
    }

    #[test]
    fn the_way_back_stays_on_these_pages() {
        assert_eq!(local("/ui/home"), "/ui/home");
        assert_eq!(local("//evil.example/ui"), "/ui/login");
        assert_eq!(local("https://evil.example"), "/ui/login");
    }

    #[test]
    fn the_qr_code_is_an_svg_element() {
        let svg = qr_svg("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(svg.starts_with("<svg"));
    }
}
