//! One error type with stable machine codes and Japanese / English messages (DESIGN principle 4).
//!
//! The codes are part of the public contract: HTTP bodies, FFI errors and logs carry them, and
//! they never change meaning. Messages never carry a secret and never say which login field was
//! wrong (L-5).

use crate::lang::Lang;
use serde::Serialize;
use std::fmt;

/// A field of user input, named in `invalid_input` errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Field {
    /// Tenant (merchant) code.
    TenantCode,
    /// Tenant display name.
    TenantName,
    /// User ID within a tenant.
    UserId,
    /// Login identifier (user ID, login ID or e-mail, per policy).
    Identifier,
    /// E-mail address.
    Email,
    /// User name (or first name).
    Name,
    /// Family / last name (e-Parcel's second field).
    FamilyName,
    /// Phone number.
    Phone,
    /// Tenant access key.
    AccessKey,
    /// 13-digit corporate number.
    CorporateNumber,
    /// A password.
    Password,
    /// A one-time code.
    Code,
    /// A token (challenge, reset link, session).
    Token,
    /// A client certificate.
    Certificate,
    /// A policy document.
    Policy,
    /// Anything else.
    Other,
}

impl Field {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::TenantCode => "tenant_code",
            Field::TenantName => "tenant_name",
            Field::UserId => "user_id",
            Field::Identifier => "identifier",
            Field::Email => "email",
            Field::Name => "name",
            Field::FamilyName => "family_name",
            Field::Phone => "phone",
            Field::AccessKey => "access_key",
            Field::CorporateNumber => "corporate_number",
            Field::Password => "password",
            Field::Code => "code",
            Field::Token => "token",
            Field::Certificate => "certificate",
            Field::Policy => "policy",
            Field::Other => "other",
        }
    }

    fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Field::TenantCode, Lang::Ja) => "加盟店コード",
            (Field::TenantName, Lang::Ja) => "加盟店名",
            (Field::UserId, Lang::Ja) => "ユーザID",
            (Field::Identifier, Lang::Ja) => "ログインID",
            (Field::Email, Lang::Ja) => "メールアドレス",
            (Field::Name, Lang::Ja) => "ユーザ名（氏名）",
            (Field::FamilyName, Lang::Ja) => "姓",
            (Field::Phone, Lang::Ja) => "電話番号",
            (Field::AccessKey, Lang::Ja) => "アクセスキー",
            (Field::CorporateNumber, Lang::Ja) => "法人番号",
            (Field::Password, Lang::Ja) => "パスワード",
            (Field::Code, Lang::Ja) => "ワンタイムパスワード",
            (Field::Token, Lang::Ja) => "トークン",
            (Field::Certificate, Lang::Ja) => "電子証明書",
            (Field::Policy, Lang::Ja) => "ポリシー",
            (Field::Other, Lang::Ja) => "入力値",
            (Field::TenantCode, Lang::En) => "tenant code",
            (Field::TenantName, Lang::En) => "tenant name",
            (Field::UserId, Lang::En) => "user ID",
            (Field::Identifier, Lang::En) => "login ID",
            (Field::Email, Lang::En) => "e-mail address",
            (Field::Name, Lang::En) => "user name",
            (Field::FamilyName, Lang::En) => "family name",
            (Field::Phone, Lang::En) => "phone number",
            (Field::AccessKey, Lang::En) => "access key",
            (Field::CorporateNumber, Lang::En) => "corporate number",
            (Field::Password, Lang::En) => "password",
            (Field::Code, Lang::En) => "one-time password",
            (Field::Token, Lang::En) => "token",
            (Field::Certificate, Lang::En) => "certificate",
            (Field::Policy, Lang::En) => "policy",
            (Field::Other, Lang::En) => "input",
        }
    }
}

/// What is wrong with an input value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum InputProblem {
    /// Required but empty or absent.
    Missing,
    /// Longer than allowed (in the unit the rule counts: characters, display width or bytes).
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Shorter than allowed.
    TooShort {
        /// The limit.
        min: usize,
    },
    /// Not of the required form (e.g. full-width digits where half-width digits are required).
    Format,
    /// Contains control characters.
    ControlCharacter,
    /// T-5: where the user ID is the e-mail address (e-Parcel) the two are one field: the
    /// address given differs from the ID.
    NotTheUserId,
}

/// Character classes a password policy may require (PW-1).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CharClass {
    /// a–z
    Lower,
    /// A–Z
    Upper,
    /// 0–9
    Digit,
    /// Printable ASCII that is not a letter or digit.
    Symbol,
}

/// One reason a new password is refused (PW-1, PW-5). A check returns every reason at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum PasswordProblem {
    /// Fewer code points than the policy's minimum.
    TooShort {
        /// Minimum length in code points.
        min: usize,
    },
    /// More code points than the policy's maximum.
    TooLong {
        /// Maximum length in code points.
        max: usize,
    },
    /// A character outside the policy's allowed set (e.g. a space or a full-width letter).
    CharacterNotAllowed,
    /// A required character class is missing.
    MissingClass {
        /// The class.
        class: CharClass,
    },
    /// On the blocklist of common passwords.
    Common,
    /// Equal to the user ID (case-insensitive).
    SameAsUserId,
    /// Equal to the current password.
    SameAsCurrent,
    /// Equal to one of the last N passwords.
    Reused,
}

impl PasswordProblem {
    /// The sentence a person sees for this problem, in `lang`.
    pub fn message(self, lang: Lang) -> String {
        match (self, lang) {
            (PasswordProblem::TooShort { min }, Lang::Ja) => {
                format!("パスワードは{min}文字以上で入力してください。")
            }
            (PasswordProblem::TooShort { min }, Lang::En) => {
                format!("The password must be at least {min} characters.")
            }
            (PasswordProblem::TooLong { max }, Lang::Ja) => {
                format!("パスワードは{max}文字以内で入力してください。")
            }
            (PasswordProblem::TooLong { max }, Lang::En) => {
                format!("The password must be at most {max} characters.")
            }
            (PasswordProblem::CharacterNotAllowed, Lang::Ja) => {
                "パスワードに使用できない文字が含まれています。".into()
            }
            (PasswordProblem::CharacterNotAllowed, Lang::En) => {
                "The password contains a character that is not allowed.".into()
            }
            (PasswordProblem::MissingClass { class }, Lang::Ja) => {
                let c = match class {
                    CharClass::Lower => "英小文字",
                    CharClass::Upper => "英大文字",
                    CharClass::Digit => "数字",
                    CharClass::Symbol => "記号",
                };
                format!("パスワードには{c}を含めてください。")
            }
            (PasswordProblem::MissingClass { class }, Lang::En) => {
                let c = match class {
                    CharClass::Lower => "a lower-case letter",
                    CharClass::Upper => "an upper-case letter",
                    CharClass::Digit => "a digit",
                    CharClass::Symbol => "a symbol",
                };
                format!("The password must contain {c}.")
            }
            (PasswordProblem::Common, Lang::Ja) => {
                "よく使われているパスワードは使用できません。".into()
            }
            (PasswordProblem::Common, Lang::En) => "This password is too common.".into(),
            (PasswordProblem::SameAsUserId, Lang::Ja) => {
                "ユーザIDと同じパスワードは使用できません。".into()
            }
            (PasswordProblem::SameAsUserId, Lang::En) => {
                "The password must not be the user ID.".into()
            }
            (PasswordProblem::SameAsCurrent, Lang::Ja) => {
                "現在のパスワードと同じパスワードは使用できません。".into()
            }
            (PasswordProblem::SameAsCurrent, Lang::En) => {
                "The new password must differ from the current one.".into()
            }
            (PasswordProblem::Reused, Lang::Ja) => {
                "過去に使用したパスワードは使用できません。".into()
            }
            (PasswordProblem::Reused, Lang::En) => "The password was used recently.".into(),
        }
    }
}

/// A feature a policy can turn off, named by `not_enabled` errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Feature {
    /// Password reset by a mailed one-time link (policy field `reset.link`).
    ResetLink,
    /// Password reset by proving login ID, name, phone and e-mail (`reset.identity`).
    IdentityReset,
    /// Mailing a forgotten login ID (`reset.forgot_login_id`).
    ForgotLoginId,
    /// Mailing a temporary password to an e-mail address (`reset.notification`).
    PasswordNotification,
    /// A tenant access key (`profile.access_key_digits`).
    AccessKey,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 5] = [
        Feature::ResetLink,
        Feature::IdentityReset,
        Feature::ForgotLoginId,
        Feature::PasswordNotification,
        Feature::AccessKey,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::ResetLink => "reset_link",
            Feature::IdentityReset => "identity_reset",
            Feature::ForgotLoginId => "forgot_login_id",
            Feature::PasswordNotification => "password_notification",
            Feature::AccessKey => "access_key",
        }
    }

    /// The policy field that turns the feature on.
    pub fn policy_field(self) -> &'static str {
        match self {
            Feature::ResetLink => "reset.link",
            Feature::IdentityReset => "reset.identity",
            Feature::ForgotLoginId => "reset.forgot_login_id",
            Feature::PasswordNotification => "reset.notification",
            Feature::AccessKey => "profile.access_key_digits",
        }
    }

    /// The input field that cannot be used while the feature is off, if it is one.
    pub fn input_field(self) -> Option<Field> {
        match self {
            Feature::AccessKey => Some(Field::AccessKey),
            _ => None,
        }
    }

    fn not_enabled_message(self, lang: Lang) -> String {
        let field = self.policy_field();
        match (self, lang) {
            (Feature::ResetLink, Lang::Ja) => {
                format!("パスワード初期化URLの発行は利用できません（ポリシー {field}）。")
            }
            (Feature::ResetLink, Lang::En) => {
                format!("Password reset links are not enabled (policy field {field}).")
            }
            (Feature::IdentityReset, Lang::Ja) => {
                format!("本人確認によるパスワード初期化は利用できません（ポリシー {field}）。")
            }
            (Feature::IdentityReset, Lang::En) => {
                format!("Password reset by identity check is not enabled (policy field {field}).")
            }
            (Feature::ForgotLoginId, Lang::Ja) => {
                format!("ログインIDの通知は利用できません（ポリシー {field}）。")
            }
            (Feature::ForgotLoginId, Lang::En) => {
                format!("Mailing a forgotten login ID is not enabled (policy field {field}).")
            }
            (Feature::PasswordNotification, Lang::Ja) => {
                format!("パスワードの通知は利用できません（ポリシー {field}）。")
            }
            (Feature::PasswordNotification, Lang::En) => {
                format!("Password notification by mail is not enabled (policy field {field}).")
            }
            (Feature::AccessKey, Lang::Ja) => {
                format!("このシステムではアクセスキーは使用できません（ポリシー {field}）。")
            }
            (Feature::AccessKey, Lang::En) => {
                format!("Tenant access keys are not used under this policy (policy field {field}).")
            }
        }
    }
}

/// Everything that can go wrong, each with a stable [`Error::code`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An input value is malformed.
    InvalidInput {
        /// Which field.
        field: Field,
        /// What is wrong.
        problem: InputProblem,
    },
    /// PW-2: the new password and its confirmation differ (checked before any other rule).
    PasswordMismatch,
    /// PW-1 / PW-5: the new password breaks these rules.
    PasswordRejected(Vec<PasswordProblem>),
    /// L-5: any first-factor failure, whichever field was wrong, and an expired temporary
    /// password (PW-4).
    LoginFailed,
    /// L-6: the account is locked.
    Locked,
    /// The current password given to a voluntary change is wrong (counts toward lockout).
    CurrentPasswordWrong,
    /// L-2: the user's login method is mail OTP but the user has no e-mail, or the method is not
    /// mail OTP.
    MailOtpNotConfigured,
    /// The second-factor code is wrong (counts toward lockout, L-4).
    OtpInvalid,
    /// The login challenge is unknown, used, superseded or expired: start the login again.
    ChallengeExpired,
    /// L-3: too many resends in the window.
    ResendLimited,
    /// E-1: the address belongs to another user.
    EmailTaken,
    /// E-2: the tenant already has a same-as-admin user.
    SameAsAdminTaken,
    /// E-6: mail OTP chosen without an e-mail address.
    EmailRequiredForMailOtp,
    /// T-4: the user ID is already used in this tenant.
    UserIdTaken,
    /// A tenant with that code exists.
    TenantExists,
    /// L-8: the certificate is bound to another account; re-binding it needs `replace` (LC-4).
    CertificateTaken,
    /// shipping users cannot be created in a non-logistics tenant.
    ShippingNotAllowed,
    /// the actor's role lacks the permission.
    Forbidden,
    /// P-6: this change is a support operation.
    SupportOnly,
    /// T-4 / P-4: the field cannot be changed (user ID; name or e-mail of a same-as-admin user).
    FieldNotEditable {
        /// Which field.
        field: Field,
    },
    /// The target of an admin or support operation does not exist.
    NotFound,
    /// S-4: the user has no live session with that ID.
    SessionNotFound,
    /// PW-3 / PW-4: the session may only change the password.
    PasswordChangeRequired,
    /// L-9: the session token is invalid, expired or outdated (credential version).
    SessionInvalid,
    /// RS-1: the reset link is unknown, used, superseded or expired.
    ResetLinkInvalid,
    /// RS-3 (opt-in, leaks existence): 「入力値が不正です。」 for an unknown account.
    ResetInputInvalid,
    /// A feature the policy turns off; names which one and the policy field that turns it on.
    NotEnabled {
        /// Which feature.
        feature: Feature,
    },
    /// A policy document is inconsistent.
    PolicyInvalid(String),
    /// Concurrent writes kept conflicting; the operation may be retried.
    Conflict,
    /// AB-4: every password-hashing slot and queue place is taken; retry in a moment.
    Busy,
    /// AB-1, AB-2: this client address failed or asked too often; it may retry after the
    /// given number of seconds.
    Throttled {
        /// Seconds until the address may try again (at least 1).
        retry_after_secs: u64,
    },
    /// The store failed (I/O, throttling); the operation may be retried.
    StoreUnavailable,
    /// Mail could not be sent; state is stored and the operation may be retried.
    MailFailed,
    /// A paging cursor (`after`) that the service never handed out: malformed, out of range or
    /// of another listing. Code `invalid_request`: the request could not be read.
    InvalidCursor,
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: Field, problem: InputProblem) -> Self {
        Error::InvalidInput { field, problem }
    }

    /// One value of every variant, for tables that must cover them all (HTTP status mapping,
    /// FFI error lists, documentation) and for the tests that check those tables.
    pub fn one_of_each() -> Vec<Error> {
        vec![
            Error::invalid(Field::Email, InputProblem::Format),
            Error::PasswordMismatch,
            Error::PasswordRejected(vec![]),
            Error::LoginFailed,
            Error::Locked,
            Error::CurrentPasswordWrong,
            Error::MailOtpNotConfigured,
            Error::OtpInvalid,
            Error::ChallengeExpired,
            Error::ResendLimited,
            Error::EmailTaken,
            Error::SameAsAdminTaken,
            Error::EmailRequiredForMailOtp,
            Error::UserIdTaken,
            Error::TenantExists,
            Error::CertificateTaken,
            Error::ShippingNotAllowed,
            Error::Forbidden,
            Error::SupportOnly,
            Error::FieldNotEditable {
                field: Field::UserId,
            },
            Error::NotFound,
            Error::SessionNotFound,
            Error::PasswordChangeRequired,
            Error::SessionInvalid,
            Error::ResetLinkInvalid,
            Error::ResetInputInvalid,
            Error::NotEnabled {
                feature: Feature::ResetLink,
            },
            Error::PolicyInvalid("x".into()),
            Error::Conflict,
            Error::Busy,
            Error::Throttled {
                retry_after_secs: 60,
            },
            Error::StoreUnavailable,
            Error::MailFailed,
            Error::InvalidCursor,
        ]
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::PasswordMismatch => "password_mismatch",
            Error::PasswordRejected(_) => "password_rejected",
            Error::LoginFailed => "login_failed",
            Error::Locked => "locked",
            Error::CurrentPasswordWrong => "current_password_wrong",
            Error::MailOtpNotConfigured => "mail_otp_not_configured",
            Error::OtpInvalid => "otp_invalid",
            Error::ChallengeExpired => "challenge_expired",
            Error::ResendLimited => "resend_limited",
            Error::EmailTaken => "email_taken",
            Error::SameAsAdminTaken => "same_as_admin_taken",
            Error::EmailRequiredForMailOtp => "email_required_for_mail_otp",
            Error::UserIdTaken => "user_id_taken",
            Error::TenantExists => "tenant_exists",
            Error::CertificateTaken => "certificate_taken",
            Error::ShippingNotAllowed => "shipping_not_allowed",
            Error::Forbidden => "forbidden",
            Error::SupportOnly => "support_only",
            Error::FieldNotEditable { .. } => "field_not_editable",
            Error::NotFound => "not_found",
            Error::SessionNotFound => "session_not_found",
            Error::PasswordChangeRequired => "password_change_required",
            Error::SessionInvalid => "session_invalid",
            Error::ResetLinkInvalid => "reset_link_invalid",
            Error::ResetInputInvalid => "reset_input_invalid",
            Error::NotEnabled { .. } => "not_enabled",
            Error::PolicyInvalid(_) => "policy_invalid",
            Error::Conflict => "conflict",
            Error::Busy => "busy",
            Error::Throttled { .. } => "throttled",
            Error::StoreUnavailable => "store_unavailable",
            Error::MailFailed => "mail_failed",
            Error::InvalidCursor => "invalid_request",
        }
    }

    /// Whether the same request may succeed if sent again unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Conflict
                | Error::Busy
                | Error::Throttled { .. }
                | Error::StoreUnavailable
                | Error::MailFailed
        )
    }

    /// The message shown to a person, in `lang`. Seed texts where the seeds have one.
    pub fn message(&self, lang: Lang) -> String {
        let ja = lang == Lang::Ja;
        let s: &str = match self {
            Error::InvalidInput { field, problem } => {
                let label = field.label(lang);
                return match (problem, ja) {
                    (InputProblem::Missing, true) => format!("{label}を入力してください。"),
                    (InputProblem::Missing, false) => format!("Please enter the {label}."),
                    (InputProblem::TooLong { max }, true) => {
                        format!("{label}は{max}文字以内で入力してください。")
                    }
                    (InputProblem::TooLong { max }, false) => {
                        format!("The {label} must be at most {max} characters.")
                    }
                    (InputProblem::TooShort { min }, true) => {
                        format!("{label}は{min}文字以上で入力してください。")
                    }
                    (InputProblem::TooShort { min }, false) => {
                        format!("The {label} must be at least {min} characters.")
                    }
                    (InputProblem::Format, true) => format!("{label}の形式が正しくありません。"),
                    (InputProblem::Format, false) => {
                        format!("The {label} is not in the required format.")
                    }
                    (InputProblem::ControlCharacter, true) => {
                        format!("{label}に使用できない文字が含まれています。")
                    }
                    (InputProblem::ControlCharacter, false) => {
                        format!("The {label} contains a control character.")
                    }
                    (InputProblem::NotTheUserId, true) => {
                        format!(
                            "{label}はユーザIDと同じ値を入力してください（IDはメールアドレスです）。"
                        )
                    }
                    (InputProblem::NotTheUserId, false) => {
                        format!(
                            "The {label} must be the user ID itself (the ID is the e-mail address)."
                        )
                    }
                };
            }
            Error::PasswordRejected(problems) => {
                let parts: Vec<String> = problems.iter().map(|p| p.message(lang)).collect();
                return if parts.is_empty() {
                    if ja {
                        "パスワードが要件を満たしていません。".into()
                    } else {
                        "The password does not meet the requirements.".into()
                    }
                } else {
                    parts.join(if ja { "" } else { " " })
                };
            }
            Error::PolicyInvalid(why) => {
                return if ja {
                    format!("ポリシーが不正です: {why}")
                } else {
                    format!("The policy is invalid: {why}")
                };
            }
            Error::FieldNotEditable { field } => {
                let label = field.label(lang);
                return if ja {
                    format!("{label}は変更できません。")
                } else {
                    format!("The {label} cannot be changed.")
                };
            }
            Error::PasswordMismatch if ja => "新パスワードと確認用パスワードが一致しません。",
            Error::PasswordMismatch => "The new password and its confirmation do not match.",
            Error::LoginFailed if ja => "ログインに失敗しました。入力内容を確認してください。",
            Error::LoginFailed => "Login failed. Please check what you entered.",
            Error::Locked if ja => "パスワードがロックされています。",
            Error::Locked => "The password is locked.",
            Error::CurrentPasswordWrong if ja => "現在のパスワードが正しくありません。",
            Error::CurrentPasswordWrong => "The current password is not correct.",
            Error::MailOtpNotConfigured if ja => {
                "ワンタイムパスワードをメールで受け取る設定がされていません。管理者に事前設定していただく必要があります。"
            }
            Error::MailOtpNotConfigured => {
                "This user is not set up to receive one-time passwords by mail. An administrator must set it up first."
            }
            Error::OtpInvalid if ja => "ワンタイムパスワードが正しくありません。",
            Error::OtpInvalid => "The one-time password is not correct.",
            Error::ChallengeExpired if ja => {
                "ワンタイムパスワードの有効期限が切れました。再度ログインしてください。"
            }
            Error::ChallengeExpired => "The one-time password has expired. Please log in again.",
            Error::ResendLimited if ja => {
                "ワンタイムパスワードの再送信回数の上限に達しました。しばらくしてから再度お試しください。"
            }
            Error::ResendLimited => {
                "Too many one-time passwords were sent. Please try again later."
            }
            Error::EmailTaken if ja => {
                "入力いただいたメールアドレスは、既に別のユーザに設定されています。別のメールアドレスを入力してください。"
            }
            Error::EmailTaken => {
                "The e-mail address you entered is already set for another user. Please enter a different address."
            }
            Error::SameAsAdminTaken if ja => {
                "ユーザ情報について、既に管理者と同一のユーザが作成されております。ユーザ情報のチェックを外していただき、別のメールアドレスを入力してください。"
            }
            Error::SameAsAdminTaken => {
                "A user marked as the same person as the administrator already exists. Clear that option and enter a different e-mail address."
            }
            Error::EmailRequiredForMailOtp if ja => {
                "ワンタイムパスワードをメールにて受信する場合には、メールアドレスを入力してください。"
            }
            Error::EmailRequiredForMailOtp => {
                "To receive one-time passwords by mail, please enter an e-mail address."
            }
            Error::UserIdTaken if ja => "入力いただいたユーザIDは既に使用されています。",
            Error::UserIdTaken => "That user ID is already in use.",
            Error::TenantExists if ja => "その加盟店コードは既に登録されています。",
            Error::TenantExists => "A tenant with that code already exists.",
            Error::CertificateTaken if ja => {
                "この電子証明書は既に別のユーザに設定されています。付け替える場合は置き換えを指定してください。"
            }
            Error::CertificateTaken => {
                "This certificate is bound to another account. To move it, ask to replace the holder."
            }
            Error::ShippingNotAllowed if ja => "非物流加盟店では「出荷」ユーザは作成できません。",
            Error::ShippingNotAllowed => {
                "Shipping users cannot be created for a tenant without logistics."
            }
            Error::Forbidden if ja => "この操作を行う権限がありません。",
            Error::Forbidden => "You are not allowed to do this.",
            Error::SupportOnly if ja => "この変更はカスタマーサービスセンターへご連絡ください。",
            Error::SupportOnly => "This change is made by customer support. Please contact them.",
            Error::NotFound if ja => "対象のユーザが見つかりません。",
            Error::NotFound => "No such user.",
            Error::SessionNotFound if ja => "指定されたセッションは見つかりません。",
            Error::SessionNotFound => "No such session.",
            Error::PasswordChangeRequired if ja => "パスワードを変更してください。",
            Error::PasswordChangeRequired => "Please change your password first.",
            Error::SessionInvalid if ja => {
                "ログインの有効期限が切れました。再度ログインしてください。"
            }
            Error::SessionInvalid => "Your session has ended. Please log in again.",
            Error::ResetLinkInvalid if ja => {
                "URLの有効期限が切れているか、既に使用されています。再度パスワード初期化を依頼してください。"
            }
            Error::ResetLinkInvalid => {
                "This link has expired or was already used. Please request a new password reset."
            }
            Error::ResetInputInvalid if ja => "入力値が不正です。入力内容を確認してください。",
            Error::ResetInputInvalid => "The input is not valid. Please check what you entered.",
            Error::NotEnabled { feature } => return feature.not_enabled_message(lang),
            Error::Conflict if ja => "処理が混み合っています。もう一度お試しください。",
            Error::Conflict => "The request conflicted with another one. Please try again.",
            Error::Busy if ja => "ただいま混み合っています。しばらくしてから再度お試しください。",
            Error::Busy => "The server is busy. Please try again in a moment.",
            Error::Throttled { .. } if ja => {
                "試行回数が多すぎます。しばらく時間をおいてから再度お試しください。"
            }
            Error::Throttled { .. } => "Too many attempts. Please wait a while and try again.",
            Error::StoreUnavailable if ja => {
                "ただいま処理できません。しばらくしてから再度お試しください。"
            }
            Error::StoreUnavailable => {
                "The service is temporarily unavailable. Please try again later."
            }
            Error::MailFailed if ja => "メールを送信できませんでした。もう一度お試しください。",
            Error::MailFailed => "The mail could not be sent. Please try again.",
            Error::InvalidCursor if ja => {
                "ページ位置（after）が正しくありません。前の応答の next をそのまま指定してください。"
            }
            Error::InvalidCursor => {
                "The paging cursor (after) is not valid: pass back the next value of a previous page unchanged."
            }
        };
        s.to_owned()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message(Lang::En))
    }
}

impl std::error::Error for Error {}

/// Result with the core error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_texts_are_the_japanese_messages() {
        // SPEC: L-5, E-1, E-2, E-6, RS-3
        assert_eq!(
            Error::LoginFailed.message(Lang::Ja),
            "ログインに失敗しました。入力内容を確認してください。"
        );
        assert!(
            Error::EmailTaken
                .message(Lang::Ja)
                .starts_with("入力いただいたメールアドレスは、既に別のユーザに設定されています。")
        );
        assert!(
            Error::SameAsAdminTaken
                .message(Lang::Ja)
                .starts_with("ユーザ情報について、既に管理者と同一のユーザが作成されております。")
        );
        assert_eq!(
            Error::EmailRequiredForMailOtp.message(Lang::Ja),
            "ワンタイムパスワードをメールにて受信する場合には、メールアドレスを入力してください。"
        );
        assert!(
            Error::ResetInputInvalid
                .message(Lang::Ja)
                .starts_with("入力値が不正です。")
        );
        assert_eq!(
            Error::MailOtpNotConfigured.message(Lang::Ja),
            "ワンタイムパスワードをメールで受け取る設定がされていません。管理者に事前設定していただく必要があります。"
        );
    }

    #[test]
    fn codes_are_stable_and_distinct() {
        let all = Error::one_of_each();
        let mut codes: Vec<_> = all.iter().map(Error::code).collect();
        for e in &all {
            assert!(!e.message(Lang::Ja).is_empty() && !e.message(Lang::En).is_empty());
        }
        codes.sort_unstable();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn password_rejection_lists_every_reason() {
        // SPEC: PW-1
        let e = Error::PasswordRejected(vec![
            PasswordProblem::TooShort { min: 8 },
            PasswordProblem::Common,
        ]);
        let m = e.message(Lang::En);
        assert!(m.contains("at least 8") && m.contains("too common"), "{m}");
    }
}
