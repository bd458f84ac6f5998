//! [`Auth`]: the monban flows on an embedded SQLite file, for the host language.
//!
//! Each exported method is synchronous: it runs the core's async call to completion on a tokio
//! runtime the `Auth` owns (argon2 on its blocking pool, SQLite on its blocking pool), so the
//! host needs no event loop. Methods may be called from several host threads at once.

use crate::engine::Policy;
use crate::types::{
    AuditFilter, AuditPage, ClientCert, Created, DeliveryReport, ForgotLoginId, IdentityClaim,
    LoginRequest, LoginStep, MailMessage, MonbanError, NewTenant, NewUser, OutboxEntryView,
    Permission, ResetRequest, SelfEdit, Session, SessionInfo, SweepReport, Timestamp,
    TotpEnrolment, UserEdit, UserPage, UserRef, UserView,
};
use monban_core as core;
use monban_core::Secret;
use monban_core::mail::Mail;
use monban_core::ports::{Clock, MailError, SecureRandom};
use monban_core::token::SessionKey;
use monban_embedded::{OsRandom, OutboxMailer, SqliteStore, SystemClock, TokioOffload};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Sends monban's mails; implemented by the host (Python, Kotlin, Swift).
///
/// A mail is stored with the state it talks about, and `send` is called afterwards by the
/// courier: a background task of the `Auth`, and `Auth.deliver_pending()` when the host wants
/// it now. An error (or an exception the implementation lets escape) leaves the mail queued;
/// it is tried again with growing pauses and, after the last attempt, kept as failed
/// (`Auth.outbox`, `Auth.retry_delivery`). The operation that queued it has succeeded.
#[uniffi::export(foreign)]
pub trait Mailer: Send + Sync {
    /// Sends one mail.
    fn send(&self, mail: MailMessage) -> Result<(), MonbanError>;
}

/// Where the service's mail goes: the host's mailer or an outbox folder.
enum MailSink {
    Host(Arc<dyn Mailer>),
    Outbox(OutboxMailer),
}

impl core::ports::Mailer for MailSink {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        match self {
            MailSink::Host(host) => host
                .send(MailMessage::from(mail))
                .map_err(|e| MailError(e.to_string())),
            MailSink::Outbox(outbox) => core::ports::Mailer::send(outbox, mail).await,
        }
    }
}

/// The system clock plus an offset the host may move (tests of expiry and dormancy).
struct ShiftedClock {
    offset: Arc<AtomicI64>,
}

impl Clock for ShiftedClock {
    fn now(&self) -> core::Timestamp {
        SystemClock
            .now()
            .plus_secs(self.offset.load(Ordering::Relaxed))
    }
    fn pause(&self, millis: u64) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        SystemClock.pause(millis)
    }
}

type Service = core::AuthService<SqliteStore, MailSink>;

/// The monban flows on one SQLite file.
#[derive(uniffi::Object)]
pub struct Auth {
    service: Arc<Service>,
    /// One courier round at a time: `deliver_pending` waits for the background task's round,
    /// so when it returns every mail queued before the call has been tried.
    courier: Arc<tokio::sync::Mutex<()>>,
    offset: Arc<AtomicI64>,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Auth {
    fn drop(&mut self) {
        // Never blocks and never panics, even when the last reference goes away on one of the
        // runtime's own threads (e.g. inside a host Mailer callback).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

fn io_error(e: impl std::fmt::Display) -> MonbanError {
    MonbanError::other("store_unavailable", e)
}

fn owned(token: Secret) -> String {
    token.expose().to_owned()
}

/// The session key kept in `monban.key` beside the database, as `monban serve` keeps it: 64 hex
/// digits, readable by its owner only; created (atomically, so two processes opening one
/// database at once agree on one key) when absent. Every process on one database then shares
/// the key, so a session or a code issued by one is accepted by the others.
fn key_beside(db_path: &str, rng: &OsRandom) -> Result<Vec<u8>, MonbanError> {
    use std::io::Write as _;
    let dir = std::path::Path::new(db_path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let path = dir.join("monban.key");
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        MonbanError::other(
            "store_unavailable",
            format!("{what} {}: {e}", path.display()),
        )
    };
    if !path.exists() {
        let mut k = vec![0u8; 32];
        rng.fill(&mut k);
        let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
        k.fill(0);
        // Written whole to a private temporary file, then linked into place: the link fails if
        // another process was first, and then its key is read below.
        let tmp = tempfile::Builder::new()
            .prefix(".monban.key.")
            .tempfile_in(dir)
            .map_err(|e| fail("cannot create a key file in the folder of", &e))?;
        let mut f = tmp.as_file();
        f.write_all(format!("{hex}\n").as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| fail("cannot write the session key", &e))?;
        match std::fs::hard_link(tmp.path(), &path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail("cannot create the session key", &e)),
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path)
            .map_err(|e| fail("cannot read the session key", &e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(MonbanError::other(
                "policy_invalid",
                format!(
                    "the session key {} may be read by others (mode {:o}): chmod 600 it",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    let text =
        std::fs::read_to_string(&path).map_err(|e| fail("cannot read the session key", &e))?;
    let text = text.trim();
    let bytes: Option<Vec<u8>> = (text.len() == 64)
        .then(|| {
            (0..32)
                .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    bytes.ok_or_else(|| {
        MonbanError::other(
            "policy_invalid",
            format!("the session key {} is not 64 hex digits", path.display()),
        )
    })
}

impl Auth {
    fn build(
        db_path: &str,
        policy: &Policy,
        mail: MailSink,
        session_key: Option<Vec<u8>>,
    ) -> Result<Arc<Self>, MonbanError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("monban")
            .enable_all()
            .build()
            .map_err(io_error)?;
        let rng = OsRandom::new().map_err(io_error)?;
        let key = match session_key {
            Some(k) => k,
            None => key_beside(db_path, &rng)?,
        };
        let store = {
            // The store's pool is created inside the runtime it will be used from.
            let _guard = runtime.enter();
            SqliteStore::open(db_path).map_err(|e| MonbanError::other("store_unavailable", e))?
        };
        let offset = Arc::new(AtomicI64::new(0));
        let wake = Arc::new(tokio::sync::Notify::new());
        let waker = Arc::clone(&wake);
        let service = {
            let _guard = runtime.enter();
            core::AuthService::new(
                policy.inner.clone(),
                SessionKey::new(key)?,
                store,
                mail,
                ShiftedClock {
                    offset: Arc::clone(&offset),
                },
                rng,
            )?
            .with_offload(TokioOffload::with_limit(policy.inner.password.hash_slots()))
            .on_queued(move || waker.notify_one())
        };
        let service = Arc::new(service);
        let courier = Arc::new(tokio::sync::Mutex::new(()));
        runtime.spawn(background_courier(
            Arc::clone(&service),
            Arc::clone(&courier),
            wake,
        ));
        Ok(Arc::new(Self {
            service,
            courier,
            offset,
            runtime: Some(runtime),
        }))
    }

    fn run<T, U: From<T>>(
        &self,
        fut: impl Future<Output = core::Result<T>>,
    ) -> Result<U, MonbanError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| MonbanError::other("store_unavailable", "the Auth is closed"))?;
        Ok(runtime.block_on(fut).map(U::from)?)
    }
}

/// M-4: delivers what the service queues, woken at each queueing and every 5 s otherwise.
async fn background_courier(
    service: Arc<Service>,
    round: Arc<tokio::sync::Mutex<()>>,
    wake: Arc<tokio::sync::Notify>,
) {
    loop {
        {
            let _one = round.lock().await;
            // Errors (the store out) are tried again at the next round.
            let _ = service.deliver_pending().await;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
    }
}

#[uniffi::export]
impl Auth {
    /// Delivers every queued mail that is due now through the mailer (and resolves queued
    /// recovery requests), after any round the background courier is in; answers what was
    /// done. When it returns, every mail queued before the call has been tried once.
    pub fn deliver_pending(&self) -> Result<DeliveryReport, MonbanError> {
        let service = Arc::clone(&self.service);
        let round = Arc::clone(&self.courier);
        self.run(async move {
            let _one = round.lock().await;
            service.deliver_pending().await
        })
    }

    /// The queued and failed mails (no content, no recipient), oldest first; `state`:
    /// `"pending"`, `"failed"` or none for both.
    #[uniffi::method(default(state = None, after = None, limit = 100))]
    pub fn outbox(
        &self,
        state: Option<String>,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<OutboxEntryView>, MonbanError> {
        let state = match state.as_deref() {
            None => None,
            Some(s) => Some(core::outbox::OutboxState::parse(s).ok_or_else(|| {
                MonbanError::other("invalid_request", format!("unknown outbox state {s:?}"))
            })?),
        };
        let page: core::model::Page<core::outbox::OutboxView> = self.run(self.service.outbox(
            state,
            after.as_deref(),
            usize::try_from(limit).unwrap_or(100),
        ))?;
        Ok(page.items.into_iter().map(Into::into).collect())
    }

    /// Puts a failed mail back in the queue, due now; the audit records it as support's act.
    pub fn retry_delivery(&self, id: String) -> Result<OutboxEntryView, MonbanError> {
        self.run(
            self.service
                .retry_delivery(&id, core::audit::Actor::Support),
        )
    }

    /// Opens (creating and migrating) the SQLite file at `db_path`; mail goes to `mailer`.
    ///
    /// `session_key`: at least 32 random bytes kept across restarts; none uses `monban.key`
    /// beside the database (created, readable by its owner only, when absent — the file
    /// `monban serve` uses too), so every process on one database shares sessions and codes.
    #[uniffi::constructor(default(session_key = None))]
    pub fn open(
        db_path: String,
        policy: Arc<Policy>,
        mailer: Arc<dyn Mailer>,
        session_key: Option<Vec<u8>>,
    ) -> Result<Arc<Self>, MonbanError> {
        Self::build(&db_path, &policy, MailSink::Host(mailer), session_key)
    }

    /// Like `open`, with mail written to `outbox_dir` as one `.eml` file per mail (development
    /// and single-machine setups).
    #[uniffi::constructor(default(session_key = None))]
    pub fn open_with_outbox(
        db_path: String,
        policy: Arc<Policy>,
        outbox_dir: String,
        session_key: Option<Vec<u8>>,
    ) -> Result<Arc<Self>, MonbanError> {
        let outbox = OutboxMailer::new(outbox_dir).map_err(io_error)?;
        Self::build(&db_path, &policy, MailSink::Outbox(outbox), session_key)
    }

    /// The policy's name.
    pub fn policy_name(&self) -> String {
        self.service.policy().name.clone()
    }

    /// Now, as the service sees it (Unix seconds).
    pub fn now(&self) -> i64 {
        SystemClock
            .now()
            .plus_secs(self.offset.load(Ordering::Relaxed))
            .secs()
    }

    /// Moves the service's clock `seconds` ahead of the system clock (tests of expiry,
    /// lockout and dormancy); 0 goes back to the system clock.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.offset.store(seconds, Ordering::Relaxed);
    }

    // ---- login -----------------------------------------------------------------------------

    /// The first step of a login: the password (or a client certificate); answers a challenge
    /// for the second factor, or a session (T-2, T-5, L-1, L-5, L-8).
    pub fn login(&self, request: LoginRequest) -> Result<LoginStep, MonbanError> {
        self.run(self.service.login(request.into()))
    }

    /// Second factor: the mailed code or the authenticator code (L-3, L-4).
    pub fn verify_second_factor(
        &self,
        challenge: String,
        code: String,
    ) -> Result<Session, MonbanError> {
        self.run(
            self.service
                .verify_second_factor(&challenge, &Secret::new(code)),
        )
    }

    /// Mails a new code, voiding the old one (L-3); returns when the new code expires.
    pub fn resend_otp(&self, challenge: String) -> Result<Timestamp, MonbanError> {
        self.run(self.service.resend_otp(&challenge))
    }

    /// The signed-in user.
    pub fn whoami(&self, token: String) -> Result<UserView, MonbanError> {
        self.run(self.service.whoami(&token))
    }

    /// Whether the session's user may do `permission`.
    pub fn can(&self, token: String, permission: Permission) -> Result<bool, MonbanError> {
        self.run(self.service.can(&token, permission.into()))
    }

    /// Ends this session only; the user's other sessions go on (S-4).
    pub fn logout(&self, token: String) -> Result<(), MonbanError> {
        self.run(self.service.logout(&token))
    }

    /// The user's live sessions, most recently used first (S-4).
    pub fn list_sessions(&self, token: String) -> Result<Vec<SessionInfo>, MonbanError> {
        let v: Vec<core::service::SessionView> = self.run(self.service.list_sessions(&token))?;
        Ok(v.into_iter().map(Into::into).collect())
    }

    /// Ends one of the user's own sessions by its ID (S-4).
    pub fn end_session(&self, token: String, session_id: String) -> Result<(), MonbanError> {
        self.run(self.service.end_session(&token, &session_id))
    }

    /// Ends every session of the user but this one; how many ended (S-4).
    pub fn end_other_sessions(&self, token: String) -> Result<u64, MonbanError> {
        let n: usize = self.run(self.service.end_other_sessions(&token))?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    /// Changes the password and returns a full session: `current` is the present password for
    /// a voluntary change, none when the session must change it (PW-1..PW-5). The arguments
    /// come in the core's order; Kotlin and Swift callers name them.
    pub fn change_password(
        &self,
        token: String,
        current: Option<String>,
        new: String,
        confirm: String,
    ) -> Result<Session, MonbanError> {
        let current = current.map(Secret::new);
        self.run(self.service.change_password(
            &token,
            current.as_ref(),
            &Secret::new(new),
            &Secret::new(confirm),
        ))
    }

    /// The user edits its own profile; absent fields stay (P-3).
    pub fn edit_self(&self, token: String, edit: SelfEdit) -> Result<UserView, MonbanError> {
        self.run(self.service.edit_self(&token, &edit.into()))
    }

    /// Starts adding an authenticator.
    pub fn begin_totp(&self, token: String) -> Result<TotpEnrolment, MonbanError> {
        self.run(self.service.begin_totp(&token))
    }

    /// Confirms the authenticator with a code from it.
    pub fn confirm_totp(&self, token: String, code: String) -> Result<(), MonbanError> {
        self.run(self.service.confirm_totp(&token, &Secret::new(code)))
    }

    // ---- admin -----------------------------------------------------------------------------

    /// The admin's tenant's users, after the cursor `after`.
    #[uniffi::method(default(after = None, limit = 100))]
    pub fn admin_list_users(
        &self,
        token: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<UserPage, MonbanError> {
        self.run(self.service.admin_list_users(
            &token,
            after.as_deref(),
            crate::engine::limit(limit),
        ))
    }

    /// Creates a user; its temporary password is mailed (LC-2) or returned.
    pub fn admin_create_user(&self, token: String, user: NewUser) -> Result<Created, MonbanError> {
        self.run(self.service.admin_create_user(&token, &user.into()))
    }

    /// Edits a user.
    pub fn admin_edit_user(
        &self,
        token: String,
        user_id: String,
        edit: UserEdit,
    ) -> Result<UserView, MonbanError> {
        self.run(self.service.admin_edit_user(&token, &user_id, &edit.into()))
    }

    /// Deletes a user.
    pub fn admin_delete_user(&self, token: String, user_id: String) -> Result<(), MonbanError> {
        self.run(self.service.admin_delete_user(&token, &user_id))
    }

    /// Resets a user's password: mailed, or returned when the user has no e-mail.
    pub fn admin_reset_password(
        &self,
        token: String,
        user_id: String,
    ) -> Result<Option<String>, MonbanError> {
        let p: Option<Secret> = self.run(self.service.admin_reset_password(&token, &user_id))?;
        Ok(p.map(owned))
    }

    /// Removes a user's authenticator.
    pub fn admin_reset_authenticator(
        &self,
        token: String,
        user_id: String,
    ) -> Result<(), MonbanError> {
        self.run(self.service.admin_reset_authenticator(&token, &user_id))
    }

    /// Unlocks a user (L-6).
    pub fn admin_unlock(&self, token: String, user_id: String) -> Result<(), MonbanError> {
        self.run(self.service.admin_unlock(&token, &user_id))
    }

    /// Ends every session of a general or shipping user; how many ended (S-4).
    pub fn admin_end_sessions(&self, token: String, user_id: String) -> Result<u64, MonbanError> {
        let n: usize = self.run(self.service.admin_end_sessions(&token, &user_id))?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    // ---- support ---------------------------------------------------------------------------

    /// Creates a tenant and its admin (T-1..T-3).
    pub fn support_create_tenant(&self, tenant: NewTenant) -> Result<Created, MonbanError> {
        self.run(self.service.support_create_tenant(&tenant.into()))
    }

    /// Unlocks any user.
    pub fn support_unlock(&self, user: UserRef) -> Result<(), MonbanError> {
        self.run(self.service.support_unlock(&user.into()))
    }

    /// Resets any user's password: mailed, or returned when the user has no e-mail.
    pub fn support_reset_password(&self, user: UserRef) -> Result<Option<String>, MonbanError> {
        let p: Option<Secret> = self.run(self.service.support_reset_password(&user.into()))?;
        Ok(p.map(owned))
    }

    /// Changes a tenant admin's e-mail (P-6).
    pub fn support_change_admin_email(
        &self,
        tenant: String,
        new_email: String,
    ) -> Result<(), MonbanError> {
        self.run(self.service.support_change_admin_email(&tenant, &new_email))
    }

    /// Binds a client certificate to a user (L-8).
    pub fn support_bind_certificate(
        &self,
        user: UserRef,
        certificate: ClientCert,
        replace: bool,
    ) -> Result<(), MonbanError> {
        self.run(
            self.service
                .support_bind_certificate(&user.into(), &certificate.into(), replace),
        )
    }

    /// A tenant's users, after the cursor `after`.
    #[uniffi::method(default(after = None, limit = 100))]
    pub fn support_list_users(
        &self,
        tenant: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<UserPage, MonbanError> {
        self.run(self.service.support_list_users(
            &tenant,
            after.as_deref(),
            crate::engine::limit(limit),
        ))
    }

    /// Audit events passing `filter`, oldest first, after the cursor `after`.
    #[uniffi::method(default(after = None, limit = 100))]
    pub fn audit_events(
        &self,
        filter: AuditFilter,
        after: Option<String>,
        limit: u32,
    ) -> Result<AuditPage, MonbanError> {
        let filter: core::audit::AuditFilter = filter.try_into()?;
        let page: core::model::Page<core::audit::AuditEvent> = self.run(
            self.service
                .audit_events(&filter, after.as_deref(), crate::engine::limit(limit)),
        )?;
        Ok(AuditPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next: page.next,
        })
    }

    /// Deletes dormant users (LC-1).
    pub fn sweep_dormant(&self) -> Result<SweepReport, MonbanError> {
        self.run(self.service.sweep_dormant())
    }

    // ---- recovery --------------------------------------------------------------------------

    /// Mails a reset link (RS-1); answers the same for unknown users (RS-3).
    pub fn request_password_reset(&self, request: ResetRequest) -> Result<(), MonbanError> {
        self.run(self.service.request_password_reset(&request.into()))
    }

    /// Opens a reset link: mails a temporary password (RS-1).
    pub fn open_reset_link(&self, token: String) -> Result<(), MonbanError> {
        self.run(self.service.open_reset_link(&token))
    }

    /// Identity-verification reset (RS-4): mails a temporary password when the claim matches.
    pub fn identity_reset(&self, claim: IdentityClaim) -> Result<(), MonbanError> {
        self.run(self.service.identity_reset(&claim.into()))
    }

    /// Mails the login ID (RS-5).
    pub fn forgot_login_id(&self, request: ForgotLoginId) -> Result<(), MonbanError> {
        self.run(self.service.forgot_login_id(&request.into()))
    }

    /// Mails a temporary password to the users registered with `email` (RS-6..RS-8).
    pub fn request_password_notification(&self, email: String) -> Result<(), MonbanError> {
        self.run(self.service.request_password_notification(&email))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::types::{MailKind, NewTenant, ProfileInput};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Inbox(Mutex<Vec<MailMessage>>);

    impl Mailer for Inbox {
        fn send(&self, mail: MailMessage) -> Result<(), MonbanError> {
            self.0.lock().unwrap().push(mail);
            Ok(())
        }
    }

    impl Inbox {
        fn last_secret(&self, kind: MailKind) -> String {
            let mails = self.0.lock().unwrap();
            let mail = mails.iter().rev().find(|m| m.kind == kind).unwrap();
            crate::extract_secret(mail.clone()).unwrap()
        }
    }

    #[test]
    fn a_mail_otp_login_through_the_ffi_types() {
        let dir = tempfile::tempdir().unwrap();
        let policy = Policy::preset("kuroneko".into())
            .unwrap()
            .with_test_hashing();
        let inbox = Arc::new(Inbox::default());
        let auth = Auth::open(
            dir.path().join("m.db").to_string_lossy().into_owned(),
            policy,
            inbox.clone(),
            None,
        )
        .unwrap();
        auth.support_create_tenant(NewTenant {
            code: "999999999".into(),
            name: "黒猫堂".into(),
            admin: ProfileInput {
                name: "黒猫 太郎".into(),
                email: Some("123@a.com".into()),
                ..Default::default()
            },
            corporate_number: None,
            logistics: false,
            access_key: Some("7777777".into()),
            lang: None,
            admin_login_method: None,
            welcome_mail: true,
        })
        .unwrap();
        let request = |password: String| LoginRequest {
            tenant: Some("999999999".into()),
            identifier: Some("999999999".into()),
            password: Some(password),
            access_key: Some("7777777".into()),
            certificate: None,
        };
        auth.deliver_pending().unwrap();
        let temp = inbox.last_secret(MailKind::UserRegistered);
        let LoginStep::SecondFactor { challenge } = auth.login(request(temp)).unwrap() else {
            panic!("a second factor");
        };
        let wrong = auth
            .verify_second_factor(challenge.token.clone(), "000000x".into())
            .unwrap_err();
        assert_eq!(wrong.code(), "otp_invalid");
        auth.deliver_pending().unwrap();
        let code = inbox.last_secret(MailKind::Otp);
        let session = auth.verify_second_factor(challenge.token, code).unwrap();
        assert!(session.must_change_password.is_some());
        let err = auth
            .change_password(session.token.clone(), None, "abc".into(), "abc".into())
            .unwrap_err();
        let MonbanError::PasswordRejected { code, problems, .. } = &err else {
            panic!("password_rejected: {err:?}");
        };
        assert_eq!(code, "password_rejected");
        assert!(!problems.is_empty());
        let full = auth
            .change_password(
                session.token,
                None,
                "Kuro2025neko".into(),
                "Kuro2025neko".into(),
            )
            .unwrap();
        assert_eq!(auth.whoami(full.token).unwrap().user_id, "999999999");
        drop(auth);
    }

    #[test]
    fn a_failing_host_mailer_leaves_the_mail_queued() {
        // SPEC: M-4
        struct Down;
        impl Mailer for Down {
            fn send(&self, _: MailMessage) -> Result<(), MonbanError> {
                Err(uniffi::UnexpectedUniFFICallbackError::new("smtp down").into())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let policy = Policy::preset("kuroneko".into())
            .unwrap()
            .with_test_hashing();
        let auth = Auth::open(
            dir.path().join("m.db").to_string_lossy().into_owned(),
            policy,
            Arc::new(Down),
            None,
        )
        .unwrap();
        auth.support_create_tenant(NewTenant {
            code: "999999999".into(),
            name: "黒猫堂".into(),
            admin: ProfileInput {
                name: "黒猫 太郎".into(),
                email: Some("123@a.com".into()),
                ..Default::default()
            },
            corporate_number: None,
            logistics: false,
            access_key: Some("7777777".into()),
            lang: None,
            admin_login_method: None,
            welcome_mail: true,
        })
        .unwrap();
        auth.deliver_pending().unwrap();
        let queued = auth.outbox(Some("pending".into()), None, 10).unwrap();
        assert_eq!(queued.len(), 1, "{queued:?}");
        assert_eq!(queued[0].kind, "user_registered");
        assert!(queued[0].attempts >= 1);
        assert!(
            queued[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("smtp down")
        );
    }
}
