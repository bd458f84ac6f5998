//! M-1..M-3: every mail monban sends, in Japanese (the seed texts) and English.
//!
//! The Japanese texts are the Kuroneko manual's mails (seed 004) with the service name put in
//! place of 「クロネコwebコレクト」; the English texts translate them. Kinds with no seed text
//! (login ID notice, admin notice) are written in the same style.
//!
//! Every body is built of paragraphs separated by blank lines; a value (user ID, password, URL,
//! code) sits on the line right after its 「■」 header, and a header always follows a blank line.
//! [`extract_secret`] relies on that layout to read a mail back.
//!
//! Header-injection safety: control characters (CR, LF, NEL, ...), Unicode line/paragraph
//! separators and bidirectional overrides are stripped from everything interpolated, including
//! the recipient and the service name, so `to` and `subject` are always a single line.

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
    /// Every kind.
    pub const ALL: [MailKind; 6] = [
        MailKind::ResetStarted,
        MailKind::TemporaryPassword,
        MailKind::Otp,
        MailKind::UserRegistered,
        MailKind::LoginIdNotice,
        MailKind::AdminResetNotice,
    ];

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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// The outbox entry's ID (M-4), set when the mail is queued; empty before. Unique per
    /// mail: a mailer that keeps the IDs it sent can drop the repeat a courier crash between
    /// sending and marking may cause.
    #[serde(default)]
    pub id: String,
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
            .field("id", &self.id)
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
    render_with(content, lang, service, &JaTerms::KURONEKO, to)
}

/// How the Japanese texts address the reader and name the site (M-2): the seed's 「加盟店様」
/// and 「加盟店管理画面」 for Kuroneko, neutral words for the other systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JaTerms<'a> {
    /// Who acted, e.g. 「加盟店様」 or 「お客様」.
    pub customer: &'a str,
    /// Where to type the password, e.g. 「加盟店管理画面」 or 「ログイン画面」.
    pub site: &'a str,
}

impl JaTerms<'static> {
    /// The Kuroneko seed's words.
    pub const KURONEKO: JaTerms<'static> = JaTerms {
        customer: "加盟店様",
        site: "加盟店管理画面",
    };
    /// Neutral words for every other system.
    pub const NEUTRAL: JaTerms<'static> = JaTerms {
        customer: "お客様",
        site: "ログイン画面",
    };
}

/// [`render`] with the Japanese reader and site words of the policy.
pub fn render_with(
    content: &MailContent,
    lang: Lang,
    service: &str,
    terms: &JaTerms<'_>,
    to: &str,
) -> Mail {
    let service = clean(service);
    let kind = content.kind();
    let body = match lang {
        Lang::Ja => body_ja(content, &service)
            .replace("加盟店様", &clean(terms.customer))
            .replace("加盟店管理画面", &clean(terms.site)),
        Lang::En => body_en(content, &service),
    };
    Mail {
        id: String::new(),
        to: clean(to),
        kind,
        lang,
        subject: subject(kind, lang, &service),
        body,
    }
}

/// The subject line of a `kind` mail in `lang` naming `service` (M-1). Control characters are
/// stripped from `service`, so the subject is always one line.
pub fn subject(kind: MailKind, lang: Lang, service: &str) -> String {
    let service = clean(service);
    match lang {
        Lang::Ja => {
            let (title, dash) = match kind {
                MailKind::ResetStarted => ("パスワード初期化開始のご連絡", "-"),
                MailKind::TemporaryPassword => ("仮パスワードのご連絡", "-"),
                MailKind::Otp => ("ワンタイムパスワードのご連絡", "-"),
                // The seed prints this one with a full-width hyphen.
                MailKind::UserRegistered => ("新規ユーザ登録のご連絡", "－"),
                MailKind::LoginIdNotice => ("ログインIDのご連絡", "-"),
                MailKind::AdminResetNotice => ("パスワード初期化依頼のご連絡", "-"),
            };
            format!("{title}{dash}「{service}」")
        }
        Lang::En => {
            let title = match kind {
                MailKind::ResetStarted => "Password reset started",
                MailKind::TemporaryPassword => "Your temporary password",
                MailKind::Otp => "Your one-time password",
                MailKind::UserRegistered => "New user registration",
                MailKind::LoginIdNotice => "Your login ID",
                MailKind::AdminResetNotice => "A user asked for a password reset",
            };
            format!("{title} - {service}")
        }
    }
}

/// Reads back the secret a mail delivers: the reset URL ([`MailKind::ResetStarted`]), the
/// temporary password ([`MailKind::TemporaryPassword`], [`MailKind::UserRegistered`]) or the
/// code ([`MailKind::Otp`]); `None` for kinds that deliver no secret or when the body does not
/// have the expected layout.
///
/// Meant for tests, examples and tooling that play the part of the person reading the mail
/// (for instance a capturing mailer); the library itself never parses its own mails.
pub fn extract_secret(mail: &Mail) -> Option<String> {
    let header = match (mail.kind, mail.lang) {
        (MailKind::ResetStarted, Lang::Ja) => JA_H_URL,
        (MailKind::ResetStarted, Lang::En) => EN_H_URL,
        (MailKind::TemporaryPassword | MailKind::UserRegistered, Lang::Ja) => JA_H_TEMP,
        (MailKind::TemporaryPassword | MailKind::UserRegistered, Lang::En) => EN_H_TEMP,
        (MailKind::Otp, Lang::Ja) => JA_H_OTP,
        (MailKind::Otp, Lang::En) => EN_H_OTP,
        (MailKind::LoginIdNotice | MailKind::AdminResetNotice, _) => return None,
    };
    value_after(&mail.body, header)
}

/// Reads back the login ID a [`MailKind::LoginIdNotice`] mail delivers (RS-5); `None` for other
/// kinds. Like [`extract_secret`], meant for tests, examples and tooling.
pub fn extract_login_id(mail: &Mail) -> Option<String> {
    match (mail.kind, mail.lang) {
        (MailKind::LoginIdNotice, Lang::Ja) => value_after(&mail.body, JA_H_LOGIN_ID),
        (MailKind::LoginIdNotice, Lang::En) => value_after(&mail.body, EN_H_LOGIN_ID),
        _ => None,
    }
}

/// The line right after `header`, where `header` is a whole line that follows a blank line
/// (values never follow a blank line, so a user-chosen value equal to a header is not taken).
fn value_after(body: &str, header: &str) -> Option<String> {
    let lines: Vec<&str> = body.lines().collect();
    lines.windows(3).find_map(|w| match w {
        [prev, cur, next] if prev.trim().is_empty() && *cur == header && !next.is_empty() => {
            Some((*next).to_owned())
        }
        _ => None,
    })
}

// Headers of the value blocks.
const JA_H_USER_ID: &str = "■ユーザID";
const JA_H_NAME: &str = "■ユーザ名（氏名）";
const JA_H_TEMP: &str = "■仮パスワード";
const JA_H_OTP: &str = "■ワンタイムパスワード";
const JA_H_OTP_USER: &str = "■送信したユーザID";
const JA_H_URL: &str = "■パスワード初期化画面";
const JA_H_LOGIN_ID: &str = "■ログインID";
const EN_H_USER_ID: &str = "■ User ID";
const EN_H_NAME: &str = "■ User name";
const EN_H_TEMP: &str = "■ Temporary password";
const EN_H_OTP: &str = "■ One-time password";
const EN_H_OTP_USER: &str = "■ User ID it was sent for";
const EN_H_URL: &str = "■ Password reset page";
const EN_H_LOGIN_ID: &str = "■ Login ID";

// M-3: the seeds warn about white space around copied codes and passwords.
const JA_COPY: &str = "コピーする際は前後に空白を含まないよう、十分にご注意ください。";
const EN_COPY: &str =
    "When copying it, please take care not to include any spaces before or after it.";
const JA_NO_IDEA: &str =
    "本メールにお心あたりのない方は、カスタマーサービスセンターまでお問い合わせください。";
const EN_NO_IDEA: &str =
    "If you did not expect this e-mail, please contact the customer service center.";

/// A value block: the header, then the value on the next line.
fn block(header: &str, value: &str) -> String {
    format!("{header}\n{value}")
}

/// Paragraphs separated by blank lines, ending with a new line.
fn join(paragraphs: &[String]) -> String {
    let mut out = paragraphs.join("\n\n");
    out.push('\n');
    out
}

fn body_ja(content: &MailContent, svc: &str) -> String {
    match content {
        MailContent::ResetStarted {
            user_id,
            url,
            valid_minutes: m,
        } => join(&[
            format!(
                "{svc}において加盟店様によるパスワード初期化が開始されましたので、お知らせいたします。"
            ),
            "本メールに記載のURLをクリックし、パスワード初期化画面を表示させてください。".to_owned(),
            format!(
                "URLの有効期限は本メールの送信後、約{m}分となっておりますので、{m}分以内にURLのクリックをおこなってください。仮パスワードは初期化画面表示後別途メールにてご案内いたします。仮パスワードを利用して再度ログインしてください。"
            ),
            block(JA_H_USER_ID, &clean(user_id)),
            block(JA_H_URL, &clean(url.expose())),
            JA_NO_IDEA.to_owned(),
        ]),
        MailContent::TemporaryPassword {
            user_id,
            password,
            valid_days: d,
        } => join(&[
            format!(
                "{svc}においてパスワード初期化のお手続きが行われましたので、お知らせいたします。\n{JA_NO_IDEA}"
            ),
            "本メールに記載のパスワードを加盟店管理画面で入力してください。\nログインに成功した場合、すぐにパスワード変更画面が表示されますので、新たなパスワードを設定してください。".to_owned(),
            block(JA_H_USER_ID, &clean(user_id)),
            block(JA_H_TEMP, &clean(password.expose())),
            JA_COPY.to_owned(),
            format!(
                "仮パスワードの有効期限は本メールの送信後、{d}日間となっておりますので、{d}日以内にログインしてください。"
            ),
        ]),
        MailContent::Otp {
            user_id,
            code,
            valid_minutes: m,
        } => join(&[
            format!(
                "{svc}において加盟店様によりワンタイムパスワードが発行されましたので、お知らせいたします。\n{svc}のメールワンタイムパスワード欄へ下記ワンタイムパスワードを入力してください。"
            ),
            block(JA_H_OTP, &clean(code.expose())),
            block(JA_H_OTP_USER, &clean(user_id)),
            format!(
                "ワンタイムパスワードの有効期限は本メールの送信後、約{m}分となっておりますので、{m}分以内にワンタイムパスワードを利用してログインしてください。"
            ),
            format!("{JA_COPY}\n{JA_NO_IDEA}"),
        ]),
        MailContent::UserRegistered {
            name,
            user_id,
            password,
            valid_days: d,
        } => join(&[
            format!(
                "{svc}において加盟店様の管理者により新規ユーザが登録されましたので、お知らせいたします。\n{JA_NO_IDEA}"
            ),
            block(JA_H_NAME, &clean(name)),
            block(JA_H_USER_ID, &clean(user_id)),
            block(JA_H_TEMP, &clean(password.expose())),
            JA_COPY.to_owned(),
            format!(
                "仮パスワードの有効期限は本メールの送信後、{d}日間となっておりますので、{d}日以内にログインし、新たなパスワードを設定してください。"
            ),
        ]),
        MailContent::LoginIdNotice { login_id } => join(&[
            format!(
                "{svc}においてログインIDのお問い合わせがありましたので、本メールアドレスに登録されているログインIDをお知らせいたします。\n{JA_NO_IDEA}"
            ),
            block(JA_H_LOGIN_ID, &clean(login_id)),
            "パスワードをお忘れの場合は、ログイン画面からパスワード初期化のお手続きをおこなってください。".to_owned(),
        ]),
        MailContent::AdminResetNotice { user_id } => join(&[
            format!(
                "{svc}において、メールアドレスが登録されていないユーザからパスワード初期化の依頼がありましたので、お知らせいたします。"
            ),
            "メールアドレスが登録されていない「一般」「出荷」ユーザは、ご自身でパスワードを初期化することができません。「管理」ユーザで管理画面にログインし、「ユーザー一覧」から該当ユーザのパスワードを初期化してください。".to_owned(),
            block(JA_H_USER_ID, &clean(user_id)),
            format!("初期化の前に、ご本人からの依頼であることをご確認ください。\n{JA_NO_IDEA}"),
        ]),
    }
}

fn days_en(d: u32) -> String {
    if d == 1 {
        "1 day".to_owned()
    } else {
        format!("{d} days")
    }
}

fn minutes_en(m: i64) -> String {
    if m == 1 {
        "1 minute".to_owned()
    } else {
        format!("{m} minutes")
    }
}

fn body_en(content: &MailContent, svc: &str) -> String {
    match content {
        MailContent::ResetStarted {
            user_id,
            url,
            valid_minutes,
        } => {
            let m = minutes_en(*valid_minutes);
            join(&[
                format!("A password reset has been started for your account on {svc}."),
                "Please click the URL in this e-mail to open the password reset page.".to_owned(),
                format!(
                    "The URL is valid for about {m} after this e-mail was sent, so please click it within {m}. Your temporary password will be sent in a separate e-mail once the reset page has been opened. Please log in again with that temporary password."
                ),
                block(EN_H_USER_ID, &clean(user_id)),
                block(EN_H_URL, &clean(url.expose())),
                EN_NO_IDEA.to_owned(),
            ])
        }
        MailContent::TemporaryPassword {
            user_id,
            password,
            valid_days,
        } => {
            let d = days_en(*valid_days);
            join(&[
                format!(
                    "The password of your account on {svc} has been reset.\n{EN_NO_IDEA}"
                ),
                format!(
                    "Please enter the temporary password in this e-mail on the {svc} login screen.\nOnce you have logged in, the password change screen will appear right away; please set a new password there."
                ),
                block(EN_H_USER_ID, &clean(user_id)),
                block(EN_H_TEMP, &clean(password.expose())),
                EN_COPY.to_owned(),
                format!(
                    "The temporary password is valid for {d} after this e-mail was sent; please log in within {d}."
                ),
            ])
        }
        MailContent::Otp {
            user_id,
            code,
            valid_minutes,
        } => {
            let m = minutes_en(*valid_minutes);
            join(&[
                format!(
                    "A one-time password has been issued for you on {svc}.\nPlease enter the one-time password below in the e-mail one-time password field of {svc}."
                ),
                block(EN_H_OTP, &clean(code.expose())),
                block(EN_H_OTP_USER, &clean(user_id)),
                format!(
                    "The one-time password is valid for about {m} after this e-mail was sent, so please log in with it within {m}."
                ),
                format!("{EN_COPY}\n{EN_NO_IDEA}"),
            ])
        }
        MailContent::UserRegistered {
            name,
            user_id,
            password,
            valid_days,
        } => {
            let d = days_en(*valid_days);
            join(&[
                format!(
                    "Your administrator has registered a new user for you on {svc}.\n{EN_NO_IDEA}"
                ),
                block(EN_H_NAME, &clean(name)),
                block(EN_H_USER_ID, &clean(user_id)),
                block(EN_H_TEMP, &clean(password.expose())),
                EN_COPY.to_owned(),
                format!(
                    "The temporary password is valid for {d} after this e-mail was sent; please log in and set a new password within {d}."
                ),
            ])
        }
        MailContent::LoginIdNotice { login_id } => join(&[
            format!(
                "We received a request on {svc} for the login ID registered to this e-mail address, and are sending it to you below.\n{EN_NO_IDEA}"
            ),
            block(EN_H_LOGIN_ID, &clean(login_id)),
            "If you have also forgotten your password, please start a password reset from the login screen.".to_owned(),
        ]),
        MailContent::AdminResetNotice { user_id } => join(&[
            format!(
                "A user with no registered e-mail address has asked for a password reset on {svc}."
            ),
            "\"General\" and \"shipping\" users with no e-mail address cannot reset their own password. Please log in as an \"admin\" user and reset this user's password from the user list.".to_owned(),
            block(EN_H_USER_ID, &clean(user_id)),
            format!(
                "Before resetting it, please make sure the request really came from this user.\n{EN_NO_IDEA}"
            ),
        ]),
    }
}

/// Strips what could break a header or a line out of an interpolated field: control characters
/// (CR, LF, TAB, NEL, ...), Unicode line and paragraph separators, bidirectional marks and
/// overrides, and the byte-order mark.
fn clean(s: &str) -> String {
    s.chars().filter(|&c| !is_unsafe(c)).collect()
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str = "クロネコwebコレクト";
    const URL: &str = "https://auth.example.test/reset?token=RsTkn0123456789abcdef";
    const TEMP: &str = "TmpPw-4f9Kq2";
    const CODE: &str = "493817";
    const REG: &str = "RegPw-7xY3zP";

    fn contents() -> Vec<MailContent> {
        vec![
            MailContent::ResetStarted {
                user_id: "TEST1".into(),
                url: Secret::new(URL),
                valid_minutes: 30,
            },
            MailContent::TemporaryPassword {
                user_id: "TEST1".into(),
                password: Secret::new(TEMP),
                valid_days: 7,
            },
            MailContent::Otp {
                user_id: "TEST1".into(),
                code: Secret::new(CODE),
                valid_minutes: 10,
            },
            MailContent::UserRegistered {
                name: "黒田 猫太".into(),
                user_id: "User1".into(),
                password: Secret::new(REG),
                valid_days: 7,
            },
            MailContent::LoginIdNotice {
                login_id: "123456789".into(),
            },
            MailContent::AdminResetNotice {
                user_id: "User1".into(),
            },
        ]
    }

    fn secret_of(kind: MailKind) -> Option<&'static str> {
        match kind {
            MailKind::ResetStarted => Some(URL),
            MailKind::TemporaryPassword => Some(TEMP),
            MailKind::Otp => Some(CODE),
            MailKind::UserRegistered => Some(REG),
            MailKind::LoginIdNotice | MailKind::AdminResetNotice => None,
        }
    }

    fn all_mails() -> Vec<Mail> {
        let mut out = Vec::new();
        for c in contents() {
            for lang in [Lang::Ja, Lang::En] {
                out.push(render(&c, lang, SVC, "user@example.test"));
            }
        }
        out
    }

    #[test]
    fn every_kind_renders_in_both_languages() {
        // SPEC: M-1, M-2
        let mails = all_mails();
        assert_eq!(mails.len(), 12);
        for (m, c) in mails.iter().zip(contents().iter().flat_map(|c| [c, c])) {
            assert_eq!(m.kind, c.kind());
            assert_eq!(m.to, "user@example.test");
            assert!(!m.subject.is_empty(), "{:?}", m.kind);
            assert!(!m.body.trim().is_empty(), "{:?}", m.kind);
            assert!(m.subject.contains(SVC), "{:?}", m.kind);
            assert!(m.body.contains(SVC), "{:?}", m.kind);
            if m.lang == Lang::Ja {
                assert!(m.body.contains(JA_NO_IDEA), "{:?}", m.kind);
            } else {
                assert!(m.body.contains(EN_NO_IDEA), "{:?}", m.kind);
            }
            // The OCR noise of the seed never leaks into the texts.
            assert!(!m.body.contains("ワнта") && !m.subject.contains("ワнта"));
        }
    }

    #[test]
    fn japanese_subjects_are_the_seed_subjects() {
        // SPEC: M-1, M-2, RS-1, L-3, LC-2
        let expect = [
            (
                MailKind::ResetStarted,
                "パスワード初期化開始のご連絡-「クロネコwebコレクト」",
            ),
            (
                MailKind::TemporaryPassword,
                "仮パスワードのご連絡-「クロネコwebコレクト」",
            ),
            (
                MailKind::Otp,
                "ワンタイムパスワードのご連絡-「クロネコwebコレクト」",
            ),
            (
                MailKind::UserRegistered,
                "新規ユーザ登録のご連絡－「クロネコwebコレクト」",
            ),
            (
                MailKind::LoginIdNotice,
                "ログインIDのご連絡-「クロネコwebコレクト」",
            ),
            (
                MailKind::AdminResetNotice,
                "パスワード初期化依頼のご連絡-「クロネコwebコレクト」",
            ),
        ];
        for c in contents() {
            let m = render(&c, Lang::Ja, SVC, "a@example.test");
            let want = expect.iter().find(|(k, _)| *k == m.kind).map(|(_, s)| *s);
            assert_eq!(Some(m.subject.as_str()), want);
        }
        assert_eq!(
            subject(MailKind::Otp, Lang::En, "Acme"),
            "Your one-time password - Acme"
        );
    }

    #[test]
    fn otp_mail_has_code_user_id_and_validity() {
        // SPEC: L-3, M-1, M-3
        let c = &contents()[2];
        let ja = render(c, Lang::Ja, SVC, "a@example.test");
        assert!(ja.body.contains(&format!("{JA_H_OTP}\n{CODE}\n")));
        assert!(ja.body.contains(&format!("{JA_H_OTP_USER}\nTEST1\n")));
        assert!(ja.body.contains("約10分"));
        assert!(ja.body.contains(
            "ワンタイムパスワードの有効期限は本メールの送信後、約10分となっておりますので、10分以内にワンタイムパスワードを利用してログインしてください。"
        ));
        assert!(ja.body.contains(JA_COPY));
        let en = render(c, Lang::En, SVC, "a@example.test");
        assert!(en.body.contains(CODE) && en.body.contains("TEST1"));
        assert!(en.body.contains("about 10 minutes"));
        assert!(en.body.contains(EN_COPY));
    }

    #[test]
    fn reset_mail_has_url_and_validity() {
        // SPEC: RS-1, M-1
        let c = &contents()[0];
        let ja = render(c, Lang::Ja, SVC, "a@example.test");
        assert!(ja.body.contains(&format!("{JA_H_URL}\n{URL}\n")));
        assert!(ja.body.contains("約30分"));
        assert!(ja.body.contains(
            "URLの有効期限は本メールの送信後、約30分となっておりますので、30分以内にURLのクリックをおこなってください。"
        ));
        let en = render(c, Lang::En, SVC, "a@example.test");
        assert!(en.body.contains(URL));
        assert!(en.body.contains("about 30 minutes"));
    }

    #[test]
    fn password_mails_warn_about_spaces_and_state_validity() {
        // SPEC: M-3, PW-7, RS-6, LC-2
        for c in [&contents()[1], &contents()[3]] {
            let ja = render(c, Lang::Ja, SVC, "a@example.test");
            assert!(ja.body.contains(JA_COPY), "{:?}", ja.kind);
            assert!(ja.body.contains("7日間"), "{:?}", ja.kind);
            assert!(ja.body.contains(JA_H_USER_ID), "{:?}", ja.kind);
            assert!(ja.body.contains(JA_H_TEMP), "{:?}", ja.kind);
            let en = render(c, Lang::En, SVC, "a@example.test");
            assert!(en.body.contains(EN_COPY), "{:?}", en.kind);
            assert!(en.body.contains("7 days"), "{:?}", en.kind);
        }
        let ja = render(&contents()[1], Lang::Ja, SVC, "a@example.test");
        assert!(ja.body.contains("すぐにパスワード変更画面が表示されます"));
        let reg = render(&contents()[3], Lang::Ja, SVC, "a@example.test");
        assert!(reg.body.contains(&format!("{JA_H_NAME}\n黒田 猫太\n")));
        assert!(reg.body.contains(&format!("{JA_H_USER_ID}\nUser1\n")));
    }

    #[test]
    fn a_mail_holds_no_secret_but_its_own() {
        // SPEC: M-2
        for m in all_mails() {
            let own = secret_of(m.kind);
            for k in [
                MailKind::ResetStarted,
                MailKind::TemporaryPassword,
                MailKind::Otp,
                MailKind::UserRegistered,
            ] {
                let Some(s) = secret_of(k) else { continue };
                if Some(s) == own {
                    assert!(m.body.contains(s), "{:?} {:?}", m.kind, m.lang);
                } else {
                    assert!(!m.body.contains(s), "{:?} {:?} holds {k:?}", m.kind, m.lang);
                }
                assert!(!m.subject.contains(s));
            }
        }
    }

    #[test]
    fn extract_secret_reads_back_the_delivered_secret() {
        // SPEC: M-2, M-3
        for m in all_mails() {
            assert_eq!(
                extract_secret(&m).as_deref(),
                secret_of(m.kind),
                "{:?} {:?}",
                m.kind,
                m.lang
            );
        }
        for lang in [Lang::Ja, Lang::En] {
            let m = render(&contents()[4], lang, SVC, "a@example.test");
            assert_eq!(extract_login_id(&m).as_deref(), Some("123456789"));
            let otp = render(&contents()[2], lang, SVC, "a@example.test");
            assert_eq!(extract_login_id(&otp), None);
        }
    }

    #[test]
    fn a_value_equal_to_a_header_does_not_fool_extract_secret() {
        // SPEC: M-2
        let c = MailContent::UserRegistered {
            name: JA_H_TEMP.into(),
            user_id: JA_H_TEMP.into(),
            password: Secret::new(REG),
            valid_days: 3,
        };
        let m = render(&c, Lang::Ja, SVC, "a@example.test");
        assert_eq!(extract_secret(&m).as_deref(), Some(REG));
    }

    #[test]
    fn injected_new_lines_cannot_reach_headers_or_split_lines() {
        // SPEC: M-2 (header injection)
        let evil = "黒田\r\nBcc: x@evil.test";
        let c = MailContent::UserRegistered {
            name: evil.into(),
            user_id: "u\r\nBcc: y".into(),
            password: Secret::new(REG),
            valid_days: 7,
        };
        for lang in [Lang::Ja, Lang::En] {
            let m = render(
                &c,
                lang,
                "Svc\r\nBcc: z\u{2028}",
                "a@example.test\r\nBcc: w",
            );
            for field in [&m.to, &m.subject] {
                assert!(!field.contains('\r') && !field.contains('\n'), "{field:?}");
                assert!(!field.chars().any(char::is_control));
                assert!(!field.contains('\u{2028}'));
            }
            assert!(!m.body.contains('\r'));
            assert!(!m.body.lines().any(|l| l.starts_with("Bcc:")));
            assert!(m.body.contains("黒田Bcc: x@evil.test"));
            assert_eq!(extract_secret(&m).as_deref(), Some(REG));
        }
    }

    #[test]
    fn debug_of_a_mail_hides_the_body() {
        // SPEC: M-2
        for m in all_mails() {
            let dbg = format!("{m:?}");
            assert!(dbg.contains("[redacted]"));
            if let Some(s) = secret_of(m.kind) {
                assert!(!dbg.contains(s), "{:?}", m.kind);
            }
            assert!(!dbg.contains("コピーする際") && !dbg.contains("When copying"));
        }
    }

    #[test]
    fn japanese_words_follow_the_system() {
        // SPEC: M-2
        let content = MailContent::Otp {
            user_id: "u1".into(),
            code: Secret::new("123456"),
            valid_minutes: 10,
        };
        let kuroneko = render(&content, Lang::Ja, "クロネコwebコレクト", "a@b.jp");
        assert!(kuroneko.body.contains("加盟店様"));
        let secom = render_with(
            &content,
            Lang::Ja,
            "セコムパスポート for Web",
            &JaTerms::NEUTRAL,
            "a@b.jp",
        );
        assert!(
            !secom.body.contains("加盟店") && secom.body.contains("お客様"),
            "{}",
            secom.body
        );
        assert_eq!(extract_secret(&secom).as_deref(), Some("123456"));
    }
}
