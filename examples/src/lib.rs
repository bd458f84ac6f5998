//! # monban-examples
//!
//! Runnable walkthroughs of the four seed systems whose manuals define monban (their rules are
//! described in the rules guide, `docs/` in the repository), each on monban-core's in-memory
//! ports:
//!
//! | example | manual | run |
//! |---|---|---|
//! | `kuroneko` | seed 004, Kuroneko web collect mail OTP manual (Japanese) | `cargo run -p monban-examples --example kuroneko` |
//! | `e_parcel` | seeds 000/001, e-Parcel password and user-info Q&A | `cargo run -p monban-examples --example e_parcel` |
//! | `secom_passport` | seed 003, SECOM Passport for Web login-certificate manual (Japanese) | `cargo run -p monban-examples --example secom_passport` |
//! | `identity_reset` | seed 002, login-ID account service password reset | `cargo run -p monban-examples --example identity_reset` |
//!
//! Every example prints numbered steps and every mail the service sends (mails are demo data:
//! printing them, temporary passwords and codes included, is the point), and checks each
//! outcome the manual promises. When one does not happen, `main` returns a [`Failure`] and the
//! process exits with status 1, so running an example is also a test.
//!
//! This library holds what the examples share:
//!
//! - [`Walkthrough`]: numbered steps, narration, the mails sent since the last look (To,
//!   Subject, indented body), errors as `code: message` in the walkthrough's language, and the
//!   "read the mail" helpers that play the person at the mailbox;
//! - [`Failure`] / [`Outcome`] / [`ensure`]: the error `main` returns when the flow misbehaves;
//! - [`finish_login`]: the second half of a login (the mailed one-time password);
//! - [`Service`] and [`DEMO_SESSION_KEY`].
//!
//! **Demo only.** The store forgets everything on exit, [`SeededRandom`] is predictable by
//! design, and [`DEMO_SESSION_KEY`] is a fixed, public key. A real deployment uses a durable
//! store, an OS random source and a secret key of 32 or more random bytes.
//!
//! [`SeededRandom`]: monban_core::memory::SeededRandom

use monban_core::flow::login::{ChangeReason, LoginStep, Session};
use monban_core::mail::{Mail, MailKind, extract_secret};
use monban_core::memory::{CapturingMailer, MemoryStore};
use monban_core::model::LoginMethod;
use monban_core::service::UserView;
use monban_core::time::{DAY, Timestamp};
use monban_core::{AuthService, Error, Lang, Policy, Secret};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// The service every example builds: the in-memory store and the capturing mailer.
pub type Service = AuthService<Arc<MemoryStore>, Arc<CapturingMailer>>;

/// The session signing key of the examples. **Demo only**: fixed and published here, so anyone
/// can forge sessions signed with it. Load 32+ random bytes from a secret store in real use.
pub const DEMO_SESSION_KEY: [u8; 32] = *b"monban-examples-demo-key-32bytes";

/// An expected outcome that did not happen (or an unexpected error). `main` returns it, and
/// the process exits with status 1.
pub struct Failure(String);

impl Failure {
    /// A failure with a description of what was expected.
    pub fn new(what: impl Into<String>) -> Self {
        Self(what.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected outcome did not happen: {}", self.0)
    }
}

// `main` prints the Debug form of the error it returns: make it the readable one.
impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self(format!(
            "unexpected error {}: {}",
            e.code(),
            e.message(Lang::En)
        ))
    }
}

/// What the examples' steps return.
pub type Outcome<T = ()> = Result<T, Failure>;

/// `Ok(())` when `cond` holds, else a [`Failure`] saying what was expected.
pub fn ensure(cond: bool, expected: impl Into<String>) -> Outcome {
    if cond {
        Ok(())
    } else {
        Err(Failure::new(expected))
    }
}

/// A UTC calendar date (`YYYY-MM-DD`) of a timestamp, for narration.
pub fn date(t: Timestamp) -> String {
    // Howard Hinnant's civil_from_days.
    let z = t.secs().div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Prints a walkthrough: numbered steps, narration, mails and errors.
pub struct Walkthrough {
    mailer: Arc<CapturingMailer>,
    courier: Option<Arc<Service>>,
    lang: Lang,
    steps: usize,
    /// Mails already printed.
    printed: usize,
    /// Printed mails nobody has opened yet (oldest first).
    unread: Vec<Mail>,
    started: Instant,
}

impl Walkthrough {
    /// Starts a walkthrough titled `title`, reading the mails of `mailer`; errors are shown in
    /// `lang`.
    pub fn new(title: &str, mailer: &Arc<CapturingMailer>, lang: Lang) -> Self {
        let rule = "=".repeat(78);
        println!("{rule}\n{title}\n{rule}");
        Self {
            mailer: Arc::clone(mailer),
            courier: None,
            lang,
            steps: 0,
            printed: 0,
            unread: Vec::new(),
            started: Instant::now(),
        }
    }

    /// The language errors are shown in.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Prints the hashing parameters in use.
    pub fn hashing(&self, policy: &Policy) {
        let h = policy.password.hash;
        self.say(format!(
            "policy {:?}: argon2id m={} KiB, t={}, p={}{}",
            policy.name,
            h.m_cost,
            h.t_cost,
            h.p_cost,
            if policy.password.allow_weak_hash {
                " (fast test parameters: demo only)"
            } else {
                " (the preset's real parameters)"
            }
        ));
    }

    /// Starts the next numbered step. Mails still unprinted from the previous step are printed
    /// first, under that step.
    pub fn step(&mut self, title: &str) {
        self.mails();
        self.steps += 1;
        let head = format!("[{}] {title}", self.steps);
        // Full-width characters take two columns.
        let width: usize = head.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
        println!("\n{head}\n{}", "-".repeat(width.min(78)));
    }

    /// A line of narration.
    pub fn say(&self, text: impl fmt::Display) {
        println!("  {text}");
    }

    /// A line saying an expected outcome happened.
    pub fn ok(&self, text: impl fmt::Display) {
        println!("  ✓ {text}");
    }

    /// Prints an error as `code: message` in the walkthrough's language.
    pub fn error(&self, e: &Error) {
        println!("  ✗ {}: {}", e.code(), e.message(self.lang));
    }

    /// Runs `svc`'s courier (M-4) before each look at the mails, as the courier task of a
    /// server would have by then.
    pub fn courier(&mut self, svc: Arc<Service>) {
        self.courier = Some(svc);
    }

    /// Prints every mail sent since the last look (To, Subject, the body indented) and keeps
    /// them as unread; returns them.
    pub fn mails(&mut self) -> Vec<Mail> {
        if let Some(svc) = &self.courier {
            // The in-memory ports never wait: this completes at once on this thread.
            if let Err(e) = futures_executor::block_on(svc.deliver_pending()) {
                self.error(&e);
            }
        }
        let all = self.mailer.mails();
        let new: Vec<Mail> = all.into_iter().skip(self.printed).collect();
        for m in &new {
            println!("  ✉ To: {}", m.to);
            println!("    Subject: {}", m.subject);
            for line in m.body.lines() {
                if line.is_empty() {
                    println!("    │");
                } else {
                    println!("    │ {line}");
                }
            }
        }
        self.printed += new.len();
        self.unread.extend(new.iter().cloned());
        new
    }

    /// Fails when any mail was sent since the last look.
    pub fn expect_no_mail(&mut self) -> Outcome {
        let new = self.mails();
        ensure(
            new.is_empty(),
            format!("no mail, but {} mail(s) were sent", new.len()),
        )?;
        self.ok(match self.lang {
            Lang::Ja => "メールは送信されていない",
            Lang::En => "no mail was sent",
        });
        Ok(())
    }

    /// Opens the newest unread mail of `kind` to `to` (printing new mails first). Fails when
    /// there is none: each mail is opened once, so an old code is never taken for a new one.
    pub fn receive(&mut self, to: &str, kind: MailKind) -> Outcome<Mail> {
        self.mails();
        let pos = self
            .unread
            .iter()
            .rposition(|m| m.kind == kind && m.to.eq_ignore_ascii_case(to))
            .ok_or_else(|| Failure::new(format!("a new {} mail to {to}", kind.as_str())))?;
        let mail = self.unread.remove(pos);
        self.ok(match self.lang {
            Lang::Ja => format!("{to} が「{}」を開く", mail.subject),
            Lang::En => format!("{to} opens \"{}\"", mail.subject),
        });
        Ok(mail)
    }

    /// Opens the newest unread mail of `kind` to `to` and reads its secret (code, temporary
    /// password or URL).
    pub fn receive_secret(&mut self, to: &str, kind: MailKind) -> Outcome<Secret> {
        let mail = self.receive(to, kind)?;
        secret_in(&mail)
    }

    /// Expects `r` to fail with the error `code`; prints it and returns it.
    pub fn expect_error<T>(&self, r: Result<T, Error>, code: &str) -> Outcome<Error> {
        match r {
            Err(e) if e.code() == code => {
                self.error(&e);
                Ok(e)
            }
            Err(e) => Err(Failure::new(format!(
                "error {code}, got {}: {}",
                e.code(),
                e.message(Lang::En)
            ))),
            Ok(_) => Err(Failure::new(format!("error {code}, but it succeeded"))),
        }
    }

    /// Prints a session: whose, which role, full or change-password-only.
    pub fn session(&self, s: &Session) {
        let c = &s.claims;
        let scope = match (s.must_change_password, self.lang) {
            (None, Lang::Ja) => "通常のセッション".to_owned(),
            (None, Lang::En) => "full session".to_owned(),
            (Some(ChangeReason::Temporary), Lang::Ja) => {
                "パスワード変更専用のセッション（仮パスワード）".to_owned()
            }
            (Some(ChangeReason::Temporary), Lang::En) => {
                "change-password-only session (temporary password)".to_owned()
            }
            (Some(ChangeReason::Expired), Lang::Ja) => {
                "パスワード変更専用のセッション（有効期限切れ）".to_owned()
            }
            (Some(ChangeReason::Expired), Lang::En) => {
                "change-password-only session (password expired)".to_owned()
            }
        };
        self.ok(format!(
            "{}/{} ({}): {scope}",
            c.tenant,
            c.user_id,
            c.role.as_str()
        ));
    }

    /// Prints users as a table.
    pub fn users(&self, users: &[UserView]) {
        for u in users {
            let method = match u.login_method {
                LoginMethod::MailOtp => "mail-otp",
                LoginMethod::Totp => "totp",
            };
            self.say(format!(
                "  {:<12} {:<9} {:<9} {} <{}>{}{}{}",
                u.user_id,
                u.role.as_str(),
                method,
                u.name,
                u.email.as_deref().unwrap_or("-"),
                if u.same_as_admin {
                    " [same as admin]"
                } else {
                    ""
                },
                if u.locked { " [locked]" } else { "" },
                if u.failures > 0 {
                    format!(" failures={}", u.failures)
                } else {
                    String::new()
                },
            ));
        }
    }

    /// Prints the mails left, the number of steps and the run time.
    pub fn finish(mut self) {
        self.mails();
        println!(
            "\n{} steps, every expected outcome happened ({:.1} s).",
            self.steps,
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// The secret a mail delivers (code, temporary password or URL).
pub fn secret_in(mail: &Mail) -> Outcome<Secret> {
    extract_secret(mail)
        .map(Secret::new)
        .ok_or_else(|| Failure::new(format!("a secret in the {} mail", mail.kind.as_str())))
}

/// Finishes a login: a session as it is, or the second factor read from the newest OTP mail
/// to `inbox`.
pub async fn finish_login(
    svc: &Service,
    w: &mut Walkthrough,
    step: LoginStep,
    inbox: &str,
) -> Outcome<Session> {
    match step {
        LoginStep::Session(s) => Ok(s),
        LoginStep::SecondFactor(ch) => {
            ensure(
                ch.method == LoginMethod::MailOtp,
                "a mail one-time password challenge",
            )?;
            let code = w.receive_secret(inbox, MailKind::Otp)?;
            w.say(match w.lang() {
                Lang::Ja => format!("ワンタイムパスワード {} を入力して「進む」", code.expose()),
                Lang::En => format!("enters the one-time password {}", code.expose()),
            });
            Ok(svc.verify_second_factor(ch.token.expose(), &code).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(Timestamp(0)), "1970-01-01");
        assert_eq!(date(Timestamp(1_743_433_200)), "2025-03-31");
        assert_eq!(date(Timestamp(1_743_465_600)), "2025-04-01");
        assert_eq!(date(Timestamp(951_782_400)), "2000-02-29");
    }
}
