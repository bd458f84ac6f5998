//! The operator commands: support operations run directly on the database file, with the
//! support role's permissions, while the server may be running. Their answers are JSON lines
//! (the HTTP API's shapes) on stdout; messages go to stderr.

use super::files::{self, SecretKind};
use super::{CliError, DataArgs, LangArg, Out, PolicyArgs};
use crate::api::support::{AUDIT_KINDS, AuditRecord, Tenant};
use crate::api::types::{Created, PasswordReset, User};
use clap::{Args, Subcommand, ValueEnum};
use monban_core::audit::{AuditFilter, AuditKind};
use monban_core::flow::account::{NewTenant, NewUser, ProfileInput, TenantEdit};
use monban_core::model::{AccountKind, LoginMethod, UserRef};
use monban_core::ports::{SecureRandom, Store};
use monban_core::role::Role;
use monban_core::token::SessionKey;
use monban_core::{AuthService, Policy, Secret};
use monban_embedded::{OsRandom, OutboxMailer, SqliteStore, SystemClock, TokioOffload};
use serde_json::json;

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
    /// List the tenants as JSON lines, ordered by code (T-1).
    ///
    /// Each line shows the code, name, contract number, corporate number, logistics flag,
    /// language and whether an access key is set — never the key.
    List(TenantListArgs),
    /// Show one tenant as JSON (T-1).
    Show(TenantShowArgs),
    /// Change a tenant's name, logistics flag, corporate number, access key or language (T-1).
    ///
    /// Only the options given change; each value is checked as at creation (the corporate
    /// number's check digit, the access key's digits). Prints the tenant after the change.
    Update(TenantUpdateArgs),
    /// Delete a tenant with all its users (T-1); their e-mail addresses and certificates
    /// become free.
    ///
    /// Needs --yes. If it is interrupted, run it again: it carries on where it stopped.
    Delete(TenantDeleteArgs),
}

/// `monban tenant list` options.
#[derive(Debug, Clone, Args)]
pub struct TenantListArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// At most this many tenants [default: all].
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Start after this tenant code.
    #[arg(long, value_name = "CODE")]
    pub after: Option<String>,
}

/// `monban tenant show` options.
#[derive(Debug, Clone, Args)]
pub struct TenantShowArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Tenant code.
    pub code: String,
}

/// Where a new access key comes from (T-2): the command line, a variable or standard input.
/// `Debug` never shows a key given on the command line.
#[derive(Clone, Args)]
pub struct AccessKeyArgs {
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
}

impl std::fmt::Debug for AccessKeyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyArgs")
            .field(
                "access_key",
                &self.access_key.as_ref().map(|_| "[redacted]"),
            )
            .field("access_key_env", &self.access_key_env)
            .field("access_key_stdin", &self.access_key_stdin)
            .finish()
    }
}

/// `monban tenant update` options.
#[derive(Debug, Clone, Args)]
pub struct TenantUpdateArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules (the access key's digits come from them).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Tenant code (it never changes).
    pub code: String,
    /// New tenant name.
    #[arg(long)]
    pub name: Option<String>,
    /// Whether the tenant ships goods; it cannot be turned off while the tenant has
    /// shipping users.
    #[arg(long, value_name = "true|false")]
    pub logistics: Option<bool>,
    /// New 13-digit corporate number, with its check digit (E-4).
    #[arg(long, value_name = "N", conflicts_with = "no_corporate_number")]
    pub corporate_number: Option<String>,
    /// Remove the corporate number.
    #[arg(long)]
    pub no_corporate_number: bool,
    /// A new access key.
    #[command(flatten)]
    pub key: AccessKeyArgs,
    /// Remove the access key: logins and resets then need none (T-2).
    #[arg(long, conflicts_with_all = ["access_key", "access_key_env", "access_key_stdin"])]
    pub no_access_key: bool,
    /// The tenant's mail language.
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
}

/// `monban tenant delete` options.
#[derive(Debug, Clone, Args)]
pub struct TenantDeleteArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Tenant code.
    pub code: String,
    /// Yes, delete the tenant and every one of its users.
    #[arg(long)]
    pub yes: bool,
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
    /// The tenant's access key.
    #[command(flatten)]
    pub key: AccessKeyArgs,
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
    /// Show one user as JSON (the HTTP API's user shape).
    Show(UserRefArgs),
    /// Create a general or shipping user in a tenant, under the rules an admin creating one
    /// follows (LC-2, T-4, R-3, E-1).
    ///
    /// The temporary password is mailed to the user (see the outbox). Only when the user has
    /// no e-mail to carry it is it printed, once, in the JSON answer.
    Create(UserCreateArgs),
    /// Delete a general or shipping user; its user ID, e-mail and certificates become free
    /// (LC-3). Needs --yes. A tenant's admin goes only with its tenant (`tenant delete`).
    Delete(UserDeleteArgs),
    /// Give a user a new temporary password, to be changed at the next login, and clear its
    /// lock (RS-8).
    ///
    /// The password is mailed to the user; only when the user has no e-mail is it printed,
    /// once, in the JSON answer.
    ResetPassword(UserRefArgs),
    /// End every session of a user, and any login waiting for its second factor (S-4); the
    /// user must sign in again.
    EndSessions(UserRefArgs),
}

/// A user, by tenant code and user ID.
#[derive(Debug, Clone, Args)]
pub struct UserRefArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Tenant code.
    pub tenant: String,
    /// User ID (the admin's is the tenant code).
    pub user: String,
}

/// `monban user delete` options.
#[derive(Debug, Clone, Args)]
pub struct UserDeleteArgs {
    /// The user.
    #[command(flatten)]
    pub user: UserRefArgs,
    /// Yes, delete this user.
    #[arg(long)]
    pub yes: bool,
}

/// A role a created user may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Every business menu.
    General,
    /// The shipping menus; the tenant must ship goods.
    Shipping,
}

/// Individual or organization (T-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// A person.
    Individual,
    /// A company: name, phone and e-mail are the person in charge's.
    Organization,
}

/// `monban user create` options.
#[derive(Debug, Clone, Args)]
pub struct UserCreateArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules (user ID, name and e-mail rules come from them).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Tenant code.
    pub tenant: String,
    /// The new user's ID (Kuroneko: 1–20 half-width letters and digits); it never changes.
    pub user: String,
    /// Role.
    #[arg(long, value_enum, default_value = "general")]
    pub role: RoleArg,
    /// Name (the given name where the rules ask for two name fields).
    #[arg(long)]
    pub name: Option<String>,
    /// Family name, where the rules ask for two name fields (e-Parcel).
    #[arg(long)]
    pub family_name: Option<String>,
    /// E-mail (needed for mail OTP; the temporary password is mailed to it).
    #[arg(long)]
    pub email: Option<String>,
    /// Phone.
    #[arg(long)]
    pub phone: Option<String>,
    /// Individual or organization.
    #[arg(long, value_enum, default_value = "individual")]
    pub kind: KindArg,
    /// The second factor.
    #[arg(long, value_enum, default_value = "mail-otp")]
    pub login_method: LoginMethodArg,
    /// The admin's own person: takes the admin's name and e-mail (P-4, E-2).
    #[arg(long)]
    pub same_as_admin: bool,
    /// The user's mail language [default: the tenant's].
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
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
    /// Only list who would be deleted now; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
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
    /// certificate_bound, authenticator_reset, login_id_notified, logged_out, tenant_edited,
    /// tenant_deleted.
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
            .with_offload(TokioOffload::new())
            .with_previous_keys(data.previous_keys()?),
    )
}

/// `monban rekey` options.
#[derive(Debug, Clone, Args)]
pub struct RekeyArgs {
    /// Database, outbox, key file and earlier key files.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// `monban rekey`
pub async fn rekey(a: RekeyArgs) -> Result<(), CliError> {
    if !a.data.key_file().is_file() {
        return Err(CliError::new(format!(
            "no key file at {}: rekey re-writes under the current key, which must exist",
            a.data.key_file().display()
        )));
    }
    let service = open(&a.data, &a.policy).await?;
    let report = service.rekey().await?;
    Out::new().json(&report)
}

fn access_key(a: &AccessKeyArgs) -> Result<Option<Secret>, CliError> {
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
            let key = access_key(&a.key)?;
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
        TenantCommand::List(a) => {
            let service = open(&a.data, &a.policy).await?;
            let mut out = Out::new();
            let mut left = a.limit.unwrap_or(usize::MAX);
            let mut after = a.after.clone();
            while left > 0 {
                let page = service
                    .support_list_tenants(after.as_deref(), left.min(500))
                    .await?;
                for t in page.items.into_iter().take(left) {
                    out.json(&Tenant::from(t))?;
                    left -= 1;
                }
                match page.next {
                    Some(n) if Some(&n) != after.as_ref() => after = Some(n),
                    _ => break,
                }
            }
            Ok(())
        }
        TenantCommand::Show(a) => {
            let service = open(&a.data, &a.policy).await?;
            let t = service
                .support_tenant(&a.code)
                .await
                .map_err(|e| no_tenant(e, &a.code))?;
            Out::new().json(&Tenant::from(t))
        }
        TenantCommand::Update(a) => {
            let key = if a.no_access_key {
                Some(Secret::new(""))
            } else {
                access_key(&a.key)?
            };
            let edit = TenantEdit {
                name: a.name.clone(),
                logistics: a.logistics,
                corporate_number: if a.no_corporate_number {
                    Some(String::new())
                } else {
                    a.corporate_number.clone()
                },
                access_key: key,
                lang: a.lang.map(Into::into),
            };
            if edit.name.is_none()
                && edit.logistics.is_none()
                && edit.corporate_number.is_none()
                && edit.access_key.is_none()
                && edit.lang.is_none()
            {
                return Err(CliError::new(
                    "nothing to change: give --name, --logistics, --corporate-number, \
                     --no-corporate-number, --access-key(-env/-stdin), --no-access-key or --lang",
                ));
            }
            let service = open(&a.data, &a.policy).await?;
            let t = service
                .support_update_tenant(&a.code, &edit)
                .await
                .map_err(|e| no_tenant(e, &a.code))?;
            Out::new().json(&Tenant::from(t))
        }
        TenantCommand::Delete(a) => {
            let service = open(&a.data, &a.policy).await?;
            if !a.yes {
                let t = service
                    .support_tenant(&a.code)
                    .await
                    .map_err(|e| no_tenant(e, &a.code))?;
                return Err(CliError::new(format!(
                    "this deletes tenant {} ({}) and every one of its users; run again with --yes",
                    t.code, t.name
                )));
            }
            service
                .support_delete_tenant(&a.code)
                .await
                .map_err(|e| no_tenant(e, &a.code))?;
            Out::new().json(&json!({"tenant": a.code, "deleted": true}))?;
            eprintln!(
                "monban: tenant {} and its users deleted; their e-mail addresses and certificates are free",
                a.code
            );
            Ok(())
        }
    }
}

/// `NotFound` as the operator reads it.
fn no_tenant(e: monban_core::Error, code: &str) -> CliError {
    match e {
        monban_core::Error::NotFound => CliError::new(format!("no tenant {code:?}")),
        e => e.into(),
    }
}

/// `NotFound` as the operator reads it.
fn no_user(e: monban_core::Error, tenant: &str, user: &str) -> CliError {
    match e {
        monban_core::Error::NotFound => {
            CliError::new(format!("no user {user:?} in tenant {tenant:?}"))
        }
        e => e.into(),
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
                .map_err(|e| no_user(e, &a.tenant, &a.user))?;
            Out::new().line(&format!("unlocked {}/{}", a.tenant, a.user))
        }
        UserCommand::Show(a) => {
            let service = open(&a.data, &a.policy).await?;
            let u = service
                .support_user(&UserRef::new(&a.tenant, &a.user))
                .await
                .map_err(|e| no_user(e, &a.tenant, &a.user))?;
            Out::new().json(&User::from(u))
        }
        UserCommand::Create(a) => {
            let service = open(&a.data, &a.policy).await?;
            let input = NewUser {
                user_id: a.user.clone(),
                role: match a.role {
                    RoleArg::General => Role::General,
                    RoleArg::Shipping => Role::Shipping,
                },
                login_method: match a.login_method {
                    LoginMethodArg::MailOtp => LoginMethod::MailOtp,
                    LoginMethodArg::Totp => LoginMethod::Totp,
                },
                same_as_admin: a.same_as_admin,
                profile: ProfileInput {
                    name: a.name.clone().unwrap_or_default(),
                    family_name: a.family_name.clone(),
                    email: a.email.clone(),
                    phone: a.phone.clone(),
                    kind: match a.kind {
                        KindArg::Individual => AccountKind::Individual,
                        KindArg::Organization => AccountKind::Organization,
                    },
                    lang: a.lang.map(Into::into),
                },
            };
            let created = service
                .support_create_user(&a.tenant, &input)
                .await
                .map_err(|e| no_tenant(e, &a.tenant))?;
            let mailed = created.temporary_password.is_none();
            Out::new().json(&Created::from(created))?;
            if mailed {
                eprintln!(
                    "monban: user {}/{} created; its temporary password was mailed (see {})",
                    a.tenant,
                    a.user,
                    a.data.outbox().display()
                );
            } else {
                eprintln!(
                    "monban: user {}/{} created without an e-mail: hand it the temporary password above; it is not stored anywhere",
                    a.tenant, a.user
                );
            }
            Ok(())
        }
        UserCommand::Delete(a) => {
            let r = &a.user;
            let service = open(&r.data, &r.policy).await?;
            let target = UserRef::new(&r.tenant, &r.user);
            if !a.yes {
                service
                    .support_user(&target)
                    .await
                    .map_err(|e| no_user(e, &r.tenant, &r.user))?;
                return Err(CliError::new(format!(
                    "this deletes user {:?} of tenant {:?}; run again with --yes",
                    r.user, r.tenant
                )));
            }
            service
                .support_delete_user(&target)
                .await
                .map_err(|e| match e {
                    monban_core::Error::Forbidden if r.user == r.tenant => CliError::new(format!(
                        "user {:?} is the admin of tenant {:?}: it goes only with its tenant (`monban tenant delete`)",
                        r.user, r.tenant
                    )),
                    e => no_user(e, &r.tenant, &r.user),
                })?;
            Out::new().json(&json!({"tenant": r.tenant, "user_id": r.user, "deleted": true}))
        }
        UserCommand::ResetPassword(a) => {
            let service = open(&a.data, &a.policy).await?;
            let temp = service
                .support_reset_password(&UserRef::new(&a.tenant, &a.user))
                .await
                .map_err(|e| no_user(e, &a.tenant, &a.user))?;
            let mailed = temp.is_none();
            Out::new().json(&PasswordReset::from(temp))?;
            if mailed {
                eprintln!(
                    "monban: the temporary password of {}/{} was mailed (see {})",
                    a.tenant,
                    a.user,
                    a.data.outbox().display()
                );
            }
            Ok(())
        }
        UserCommand::EndSessions(a) => {
            let service = open(&a.data, &a.policy).await?;
            service
                .support_end_sessions(&UserRef::new(&a.tenant, &a.user))
                .await
                .map_err(|e| no_user(e, &a.tenant, &a.user))?;
            Out::new().json(&json!({"tenant": a.tenant, "user_id": a.user, "sessions_ended": true}))
        }
    }
}

/// `monban sweep`
pub async fn sweep(a: SweepArgs) -> Result<(), CliError> {
    use std::io::IsTerminal as _;
    let service = open(&a.data, &a.policy).await?;
    let mut out = Out::new();
    let mut failed: Option<CliError> = None;
    let tty = std::io::stderr().is_terminal();
    let action = if a.dry_run { "would_delete" } else { "deleted" };
    let mut count = 0usize;
    let report = service
        .sweep_dormant_with(a.dry_run, &mut |scanned, user| {
            if let Some(r) = user {
                count += 1;
                if failed.is_none()
                    && let Err(e) = out
                        .json(&json!({"tenant": r.tenant, "user_id": r.user_id, "action": action}))
                {
                    failed = Some(e);
                }
            }
            if tty && scanned % 100 == 0 {
                eprint!(
                    "\rmonban: {scanned} users scanned, {count} {}",
                    action.replace('_', " ")
                );
            }
        })
        .await;
    if tty {
        eprint!("\r\x1b[K");
    }
    let report = report?;
    if let Some(e) = failed {
        return Err(e);
    }
    eprintln!(
        "monban: {} users scanned; {} {}{}",
        report.scanned,
        report.deleted.len(),
        if a.dry_run {
            "would be deleted"
        } else {
            "deleted"
        },
        if a.dry_run {
            " (dry run: nothing was deleted)"
        } else {
            ""
        }
    );
    Ok(())
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
