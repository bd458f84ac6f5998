//! M-1..M-3: every mail monban sends, in Japanese (the seed texts) and English.
//!
//! STUB: templates are filled in by the mail task; the types below are the contract.

use crate::lang::Lang;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::fmt;

/// M-1: the kinds of mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// RS-1 「パスワード初期化開始のご連絡」: the reset link.
    ResetStarted,
    /// RS-1, RS-4, RS-6, RS-7, RS-8 「仮パスワードのご連絡」: a temporary password.
    TemporaryPassword,
    /// L-3 「ワンタイムパスワードのご連絡」: the code, the user ID, the validity.
    Otp,
    /// LC-2 「新規ユーザ登録のご連絡」: name, user ID, temporary password.
    UserRegistered,
    /// RS-5: the login ID.
    LoginIdNotice,
    /// RS-2: tells the admin that a user without e-mail asked for a reset.
    AdminResetNotice,
}

impl MailKind {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::ResetStarted => "reset_started",
            MailKind::TemporaryPassword => "temporary_password",
            MailKind::Otp => "otp",
            MailKind::UserRegistered => "user_registered",
            MailKind::LoginIdNotice => "login_id_notice",
            MailKind::AdminResetNotice => "admin_reset_notice",
        }
    }
}

/// What a mail says; each variant carries the one secret it exists to deliver (M-2), if any.
#[derive(Clone, Debug)]
pub enum MailContent {
    /// RS-1: the reset link (the URL is the secret).
    ResetStarted {
        /// User ID the reset is for.
        user_id: String,
        /// Full URL with the token.
        url: Secret,
        /// Validity in minutes (30).
        valid_minutes: i64,
    },
    /// A temporary password.
    TemporaryPassword {
        /// User ID.
        user_id: String,
        /// The temporary password.
        password: Secret,
        /// Days it stays valid.
        valid_days: u32,
    },
    /// L-3: a mail OTP.
    Otp {
        /// User ID it was sent for.
        user_id: String,
        /// The code.
        code: Secret,
        /// Validity in minutes (10).
        valid_minutes: i64,
    },
    /// LC-2: a new user.
    UserRegistered {
        /// User name.
        name: String,
        /// User ID.
        user_id: String,
        /// The temporary password.
        password: Secret,
        /// Days it stays valid.
        valid_days: u32,
    },
    /// RS-5: the login ID.
    LoginIdNotice {
        /// The login ID.
        login_id: String,
    },
    /// RS-2: notice to the admin.
    AdminResetNotice {
        /// The user who asked.
        user_id: String,
    },
}

impl MailContent {
    /// The kind of this content.
    pub fn kind(&self) -> MailKind {
        match self {
            MailContent::ResetStarted { .. } => MailKind::ResetStarted,
            MailContent::TemporaryPassword { .. } => MailKind::TemporaryPassword,
            MailContent::Otp { .. } => MailKind::Otp,
            MailContent::UserRegistered { .. } => MailKind::UserRegistered,
            MailContent::LoginIdNotice { .. } => MailKind::LoginIdNotice,
            MailContent::AdminResetNotice { .. } => MailKind::AdminResetNotice,
        }
    }
}

/// A rendered mail, ready for a [`crate::ports::Mailer`]. `Debug` leaves the body out.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Kind.
    pub kind: MailKind,
    /// Language.
    pub lang: Lang,
    /// Subject line.
    pub subject: String,
    /// Plain-text body (may hold the one secret the mail delivers).
    pub body: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("kind", &self.kind)
            .field("lang", &self.lang)
            .field("subject", &self.subject)
            .field("body", &"[redacted]")
            .finish()
    }
}

/// Renders `content` for `to` in `lang`, naming `service` (e.g. 「クロネコwebコレクト」).
pub fn render(content: &MailContent, lang: Lang, service: &str, to: &str) -> Mail {
    // STUB: replaced by the real templates.
    let _ = service;
    Mail {
        to: to.to_owned(),
        kind: content.kind(),
        lang,
        subject: content.kind().as_str().to_owned(),
        body: String::new(),
    }
}
