//! S-1..S-4: sessions as records on their user's record.
//!
//! A completed login adds a [`SessionRecord`] with a fresh random ID to the user and signs a
//! token naming it (L-9). Every check of a token reads the user (it did before sessions were
//! records) and finds the session there: a session that was ended, ran past its absolute
//! lifetime or sat idle longer than the policy allows is refused at once, on every instance,
//! because the record is gone or stale in the one place every instance reads. The last use is
//! written at most once a minute ([`TOUCH_EVERY_SECS`]), so the idle time is honoured to within
//! a minute and a busy session costs one write a minute, not one per request.
//!
//! Keeping the sessions on the user record (rather than as records of their own) means a
//! password change ends the other sessions in the same conditional write that changes the
//! password: no session can slip in between. The list is bounded by `login.max_sessions`.

use super::{Ctx, Decision, put_user};
use crate::audit::{Actor, AuditEvent, AuditKind};
use crate::error::{Error, Result};
use crate::model::{Factor, SessionRecord, User};
use crate::time::Timestamp;
use crate::token::{SessionClaims, SessionScope};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Random bytes in a session ID (S-1: at least 128 bits).
pub const SESSION_ID_BYTES: usize = 16;

/// The last use is written when it is at least this old (S-3: at most once a minute).
pub const TOUCH_EVERY_SECS: i64 = 60;

/// Longest session ID accepted from a caller (a base64url of [`SESSION_ID_BYTES`] is 22).
pub const SESSION_ID_MAX_LEN: usize = 64;

/// A new session ID: 128 random bits, base64url.
pub fn new_id(ctx: &Ctx<'_>) -> String {
    let mut raw = [0u8; SESSION_ID_BYTES];
    ctx.rng.fill(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// Drops the sessions that ended by time (S-3); then, while the user holds `keep_room_for` or
/// more sessions too many, the least recently used (S-1: `login.max_sessions`).
pub fn prune(ctx: &Ctx<'_>, user: &mut User, keep_room_for: usize) {
    let idle = ctx.policy.login.session_idle_secs;
    user.sessions.retain(|s| s.is_live(idle, ctx.now));
    let max = ctx.policy.login.max_sessions.max(1);
    while user.sessions.len() + keep_room_for > max {
        let Some(oldest) = user
            .sessions
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| (s.last_used_at, s.started_at))
            .map(|(i, _)| i)
        else {
            break;
        };
        user.sessions.remove(oldest);
    }
}

/// Adds a session to `user` and returns the claims of its token (S-1).
pub fn open(
    ctx: &Ctx<'_>,
    user: &mut User,
    scope: SessionScope,
    factors: Vec<Factor>,
    ttl_secs: i64,
) -> SessionClaims {
    prune(ctx, user, 1);
    let id = new_id(ctx);
    let expires_at = ctx.now.plus_secs(ttl_secs);
    user.sessions.push(SessionRecord {
        id: id.clone(),
        factors,
        scope,
        started_at: ctx.now,
        last_used_at: ctx.now,
        expires_at,
    });
    SessionClaims {
        tenant: user.tenant.clone(),
        user_id: user.user_id.clone(),
        session_id: id,
        role: user.role,
        credential_version: user.credential_version,
        scope,
        issued_at: ctx.now,
        expires_at,
    }
}

/// What a check found (S-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Live; its last use is recent enough.
    Live,
    /// Live; its last use should be written now (S-3).
    LiveTouch,
}

/// S-2, S-3: the session a token names, on the user as stored.
pub fn check(ctx: &Ctx<'_>, claims: &SessionClaims, user: &User) -> Result<Check> {
    let s = user
        .sessions
        .iter()
        .find(|s| s.id == claims.session_id)
        .ok_or(Error::SessionInvalid)?;
    if s.scope != claims.scope || !s.is_live(ctx.policy.login.session_idle_secs, ctx.now) {
        return Err(Error::SessionInvalid);
    }
    Ok(if ctx.now.since(s.last_used_at) >= TOUCH_EVERY_SECS {
        Check::LiveTouch
    } else {
        Check::Live
    })
}

/// S-3: records the use of session `id` at `ctx.now`; nothing to write when it is gone or
/// was used less than a minute ago (another request wrote it).
pub fn touch(ctx: &Ctx<'_>, mut user: User, id: &str) -> Decision<()> {
    let idle = ctx.policy.login.session_idle_secs;
    let Some(s) = user
        .sessions
        .iter_mut()
        .find(|s| s.id == id && s.is_live(idle, ctx.now))
    else {
        return Decision::ok(());
    };
    if ctx.now.since(s.last_used_at) < TOUCH_EVERY_SECS {
        return Decision::ok(());
    }
    s.last_used_at = ctx.now;
    Decision::ok(()).write(put_user(user))
}

/// The live sessions of `user`, most recently used first.
pub fn live(ctx: &Ctx<'_>, user: &User) -> Vec<SessionRecord> {
    let idle = ctx.policy.login.session_idle_secs;
    let mut v: Vec<SessionRecord> = user
        .sessions
        .iter()
        .filter(|s| s.is_live(idle, ctx.now))
        .cloned()
        .collect();
    v.sort_by(|a, b| {
        (b.last_used_at, b.started_at, &b.id).cmp(&(a.last_used_at, a.started_at, &a.id))
    });
    v
}

/// Which sessions an ending removes.
#[derive(Clone, Copy, Debug)]
pub enum Ending<'a> {
    /// S-4: this one (logout, or the user ending one of its own).
    One(&'a str),
    /// S-4: every one but this (the user's "end my other sessions").
    AllBut(&'a str),
    /// S-4: every one (an admin or support ending a user's sessions).
    All,
}

/// S-4: ends sessions of `user`; the outcome is how many ended. `by` is who did it, for the
/// audit. Ending a session that is not there ends nothing and writes nothing.
pub fn end(ctx: &Ctx<'_>, mut user: User, ending: Ending<'_>, by: &Actor) -> Decision<usize> {
    let before = user.sessions.len();
    match ending {
        Ending::One(id) => user.sessions.retain(|s| s.id != id),
        Ending::AllBut(id) => user.sessions.retain(|s| s.id == id),
        Ending::All => user.sessions.clear(),
    }
    let ended = before - user.sessions.len();
    let ending_login = matches!(ending, Ending::All) && user.pending_login.is_some();
    if ended == 0 && !ending_login {
        return Decision::ok(0);
    }
    if matches!(ending, Ending::All) {
        // A login waiting for its second factor would become a session: it ends too.
        user.pending_login = None;
    }
    let r = user.user_ref();
    let detail = match ending {
        Ending::One(_) => "session ended",
        Ending::AllBut(_) => "other sessions ended",
        Ending::All => "every session ended",
    };
    let ev = AuditEvent::success(ctx.now, AuditKind::LoggedOut, by.clone(), Some(&r))
        .with_detail(detail);
    Decision::ok(ended).audit(ev).write(put_user(user))
}

/// The factors of session `id` of `user` (empty when it is gone).
pub fn factors_of(user: &User, id: &str) -> Vec<Factor> {
    user.sessions
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.factors.clone())
        .unwrap_or_default()
}

/// When the session ends if unused (for views).
pub fn ends_at(ctx: &Ctx<'_>, s: &SessionRecord) -> Timestamp {
    s.ends_at(ctx.policy.login.session_idle_secs)
}
