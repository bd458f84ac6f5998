//! [`AsyncAuth`]: the flows of [`Auth`] as `async` functions, so Kotlin gets `suspend`
//! functions and Swift `async` ones (Python has `monban.aio`).
//!
//! Each call runs the blocking call of the `Auth` underneath on a thread of its own and hands
//! the answer back through a channel; the caller's coroutine is suspended meanwhile, never a
//! thread of the caller's.

use crate::auth::Auth;
use crate::types::{
    AuditFilter, AuditPage, ClientCert, Created, DeliveryReport, ForgotLoginId, IdentityClaim,
    LoginRequest, LoginStep, MonbanError, NewTenant, NewUser, OutboxEntryView, Permission,
    ResetRequest, SelfEdit, Session, SessionInfo, SweepReport, Timestamp, TotpEnrolment, UserEdit,
    UserPage, UserRef, UserView,
};
use std::sync::Arc;

/// The flows of an [`Auth`] as `async` functions (Kotlin `suspend`, Swift `async`).
#[derive(Debug, uniffi::Object)]
pub struct AsyncAuth {
    auth: Arc<Auth>,
}

impl AsyncAuth {
    /// Runs `work` with the `Auth` on a new thread; resolves with its answer.
    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(Arc<Auth>) -> Result<T, MonbanError> + Send + 'static,
    ) -> Result<T, MonbanError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let auth = Arc::clone(&self.auth);
        std::thread::Builder::new()
            .name("monban-async".into())
            .spawn(move || {
                // The receiver is gone only when the caller stopped waiting.
                let _ = tx.send(work(auth));
            })
            .map_err(|e| MonbanError::other("busy", format!("no thread for the call: {e}")))?;
        rx.await.unwrap_or_else(|_| {
            // The thread ended without an answer: the call panicked. (A blocking call's panic
            // is uniffi's internal error; here it is the code `internal`, as over HTTP.)
            Err(MonbanError::other(
                "store_unavailable",
                "the call failed unexpectedly",
            ))
        })
    }
}

#[uniffi::export]
impl AsyncAuth {
    /// The `async` view of `auth`; both share one service, database and sessions.
    #[uniffi::constructor]
    pub fn new(auth: Arc<Auth>) -> Arc<Self> {
        Arc::new(Self { auth })
    }

    /// The blocking `Auth` underneath.
    pub fn blocking(&self) -> Arc<Auth> {
        Arc::clone(&self.auth)
    }

    /// The policy's name.
    pub fn policy_name(&self) -> String {
        self.auth.policy_name()
    }

    /// Now, as the service sees it (Unix seconds).
    pub fn now(&self) -> i64 {
        self.auth.now()
    }

    /// Moves the service's clock `seconds` ahead of the system clock (tests of expiry,
    /// lockout and dormancy); 0 goes back to the system clock.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.auth.set_clock_offset(seconds)
    }

    /// The first step of a login: the password (or a client certificate); answers a challenge
    /// for the second factor, or a session (T-2, T-5, L-1, L-5, L-8).
    pub async fn login(&self, request: LoginRequest) -> Result<LoginStep, MonbanError> {
        self.call(move |auth| auth.login(request)).await
    }

    /// Second factor: the mailed code or the authenticator code (L-3, L-4).
    pub async fn verify_second_factor(
        &self,
        challenge: String,
        code: String,
    ) -> Result<Session, MonbanError> {
        self.call(move |auth| auth.verify_second_factor(challenge, code))
            .await
    }

    /// Mails a new code, voiding the old one (L-3); returns when the new code expires.
    pub async fn resend_otp(&self, challenge: String) -> Result<Timestamp, MonbanError> {
        self.call(move |auth| auth.resend_otp(challenge)).await
    }

    /// The signed-in user.
    pub async fn whoami(&self, token: String) -> Result<UserView, MonbanError> {
        self.call(move |auth| auth.whoami(token)).await
    }

    /// Whether the session's user may do `permission`.
    pub async fn can(&self, token: String, permission: Permission) -> Result<bool, MonbanError> {
        self.call(move |auth| auth.can(token, permission)).await
    }

    /// Ends this session only; the user's other sessions go on (S-4).
    pub async fn logout(&self, token: String) -> Result<(), MonbanError> {
        self.call(move |auth| auth.logout(token)).await
    }

    /// The user's live sessions, most recently used first (S-4).
    pub async fn list_sessions(&self, token: String) -> Result<Vec<SessionInfo>, MonbanError> {
        self.call(move |auth| auth.list_sessions(token)).await
    }

    /// Ends one of the user's own sessions by its ID (S-4).
    pub async fn end_session(&self, token: String, session_id: String) -> Result<(), MonbanError> {
        self.call(move |auth| auth.end_session(token, session_id))
            .await
    }

    /// Ends every session of the user but this one; how many ended (S-4).
    pub async fn end_other_sessions(&self, token: String) -> Result<u64, MonbanError> {
        self.call(move |auth| auth.end_other_sessions(token)).await
    }

    /// Changes the password and returns a full session: `current` is the present password for
    /// a voluntary change, none when the session must change it (PW-1..PW-5).
    pub async fn change_password(
        &self,
        token: String,
        current: Option<String>,
        new: String,
        confirm: String,
    ) -> Result<Session, MonbanError> {
        self.call(move |auth| auth.change_password(token, current, new, confirm))
            .await
    }

    /// The user edits its own profile; absent fields stay (P-3).
    pub async fn edit_self(&self, token: String, edit: SelfEdit) -> Result<UserView, MonbanError> {
        self.call(move |auth| auth.edit_self(token, edit)).await
    }

    /// Starts adding an authenticator.
    pub async fn begin_totp(&self, token: String) -> Result<TotpEnrolment, MonbanError> {
        self.call(move |auth| auth.begin_totp(token)).await
    }

    /// Confirms the authenticator with a code from it.
    pub async fn confirm_totp(&self, token: String, code: String) -> Result<(), MonbanError> {
        self.call(move |auth| auth.confirm_totp(token, code)).await
    }

    /// The admin's tenant's users, after the cursor `after`.
    #[uniffi::method(default(after = None, limit = 100))]
    pub async fn admin_list_users(
        &self,
        token: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<UserPage, MonbanError> {
        self.call(move |auth| auth.admin_list_users(token, after, limit))
            .await
    }

    /// Creates a user; its temporary password is mailed (LC-2) or returned.
    pub async fn admin_create_user(
        &self,
        token: String,
        user: NewUser,
    ) -> Result<Created, MonbanError> {
        self.call(move |auth| auth.admin_create_user(token, user))
            .await
    }

    /// Edits a user.
    pub async fn admin_edit_user(
        &self,
        token: String,
        user_id: String,
        edit: UserEdit,
    ) -> Result<UserView, MonbanError> {
        self.call(move |auth| auth.admin_edit_user(token, user_id, edit))
            .await
    }

    /// Deletes a user.
    pub async fn admin_delete_user(
        &self,
        token: String,
        user_id: String,
    ) -> Result<(), MonbanError> {
        self.call(move |auth| auth.admin_delete_user(token, user_id))
            .await
    }

    /// Resets a user's password: mailed, or returned when the user has no e-mail.
    pub async fn admin_reset_password(
        &self,
        token: String,
        user_id: String,
    ) -> Result<Option<String>, MonbanError> {
        self.call(move |auth| auth.admin_reset_password(token, user_id))
            .await
    }

    /// Removes a user's authenticator.
    pub async fn admin_reset_authenticator(
        &self,
        token: String,
        user_id: String,
    ) -> Result<(), MonbanError> {
        self.call(move |auth| auth.admin_reset_authenticator(token, user_id))
            .await
    }

    /// Unlocks a user (L-6).
    pub async fn admin_unlock(&self, token: String, user_id: String) -> Result<(), MonbanError> {
        self.call(move |auth| auth.admin_unlock(token, user_id))
            .await
    }

    /// Ends every session of a general or shipping user; how many ended (S-4).
    pub async fn admin_end_sessions(
        &self,
        token: String,
        user_id: String,
    ) -> Result<u64, MonbanError> {
        self.call(move |auth| auth.admin_end_sessions(token, user_id))
            .await
    }

    /// Creates a tenant and its admin (T-1..T-3).
    pub async fn support_create_tenant(&self, tenant: NewTenant) -> Result<Created, MonbanError> {
        self.call(move |auth| auth.support_create_tenant(tenant))
            .await
    }

    /// Unlocks any user.
    pub async fn support_unlock(&self, user: UserRef) -> Result<(), MonbanError> {
        self.call(move |auth| auth.support_unlock(user)).await
    }

    /// Resets any user's password: mailed, or returned when the user has no e-mail.
    pub async fn support_reset_password(
        &self,
        user: UserRef,
    ) -> Result<Option<String>, MonbanError> {
        self.call(move |auth| auth.support_reset_password(user))
            .await
    }

    /// Changes a tenant admin's e-mail (P-6).
    pub async fn support_change_admin_email(
        &self,
        tenant: String,
        new_email: String,
    ) -> Result<(), MonbanError> {
        self.call(move |auth| auth.support_change_admin_email(tenant, new_email))
            .await
    }

    /// Binds a client certificate to a user (L-8).
    pub async fn support_bind_certificate(
        &self,
        user: UserRef,
        certificate: ClientCert,
        replace: bool,
    ) -> Result<(), MonbanError> {
        self.call(move |auth| auth.support_bind_certificate(user, certificate, replace))
            .await
    }

    /// A tenant's users, after the cursor `after`.
    #[uniffi::method(default(after = None, limit = 100))]
    pub async fn support_list_users(
        &self,
        tenant: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<UserPage, MonbanError> {
        self.call(move |auth| auth.support_list_users(tenant, after, limit))
            .await
    }

    /// Audit events passing `filter`, oldest first, after the cursor `after`.
    #[uniffi::method(default(after = None, limit = 100))]
    pub async fn audit_events(
        &self,
        filter: AuditFilter,
        after: Option<String>,
        limit: u32,
    ) -> Result<AuditPage, MonbanError> {
        self.call(move |auth| auth.audit_events(filter, after, limit))
            .await
    }

    /// Deletes dormant users (LC-1).
    pub async fn sweep_dormant(&self) -> Result<SweepReport, MonbanError> {
        self.call(move |auth| auth.sweep_dormant()).await
    }

    /// Mails a reset link (RS-1); answers the same for unknown users (RS-3).
    pub async fn request_password_reset(&self, request: ResetRequest) -> Result<(), MonbanError> {
        self.call(move |auth| auth.request_password_reset(request))
            .await
    }

    /// Opens a reset link: mails a temporary password (RS-1).
    pub async fn open_reset_link(&self, token: String) -> Result<(), MonbanError> {
        self.call(move |auth| auth.open_reset_link(token)).await
    }

    /// Identity-verification reset (RS-4): mails a temporary password when the claim matches.
    pub async fn identity_reset(&self, claim: IdentityClaim) -> Result<(), MonbanError> {
        self.call(move |auth| auth.identity_reset(claim)).await
    }

    /// Mails the login ID (RS-5).
    pub async fn forgot_login_id(&self, request: ForgotLoginId) -> Result<(), MonbanError> {
        self.call(move |auth| auth.forgot_login_id(request)).await
    }

    /// Mails a temporary password to the users registered with `email` (RS-6..RS-8).
    pub async fn request_password_notification(&self, email: String) -> Result<(), MonbanError> {
        self.call(move |auth| auth.request_password_notification(email))
            .await
    }

    /// Sends every queued mail that is due now (see [`Auth::deliver_pending`]).
    pub async fn deliver_pending(&self) -> Result<DeliveryReport, MonbanError> {
        self.call(|auth| auth.deliver_pending()).await
    }

    /// The queued and failed mails, without content or recipient (see [`Auth::outbox`]).
    pub async fn outbox(
        &self,
        state: Option<String>,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<OutboxEntryView>, MonbanError> {
        self.call(move |auth| auth.outbox(state, after, limit))
            .await
    }

    /// Puts a failed mail back in the queue, due now.
    pub async fn retry_delivery(&self, id: String) -> Result<OutboxEntryView, MonbanError> {
        self.call(move |auth| auth.retry_delivery(id)).await
    }
}
