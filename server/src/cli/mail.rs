//! `monban mail …`: reads the outbox back — the newest mail's delivered secret (a code, a
//! temporary password, a reset link or a login ID) for walkthroughs and development, and a
//! listing of what was sent.

use super::{CliError, Out};
use clap::{Args, Subcommand};
use monban_core::mail::{MailKind, extract_login_id, extract_secret};
use monban_embedded::{OutboxMail, OutboxMailer};
use std::path::PathBuf;

/// `monban mail …`
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Print what the newest matching mail delivers: the reset URL, the temporary password,
    /// the one-time code or the login ID.
    ///
    /// For development and walkthroughs on one machine: the outbox holds the secrets its mails
    /// deliver.
    Last(LastArgs),
    /// List the mails in the outbox, oldest first: file, recipient, kind and subject, as JSON
    /// lines (never the body).
    List(ListArgs),
    /// List the mails waiting in the database for the courier, or given up on after its last
    /// attempt, oldest first, as JSON lines: id, kind, tenant, state, queued_at, due_at,
    /// attempts, last_error — never the content or the recipient. `--retry ID` puts one back
    /// in the queue, due now (the audit records it).
    Queue(QueueArgs),
}

/// `monban mail queue` options.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: super::DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: super::PolicyArgs,
    /// Only entries in this state.
    #[arg(long, value_parser = ["pending", "failed"])]
    pub state: Option<String>,
    /// Put this entry back in the queue instead of listing.
    #[arg(long, value_name = "ID")]
    pub retry: Option<String>,
}

/// `monban mail last` options.
#[derive(Debug, Clone, Args)]
pub struct LastArgs {
    /// The mail outbox folder.
    #[arg(long, env = "MONBAN_OUTBOX", default_value = "outbox")]
    pub outbox: PathBuf,
    /// Only mails to this address (compared ignoring case).
    #[arg(long, value_name = "ADDRESS")]
    pub to: Option<String>,
    /// Only this kind: reset_started, temporary_password, otp, user_registered,
    /// login_id_notice, admin_reset_notice.
    #[arg(long, value_parser = parse_kind)]
    pub kind: Option<MailKind>,
    /// Print the subject and the whole body instead of the secret.
    #[arg(long)]
    pub body: bool,
    #[command(flatten)]
    pub courier: CourierWait,
}

/// Waiting for the server's courier before reading (M-4): mails are queued with the state they
/// report and written to the outbox a moment later.
#[derive(Debug, Clone, Args)]
pub struct CourierWait {
    /// The server's database, whose queue is waited on [default: `monban.db` beside the
    /// outbox folder, when it exists].
    #[arg(long, env = "MONBAN_DB", value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Seconds to wait until the courier has tried every mail queued so far (0: do not wait).
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub wait: u64,
}

impl CourierWait {
    /// Waits until the database's courier has tried every queued mail, or fails after
    /// `--wait` seconds naming how many are left.
    fn settle(&self, outbox: &std::path::Path) -> Result<(), CliError> {
        let db = match &self.db {
            Some(db) => db.clone(),
            None => match outbox.parent() {
                Some(dir) => dir.join("monban.db"),
                None => return Ok(()),
            },
        };
        if self.wait == 0 || !db.exists() {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(self.wait);
        loop {
            let left = monban_embedded::undelivered(&db).map_err(|e| {
                CliError::new(format!("cannot read the queue in {}: {e}", db.display()))
            })?;
            if left == 0 {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(CliError::new(format!(
                    "{left} mail(s) still queued in {} after {} s: is `monban serve` running on it? (`monban mail queue` shows them)",
                    db.display(),
                    self.wait
                )));
            }
            // Polls the queue, not a guess at how long delivery takes.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// `monban mail list` options.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The mail outbox folder.
    #[arg(long, env = "MONBAN_OUTBOX", default_value = "outbox")]
    pub outbox: PathBuf,
    /// Only mails to this address (compared ignoring case).
    #[arg(long, value_name = "ADDRESS")]
    pub to: Option<String>,
    /// Only this kind.
    #[arg(long, value_parser = parse_kind)]
    pub kind: Option<MailKind>,
    #[command(flatten)]
    pub courier: CourierWait,
}

const KINDS: [MailKind; 6] = [
    MailKind::ResetStarted,
    MailKind::TemporaryPassword,
    MailKind::Otp,
    MailKind::UserRegistered,
    MailKind::LoginIdNotice,
    MailKind::AdminResetNotice,
];

fn parse_kind(s: &str) -> Result<MailKind, String> {
    let wanted = s.trim().replace('-', "_").to_ascii_lowercase();
    KINDS
        .into_iter()
        .find(|k| k.as_str() == wanted)
        .ok_or_else(|| {
            let names: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
            format!(
                "unknown mail kind {s:?}: choose one of {}",
                names.join(", ")
            )
        })
}

fn matching(
    outbox: &PathBuf,
    to: Option<&str>,
    kind: Option<MailKind>,
) -> Result<Vec<OutboxMail>, CliError> {
    let all = OutboxMailer::read_all(outbox)
        .map_err(|e| CliError::new(format!("cannot read the outbox {}: {e}", outbox.display())))?;
    Ok(all
        .into_iter()
        .filter(|m| to.is_none_or(|t| m.mail.to.trim().eq_ignore_ascii_case(t.trim())))
        .filter(|m| kind.is_none_or(|k| m.mail.kind == k))
        .collect())
}

fn describe(to: Option<&str>, kind: Option<MailKind>) -> String {
    let mut s = String::from("no mail");
    if let Some(k) = kind {
        s.push_str(&format!(" of kind {}", k.as_str()));
    }
    if let Some(t) = to {
        s.push_str(&format!(" to {t}"));
    }
    s
}

/// Runs a `monban mail` command.
pub async fn run(cmd: MailCommand) -> Result<(), CliError> {
    match cmd {
        MailCommand::Queue(a) => queue(a).await,
        MailCommand::Last(a) => {
            a.courier.settle(&a.outbox)?;
            let mails = matching(&a.outbox, a.to.as_deref(), a.kind)?;
            let Some(last) = mails.last() else {
                return Err(CliError::new(format!(
                    "{} in {}",
                    describe(a.to.as_deref(), a.kind),
                    a.outbox.display()
                )));
            };
            let mut out = Out::new();
            if a.body {
                out.line(&format!("Subject: {}\n", last.mail.subject))?;
                return out.line(last.mail.body.trim_end());
            }
            let value = match last.mail.kind {
                MailKind::LoginIdNotice => extract_login_id(&last.mail),
                _ => extract_secret(&last.mail),
            };
            match value {
                Some(v) => out.line(&v),
                None => Err(CliError::new(format!(
                    "{} delivers no secret ({}): use --body to read it",
                    last.file.display(),
                    last.mail.kind.as_str()
                ))),
            }
        }
        MailCommand::List(a) => {
            a.courier.settle(&a.outbox)?;
            let mut out = Out::new();
            for m in matching(&a.outbox, a.to.as_deref(), a.kind)? {
                out.json(&serde_json::json!({
                    "file": m.file.display().to_string(),
                    "to": m.mail.to,
                    "kind": m.mail.kind.as_str(),
                    "lang": m.mail.lang,
                    "subject": m.mail.subject,
                }))?;
            }
            Ok(())
        }
    }
}

async fn queue(a: QueueArgs) -> Result<(), CliError> {
    use crate::api::mail::QueuedMail;
    let service = super::operator::open(&a.data, &a.policy).await?;
    let mut out = Out::new();
    if let Some(id) = &a.retry {
        let view = service
            .retry_delivery(id.trim(), monban_core::audit::Actor::System)
            .await
            .map_err(|e| match e {
                monban_core::Error::NotFound => {
                    CliError::new(format!("no queued mail {id}: delivered, or never queued"))
                }
                e => e.into(),
            })?;
        return out.json(&QueuedMail::from(view));
    }
    let state = a
        .state
        .as_deref()
        .and_then(monban_core::outbox::OutboxState::parse);
    let mut after: Option<String> = None;
    loop {
        let page = service.outbox(state, after.as_deref(), 1000).await?;
        for v in page.items {
            out.json(&QueuedMail::from(v))?;
        }
        match page.next {
            Some(n) if Some(&n) != after.as_ref() => after = Some(n),
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn kinds_parse_with_hyphens_or_underscores() {
        assert_eq!(parse_kind("reset_started"), Ok(MailKind::ResetStarted));
        assert_eq!(
            parse_kind("temporary-password"),
            Ok(MailKind::TemporaryPassword)
        );
        assert_eq!(parse_kind("OTP"), Ok(MailKind::Otp));
        assert!(parse_kind("spam").unwrap_err().contains("user_registered"));
    }
}
