//! L-1..L-9, PW-3, PW-4, PW-6, T-2: login as pure steps.
//!
//! ```text
//!              first factor ok, second factor required
//!  (start) ───────────────────────────────────────────▶ ExpectSecondFactor
//!     │                                                   │  wrong code: failure++ (L-4)
//!     │ first factor ok, no second factor                 │  resend: new code, old void (L-3)
//!     ▼                                                   ▼ code ok (consumed once)
//!  session ◀──────── password normal ─────────────── complete
//!     │                                                   │ temporary (PW-4) or expired (PW-3)
//!     │                                                   ▼
//!     │                                            ExpectNewPassword (change-password-only session)
//!     └──── full session ◀──── change_password ───────────┘
//! ```
//!
//! Decided: every first-factor failure answers `login_failed` (L-5), also when the failure
//! locks the account; a locked account answers `locked` only to someone who presents the right
//! password (and access key), so the lock message tells nobody else that the account exists.

use super::{Ctx, Decision, put_user};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::lockout::{self, LockStatus};
use crate::mail::MailContent;
use crate::model::{Factor, LoginMethod, PendingLogin, Tenant, TotpRecord, User};
use crate::otp;
use crate::password;
use crate::policy::SecondFactor;
use crate::secret::{Secret, SecretBytes};
use crate::time::Timestamp;
use crate::token::{SessionClaims, SessionScope, issue_opaque};
use crate::totp;

/// Why a session may only change the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// PW-4: a temporary password.
    Temporary,
    /// PW-3: the password is past its max age.
    Expired,
}

/// A signed-in session (L-9).
#[derive(Clone, Debug)]
pub struct Session {
    /// The bearer token.
    pub token: Secret,
    /// What it says.
    pub claims: SessionClaims,
    /// `Some` when the session may only change the password (ExpectNewPassword).
    pub must_change_password: Option<ChangeReason>,
}

/// An authenticator to add to the user's app.
#[derive(Clone, Debug)]
pub struct TotpEnrolment {
    /// The secret in base32.
    pub secret_base32: Secret,
    /// The `otpauth://` URI (QR code content).
    pub uri: Secret,
}

/// A login waiting for its second factor (ExpectSecondFactor).
#[derive(Clone, Debug)]
pub struct Challenge {
    /// Hand back with the code.
    pub token: Secret,
    /// How the code comes.
    pub method: LoginMethod,
    /// When the current code expires (mail OTP) or the challenge dies (TOTP).
    pub expires_at: Timestamp,
    /// Present when the user must first add the authenticator (TOTP without a secret).
    pub enrolment: Option<TotpEnrolment>,
}

/// The answer to a first factor.
#[derive(Clone, Debug)]
pub enum LoginStep {
    /// Second factor next.
    SecondFactor(Challenge),
    /// Signed in (possibly only to change the password).
    Session(Session),
}

/// What the service established about a first-factor attempt on an existing user.
#[derive(Debug)]
pub struct FirstFactorCheck {
    /// The password (or certificate alone, where allowed) is right.
    pub credentials_ok: bool,
    /// The tenant's access key was right or not needed (T-2).
    pub access_key_ok: bool,
    /// A new PHC string when the stored one needs re-hashing (PW-6), made from the right password.
    pub rehash: Option<String>,
    /// RS-10: the credential was not the current password but the waiting temporary password
    /// with this keyed digest (see [`super::temp_digest`]).
    pub via_temporary: Option<crate::secret::Digest>,
    /// S-1: what this step proves when it succeeds (password, certificate).
    pub factors: Vec<Factor>,
}

fn event(ctx: &Ctx<'_>, kind: AuditKind, user: &User) -> AuditEvent {
    let r = user.user_ref();
    AuditEvent::success(ctx.now, kind, Actor::user(&r), Some(&r))
}

fn failure(ctx: &Ctx<'_>, kind: AuditKind, user: &User, code: &str) -> AuditEvent {
    let r = user.user_ref();
    AuditEvent::failure(ctx.now, kind, Actor::Anonymous, Some(&r), code)
}

/// Issues a session for `user` and records the success (L-7).
pub fn complete(ctx: &Ctx<'_>, user: &mut User, factors: Vec<Factor>) -> Session {
    lockout::record_success(&mut user.lock);
    user.last_login_at = Some(ctx.now);
    user.pending_login = None;
    session_for(ctx, user, factors)
}

/// A new session of `user` as it is now (S-1): change-password-only when the password is
/// temporary (PW-4) or expired (PW-3).
pub fn session_for(ctx: &Ctx<'_>, user: &mut User, factors: Vec<Factor>) -> Session {
    let reason = if user.password.temporary_until.is_some() {
        Some(ChangeReason::Temporary)
    } else if password::is_expired(&ctx.policy.password, &user.password, ctx.now) {
        Some(ChangeReason::Expired)
    } else {
        None
    };
    let (scope, ttl) = match reason {
        Some(_) => (
            SessionScope::ChangePassword,
            ctx.policy.login.change_password_session_ttl_secs,
        ),
        None => (SessionScope::Full, ctx.policy.login.session_ttl_secs),
    };
    let claims = super::session::open(ctx, user, scope, factors, ttl);
    Session {
        token: ctx.key.sign(&claims),
        claims,
        must_change_password: reason,
    }
}

fn code_digest(ctx: &Ctx<'_>, user: &User, code: &Secret) -> crate::secret::Digest {
    let data = format!("{}\u{0}{}\u{0}{}", user.tenant, user.user_id, code.expose());
    ctx.key.keyed_digest("monban-mail-otp-v1", data.as_bytes())
}

/// First factor on an existing, live user (the service answers `login_failed` for unknown or
/// dormant users after a dummy verification).
pub fn first_factor(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut user: User,
    check: &FirstFactorCheck,
) -> Decision<LoginStep> {
    let pol = ctx.policy;
    let right = check.credentials_ok && check.access_key_ok;
    if let LockStatus::Locked { .. } = lockout::status(&user.lock, &pol.lockout, ctx.now) {
        let code = if right {
            Error::Locked
        } else {
            Error::LoginFailed
        };
        let ev = failure(ctx, AuditKind::LoginFailed, &user, code.code());
        return Decision::err(code).audit(ev);
    }
    // PW-4: an expired temporary password fails like a wrong password (a waiting one was
    // checked for expiry by the service).
    let right = right
        && (check.via_temporary.is_some() || !password::temporary_expired(&user.password, ctx.now));
    if !right {
        let locked_now = lockout::record_failure(&mut user.lock, &pol.lockout, ctx.now);
        let mut d = Decision::err(Error::LoginFailed).audit(failure(
            ctx,
            AuditKind::LoginFailed,
            &user,
            "login_failed",
        ));
        if locked_now {
            d = d.audit(event(ctx, AuditKind::Locked, &user));
        }
        return d.write(put_user(user));
    }
    if let Some(phc) = &check.rehash {
        user.password.phc = phc.clone();
    }
    if pol.login.second_factor == SecondFactor::Off {
        let completed = settle_temporary(ctx, &mut user, check.via_temporary.is_some());
        let s = complete(ctx, &mut user, check.factors.clone());
        let mut d = Decision::ok(LoginStep::Session(s));
        d.audit.extend(completed);
        return d
            .audit(event(ctx, AuditKind::LoginSucceeded, &user))
            .write(put_user(user));
    }
    start_second_factor(ctx, tenant, user, check)
}

/// RS-10 at the end of a successful login: with the waiting temporary password, the reset
/// completes (it becomes the current password, to be changed at once); with the current
/// password, the waiting temporary password is voided.
fn settle_temporary(ctx: &Ctx<'_>, user: &mut User, via_temporary: bool) -> Option<AuditEvent> {
    if via_temporary {
        super::promote_pending(ctx, user);
        Some(event(ctx, AuditKind::ResetCompleted, user).with_detail("temporary password used"))
    } else {
        user.pending_password = None;
        None
    }
}

fn start_second_factor(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut user: User,
    check: &FirstFactorCheck,
) -> Decision<LoginStep> {
    let pol = ctx.policy;
    let via_temporary = check.via_temporary;
    let previous_sends = user
        .pending_login
        .as_ref()
        .map(|p| p.sends.clone())
        .unwrap_or_default();
    let (token, nonce) = issue_opaque(&user.user_ref(), ctx.rng);
    match user.login_method {
        LoginMethod::MailOtp => {
            let Some(to) = user.email.clone() else {
                let ev = failure(
                    ctx,
                    AuditKind::OtpSent,
                    &user,
                    Error::MailOtpNotConfigured.code(),
                );
                return Decision::err(Error::MailOtpNotConfigured).audit(ev);
            };
            if !otp::may_send(&pol.otp, &previous_sends, ctx.now) {
                let ev = failure(ctx, AuditKind::OtpSent, &user, Error::ResendLimited.code());
                return Decision::err(Error::ResendLimited).audit(ev);
            }
            let code = otp::generate_code(pol.otp.mail_digits, ctx.rng);
            let expires_at = ctx.now.plus_secs(pol.otp.mail_ttl_secs);
            user.pending_login = Some(PendingLogin {
                nonce,
                code: Some(code_digest(ctx, &user, &code)),
                expires_at,
                sends: otp::record_send(&pol.otp, &previous_sends, ctx.now),
                started_at: ctx.now,
                enrol: None,
                via_temporary,
                first_factors: check.factors.clone(),
            });
            let lang = super::lang_for(pol, Some(tenant), &user);
            let content = MailContent::Otp {
                user_id: user.user_id.clone(),
                code,
                valid_minutes: pol.otp.mail_ttl_secs / 60,
            };
            let mail = super::mail_to(ctx, &to, lang, &content);
            let challenge = Challenge {
                token,
                method: LoginMethod::MailOtp,
                expires_at,
                enrolment: None,
            };
            Decision::ok(LoginStep::SecondFactor(challenge))
                .audit(event(ctx, AuditKind::OtpSent, &user))
                .mail(mail)
                .write(put_user(user))
        }
        LoginMethod::Totp => {
            let expires_at = ctx.now.plus_secs(pol.login.challenge_ttl_secs);
            let (enrol, enrolment) = if user.totp.is_none() {
                let secret = totp::generate_secret(ctx.rng);
                let e = enrolment_for(ctx, tenant, &user, &secret);
                (Some(ctx.seal(&secret)), Some(e))
            } else {
                (None, None)
            };
            user.pending_login = Some(PendingLogin {
                nonce,
                code: None,
                expires_at,
                sends: previous_sends,
                started_at: ctx.now,
                enrol,
                via_temporary,
                first_factors: check.factors.clone(),
            });
            let challenge = Challenge {
                token,
                method: LoginMethod::Totp,
                expires_at,
                enrolment,
            };
            Decision::ok(LoginStep::SecondFactor(challenge)).write(put_user(user))
        }
    }
}

/// The enrolment data for `secret`.
pub fn enrolment_for(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    user: &User,
    secret: &SecretBytes,
) -> TotpEnrolment {
    let issuer = &ctx.policy.otp.totp_issuer;
    let account = format!("{}:{}", tenant.code, user.user_id);
    TotpEnrolment {
        secret_base32: Secret::new(totp::secret_base32(secret)),
        uri: Secret::new(totp::otpauth_uri(secret, issuer, &account, &ctx.policy.otp)),
    }
}

fn live_challenge<'u>(
    ctx: &Ctx<'_>,
    user: &'u User,
    nonce: &crate::secret::Digest,
) -> Option<&'u PendingLogin> {
    let p = user.pending_login.as_ref()?;
    (p.nonce == *nonce && ctx.now < p.started_at.plus_secs(ctx.policy.login.challenge_ttl_secs))
        .then_some(p)
}

/// L-1..L-4: the second factor for the challenge whose nonce digest is `nonce`.
pub fn second_factor(
    ctx: &Ctx<'_>,
    mut user: User,
    nonce: &crate::secret::Digest,
    code: &Secret,
) -> Decision<Session> {
    let pol = ctx.policy;
    let Some(pending) = live_challenge(ctx, &user, nonce).cloned() else {
        return Decision::err(Error::ChallengeExpired);
    };
    if let LockStatus::Locked { .. } = lockout::status(&user.lock, &pol.lockout, ctx.now) {
        user.pending_login = None;
        return Decision::err(Error::Locked).write(put_user(user));
    }
    let verified = match user.login_method {
        LoginMethod::MailOtp => {
            if ctx.now >= pending.expires_at {
                return Decision::err(Error::ChallengeExpired);
            }
            match (otp::normalize_code(code), pending.code) {
                (Some(c), Some(expected)) => code_digest(ctx, &user, &c) == expected,
                _ => false,
            }
        }
        LoginMethod::Totp => {
            let (stored, last) = match (&pending.enrol, &user.totp) {
                (Some(s), _) => (s, None),
                (None, Some(t)) => (&t.secret, t.last_step),
                (None, None) => return Decision::err(Error::ChallengeExpired),
            };
            let secret = match ctx.open(stored) {
                Ok(s) => s,
                Err(e) => return Decision::err(e),
            };
            match totp::verify(&secret, code, ctx.now, last, &pol.otp) {
                Some(step) => {
                    // Sealed afresh: a secret from before K-1 or under an earlier key is
                    // re-written under the current one at its first use.
                    user.totp = Some(TotpRecord {
                        secret: ctx.seal(&secret),
                        last_step: Some(step),
                    });
                    true
                }
                None => false,
            }
        }
    };
    if !verified {
        let failed = failure(ctx, AuditKind::OtpFailed, &user, "otp_invalid");
        if pol.lockout.count_otp_failures
            && lockout::record_failure(&mut user.lock, &pol.lockout, ctx.now)
        {
            user.pending_login = None;
            let locked = event(ctx, AuditKind::Locked, &user);
            return Decision::err(Error::Locked)
                .audit(failed)
                .audit(locked)
                .write(put_user(user));
        }
        return Decision::err(Error::OtpInvalid)
            .audit(failed)
            .write(put_user(user));
    }
    if let Some(d) = &pending.via_temporary {
        // The waiting temporary password was replaced or expired since the first factor.
        if !super::pending_matches(ctx, &user, d) {
            user.pending_login = None;
            return Decision::err(Error::ChallengeExpired).write(put_user(user));
        }
    }
    let completed = settle_temporary(ctx, &mut user, pending.via_temporary.is_some());
    let mut factors = pending.first_factors.clone();
    factors.push(match user.login_method {
        LoginMethod::MailOtp => Factor::MailOtp,
        LoginMethod::Totp => Factor::Totp,
    });
    let s = complete(ctx, &mut user, factors);
    let mut d = Decision::ok(s).audit(event(ctx, AuditKind::OtpVerified, &user));
    d.audit.extend(completed);
    d.audit(event(ctx, AuditKind::LoginSucceeded, &user))
        .write(put_user(user))
}

/// L-3: a new code for a live mail-OTP challenge; the old one dies.
pub fn resend(
    ctx: &Ctx<'_>,
    tenant: &Tenant,
    mut user: User,
    nonce: &crate::secret::Digest,
) -> Decision<Timestamp> {
    let pol = ctx.policy;
    let Some(mut pending) = live_challenge(ctx, &user, nonce).cloned() else {
        return Decision::err(Error::ChallengeExpired);
    };
    if user.login_method != LoginMethod::MailOtp {
        return Decision::err(Error::MailOtpNotConfigured);
    }
    let Some(to) = user.email.clone() else {
        return Decision::err(Error::MailOtpNotConfigured);
    };
    if !otp::may_send(&pol.otp, &pending.sends, ctx.now) {
        let ev = failure(ctx, AuditKind::OtpSent, &user, Error::ResendLimited.code());
        return Decision::err(Error::ResendLimited).audit(ev);
    }
    let code = otp::generate_code(pol.otp.mail_digits, ctx.rng);
    pending.code = Some(code_digest(ctx, &user, &code));
    pending.expires_at = ctx.now.plus_secs(pol.otp.mail_ttl_secs);
    pending.sends = otp::record_send(&pol.otp, &pending.sends, ctx.now);
    let expires_at = pending.expires_at;
    user.pending_login = Some(pending);
    let lang = super::lang_for(pol, Some(tenant), &user);
    let content = MailContent::Otp {
        user_id: user.user_id.clone(),
        code,
        valid_minutes: pol.otp.mail_ttl_secs / 60,
    };
    let mail = super::mail_to(ctx, &to, lang, &content);
    Decision::ok(expires_at)
        .audit(event(ctx, AuditKind::OtpSent, &user))
        .mail(mail)
        .write(put_user(user))
}

/// What the service established about a password change.
#[derive(Debug)]
pub struct ChangeCheck {
    /// The current password was right (or not needed: change-password-only session).
    pub current_ok: bool,
    /// PW-5 problem of the new password against the current one and the history.
    pub reuse: Option<crate::error::PasswordProblem>,
    /// PHC of the new password.
    pub new_phc: String,
}

/// PW-2..PW-5, RS-9, S-4: change the password; a new full session, made with the factors of
/// the session that asked (`factors`), replaces every session of the user.
pub fn change_password(
    ctx: &Ctx<'_>,
    mut user: User,
    check: &ChangeCheck,
    factors: Vec<Factor>,
) -> Decision<Session> {
    let pol = ctx.policy;
    if !check.current_ok {
        let locked_now = lockout::record_failure(&mut user.lock, &pol.lockout, ctx.now);
        let r = user.user_ref();
        let mut d = Decision::err(Error::CurrentPasswordWrong).audit(AuditEvent::failure(
            ctx.now,
            AuditKind::PasswordChanged,
            Actor::user(&r),
            Some(&r),
            Error::CurrentPasswordWrong.code(),
        ));
        if locked_now {
            d = d.audit(event(ctx, AuditKind::Locked, &user));
        }
        return d.write(put_user(user));
    }
    if let Some(p) = check.reuse {
        return Decision::err(Error::PasswordRejected(vec![p]));
    }
    super::retire_password(ctx, &mut user);
    user.password = crate::model::PasswordRecord {
        phc: check.new_phc.clone(),
        set_at: ctx.now,
        temporary_until: None,
    };
    super::new_credentials(&mut user);
    user.pending_login = None;
    user.pending_reset = None;
    user.pending_password = None;
    let s = session_for(ctx, &mut user, factors);
    Decision::ok(s)
        .audit(event(ctx, AuditKind::PasswordChanged, &user))
        .write(put_user(user))
}

/// Checks a session token against the stored user (L-9, RS-9, S-2): the user exists, is live,
/// the credential version matches and the session the token names is live (S-3).
pub fn check_session(
    ctx: &Ctx<'_>,
    claims: &SessionClaims,
    user: Option<&User>,
) -> Result<super::session::Check> {
    let Some(user) = user else {
        return Err(Error::SessionInvalid);
    };
    if user.credential_version != claims.credential_version
        || user.role != claims.role
        || is_dormant(ctx, user)
    {
        return Err(Error::SessionInvalid);
    }
    super::session::check(ctx, claims, user)
}

/// LC-1: a general or shipping user with no login for the dormancy period (since creation
/// when never logged in). Such a user cannot log in even before a sweep deletes it.
pub fn is_dormant(ctx: &Ctx<'_>, user: &User) -> bool {
    let Some(days) = ctx.policy.lifecycle.dormancy_days else {
        return false;
    };
    if !matches!(
        user.role,
        crate::role::Role::General | crate::role::Role::Shipping
    ) {
        return false;
    }
    let since = user.last_login_at.unwrap_or(user.created_at);
    ctx.now >= since.plus_days(i64::from(days))
}
