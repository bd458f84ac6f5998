//! S-1..S-4: a user's sessions, as the user, its admin and support see them.

use super::common::bounded;
use super::{AuthService, MAX_ATTEMPTS};
use crate::audit::Actor;
use crate::error::{Error, Field, Result};
use crate::flow::account;
use crate::flow::session::{self, Ending, SESSION_ID_MAX_LEN};
use crate::model::{Factor, User, UserRef, Write};
use crate::ports::{Mailer, Store};
use crate::role::{Permission, Role};
use crate::time::Timestamp;
use crate::token::{SessionClaims, SessionScope};
use serde::Serialize;

/// One live session as its user sees it (S-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// Its ID (what `end_session` takes).
    pub id: String,
    /// Whether it is the session asking.
    pub current: bool,
    /// How the user proved who it is.
    pub factors: Vec<Factor>,
    /// What it may do.
    pub scope: SessionScope,
    /// When it began.
    pub started_at: Timestamp,
    /// Its last use, to within a minute (S-3).
    pub last_used_at: Timestamp,
    /// When it ends if it is not used again: the idle limit or its absolute end, whichever
    /// comes first.
    pub ends_at: Timestamp,
}

impl<S: Store, M: Mailer> AuthService<S, M> {
    /// S-3: writes the session's last use; returns the user as stored afterwards (the write
    /// is a conditional put of the whole record, so the stored record is the one written, one
    /// version on: no read after the write).
    pub(super) async fn touch_session(&self, claims: &SessionClaims, user: User) -> Result<User> {
        let now = self.clock.now();
        let r = claims.user_ref();
        let mut current = user;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                self.backoff(attempt).await;
                current = self.user(&r).await?.ok_or(Error::SessionInvalid)?;
                crate::flow::login::check_session(&self.ctx(now), claims, Some(&current))?;
            }
            let d = session::touch(&self.ctx(now), current.clone(), &claims.session_id);
            let written = d.writes.iter().find_map(|w| match w {
                Write::PutUser(u) => Some((**u).clone()),
                _ => None,
            });
            if self.apply(d).await?.is_some() {
                return Ok(match written {
                    Some(mut u) => {
                        u.version = u.version.saturating_add(1);
                        u
                    }
                    // Nothing to write: another request wrote the use meanwhile.
                    None => current,
                });
            }
        }
        // Contention on the record: a later request writes the use; the check stands.
        let u = self.user(&r).await?.ok_or(Error::SessionInvalid)?;
        crate::flow::login::check_session(&self.ctx(now), claims, Some(&u))?;
        Ok(u)
    }

    /// S-4: ends sessions of `user`; how many ended.
    pub(super) async fn end_sessions_of(
        &self,
        user: &UserRef,
        ending: Ending<'_>,
        by: &Actor,
    ) -> Result<usize> {
        let now = self.clock.now();
        retrying!(self, {
            let Some(u) = self.user(user).await? else {
                return Ok(0);
            };
            session::end(&self.ctx(now), u, ending, by)
        })
    }

    /// S-4: the live sessions of the session's user, most recently used first.
    pub async fn list_sessions(&self, token: &str) -> Result<Vec<SessionView>> {
        let (claims, user) = self.authenticate(token).await?;
        let ctx = self.ctx(self.clock.now());
        Ok(session::live(&ctx, &user)
            .into_iter()
            .map(|s| SessionView {
                current: s.id == claims.session_id,
                ends_at: session::ends_at(&ctx, &s),
                id: s.id,
                factors: s.factors,
                scope: s.scope,
                started_at: s.started_at,
                last_used_at: s.last_used_at,
            })
            .collect())
    }

    /// S-4: ends one of the session user's own sessions (the asking one too: that is a
    /// logout). `session_not_found` when it has no live session with that ID.
    pub async fn end_session(&self, token: &str, id: &str) -> Result<()> {
        let (claims, user) = self.authenticate(token).await?;
        let ctx = self.ctx(self.clock.now());
        if id.len() > SESSION_ID_MAX_LEN || !session::live(&ctx, &user).iter().any(|s| s.id == id) {
            return Err(Error::SessionNotFound);
        }
        let r = claims.user_ref();
        self.end_sessions_of(&r, Ending::One(id), &Actor::user(&r))
            .await
            .map(|_| ())
    }

    /// S-4: ends every session of the session's user but the asking one; how many ended.
    pub async fn end_other_sessions(&self, token: &str) -> Result<usize> {
        let (claims, _) = self.authenticate(token).await?;
        let r = claims.user_ref();
        self.end_sessions_of(&r, Ending::AllBut(&claims.session_id), &Actor::user(&r))
            .await
    }

    /// S-4 (admin): ends every session of a general or shipping user of the admin's tenant;
    /// how many ended.
    pub async fn admin_end_sessions(&self, token: &str, user_id: &str) -> Result<usize> {
        bounded(Field::UserId, user_id)?;
        let (claims, admin) = self.full_session(token, Permission::EditUser).await?;
        let target_ref = UserRef::new(&claims.tenant, user_id);
        let target = self.user(&target_ref).await?.ok_or(Error::NotFound)?;
        if admin.role != Role::Admin || !account::manages(&admin, &target) {
            return Err(Error::NotFound);
        }
        self.end_sessions_of(&target_ref, Ending::All, &Actor::user(&claims.user_ref()))
            .await
    }
}
