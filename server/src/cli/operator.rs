//! The operator commands: support operations run directly on the database file, with the
//! support role's permissions, while the server may be running. Their answers are JSON lines
//! (the HTTP API's shapes) on stdout; messages go to stderr.

use super::files::{self, SecretKind};
use super::{CliError, DataArgs, LangArg, Out, PolicyArgs};
use crate::api::support::{AUDIT_KINDS, AuditRecord, SweepReport};
use crate::api::types::{Created, User};
use clap::{Args, Subcommand, ValueEnum};
use monban_core::audit::{AuditFilter, AuditKind};
use monban_core::flow::account::{NewTenant, ProfileInput};
use monban_core::model::{AccountKind, LoginMethod, UserRef};
use monban_core::ports::{SecureRandom, Store};
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret};
use monban_embedded::{OsRandom, OutboxMailer, SqliteStore, SystemClock, TokioOffload};

/// The service the operator commands use.
pub type Service = AuthService<SqliteStore, OutboxMailer>;

/// `monban tenant …`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its admin, whose user ID is the tenant code (T-1..T-3).
    ///
    /// Prints `{"tenant", "user_id"}` as JSON. The admin starts with the reset link
    /// (`POST /reset`), as in the Kuroneko manual, unless --welcome-mail mails a temporary
    /// password now (LC-2).
    Create(TenantCreateArgs),
}

/// The admin's second factor (L-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginMethodArg {
    /// A 6-digit code by mail.
    MailOtp,
    /// An authenticator app.
    Totp,
}

/// `monban tenant create` options.
#[derive(Debug, Clone, Args)]
pub struct TenantCreateArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Tenant code (Kuroneko: 9 half-width digits); also the admin's user ID.
    #[arg(long)]
    pub code: String,
    /// Tenant name.
    #[arg(long)]
    pub name: String,
    /// The admin's name (the given name where the rules ask for two fields).
    #[arg(long)]
    pub admin_name: String,
    /// The admin's family name, where the rules ask for two name fields (e-Parcel).
    #[arg(long)]
    pub admin_family_name: Option<String>,
    /// The admin's e-mail (needed for mail OTP and the reset link).
    #[arg(long)]
    pub admin_email: Option<String>,
    /// The admin's phone.
    #[arg(long)]
    pub admin_phone: Option<String>,
    /// The admin's second factor.
    #[arg(long, value_enum, default_value = "mail-otp")]
    pub admin_login_method: LoginMethodArg,
    /// The access key every login and reset must present (T-2). Visible in the shell history
    /// and the process list: prefer --access-key-env or --access-key-stdin.
    #[arg(long, value_name = "KEY", conflicts_with_all = ["access_key_env", "access_key_stdin"])]
    pub access_key: Option<String>,
    /// Read the access key from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "access_key_stdin")]
    pub access_key_env: Option<String>,
    /// Read the access key from the first line of standard input.
    #[arg(long)]
    pub access_key_stdin: bool,
    /// The tenant ships goods (R-3: shipping users need it).
    #[arg(long)]
    pub logistics: bool,
    /// 13-digit corporate number (E-4).
    #[arg(long, value_name = "N")]
    pub corporate_number: Option<String>,
    /// The tenant's mail language.
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
    /// Mail the admin a temporary password now instead of starting with the reset link.
    #[arg(long)]
    pub welcome_mail: bool,
}

/// `monban user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Print a tenant's users as JSON lines (the HTTP API's user shape), ordered by user ID.
    List(UserListArgs),
    /// Unlock a user, admins included (L-6, R-4).
    Unlock(UserUnlockArgs),
}

/// `monban user list` options.
#[derive(Debug, Clone, Args)]
pub struct UserListArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules (lock and expiry status depend on them).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Tenant code.
    #[arg(long)]
    pub tenant: String,
}

/// `monban user unlock` options.
#[derive(Debug, Clone, Args)]
pub struct UserUnlockArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Tenant code.
    #[arg(long)]
    pub tenant: String,
    /// User ID (the admin's is the tenant code).
    #[arg(long)]
    pub user: String,
}

/// `monban sweep` options.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules (the dormancy period comes from them; none in `nist`).
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `monban audit` options.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Only this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only events about this user ID.
    #[arg(long)]
    pub user: Option<String>,
    /// Only this kind: login_succeeded, login_failed, locked, unlocked, otp_sent,
    /// otp_verified, otp_failed, reset_requested, reset_completed, password_changed,
    /// tenant_created, user_created, user_edited, user_deleted, email_changed, role_changed,
    /// certificate_bound, authenticator_reset, login_id_notified, logged_out.
    #[arg(long)]
    pub kind: Option<String>,
    /// At most this many events [default: all].
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Start after this cursor (an event's position, as the HTTP API's `next`).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
}

/// The setting under which `monban serve` records its policy (JSON) in the database.
pub const POLICY_SETTING: &str = "policy";

/// The service on the files of `data`. The database must exist (`monban serve` creates it);
/// the key file is read when it exists (and refused if others may read it), else a throwaway
/// key is used: no operator command issues a session token or a code.
pub async fn open(data: &DataArgs, policy: &PolicyArgs) -> Result<Service, CliError> {
    let rng = OsRandom::new()?;
    let key_file = data.key_file();
    let key = if key_file.exists() {
        files::session_key(&files::load(&key_file, SecretKind::SessionKey)?)?
    } else {
        let mut bytes = vec![0u8; files::KEY_BYTES];
        rng.fill(&mut bytes);
        SessionKey::new(bytes)?
    };
    if !data.db.is_file() {
        return Err(CliError::new(format!(
            "no database at {}: `monban serve` creates it on first start (or pass --db / set MONBAN_DB)",
            data.db.display()
        )));
    }
    let store = SqliteStore::open(&data.db).map_err(|e| {
        CliError::new(format!(
            "cannot open the database {}: {e}",
            data.db.display()
        ))
    })?;
    // Without --preset / --policy, the rules `monban serve` recorded in the database apply.
    let policy = match (&policy.preset, &policy.policy) {
        (None, None) => match store.setting(POLICY_SETTING).await.map_err(|e| {
            CliError::new(format!(
                "cannot read the database {}: {e}",
                data.db.display()
            ))
        })? {
            Some(json) => Policy::from_json(&json)
                .map_err(|e| CliError::new(format!("the policy recorded in the database: {e}")))?,
            None => {
                return Err(CliError::new(format!(
                    "the database {} records no policy (it was not created by `monban serve`): \
                     say which rules apply with --preset NAME ({}) or --policy FILE",
                    data.db.display(),
                    Policy::PRESETS.join(", ")
                )));
            }
        },
        _ => policy.load()?.0,
    };
    let outbox = data.outbox();
    files::prepare_outbox(&outbox)?;
    let mailer = OutboxMailer::new(&outbox)
        .map_err(|e| CliError::new(format!("cannot use the outbox {}: {e}", outbox.display())))?;
    Ok(
        AuthService::new(policy, key, store, mailer, SystemClock, rng)?
            .with_offload(TokioOffload::new()),
    )
}

fn access_key(a: &TenantCreateArgs) -> Result<Option<Secret>, CliError> {
    if let Some(k) = &a.access_key {
        return Ok(Some(Secret::new(k.clone())));
    }
    if let Some(var) = &a.access_key_env {
        let v = std::env::var(var).map_err(|_| {
            CliError::new(format!(
                "--access-key-env: the environment variable {var} is not set (or not UTF-8)"
            ))
        })?;
        return Ok(Some(Secret::new(v)));
    }
    if a.access_key_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::new(format!("cannot read the access key from stdin: {e}")))?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            return Err(CliError::new(
                "--access-key-stdin: standard input held no access key",
            ));
        }
        return Ok(Some(Secret::new(line)));
    }
    Ok(None)
}

/// `monban tenant …`
pub async fn tenant(cmd: TenantCommand) -> Result<(), CliError> {
    match cmd {
        TenantCommand::Create(a) => {
            let key = access_key(&a)?;
            let service = open(&a.data, &a.policy).await?;
            let input = NewTenant {
                code: a.code.clone(),
                name: a.name.clone(),
                corporate_number: a.corporate_number.clone(),
                logistics: a.logistics,
                access_key: key,
                lang: a.lang.map(Into::into),
                admin: ProfileInput {
                    name: a.admin_name.clone(),
                    family_name: a.admin_family_name.clone(),
                    email: a.admin_email.clone(),
                    phone: a.admin_phone.clone(),
                    kind: AccountKind::default(),
                    lang: None,
                },
                admin_login_method: match a.admin_login_method {
                    LoginMethodArg::MailOtp => LoginMethod::MailOtp,
                    LoginMethodArg::Totp => LoginMethod::Totp,
                },
                welcome_mail: a.welcome_mail,
            };
            let created = service.support_create_tenant(&input).await?;
            Out::new().json(&Created::from(created))?;
            if a.welcome_mail {
                eprintln!(
                    "monban: tenant {} created; its admin's temporary password was mailed (see {})",
                    a.code,
                    a.data.outbox().display()
                );
            } else {
                eprintln!(
                    "monban: tenant {} created; its admin (user ID {}) starts with the reset link: POST /reset",
                    a.code, a.code
                );
            }
            Ok(())
        }
    }
}

/// `monban user …`
pub async fn user(cmd: UserCommand) -> Result<(), CliError> {
    match cmd {
        UserCommand::List(a) => {
            let service = open(&a.data, &a.policy).await?;
            if service.store().tenant(&a.tenant).await?.is_none() {
                return Err(CliError::new(format!("no tenant {:?}", a.tenant)));
            }
            let mut out = Out::new();
            let mut after: Option<String> = None;
            loop {
                let page = service
                    .support_list_users(&a.tenant, after.as_deref(), 200)
                    .await?;
                for u in page.items {
                    out.json(&User::from(u))?;
                }
                match page.next {
                    Some(n) if Some(&n) != after.as_ref() => after = Some(n),
                    _ => break,
                }
            }
            Ok(())
        }
        UserCommand::Unlock(a) => {
            let service = open(&a.data, &a.policy).await?;
            service
                .support_unlock(&UserRef::new(&a.tenant, &a.user))
                .await
                .map_err(|e| match e {
                    monban_core::Error::NotFound => {
                        CliError::new(format!("no user {:?} in tenant {:?}", a.user, a.tenant))
                    }
                    e => e.into(),
                })?;
            Out::new().line(&format!("unlocked {}/{}", a.tenant, a.user))
        }
    }
}

/// `monban sweep`
pub async fn sweep(a: SweepArgs) -> Result<(), CliError> {
    let service = open(&a.data, &a.policy).await?;
    let report = service.sweep_dormant().await?;
    Out::new().json(&SweepReport::from(report))
}

/// `monban audit`
pub async fn audit(a: AuditArgs) -> Result<(), CliError> {
    let kind = match &a.kind {
        None => None,
        Some(k) => Some(
            AuditKind::parse(&k.trim().replace('-', "_")).ok_or_else(|| {
                CliError::new(format!(
                    "unknown audit kind {k:?}: choose one of {}",
                    AUDIT_KINDS.join(", ")
                ))
            })?,
        ),
    };
    let service = open(&a.data, &a.policy).await?;
    let filter = AuditFilter {
        tenant: a.tenant.clone(),
        subject: a.user.clone(),
        kind,
    };
    let mut out = Out::new();
    let mut left = a.limit.unwrap_or(usize::MAX);
    let mut after = a.after.clone();
    while left > 0 {
        let page = service
            .audit_events(&filter, after.as_deref(), left.min(1000))
            .await?;
        for e in page.items.into_iter().take(left) {
            out.json(&AuditRecord::from(e))?;
            left -= 1;
        }
        match page.next {
            Some(n) if Some(&n) != after.as_ref() => after = Some(n),
            _ => break,
        }
    }
    Ok(())
}
