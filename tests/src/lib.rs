//! Shared harness for monban's end-to-end tests: an [`AuthService`] over the in-memory ports
//! (`MemoryStore`, `CapturingMailer`, a shared `ManualClock`, `SeededRandom`), helpers that
//! play the person reading the mails, and the login / set-up steps every walkthrough repeats.
//!
//! Every test in `tests/` goes through the public API only; the store is read directly only to
//! check what was (or was not) stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod aws_local;
pub mod conformance;

use monban_core::audit::{AuditEvent, AuditFilter};
use monban_core::cert::ClientCert;
use monban_core::flow::account::{NewTenant, NewUser, ProfileInput};
use monban_core::flow::login::{Challenge, ChangeReason, LoginStep, Session};
use monban_core::mail::{Mail, MailKind, extract_secret};
use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
use monban_core::model::{LoginMethod, User, UserRef};
use monban_core::ports::Store;
use monban_core::role::Role;
use monban_core::secret::{Secret, SecretBytes};
use monban_core::service::{LoginRequest, ResetRequest, UserView};
use monban_core::time::Timestamp;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Lang, Policy};
use std::sync::Arc;

pub use monban_core;

/// The service under test.
pub type Svc = AuthService<Arc<MemoryStore>, Arc<CapturingMailer>>;

/// Where every harness clock starts: 2027-01-15 08:00:00 UTC.
pub const T0: Timestamp = Timestamp(1_800_000_000);

/// A service over in-memory ports, with the clock, store and mailer kept for the test.
pub struct Harness {
    /// The service (shared, for the race tests).
    pub svc: Arc<Svc>,
    /// The store behind it.
    pub store: Arc<MemoryStore>,
    /// Every mail sent.
    pub mailer: Arc<CapturingMailer>,
    /// The clock the service reads.
    pub clock: Arc<ManualClock>,
    /// The policy (with test hashing).
    pub policy: Policy,
}

/// A secret from a string.
pub fn secret(s: &str) -> Secret {
    Secret::new(s)
}

impl Harness {
    /// A harness for `policy` (test hashing is switched on here), clock at [`T0`].
    pub fn new(policy: Policy) -> Self {
        Self::with_seed(policy, 42)
    }

    /// Like [`Harness::new`] with another random seed.
    pub fn with_seed(policy: Policy, seed: u64) -> Self {
        Self::exact(policy.with_test_hashing(), seed)
    }

    /// A harness for `policy` exactly as given (its own hashing parameters).
    pub fn exact(policy: Policy, seed: u64) -> Self {
        let store = Arc::new(MemoryStore::new());
        let mailer = Arc::new(CapturingMailer::new());
        let clock = Arc::new(ManualClock::at(T0));
        let key = SessionKey::new(vec![0x5a; 32]).expect("32-byte session key");
        let svc = AuthService::new(
            policy.clone(),
            key,
            Arc::clone(&store),
            Arc::clone(&mailer),
            Arc::clone(&clock),
            SeededRandom::new(seed),
        )
        .expect("the preset validates");
        Self {
            svc: Arc::new(svc),
            store,
            mailer,
            clock,
            policy,
        }
    }

    // ---- time ------------------------------------------------------------------------------

    /// Now, as the service sees it.
    pub fn now(&self) -> Timestamp {
        use monban_core::ports::Clock as _;
        self.clock.now()
    }

    /// Moves the clock forward.
    pub fn advance_secs(&self, secs: i64) {
        self.clock.advance(secs);
    }

    /// Moves the clock forward by whole days.
    pub fn advance_days(&self, days: i64) {
        self.clock.advance_days(days);
    }

    // ---- mail ------------------------------------------------------------------------------

    /// Runs the courier (M-4) until nothing is due: the mails the service queued so far are
    /// sent. Every mail helper below runs it first. The in-memory ports never wait, so it
    /// completes at once on this thread.
    pub fn deliver(&self) -> monban_core::service::Delivery {
        futures_executor::block_on(self.svc.deliver_pending()).expect("the courier runs")
    }

    /// Every mail to `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.deliver();
        self.mailer.to(to)
    }

    /// How many mails went to `to`.
    pub fn mail_count(&self, to: &str) -> usize {
        self.deliver();
        self.mailer.to(to).len()
    }

    /// How many mails were sent in all.
    pub fn total_mails(&self) -> usize {
        self.deliver();
        self.mailer.mails().len()
    }

    /// The newest mail to `to` (panics when there is none).
    pub fn last_mail(&self, to: &str) -> Mail {
        self.deliver();
        self.mailer
            .last_to(to)
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    /// The newest mail to `to`, which must be of `kind`.
    pub fn last_mail_of(&self, to: &str, kind: MailKind) -> Mail {
        let m = self.last_mail(to);
        assert_eq!(m.kind, kind, "newest mail to {to}: {m:?}");
        m
    }

    /// The secret the newest mail to `to` delivers (code, temporary password or reset URL).
    pub fn secret_in_last_mail(&self, to: &str) -> String {
        let m = self.last_mail(to);
        extract_secret(&m).unwrap_or_else(|| panic!("no secret in {m:?}"))
    }

    /// The OTP code of the newest mail to `to` (which must be an OTP mail).
    pub fn otp_code(&self, to: &str) -> Secret {
        let m = self.last_mail_of(to, MailKind::Otp);
        Secret::new(extract_secret(&m).expect("a code in the OTP mail"))
    }

    /// The temporary password of the newest mail to `to` (a temporary-password or new-user mail).
    pub fn temp_password(&self, to: &str) -> Secret {
        let m = self.last_mail(to);
        assert!(
            matches!(
                m.kind,
                MailKind::TemporaryPassword | MailKind::UserRegistered
            ),
            "newest mail to {to} is {m:?}"
        );
        Secret::new(extract_secret(&m).expect("a password in the mail"))
    }

    /// The reset URL of the newest mail to `to` (a reset-started mail).
    pub fn reset_url(&self, to: &str) -> String {
        let m = self.last_mail_of(to, MailKind::ResetStarted);
        extract_secret(&m).expect("a URL in the reset mail")
    }

    /// The token part of a reset URL (what follows the policy's base URL).
    pub fn token_of_url(&self, url: &str) -> String {
        url.strip_prefix(&self.policy.mail.reset_base_url)
            .unwrap_or_else(|| panic!("{url} does not start with the reset base URL"))
            .to_owned()
    }

    /// The token of the reset link in the newest mail to `to`.
    pub fn reset_token(&self, to: &str) -> String {
        let url = self.reset_url(to);
        self.token_of_url(&url)
    }

    // ---- store -----------------------------------------------------------------------------

    /// A user as stored.
    pub async fn stored_user(&self, tenant: &str, user_id: &str) -> Option<User> {
        self.store
            .user(&UserRef::new(tenant, user_id))
            .await
            .expect("memory store")
    }

    /// A tenant's users as support sees them (live users only), sorted by user ID.
    pub async fn users(&self, tenant: &str) -> Vec<UserView> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .svc
                .support_list_users(tenant, after.as_deref(), 500)
                .await
                .expect("support can list users");
            out.extend(page.items);
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        out
    }

    /// One user as support sees it.
    pub async fn view(&self, tenant: &str, user_id: &str) -> Option<UserView> {
        self.users(tenant)
            .await
            .into_iter()
            .find(|u| u.user_id == user_id)
    }

    /// Every audit event, oldest first.
    pub async fn audit(&self) -> Vec<AuditEvent> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .svc
                .audit_events(&AuditFilter::default(), after.as_deref(), 1000)
                .await
                .expect("support can read the audit log");
            out.extend(page.items);
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        out
    }

    // ---- login -----------------------------------------------------------------------------

    /// A first-factor request with tenant code + user ID (Kuroneko).
    pub fn request(
        tenant: &str,
        user_id: &str,
        password: &Secret,
        access_key: Option<&str>,
    ) -> LoginRequest {
        LoginRequest {
            tenant: Some(tenant.to_owned()),
            identifier: Some(user_id.to_owned()),
            password: Some(password.clone()),
            access_key: access_key.map(Secret::new),
            certificate: None,
        }
    }

    /// Runs a first factor that must answer with a second-factor challenge.
    pub async fn challenge(&self, req: LoginRequest) -> Challenge {
        match self.svc.login(req).await {
            Ok(LoginStep::SecondFactor(c)) => c,
            Ok(LoginStep::Session(s)) => panic!("expected a challenge, got a session {s:?}"),
            Err(e) => panic!("expected a challenge, got {e}"),
        }
    }

    /// Runs a first factor that must answer with a session (no second factor).
    pub async fn session(&self, req: LoginRequest) -> Session {
        match self.svc.login(req).await {
            Ok(LoginStep::Session(s)) => s,
            Ok(LoginStep::SecondFactor(c)) => panic!("expected a session, got a challenge {c:?}"),
            Err(e) => panic!("expected a session, got {e}"),
        }
    }

    /// First factor → the OTP mail to `mail_to` → second factor: the session.
    pub async fn login_with_otp(&self, req: LoginRequest, mail_to: &str) -> Session {
        let ch = self.challenge(req).await;
        assert_eq!(ch.method, LoginMethod::MailOtp);
        let code = self.otp_code(mail_to);
        self.svc
            .verify_second_factor(ch.token.expose(), &code)
            .await
            .unwrap_or_else(|e| panic!("second factor refused: {e}"))
    }

    /// Kuroneko login in full: tenant code + user ID + password + access key, then the mailed
    /// code.
    pub async fn kuro_login(
        &self,
        tenant: &str,
        user_id: &str,
        password: &Secret,
        access_key: Option<&str>,
        mail_to: &str,
    ) -> Session {
        self.login_with_otp(
            Self::request(tenant, user_id, password, access_key),
            mail_to,
        )
        .await
    }

    /// Changes the password of a change-password-only session; the new full session.
    pub async fn forced_change(&self, s: &Session, new: &Secret) -> Session {
        assert!(
            s.must_change_password.is_some(),
            "not a change-password-only session"
        );
        let out = self
            .svc
            .change_password(s.token.expose(), None, new, new)
            .await
            .unwrap_or_else(|e| panic!("password change refused: {e}"));
        assert_eq!(out.must_change_password, None);
        out
    }

    // ---- set-up ----------------------------------------------------------------------------

    /// Support creates a tenant (no welcome mail unless `welcome`).
    pub async fn create_tenant(&self, t: &TenantSpec<'_>) {
        self.svc
            .support_create_tenant(&t.new_tenant())
            .await
            .unwrap_or_else(|e| panic!("tenant {} not created: {e}", t.code));
    }

    /// The Kuroneko admin's first login, as in the manual (Step 1): reset link → temporary
    /// password → login with the mailed code → forced change to `password`. The tenant must
    /// exist; the full admin session is returned.
    pub async fn admin_first_login(&self, t: &TenantSpec<'_>, password: &Secret) -> Session {
        self.svc
            .request_password_reset(&ResetRequest {
                tenant: Some(t.code.to_owned()),
                user_id: t.code.to_owned(),
                access_key: t.access_key.map(Secret::new),
            })
            .await
            .expect("reset request");
        let token = self.reset_token(t.email);
        self.svc
            .open_reset_link(&token)
            .await
            .expect("reset link opens");
        let temp = self.temp_password(t.email);
        let s = self
            .kuro_login(t.code, t.code, &temp, t.access_key, t.email)
            .await;
        assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
        self.forced_change(&s, password).await
    }

    /// Creates a tenant and walks its admin through the first login; the admin's full session.
    pub async fn tenant_with_admin(&self, t: &TenantSpec<'_>, password: &Secret) -> Session {
        self.create_tenant(t).await;
        self.admin_first_login(t, password).await
    }

    /// The admin creates a general (or shipping) user with mail OTP; its temporary password as
    /// mailed.
    pub async fn create_user(
        &self,
        admin: &Session,
        user_id: &str,
        role: Role,
        name: &str,
        email: &str,
    ) -> Secret {
        self.svc
            .admin_create_user(admin.token.expose(), &new_user(user_id, role, name, email))
            .await
            .unwrap_or_else(|e| panic!("user {user_id} not created: {e}"));
        let m = self.last_mail_of(email, MailKind::UserRegistered);
        Secret::new(extract_secret(&m).expect("temporary password in the new-user mail"))
    }

    /// A new user's first login (temporary password → code → forced change); its full session.
    pub async fn user_first_login(
        &self,
        t: &TenantSpec<'_>,
        user_id: &str,
        temp: &Secret,
        email: &str,
        password: &Secret,
    ) -> Session {
        let s = self
            .kuro_login(t.code, user_id, temp, t.access_key, email)
            .await;
        assert_eq!(s.must_change_password, Some(ChangeReason::Temporary));
        self.forced_change(&s, password).await
    }
}

/// A tenant to create.
#[derive(Clone, Debug)]
pub struct TenantSpec<'a> {
    /// Code.
    pub code: &'a str,
    /// Access key (Kuroneko 7 digits, SECOM 8).
    pub access_key: Option<&'a str>,
    /// Logistics flag.
    pub logistics: bool,
    /// Admin's e-mail.
    pub email: &'a str,
    /// Admin's name.
    pub name: &'a str,
    /// Corporate number.
    pub corporate_number: Option<&'a str>,
    /// Mail language.
    pub lang: Option<Lang>,
    /// Mail the admin a temporary password at once.
    pub welcome_mail: bool,
}

impl<'a> TenantSpec<'a> {
    /// The Kuroneko manual's tenant: 999999999, access key 7777777, logistics, 123@a.com,
    /// 黒猫太郎, no welcome mail.
    pub fn kuroneko() -> Self {
        Self {
            code: "999999999",
            access_key: Some("7777777"),
            logistics: true,
            email: "123@a.com",
            name: "黒猫太郎",
            corporate_number: None,
            lang: None,
            welcome_mail: false,
        }
    }

    /// Another Kuroneko tenant with its own code, address and name.
    pub fn other(code: &'a str, email: &'a str, name: &'a str) -> Self {
        Self {
            code,
            email,
            name,
            ..Self::kuroneko()
        }
    }

    /// The input for `support_create_tenant`.
    pub fn new_tenant(&self) -> NewTenant {
        NewTenant {
            code: self.code.to_owned(),
            name: format!("店舗{}", self.code),
            corporate_number: self.corporate_number.map(str::to_owned),
            logistics: self.logistics,
            access_key: self.access_key.map(Secret::new),
            lang: self.lang,
            admin: ProfileInput {
                name: self.name.to_owned(),
                email: Some(self.email.to_owned()),
                ..Default::default()
            },
            admin_login_method: LoginMethod::MailOtp,
            welcome_mail: self.welcome_mail,
        }
    }
}

/// A new mail-OTP user.
pub fn new_user(user_id: &str, role: Role, name: &str, email: &str) -> NewUser {
    NewUser {
        user_id: user_id.to_owned(),
        role,
        login_method: LoginMethod::MailOtp,
        same_as_admin: false,
        profile: ProfileInput {
            name: name.to_owned(),
            email: Some(email.to_owned()),
            ..Default::default()
        },
    }
}

/// A certificate known by its SHA-256 fingerprint (64 hex digits made of `byte`).
pub fn cert(byte: u8) -> ClientCert {
    ClientCert {
        sha256: Some(format!("{byte:02x}").repeat(32)),
        serial: None,
        subject_dn: None,
    }
}

/// RFC 4648 base32 (no padding), as authenticator apps take TOTP secrets.
pub fn base32_decode(s: &str) -> SecretBytes {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u64, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())
            .unwrap_or_else(|| panic!("not base32: {c}")) as u64;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    SecretBytes::new(out)
}

/// The authenticator code for `secret` (base32) at `now` shifted by `step_offset` steps.
pub fn totp_code(policy: &Policy, secret_base32: &str, now: Timestamp, step_offset: i64) -> Secret {
    let step = monban_core::totp::step_at(now, &policy.otp).expect("a step after 1970");
    let step = step.checked_add_signed(step_offset).expect("step in range");
    Secret::new(monban_core::totp::code_at_step(
        &base32_decode(secret_base32),
        step,
        &policy.otp,
    ))
}

/// Every string inside a JSON value.
pub fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| json_strings(x, out)),
        _ => {}
    }
}

/// Whether `text` carries `secret`: for all-digit secrets (codes), a run of digits equal to it
/// (a tenant code that merely contains the digits is not a leak); otherwise a substring.
pub fn carries(text: &str, secret: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    if secret.bytes().all(|b| b.is_ascii_digit()) {
        text.split(|c: char| !c.is_ascii_digit())
            .any(|run| run == secret)
    } else {
        text.contains(secret)
    }
}

/// Panics when any audit event (as JSON or as Debug) carries one of `secrets`.
pub fn assert_no_secret_in_audit(events: &[AuditEvent], secrets: &[String]) {
    for e in events {
        let json = serde_json::to_value(e).expect("audit events serialize");
        let mut strings = Vec::new();
        json_strings(&json, &mut strings);
        let dbg = format!("{e:?}");
        for s in secrets {
            assert!(
                !strings.iter().any(|x| carries(x, s)),
                "audit event {json} carries a secret"
            );
            assert!(
                !carries(&dbg, s),
                "audit event Debug {dbg} carries a secret"
            );
        }
    }
}

/// The error of a result that must fail (panics on success).
pub fn err<T: std::fmt::Debug>(r: monban_core::Result<T>) -> monban_core::Error {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

/// The stable code of a result that must fail.
pub fn code<T: std::fmt::Debug>(r: monban_core::Result<T>) -> &'static str {
    err(r).code()
}
