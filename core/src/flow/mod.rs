//! The flows as pure decisions (DESIGN principle 1: decide, then do).
//!
//! Each step is a function of the loaded records, the input, `now`, the random source and the
//! policy. It returns a [`Decision`]: the outcome, the conditional writes, the mails and the
//! audit events. [`crate::service::AuthService`] loads, calls the step, commits the writes (and
//! re-runs the step on fresh records when a write conflicts), then sends the mails, then appends
//! the audit events. Argon2 work is done by the service before the step (off the async workers)
//! and passed in as plain values, so a step is cheap to re-run.
//!
//! ```text
//!  login ──first factor──▶ ExpectSecondFactor ──code ok──▶ session
//!    │                         │   ▲ resend                  │ temporary / expired password
//!    │ (second factor off)     │   └─────┘                   ▼
//!    └─────────────────────────┴──────────────────▶ ExpectNewPassword ──change──▶ full session
//! ```

pub mod account;
pub mod login;
pub mod recovery;
pub mod session;

use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::lang::Lang;
use crate::mail::{JaTerms, Mail, MailContent, render_with};
use crate::model::{EmailOwners, PasswordRecord, PendingPassword, Tenant, User, UserRef, Write};
use crate::policy::Policy;
use crate::ports::SecureRandom;
use crate::secret::{Digest, Secret};
use crate::time::Timestamp;
use crate::token::SessionKey;

/// What a step may use besides its records and input.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// Now.
    pub now: Timestamp,
    /// Randomness.
    pub rng: &'a dyn SecureRandom,
    /// Session signing / digest key: the deployment secret.
    pub key: &'a SessionKey,
    /// Earlier deployment secrets, still accepted for what they sealed or keyed (K-2).
    pub previous: &'a [SessionKey],
}

impl Ctx<'_> {
    /// An authenticator secret sealed for storage (K-1).
    pub fn seal(&self, secret: &crate::secret::SecretBytes) -> crate::seal::Sealed {
        crate::seal::seal(self.key, secret, self.rng)
    }

    /// A stored authenticator secret opened (K-1, K-2).
    pub fn open(
        &self,
        stored: &crate::seal::Sealed,
    ) -> crate::error::Result<crate::secret::SecretBytes> {
        crate::seal::open(self.key, self.previous, stored)
    }
}

/// What a step decided.
#[derive(Debug)]
pub struct Decision<T> {
    /// The answer for the caller.
    pub outcome: Result<T>,
    /// Conditional writes, committed atomically before anything else happens.
    pub writes: Vec<Write>,
    /// Mails to send once the writes are stored.
    pub mails: Vec<Mail>,
    /// Audit events to append last.
    pub audit: Vec<AuditEvent>,
}

impl<T> Decision<T> {
    /// A decision with an outcome and nothing else yet.
    pub fn new(outcome: Result<T>) -> Self {
        Self {
            outcome,
            writes: Vec::new(),
            mails: Vec::new(),
            audit: Vec::new(),
        }
    }
    /// Success.
    pub fn ok(v: T) -> Self {
        Self::new(Ok(v))
    }
    /// Failure.
    pub fn err(e: Error) -> Self {
        Self::new(Err(e))
    }
    /// Adds a write.
    #[must_use]
    pub fn write(mut self, w: Write) -> Self {
        self.writes.push(w);
        self
    }
    /// Adds writes.
    #[must_use]
    pub fn writes(mut self, w: impl IntoIterator<Item = Write>) -> Self {
        self.writes.extend(w);
        self
    }
    /// Adds a mail.
    #[must_use]
    pub fn mail(mut self, m: Mail) -> Self {
        self.mails.push(m);
        self
    }
    /// Adds an audit event.
    #[must_use]
    pub fn audit(mut self, e: AuditEvent) -> Self {
        self.audit.push(e);
        self
    }
}

/// The language of mails to `user` (M-2): the user's, else the tenant's, else the policy's.
pub fn lang_for(policy: &Policy, tenant: Option<&Tenant>, user: &User) -> Lang {
    user.lang
        .or(tenant.and_then(|t| t.lang))
        .unwrap_or(policy.mail.default_lang)
}

/// Renders a mail.
pub fn mail_to(ctx: &Ctx<'_>, to: &str, lang: Lang, content: &MailContent) -> Mail {
    let m = &ctx.policy.mail;
    let terms = JaTerms {
        customer: &m.ja_customer,
        site: &m.ja_site,
    };
    render_with(content, lang, &m.service_name, &terms, to)
}

/// A `PutUser` write.
pub fn put_user(user: User) -> Write {
    Write::PutUser(Box::new(user))
}

/// A temporary password record valid for the policy's temporary lifetime (PW-4).
pub fn temporary_record(ctx: &Ctx<'_>, phc: String) -> PasswordRecord {
    PasswordRecord {
        phc,
        set_at: ctx.now,
        temporary_until: Some(
            ctx.now
                .plus_days(i64::from(ctx.policy.password.temporary_lifetime_days)),
        ),
    }
}

/// RS-9, S-4: the credentials changed: every token made before stops working (L-9) and every
/// session ends.
pub fn new_credentials(user: &mut User) {
    user.credential_version = user.credential_version.saturating_add(1);
    user.sessions.clear();
}

/// RS-9: replaces the password with a temporary one, bumps the credential version and voids
/// outstanding OTPs and reset links.
pub fn install_temporary(ctx: &Ctx<'_>, user: &mut User, phc: String) {
    retire_password(ctx, user);
    user.password = temporary_record(ctx, phc);
    new_credentials(user);
    user.pending_login = None;
    user.pending_reset = None;
    user.pending_password = None;
}

/// RS-10: the keyed digest a login compares a typed temporary password against (typed back
/// from a mail, it is trimmed first: M-3).
pub fn temp_digest(key: &SessionKey, user: &UserRef, password: &Secret) -> Digest {
    let data = format!(
        "{}\u{0}{}\u{0}{}",
        user.tenant,
        user.user_id,
        password.trimmed().expose()
    );
    key.keyed_digest("monban-temporary-password-v1", data.as_bytes())
}

/// RS-10: a self-service reset (RS-1, RS-4, RS-6) issues the temporary password *beside* the
/// current one: the current password, the credential version and so the sessions stay; a
/// previous waiting temporary password is replaced; the reset link dies.
pub fn issue_beside(ctx: &Ctx<'_>, user: &mut User, temp: &Secret, phc: String) {
    user.pending_password = Some(PendingPassword {
        phc,
        check: temp_digest(ctx.key, &user.user_ref(), temp),
        issued_at: ctx.now,
        until: ctx
            .now
            .plus_days(i64::from(ctx.policy.password.temporary_lifetime_days)),
    });
    user.pending_reset = None;
}

/// RS-10: whether `check` is the digest of `user`'s waiting temporary password, still valid.
pub fn pending_matches(ctx: &Ctx<'_>, user: &User, check: &Digest) -> bool {
    user.pending_password
        .as_ref()
        .is_some_and(|p| p.check == *check && ctx.now < p.until)
}

/// RS-10, RS-9: the first successful login with the waiting temporary password completes the
/// reset: it becomes the (temporary, to be changed) current password, the credential version
/// moves on (older sessions end) and outstanding links die.
pub fn promote_pending(ctx: &Ctx<'_>, user: &mut User) {
    if let Some(p) = user.pending_password.take() {
        retire_password(ctx, user);
        user.password = PasswordRecord {
            phc: p.phc,
            set_at: ctx.now,
            temporary_until: Some(p.until),
        };
        new_credentials(user);
        user.pending_reset = None;
    }
}

/// PW-5: keeps the current password in the history (newest first, at most `history` kept).
pub fn retire_password(ctx: &Ctx<'_>, user: &mut User) {
    let keep = ctx.policy.password.history;
    if keep == 0 {
        user.password_history.clear();
        return;
    }
    // A temporary password is not the user's choice: it is not kept in the history.
    if user.password.temporary_until.is_none() {
        user.password_history.insert(0, user.password.phc.clone());
    }
    user.password_history.truncate(keep);
}

/// Adds `user` to the owners of `address` (`current` as loaded).
pub fn claim_email(address: &str, current: Option<&EmailOwners>, user: &UserRef) -> Write {
    let mut rec = current.cloned().unwrap_or(EmailOwners {
        address: address.to_owned(),
        owners: Vec::new(),
        version: 0,
    });
    if !rec.owners.contains(user) {
        rec.owners.push(user.clone());
        rec.owners.sort();
    }
    Write::PutEmailOwners(rec)
}

/// Removes `user` from the owners of an address (`current` as loaded); `None` when it was not
/// an owner.
pub fn release_email(current: Option<&EmailOwners>, user: &UserRef) -> Option<Write> {
    let rec = current?;
    if !rec.owners.contains(user) {
        return None;
    }
    let mut rec = rec.clone();
    rec.owners.retain(|o| o != user);
    Some(if rec.owners.is_empty() {
        Write::DeleteEmailOwners {
            address: rec.address,
            expect: rec.version,
        }
    } else {
        Write::PutEmailOwners(rec)
    })
}
