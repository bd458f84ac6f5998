//! Every rule as a value (DESIGN principle 5). The rules guide (`docs/policy.md` in the
//! repository) lists every field with its value under each preset.
//!
//! A [`Policy`] is plain data: serde (JSON or TOML), validated by [`Policy::validate`] when it is
//! loaded ([`Policy::from_json`]), with one preset per seed system:
//!
//! | preset | system |
//! |---|---|
//! | [`Policy::kuroneko`] | Kuroneko web collect merchant portal (seed 004) |
//! | [`Policy::e_parcel`] | e-Parcel secure delivery (seeds 000, 001) |
//! | [`Policy::secom_passport`] | SECOM Passport for Web (seed 003) |
//! | [`Policy::identity_reset`] | the 9-digit login-ID account service (seed 002) |
//! | [`Policy::nist`] | NIST SP 800-63B-4 secure default ([`Policy::default`]) |
//! | [`Policy::pci_dss`] | PCI DSS 4.0 profile |

use crate::error::{CharClass, Error, Result};
use crate::lang::Lang;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub use crate::role::{Permission, Role, RolePolicy};

/// Which characters a password may contain (PW-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordCharset {
    /// Half-width ASCII letters and digits only (e-Parcel, Kuroneko): no spaces, no symbols.
    HalfWidthAlphanumeric,
    /// Printable ASCII without space.
    AsciiPrintable,
    /// Any Unicode except control characters (NIST: spaces and every printable character).
    Unicode,
}

/// argon2id parameters (PW-6). `m_cost` in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl HashParams {
    /// OWASP's second argon2id setting: m=19 MiB, t=2, p=1.
    pub const OWASP: HashParams = HashParams {
        m_cost: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };
    /// RFC 9106's second recommended option: m=64 MiB, t=3, p=4.
    pub const RFC9106_LOW_MEMORY: HashParams = HashParams {
        m_cost: 64 * 1024,
        t_cost: 3,
        p_cost: 4,
    };
    /// Fast parameters for tests and examples only. [`Policy::validate`] refuses them unless
    /// `allow_weak_hash` is set.
    pub const TEST_ONLY: HashParams = HashParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
}

/// PW-1..PW-6.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Minimum length in code points, inclusive.
    pub min_len: usize,
    /// Maximum length in code points, inclusive.
    pub max_len: usize,
    /// Allowed characters.
    pub charset: PasswordCharset,
    /// Classes that must each appear at least once.
    pub required_classes: BTreeSet<CharClass>,
    /// Refuse passwords on the shipped list of common passwords.
    pub blocklist: bool,
    /// Refuse a password equal to the user ID (case-insensitive).
    pub forbid_user_id: bool,
    /// PW-5: how many previous passwords a new one must differ from (0: only the current one).
    pub history: usize,
    /// PW-3: days after which a password must be changed; `None`: never.
    pub max_age_days: Option<u32>,
    /// PW-4: days a temporary password stays valid.
    pub temporary_lifetime_days: u32,
    /// Length of generated temporary passwords (clamped into `min_len..=max_len`).
    pub temporary_len: usize,
    /// PW-6: argon2id parameters.
    pub hash: HashParams,
    /// Allow `hash` below OWASP's minimum (tests and examples only).
    #[serde(default)]
    pub allow_weak_hash: bool,
    /// AB-4: password hashes (and dummy verifications) that run at once; `None`: one per CPU
    /// core of the machine.
    #[serde(default)]
    pub hash_concurrency: Option<u32>,
    /// AB-4: hashes that may wait for a free slot; a request that would wait beyond them is
    /// answered 503 `busy` with `Retry-After` at once, so no request waits longer than the queue
    /// takes to drain. `None`: four per slot.
    #[serde(default)]
    pub hash_queue: Option<u32>,
}

impl PasswordPolicy {
    /// Hashes that run at once: `hash_concurrency`, else the machine's cores.
    pub fn hash_slots(&self) -> usize {
        match self.hash_concurrency {
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX).max(1),
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    /// Hashes admitted at once, running or waiting (AB-4).
    pub fn hash_capacity(&self) -> usize {
        let slots = self.hash_slots();
        let queue = match self.hash_queue {
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => slots.saturating_mul(4),
        };
        slots.saturating_add(queue)
    }
}

/// How a user logs in with the first factor (T-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// Tenant code + user ID (Kuroneko).
    TenantAndUserId,
    /// The e-mail address itself (e-Parcel).
    Email,
    /// A login ID of fixed digits within the policy's default tenant (seed 002).
    LoginId,
}

/// What user IDs look like (T-4, T-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum UserIdRule {
    /// 1..=max half-width ASCII letters and digits, no symbols (Kuroneko: 20).
    Alphanumeric {
        /// Maximum length.
        max: usize,
    },
    /// Exactly `len` half-width digits (seed 002: 9).
    Digits {
        /// Length.
        len: usize,
    },
    /// The user's e-mail address (e-Parcel), at most the profile's e-mail length.
    Email,
}

/// Second factor requirement (L-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    /// Every login needs the user's method; no user can turn it off (Kuroneko).
    Required,
    /// No second factor.
    Off,
}

/// Client-certificate login (L-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateLogin {
    /// Certificates are not used.
    Off,
    /// e-Parcel: a bound certificate logs in alone, or with the password when the user turned
    /// "Password Protect" on.
    PasswordProtect,
    /// SECOM: a bound certificate, then the tenant's access key and the password.
    ThenAccessKeyAndPassword,
}

/// L-1..L-9.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginPolicy {
    /// T-5.
    pub identifier: Identifier,
    /// T-4.
    pub user_id: UserIdRule,
    /// Tenant used when a request names none (single-tenant systems: e-Parcel, seed 002, SECOM).
    pub default_tenant: Option<String>,
    /// L-1.
    pub second_factor: SecondFactor,
    /// L-8.
    pub certificate: CertificateLogin,
    /// L-9, S-3: a session's absolute lifetime in seconds, however it is used.
    pub session_ttl_secs: i64,
    /// S-3: seconds without use after which a session ends (PCI DSS 8.2.8: 900).
    #[serde(default = "default_session_idle_secs")]
    pub session_idle_secs: i64,
    /// S-1: sessions a user may hold at once; a new login past it ends the least recently
    /// used one.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
    /// Lifetime of a password-change-only session (PW-3, PW-4) in seconds.
    pub change_password_session_ttl_secs: i64,
    /// Seconds a login challenge (waiting for its second factor) lives, whatever the resends.
    pub challenge_ttl_secs: i64,
}

/// L-2, L-3.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpPolicy {
    /// Digits of a mail OTP (6).
    pub mail_digits: u32,
    /// Seconds a mail OTP is valid (600).
    pub mail_ttl_secs: i64,
    /// L-3: sends (first + resends) allowed within `resend_window_secs` (decided: 5 per 10 min).
    pub max_sends: usize,
    /// L-3: the resend window in seconds.
    pub resend_window_secs: i64,
    /// TOTP digits (6).
    pub totp_digits: usize,
    /// TOTP step in seconds (30).
    pub totp_step_secs: u64,
    /// TOTP accepted steps either side (1).
    pub totp_skew: u8,
    /// Issuer shown by authenticator apps.
    pub totp_issuer: String,
}

/// L-4, L-6, L-7.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock the account; `None` never locks.
    pub max_failures: Option<u32>,
    /// Seconds after which a lock lifts by itself; `None`: only an unlock lifts it.
    pub lock_duration_secs: Option<i64>,
    /// L-4: wrong second-factor codes count as failures.
    pub count_otp_failures: bool,
    /// RS-7: an admin reset also clears the lock.
    pub admin_reset_unlocks: bool,
}

/// RS-1..RS-6.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetPolicy {
    /// RS-1: link reset enabled.
    pub link: bool,
    /// RS-1: seconds a reset link is valid (1800).
    pub link_ttl_secs: i64,
    /// RS-3 opt-in: answer 「入力値が不正です。」 for unknown accounts. This tells anyone which
    /// accounts exist; the name says so.
    pub reveal_unknown_accounts_leaks_existence: bool,
    /// RS-4: identity-verification reset enabled.
    pub identity: bool,
    /// RS-5: forgot-login-ID enabled.
    pub forgot_login_id: bool,
    /// RS-5: the forgot-login-ID form also asks name and phone.
    pub forgot_login_id_requires_name_and_phone: bool,
    /// RS-6 / PW-7: e-Parcel password notification (mails a temporary password).
    pub notification: bool,
}

/// LC-1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecyclePolicy {
    /// Days without login after which general and shipping users are deleted; `None`: never.
    pub dormancy_days: Option<u32>,
}

/// How a user's name is entered (P-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NameRule {
    /// One field, at most `max_width` display columns (full-width counts 2; Kuroneko 60).
    Width {
        /// Maximum display width.
        max_width: usize,
    },
    /// e-Parcel: first-name and last-name fields, each fewer than `max_chars` characters.
    FirstLast {
        /// Exclusive bound in characters (60).
        max_chars: usize,
    },
}

/// P-1..P-6.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePolicy {
    /// P-1.
    pub name: NameRule,
    /// P-2: maximum e-mail length in half-width characters (64).
    pub email_max_len: usize,
    /// T-1: tenant codes are exactly this many half-width digits; `None`: 1..=32 alphanumerics.
    pub tenant_code_digits: Option<usize>,
    /// T-1: access keys are exactly this many half-width digits (Kuroneko 7, SECOM 8).
    pub access_key_digits: Option<usize>,
}

/// E-1..E-5.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailPolicy {
    /// E-1: an address belongs to at most one user (but for the exceptions below).
    pub unique: bool,
    /// E-2: one general user per tenant may be "same as admin".
    pub same_as_admin: bool,
    /// E-3: admins of tenants with the same contract number and the same name may share.
    pub share_admins_by_contract_number: bool,
    /// E-4: admins of tenants with the same corporate number and the same name may share.
    pub share_admins_by_corporate_number: bool,
}

/// M-1..M-3.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailPolicy {
    /// The service name in subjects, e.g. 「クロネコwebコレクト」.
    pub service_name: String,
    /// Language when neither user nor tenant chose one.
    pub default_lang: Lang,
    /// Base URL the reset token is appended to (RS-1), e.g. `https://example.com/reset/`.
    pub reset_base_url: String,
    /// How Japanese mails address the reader (Kuroneko: 「加盟店様」).
    #[serde(default = "default_ja_customer")]
    pub ja_customer: String,
    /// Where Japanese mails say to type a password (Kuroneko: 「加盟店管理画面」).
    #[serde(default = "default_ja_site")]
    pub ja_site: String,
}

fn default_ja_customer() -> String {
    crate::mail::JaTerms::NEUTRAL.customer.to_owned()
}

fn default_ja_site() -> String {
    crate::mail::JaTerms::NEUTRAL.site.to_owned()
}

/// The whole policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Preset or custom name.
    pub name: String,
    /// PW-*.
    pub password: PasswordPolicy,
    /// L-*, T-5.
    pub login: LoginPolicy,
    /// L-2, L-3.
    pub otp: OtpPolicy,
    /// L-4, L-6.
    pub lockout: LockoutPolicy,
    /// RS-*.
    pub reset: ResetPolicy,
    /// LC-1.
    pub lifecycle: LifecyclePolicy,
    /// P-*, T-1.
    pub profile: ProfilePolicy,
    /// E-*.
    pub email: EmailPolicy,
    /// R-5.
    pub roles: RolePolicy,
    /// M-*.
    pub mail: MailPolicy,
    /// AB-1, AB-2, AB-6: per-address and per-account limits. Absent in older policy files:
    /// the SPEC's decided defaults.
    #[serde(default)]
    pub abuse: AbusePolicy,
}

/// AB-1, AB-2, AB-6: how often an address may fail to log in and how many recovery mails an
/// account and an address may cause. The counters live in the store (fixed windows).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AbusePolicy {
    /// AB-1: failed first factors from one client address within the window that block it
    /// (**decided**: 20); `None` turns the address throttle off.
    pub address_failures: Option<u32>,
    /// AB-1: the failure window in seconds (**decided**: 600).
    pub address_window_secs: i64,
    /// AB-1: the first block's length in seconds; each further block within a day doubles it.
    pub block_secs: i64,
    /// AB-1: the longest block, in seconds.
    pub max_block_secs: i64,
    /// AB-2: recovery mails per account within the recovery window (**decided**: 3); past it
    /// the usual answer and no mail. `None`: no account limit.
    pub recovery_mails_per_account: Option<u32>,
    /// AB-2: recovery requests per client address within the recovery window (**decided**:
    /// 10); past it 429 `throttled`. `None`: no address limit.
    pub recovery_requests_per_address: Option<u32>,
    /// AB-2: the recovery window in seconds (**decided**: 3600).
    pub recovery_window_secs: i64,
}

impl Default for AbusePolicy {
    fn default() -> Self {
        Self {
            address_failures: Some(20),
            address_window_secs: 600,
            block_secs: 600,
            max_block_secs: 86_400,
            recovery_mails_per_account: Some(3),
            recovery_requests_per_address: Some(10),
            recovery_window_secs: 3600,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::nist()
    }
}

const DAYS_91: u32 = 91;

/// S-3 decided secure default: 30 minutes idle.
fn default_session_idle_secs() -> i64 {
    30 * 60
}

/// S-1: sessions a user may hold at once unless the policy says otherwise.
fn default_max_sessions() -> usize {
    10
}

/// PCI DSS 8.2.8: 15 minutes idle (S-3).
const PCI_IDLE_SECS: i64 = 15 * 60;

impl Policy {
    /// NIST SP 800-63B-4 secure default: 15+ characters when single-factor (8+ with a second
    /// factor), up to 64+, any character, no composition rules, a blocklist, not the user ID,
    /// no periodic expiry, mail OTP second factor.
    pub fn nist() -> Self {
        Policy {
            name: "nist".into(),
            password: PasswordPolicy {
                min_len: 8,
                max_len: 128,
                charset: PasswordCharset::Unicode,
                required_classes: BTreeSet::new(),
                blocklist: true,
                forbid_user_id: true,
                history: 0,
                max_age_days: None,
                temporary_lifetime_days: 7,
                temporary_len: 16,
                hash: HashParams::OWASP,
                allow_weak_hash: false,
                hash_concurrency: None,
                hash_queue: None,
            },
            login: LoginPolicy {
                identifier: Identifier::TenantAndUserId,
                user_id: UserIdRule::Alphanumeric { max: 64 },
                default_tenant: None,
                second_factor: SecondFactor::Required,
                certificate: CertificateLogin::Off,
                session_ttl_secs: 12 * 3600,
                session_idle_secs: default_session_idle_secs(),
                max_sessions: default_max_sessions(),
                change_password_session_ttl_secs: 15 * 60,
                challenge_ttl_secs: 30 * 60,
            },
            otp: OtpPolicy {
                mail_digits: 6,
                mail_ttl_secs: 600,
                max_sends: 5,
                resend_window_secs: 600,
                totp_digits: 6,
                totp_step_secs: 30,
                totp_skew: 1,
                totp_issuer: "monban".into(),
            },
            lockout: LockoutPolicy {
                max_failures: Some(10),
                lock_duration_secs: Some(30 * 60),
                count_otp_failures: true,
                admin_reset_unlocks: true,
            },
            reset: ResetPolicy {
                link: true,
                link_ttl_secs: 30 * 60,
                reveal_unknown_accounts_leaks_existence: false,
                identity: false,
                forgot_login_id: false,
                forgot_login_id_requires_name_and_phone: false,
                notification: false,
            },
            lifecycle: LifecyclePolicy {
                dormancy_days: None,
            },
            profile: ProfilePolicy {
                name: NameRule::Width { max_width: 60 },
                email_max_len: 254,
                tenant_code_digits: None,
                access_key_digits: None,
            },
            email: EmailPolicy {
                unique: true,
                same_as_admin: false,
                share_admins_by_contract_number: false,
                share_admins_by_corporate_number: false,
            },
            roles: RolePolicy::default(),
            mail: MailPolicy {
                service_name: "monban".into(),
                default_lang: Lang::En,
                reset_base_url: "http://127.0.0.1:8080/reset/".into(),
                ja_customer: default_ja_customer(),
                ja_site: default_ja_site(),
            },
            abuse: AbusePolicy::default(),
        }
    }

    /// PCI DSS 4.0 (8.3.4: lock after at most 10 attempts for at least 30 minutes; 8.3.6: 12+
    /// characters with letters and digits; 8.3.7: differ from the last 4; 8.3.9: change every
    /// 90 days when the password is the only factor — here a second factor is required, and
    /// the 90 days are kept anyway).
    pub fn pci_dss() -> Self {
        let mut p = Self::nist();
        p.name = "pci_dss".into();
        p.password.min_len = 12;
        p.password.charset = PasswordCharset::AsciiPrintable;
        p.password.required_classes = [CharClass::Digit, CharClass::Lower].into_iter().collect();
        p.password.history = 4;
        p.password.max_age_days = Some(90);
        p.login.session_idle_secs = PCI_IDLE_SECS;
        p.lockout.max_failures = Some(10);
        p.lockout.lock_duration_secs = Some(30 * 60);
        p
    }

    /// Kuroneko web collect (seed 004): tenant code 9 digits + user ID + password + 7-digit
    /// access key, mandatory mail OTP / authenticator, lock after 5 failures until unlocked,
    /// 91-day expiry and dormancy, unique e-mail with E-2..E-4, link-then-temporary-password reset.
    pub fn kuroneko() -> Self {
        let mut p = Self::nist();
        p.name = "kuroneko".into();
        p.password.min_len = 8;
        p.password.max_len = 20;
        p.password.charset = PasswordCharset::HalfWidthAlphanumeric;
        p.password.blocklist = true;
        p.password.history = 1;
        p.password.max_age_days = Some(DAYS_91);
        p.password.temporary_len = 12;
        p.login.user_id = UserIdRule::Alphanumeric { max: 20 };
        p.lockout.max_failures = Some(5);
        p.lockout.lock_duration_secs = None;
        // Card payments: PCI DSS 8.2.8's 15 minutes idle.
        p.login.session_idle_secs = PCI_IDLE_SECS;
        p.reset.reveal_unknown_accounts_leaks_existence = false;
        p.lifecycle.dormancy_days = Some(DAYS_91);
        p.profile.name = NameRule::Width { max_width: 60 };
        p.profile.email_max_len = 64;
        p.profile.tenant_code_digits = Some(9);
        p.profile.access_key_digits = Some(7);
        p.email = EmailPolicy {
            unique: true,
            same_as_admin: true,
            share_admins_by_contract_number: true,
            share_admins_by_corporate_number: true,
        };
        // L-2 (FAQ): the admin sets the method of general and shipping users; they enrol an
        // authenticator at their next login, never on their own.
        for role in [crate::role::Role::General, crate::role::Role::Shipping] {
            if let Some(g) = p.roles.grants.get_mut(&role) {
                g.remove(&crate::role::Permission::ChooseLoginMethod);
            }
        }
        p.otp.totp_issuer = "クロネコwebコレクト".into();
        p.mail.service_name = "クロネコwebコレクト".into();
        p.mail.ja_customer = crate::mail::JaTerms::KURONEKO.customer.to_owned();
        p.mail.ja_site = crate::mail::JaTerms::KURONEKO.site.to_owned();
        p.mail.default_lang = Lang::Ja;
        p
    }

    /// e-Parcel (seeds 000, 001): the ID is the e-mail, 8–20 half-width alphanumerics,
    /// certificate login with optional Password Protect, password notification by mail (PW-7).
    pub fn e_parcel() -> Self {
        let mut p = Self::nist();
        p.name = "e_parcel".into();
        p.password.min_len = 8;
        p.password.max_len = 20;
        p.password.charset = PasswordCharset::HalfWidthAlphanumeric;
        p.password.temporary_len = 12;
        p.login.identifier = Identifier::Email;
        p.login.user_id = UserIdRule::Email;
        p.login.default_tenant = Some("eparcel".into());
        p.login.second_factor = SecondFactor::Off;
        p.login.certificate = CertificateLogin::PasswordProtect;
        p.reset.link = false;
        p.reset.notification = true;
        p.profile.name = NameRule::FirstLast { max_chars: 60 };
        p.profile.email_max_len = 254;
        p.mail.service_name = "e-Parcel".into();
        p.mail.default_lang = Lang::En;
        p
    }

    /// SECOM Passport for Web (seed 003): certificate, then 8-digit access key + password;
    /// initial password valid 30 days and changed at first login; support re-initializes
    /// passwords and re-binds certificates.
    pub fn secom_passport() -> Self {
        let mut p = Self::nist();
        p.name = "secom_passport".into();
        p.password.min_len = 8;
        p.password.max_len = 32;
        p.password.charset = PasswordCharset::AsciiPrintable;
        p.password.temporary_lifetime_days = 30;
        p.password.temporary_len = 12;
        p.login.second_factor = SecondFactor::Off;
        p.login.certificate = CertificateLogin::ThenAccessKeyAndPassword;
        p.reset.link = false;
        p.profile.access_key_digits = Some(8);
        p.profile.tenant_code_digits = None;
        p.lockout.max_failures = Some(5);
        p.lockout.lock_duration_secs = None;
        p.mail.service_name = "セコムパスポート for Web".into();
        p.mail.default_lang = Lang::Ja;
        p
    }

    /// The 9-digit login-ID account service (seed 002): reset by identity verification,
    /// forgot-login-ID notification, individual or organization accounts.
    pub fn identity_reset() -> Self {
        let mut p = Self::nist();
        p.name = "identity_reset".into();
        p.login.identifier = Identifier::LoginId;
        p.login.user_id = UserIdRule::Digits { len: 9 };
        p.login.default_tenant = Some("accounts".into());
        p.reset.link = false;
        p.reset.identity = true;
        p.reset.forgot_login_id = true;
        p.reset.forgot_login_id_requires_name_and_phone = true;
        p.mail.default_lang = Lang::En;
        p
    }

    /// A preset by name: `kuroneko`, `e_parcel`, `secom_passport`, `identity_reset`, `nist`
    /// (also `default`), `pci_dss`. Hyphens are accepted for underscores.
    pub fn preset(name: &str) -> Result<Self> {
        match name.trim().replace('-', "_").to_ascii_lowercase().as_str() {
            "kuroneko" => Ok(Self::kuroneko()),
            "e_parcel" | "eparcel" => Ok(Self::e_parcel()),
            "secom_passport" | "secom" => Ok(Self::secom_passport()),
            "identity_reset" => Ok(Self::identity_reset()),
            "nist" | "default" => Ok(Self::nist()),
            "pci_dss" | "pci" => Ok(Self::pci_dss()),
            _ => Err(Error::PolicyInvalid(format!("unknown preset {name:?}"))),
        }
    }

    /// Names accepted by [`Policy::preset`].
    pub const PRESETS: [&'static str; 6] = [
        "kuroneko",
        "e_parcel",
        "secom_passport",
        "identity_reset",
        "nist",
        "pci_dss",
    ];

    /// Parses and validates a JSON policy.
    pub fn from_json(json: &str) -> Result<Self> {
        let p: Policy =
            serde_json::from_str(json).map_err(|e| Error::PolicyInvalid(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// JSON form of the policy.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A copy with fast hashing, for tests and examples: hashing at real parameters makes a
    /// test suite of hundreds of logins take minutes.
    #[must_use]
    pub fn with_test_hashing(mut self) -> Self {
        self.password.hash = HashParams::TEST_ONLY;
        self.password.allow_weak_hash = true;
        self
    }

    /// Refuses a policy that contradicts itself (principle 5).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::PolicyInvalid(m.to_owned()));
        let pw = &self.password;
        if pw.min_len == 0 {
            return bad("password.min_len must be at least 1");
        }
        if pw.min_len > pw.max_len {
            return bad("password.min_len exceeds password.max_len");
        }
        if pw.max_len > 1024 {
            return bad("password.max_len above 1024");
        }
        if pw.charset == PasswordCharset::HalfWidthAlphanumeric
            && pw.required_classes.contains(&CharClass::Symbol)
        {
            return bad(
                "password.required_classes asks for a symbol that password.charset forbids",
            );
        }
        if pw.required_classes.len() > pw.min_len.max(1) {
            return bad("password.min_len is shorter than the number of required classes");
        }
        if pw.temporary_lifetime_days == 0 {
            return bad("password.temporary_lifetime_days must be at least 1");
        }
        if pw.temporary_len < pw.min_len || pw.temporary_len > pw.max_len {
            return bad(
                "password.temporary_len must lie within password.min_len..=password.max_len",
            );
        }
        if pw.temporary_len < 8 {
            return bad("password.temporary_len must be at least 8");
        }
        if pw.max_age_days == Some(0) {
            return bad("password.max_age_days must be at least 1 (or absent)");
        }
        let h = pw.hash;
        if h.t_cost == 0 || h.p_cost == 0 || h.m_cost < 8 * h.p_cost {
            return bad("password.hash parameters are not valid argon2id parameters");
        }
        if !pw.allow_weak_hash
            && (h.m_cost < HashParams::OWASP.m_cost || (h.m_cost < 46 * 1024 && h.t_cost < 2))
        {
            return bad(
                "password.hash is weaker than OWASP's minimum (m=19 MiB, t=2); set allow_weak_hash only for tests",
            );
        }
        if pw.hash_concurrency == Some(0) {
            return bad("password.hash_concurrency must be at least 1 (or absent: one per core)");
        }
        if h.m_cost > 4 * 1024 * 1024 {
            return bad("password.hash.m_cost above 4 GiB");
        }
        let l = &self.login;
        match l.user_id {
            UserIdRule::Alphanumeric { max } if max == 0 || max > 255 => {
                return bad("login.user_id.max must be 1..=255");
            }
            UserIdRule::Digits { len } if len == 0 || len > 32 => {
                return bad("login.user_id.len must be 1..=32");
            }
            _ => {}
        }
        if l.identifier == Identifier::Email && l.user_id != UserIdRule::Email {
            return bad("login.identifier = email needs login.user_id = email");
        }
        if l.identifier == Identifier::LoginId && !matches!(l.user_id, UserIdRule::Digits { .. }) {
            return bad("login.identifier = login_id needs login.user_id = digits");
        }
        if matches!(l.identifier, Identifier::Email | Identifier::LoginId)
            && l.default_tenant.is_none()
        {
            return bad("login.identifier email / login_id needs login.default_tenant");
        }
        if l.identifier == Identifier::Email && !self.email.unique {
            return bad("login.identifier = email needs email.unique");
        }
        if l.session_ttl_secs <= 0
            || l.change_password_session_ttl_secs <= 0
            || l.challenge_ttl_secs <= 0
            || l.session_idle_secs <= 0
        {
            return bad("session lifetimes must be positive");
        }
        if !(1..=1000).contains(&l.max_sessions) {
            return bad("login.max_sessions must be 1 to 1000");
        }
        if l.certificate == CertificateLogin::ThenAccessKeyAndPassword
            && self.profile.access_key_digits.is_none()
        {
            return bad(
                "login.certificate = then_access_key_and_password needs profile.access_key_digits",
            );
        }
        let o = &self.otp;
        if !(6..=10).contains(&o.mail_digits) || !(6..=8).contains(&o.totp_digits) {
            return bad("otp digits must be 6..=10 (mail) and 6..=8 (totp)");
        }
        if o.mail_ttl_secs <= 0 || o.resend_window_secs <= 0 || o.max_sends == 0 {
            return bad("otp lifetimes, window and max_sends must be positive");
        }
        if o.totp_step_secs == 0 || o.totp_skew > 5 {
            return bad("otp.totp_step_secs must be positive and otp.totp_skew at most 5");
        }
        if self.lockout.max_failures == Some(0) {
            return bad("lockout.max_failures must be at least 1 (or absent)");
        }
        if self.lockout.lock_duration_secs.is_some_and(|d| d <= 0) {
            return bad("lockout.lock_duration_secs must be positive (or absent)");
        }
        if self.reset.link_ttl_secs <= 0 {
            return bad("reset.link_ttl_secs must be positive");
        }
        if self.lifecycle.dormancy_days == Some(0) {
            return bad("lifecycle.dormancy_days must be at least 1 (or absent)");
        }
        match self.profile.name {
            NameRule::Width { max_width: 0 } => {
                return bad("profile.name.max_width must be positive");
            }
            NameRule::FirstLast { max_chars } if max_chars < 2 => {
                return bad("profile.name.max_chars must be at least 2");
            }
            _ => {}
        }
        if self.profile.email_max_len < 6 || self.profile.email_max_len > 320 {
            return bad("profile.email_max_len must be 6..=320");
        }
        if let Some(d) = self.profile.tenant_code_digits
            && !(7..=32).contains(&d)
        {
            return bad(
                "profile.tenant_code_digits must be 7..=32 (the contract number is the first 7)",
            );
        }
        if let Some(d) = self.profile.access_key_digits
            && !(4..=32).contains(&d)
        {
            return bad("profile.access_key_digits must be 4..=32");
        }
        if !self.email.unique
            && (self.email.same_as_admin
                || self.email.share_admins_by_contract_number
                || self.email.share_admins_by_corporate_number)
        {
            return bad("email sharing exceptions need email.unique");
        }
        if self.mail.service_name.trim().is_empty() {
            return bad("mail.service_name must not be empty");
        }
        if !(self.mail.reset_base_url.starts_with("https://")
            || self.mail.reset_base_url.starts_with("http://"))
        {
            return bad("mail.reset_base_url must be an http(s) URL");
        }
        if let Some(t) = &l.default_tenant
            && (t.is_empty()
                || t.len() > 32
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        {
            return bad("login.default_tenant must be 1..=32 ASCII letters, digits, '_' or '-'");
        }
        let a = &self.abuse;
        for (name, v) in [
            ("abuse.address_window_secs", a.address_window_secs),
            ("abuse.block_secs", a.block_secs),
            ("abuse.max_block_secs", a.max_block_secs),
            ("abuse.recovery_window_secs", a.recovery_window_secs),
        ] {
            if !(1..=366 * 86_400).contains(&v) {
                return bad(&format!("{name} must be between 1 second and 366 days"));
            }
        }
        if a.block_secs > a.max_block_secs {
            return bad("abuse.block_secs exceeds abuse.max_block_secs");
        }
        for (name, v) in [
            ("abuse.address_failures", a.address_failures),
            (
                "abuse.recovery_mails_per_account",
                a.recovery_mails_per_account,
            ),
            (
                "abuse.recovery_requests_per_address",
                a.recovery_requests_per_address,
            ),
        ] {
            if v == Some(0) {
                return bad(&format!("{name} must be at least 1 (or null for no limit)"));
            }
        }
        Ok(())
    }

    /// R-5 shorthand.
    pub fn can(&self, role: Role, permission: Permission) -> bool {
        self.roles.can(role, permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_validates_and_round_trips() {
        for name in Policy::PRESETS {
            let p = Policy::preset(name).unwrap();
            p.validate().unwrap();
            let back = Policy::from_json(&p.to_json()).unwrap();
            assert_eq!(back, p, "{name}");
        }
        assert!(Policy::preset("nope").is_err());
    }

    #[test]
    fn kuroneko_values() {
        // SPEC: PW-1, PW-3, L-6, LC-1, T-1
        let p = Policy::kuroneko();
        assert_eq!((p.password.min_len, p.password.max_len), (8, 20));
        assert_eq!(p.password.max_age_days, Some(91));
        assert_eq!(p.lifecycle.dormancy_days, Some(91));
        assert_eq!(p.lockout.max_failures, Some(5));
        assert_eq!(p.lockout.lock_duration_secs, None);
        assert_eq!(p.profile.tenant_code_digits, Some(9));
        assert_eq!(p.profile.access_key_digits, Some(7));
        assert_eq!(p.login.second_factor, SecondFactor::Required);
    }

    #[test]
    fn pci_dss_values() {
        // SPEC: L-6, PW-5
        let p = Policy::pci_dss();
        assert!(p.lockout.max_failures.unwrap() <= 10);
        assert!(p.lockout.lock_duration_secs.unwrap() >= 30 * 60);
        assert_eq!(p.password.history, 4);
    }

    #[test]
    fn secom_temporary_password_lives_30_days() {
        // SPEC: PW-4
        assert_eq!(
            Policy::secom_passport().password.temporary_lifetime_days,
            30
        );
        assert_eq!(Policy::nist().password.temporary_lifetime_days, 7);
    }

    #[test]
    fn contradictions_are_refused() {
        let mut p = Policy::kuroneko();
        p.password.min_len = 30;
        assert!(matches!(p.validate(), Err(Error::PolicyInvalid(_))));
        let mut p = Policy::kuroneko();
        p.password.required_classes.insert(CharClass::Symbol);
        assert!(p.validate().is_err());
        let mut p = Policy::kuroneko();
        p.password.hash = HashParams::TEST_ONLY;
        assert!(p.validate().is_err());
        assert!(Policy::kuroneko().with_test_hashing().validate().is_ok());
        let mut p = Policy::e_parcel();
        p.login.default_tenant = None;
        assert!(p.validate().is_err());
        assert!(Policy::from_json("{").is_err());
        assert!(Policy::from_json(r#"{"name":"x"}"#).is_err());
        let mut v: serde_json::Value = serde_json::from_str(&Policy::kuroneko().to_json()).unwrap();
        v["surprise"] = serde_json::Value::Bool(true);
        assert!(
            Policy::from_json(&v.to_string()).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn permissions_are_data() {
        // SPEC: R-5, R-1, R-2, R-3, R-4
        let p = Policy::kuroneko();
        assert!(p.can(Role::Admin, Permission::CreateUser));
        assert!(!p.can(Role::Admin, Permission::BusinessMenus));
        assert!(p.can(Role::General, Permission::BusinessMenus));
        assert!(!p.can(Role::General, Permission::CreateUser));
        assert!(p.can(Role::Shipping, Permission::ShippingMenus));
        assert!(!p.can(Role::Shipping, Permission::BusinessMenus));
        assert!(p.can(Role::Support, Permission::UnlockAdmin));
        assert!(!p.can(Role::Admin, Permission::UnlockAdmin));
        let mut custom = p.clone();
        custom
            .roles
            .grants
            .entry(Role::Admin)
            .or_default()
            .insert(Permission::BusinessMenus);
        assert!(custom.can(Role::Admin, Permission::BusinessMenus));
    }
}
