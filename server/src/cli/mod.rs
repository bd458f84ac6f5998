//! The `monban` binary: `monban serve` runs the HTTP API ([`crate::router`]) on the embedded
//! default — one SQLite file and a mail outbox folder — and the operator commands work on the
//! same files, also while the server runs (SQLite in WAL mode lets several processes share the
//! file):
//!
//! | command | what it does |
//! |---|---|
//! | `tenant create --code C --name N --admin-name A ...` | create a tenant and its admin (T-1..T-3) |
//! | `tenant list [--limit N] [--after CODE]` | the tenants, ordered by code |
//! | `tenant show CODE` | one tenant (whether an access key is set, never the key) |
//! | `tenant update CODE [--name] [--logistics true\|false] [--corporate-number N \| --no-corporate-number] [--access-key K \| --access-key-env VAR \| --access-key-stdin \| --no-access-key] [--lang ja\|en]` | change a tenant (T-1) |
//! | `tenant delete CODE --yes` | delete a tenant with all its users (T-1) |
//! | `user list --tenant C` | a tenant's users |
//! | `user show TENANT USER` | one user |
//! | `user create TENANT USER [--role general\|shipping] [--name] [--email] ...` | create a user as its admin would (LC-2) |
//! | `user delete TENANT USER --yes` | delete a general or shipping user (LC-3) |
//! | `user unlock --tenant C --user U` | unlock a user (L-6, R-4) |
//! | `user reset-password TENANT USER` | a new temporary password, mailed (RS-8) |
//! | `user end-sessions TENANT USER` | end every session of a user (S-4) |
//! | `sweep [--dry-run]` | delete (or only list) dormant users (LC-1) |
//! | `audit [--tenant] [--user] [--kind] [--limit] [--after]` | the audit log, times in RFC 3339 UTC (A-1) |
//! | `mail last`, `mail list` | read the mail outbox |
//!
//! Answers are JSON lines on standard output; messages go to standard error. No command prints
//! an access key; a temporary password is printed only when the user has no e-mail to carry it.
//!
//! Every option has a default that works from the current folder (`./monban.db`, `./outbox`,
//! `./monban.key`, `./monban.support-token`, `127.0.0.1:8080`) and an environment variable
//! (`MONBAN_DB`, `MONBAN_OUTBOX`, `MONBAN_PRESET`, ...), so an operator sets the policy once
//! for the server and the commands alike.

pub mod files;
pub mod limits;
pub mod listen;
pub mod mail;
pub mod operator;
pub mod serve;

use clap::{Args, Parser, Subcommand, ValueEnum};
use monban_core::Policy;
use std::path::PathBuf;
use std::process::ExitCode;

/// What went wrong, in a sentence for the operator (never a secret).
#[derive(Debug)]
pub struct CliError(String);

impl CliError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliError {}

impl From<monban_core::Error> for CliError {
    fn from(e: monban_core::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<monban_core::ports::StoreError> for CliError {
    fn from(e: monban_core::ports::StoreError) -> Self {
        Self(format!("database: {e}"))
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

/// Standard output that goes quiet when its reader leaves (`monban audit | head`) instead of
/// failing the command.
#[derive(Debug)]
pub struct Out {
    closed: bool,
}

impl Default for Out {
    fn default() -> Self {
        Self::new()
    }
}

impl Out {
    /// Standard output.
    pub fn new() -> Self {
        Self { closed: false }
    }

    /// Writes one line.
    pub fn line(&mut self, s: &str) -> Result<(), CliError> {
        use std::io::Write as _;
        if self.closed {
            return Ok(());
        }
        let mut lock = std::io::stdout().lock();
        match writeln!(lock, "{s}").and_then(|()| lock.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(CliError::new(format!(
                "cannot write to standard output: {e}"
            ))),
        }
    }

    /// Writes `v` as one line of JSON.
    pub fn json(&mut self, v: &impl serde::Serialize) -> Result<(), CliError> {
        let s = serde_json::to_string(v)
            .map_err(|e| CliError::new(format!("cannot print JSON: {e}")))?;
        self.line(&s)
    }
}

/// monban (門番): an embeddable authentication library — its local server and operator
/// commands on SQLite with a mail outbox.
#[derive(Debug, Parser)]
#[command(
    name = "monban",
    version,
    propagate_version = true,
    after_help = "Start with `monban serve --preset kuroneko`; `monban <command> --help` tells more."
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (the routes of /openapi.json) on the SQLite file and the outbox.
    ///
    /// On first start it creates the database, a 256-bit session-signing key and a support API
    /// token (files private to their owner), and prints how to create the first tenant.
    /// Ctrl-C or SIGTERM stops it cleanly: requests in flight finish first.
    Serve(serve::ServeArgs),
    /// Create, list, show, change and delete tenants (T-1..T-3).
    #[command(subcommand)]
    Tenant(operator::TenantCommand),
    /// List, show, create, delete and unlock the users of a tenant, reset their passwords and
    /// end their sessions.
    #[command(subcommand)]
    User(operator::UserCommand),
    /// Delete general and shipping users who have not logged in for the dormancy period
    /// (LC-1).
    ///
    /// Prints one JSON line per user deleted (with --dry-run: per user that would be deleted,
    /// and nothing is deleted), and a summary on standard error. Admins are never deleted.
    Sweep(operator::SweepArgs),
    /// Print the audit log as JSON lines, oldest first, with times in RFC 3339 UTC.
    Audit(operator::AuditArgs),
    /// Re-write stored authenticator secrets under the current session key after a key
    /// rotation, or from before they were stored encrypted (K-1, K-2).
    ///
    /// Rotation: move the old key file aside, put the new one in place (or let `monban serve`
    /// create it), run the server and this command with `--previous-key-file OLD`, then drop the
    /// old file. Prints a JSON summary, listing the tenants whose access key is re-written only
    /// at its next use (it cannot be computed without the key itself).
    Rekey(operator::RekeyArgs),
    /// Client addresses blocked by the abuse limits (AB-1, AB-2).
    #[command(subcommand)]
    Limits(limits::LimitsCommand),
    /// Read the mail outbox.
    #[command(subcommand)]
    Mail(mail::MailCommand),
}

/// Where the data lives: the database, and beside it (unless told otherwise) the outbox and
/// the key file.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The SQLite database file.
    #[arg(long, env = "MONBAN_DB", default_value = "monban.db")]
    pub db: PathBuf,
    /// The mail outbox folder: one .eml file per mail [default: `outbox` in the database's
    /// folder].
    #[arg(long, env = "MONBAN_OUTBOX", value_name = "DIR")]
    pub outbox: Option<PathBuf>,
    /// The session-signing key file: 64 hex digits, readable by its owner only [default:
    /// `monban.key` in the database's folder].
    #[arg(long, env = "MONBAN_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// An earlier session-signing key file, after a rotation: authenticator secrets and access
    /// keys it protected stay readable until `monban rekey` (or their next use) re-writes them
    /// under the current key (K-2). Sessions and codes it signed end. Repeatable; comma-separated
    /// in the environment variable.
    #[arg(
        long,
        env = "MONBAN_PREVIOUS_KEY_FILES",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub previous_key_file: Vec<PathBuf>,
}

impl DataArgs {
    /// `name` in the database's folder.
    pub fn beside_db(&self, name: &str) -> PathBuf {
        self.db
            .parent()
            .map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
    }

    /// The outbox folder: `--outbox`, else `outbox` beside the database.
    pub fn outbox(&self) -> PathBuf {
        self.outbox
            .clone()
            .unwrap_or_else(|| self.beside_db("outbox"))
    }

    /// The earlier keys named by `--previous-key-file`, each checked like the current one.
    pub fn previous_keys(&self) -> Result<Vec<monban_core::token::SessionKey>, CliError> {
        self.previous_key_file
            .iter()
            .map(|p| files::session_key(&files::load(p, files::SecretKind::SessionKey)?))
            .collect()
    }

    /// The key file: `--key-file`, else `monban.key` beside the database.
    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.beside_db("monban.key"))
    }
}

/// Which rules apply. `monban serve` records its policy in the database; an operator command
/// given neither `--preset` nor `--policy` applies that one.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// A preset: kuroneko, e_parcel, secom_passport, identity_reset, nist, pci_dss
    /// [default: for `serve`, nist (the NIST SP 800-63B secure default); for the operator
    /// commands, the policy the server recorded in the database].
    #[arg(long, env = "MONBAN_PRESET", value_name = "NAME")]
    pub preset: Option<String>,
    /// A JSON policy file (the form `Policy::to_json` writes), instead of a preset.
    #[arg(
        long,
        env = "MONBAN_POLICY",
        value_name = "FILE",
        conflicts_with = "preset"
    )]
    pub policy: Option<PathBuf>,
}

impl PolicyArgs {
    /// The policy, validated; `true` when it came from a file.
    pub fn load(&self) -> Result<(Policy, bool), CliError> {
        match (&self.policy, &self.preset) {
            (Some(file), _) => {
                let json = std::fs::read_to_string(file).map_err(|e| {
                    CliError::new(format!("cannot read the policy {}: {e}", file.display()))
                })?;
                let p = Policy::from_json(&json)
                    .map_err(|e| CliError::new(format!("policy {}: {e}", file.display())))?;
                Ok((p, true))
            }
            (None, name) => {
                let name = name.as_deref().unwrap_or("nist");
                let p = Policy::preset(name).map_err(|_| {
                    CliError::new(format!(
                        "unknown preset {name:?}: choose one of {}",
                        Policy::PRESETS.join(", ")
                    ))
                })?;
                Ok((p, false))
            }
        }
    }
}

/// A mail language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    /// Japanese.
    Ja,
    /// English.
    En,
}

impl From<LangArg> for monban_core::Lang {
    fn from(l: LangArg) -> Self {
        match l {
            LangArg::Ja => monban_core::Lang::Ja,
            LangArg::En => monban_core::Lang::En,
        }
    }
}

/// Runs the command line and answers the process's exit code: 0 on success, 1 on an error
/// (printed to stderr), 2 on a usage error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("monban: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve(a) => serve::run(a).await,
            Command::Tenant(c) => operator::tenant(c).await,
            Command::User(c) => operator::user(c).await,
            Command::Sweep(a) => operator::sweep(a).await,
            Command::Audit(a) => operator::audit(a).await,
            Command::Rekey(a) => operator::rekey(a).await,
            Command::Mail(c) => mail::run(c).await,
            Command::Limits(c) => limits::run(c).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monban: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn an_access_key_on_the_command_line_is_not_in_debug_output() {
        let cli = Cli::try_parse_from([
            "monban",
            "tenant",
            "update",
            "999999999",
            "--access-key",
            "7654321",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(!shown.contains("7654321"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        let cli = Cli::try_parse_from([
            "monban",
            "tenant",
            "create",
            "--code",
            "999999999",
            "--name",
            "n",
            "--admin-name",
            "a",
            "--access-key",
            "7654321",
        ])
        .unwrap();
        assert!(!format!("{cli:?}").contains("7654321"));
    }

    #[test]
    fn files_default_to_the_database_folder() {
        let cli = Cli::try_parse_from([
            "monban",
            "user",
            "list",
            "--db",
            "/srv/auth/m.db",
            "--tenant",
            "t",
        ]);
        let Ok(Cli {
            command: Command::User(operator::UserCommand::List(a)),
        }) = cli
        else {
            panic!("{cli:?}")
        };
        assert_eq!(a.data.outbox(), PathBuf::from("/srv/auth/outbox"));
        assert_eq!(a.data.key_file(), PathBuf::from("/srv/auth/monban.key"));
        let here = DataArgs {
            db: "monban.db".into(),
            outbox: None,
            key_file: None,
            previous_key_file: Vec::new(),
        };
        assert_eq!(here.outbox(), PathBuf::from("outbox"));
        let given = DataArgs {
            db: "a/m.db".into(),
            outbox: Some("mails".into()),
            key_file: Some("k".into()),
            previous_key_file: Vec::new(),
        };
        assert_eq!(
            (given.outbox(), given.key_file()),
            (PathBuf::from("mails"), PathBuf::from("k"))
        );
    }

    #[test]
    fn the_preset_defaults_to_nist_and_a_policy_file_is_read() {
        let (p, from_file) = PolicyArgs {
            preset: None,
            policy: None,
        }
        .load()
        .unwrap();
        assert_eq!((p.name.as_str(), from_file), ("nist", false));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        std::fs::write(&file, Policy::kuroneko().to_json()).unwrap();
        let (p, from_file) = PolicyArgs {
            preset: None,
            policy: Some(file),
        }
        .load()
        .unwrap();
        assert_eq!((p.name.as_str(), from_file), ("kuroneko", true));
        let e = PolicyArgs {
            preset: Some("nope".into()),
            policy: None,
        }
        .load()
        .unwrap_err();
        assert!(e.to_string().contains("kuroneko"), "{e}");
    }
}
