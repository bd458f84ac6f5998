//! `monban serve`: the router on `SqliteStore` + `OutboxMailer`, argon2 on tokio's blocking
//! pool, logs through `tracing-subscriber`, and a clean stop on Ctrl-C / SIGTERM.

use super::files::{self, SecretKind};
use super::{CliError, DataArgs, Out, PolicyArgs};
use crate::{AppState, router};
use axum::middleware;
use clap::Args;
use monban_core::policy::NameRule;
use monban_core::ports::Store;
use monban_core::{AuthService, Policy};
use monban_embedded::{OsRandom, OutboxMailer, SqliteStore, SystemClock, TokioOffload};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// `monban serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Database, outbox and key file.
    #[command(flatten)]
    pub data: DataArgs,
    /// The rules.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Address to listen on (plain HTTP: put a TLS terminator in front for anything but local use).
    #[arg(long, env = "MONBAN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The support API token file (`Authorization: Bearer <token>` on /support/*), readable by
    /// its owner only [default: `monban.support-token` in the database's folder].
    #[arg(long, env = "MONBAN_SUPPORT_TOKEN_FILE", value_name = "FILE")]
    pub support_token_file: Option<PathBuf>,
    /// The URL users reach this server at; reset links are `<public-url>/reset/<token>`
    /// [default: http://<the listening address>; with --policy, the file's reset_base_url].
    #[arg(long, env = "MONBAN_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Believe the `X-Client-Cert-Sha256` header (L-8): only behind a TLS terminator that
    /// verifies client certificates, sets that header and strips it from clients.
    #[arg(long)]
    pub trust_cert_header: bool,
    /// A folder overriding the pages' look and words (UI-3): `templates/*.html`, `style.css`,
    /// `texts.ja.json` / `texts.en.json`. Read once at start; a file that does not parse stops
    /// the start.
    #[arg(long, env = "MONBAN_THEME", value_name = "DIR")]
    pub theme: Option<PathBuf>,
    /// A browser app's origin allowed to call the JSON API (CORS), e.g.
    /// `https://app.example.com` (repeatable; in the environment comma-separated). Without it
    /// browsers keep other origins out of the API.
    #[arg(
        long = "cors-origin",
        env = "MONBAN_CORS_ORIGIN",
        value_name = "URL",
        value_delimiter = ',',
        value_parser = crate::state::parse_cors_origin
    )]
    pub cors_origin: Vec<axum::http::HeaderValue>,
    /// Development only: the pages' cookies without `Secure` and without the `__Host-` prefix,
    /// for plain HTTP on a host other than `localhost` (browsers accept `Secure` cookies over
    /// plain HTTP on `localhost` already). Never behind a public address.
    #[arg(long)]
    pub dev_http_cookies: bool,
    /// A proxy in front of this server, by address or CIDR range (repeatable; in the
    /// environment comma-separated). A request whose peer is one of them counts as coming from
    /// the right-most `X-Forwarded-For` address that is not a trusted proxy (AB-3). Without it
    /// the socket's peer is the client and `X-Forwarded-For` is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "MONBAN_TRUSTED_PROXY",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<crate::extract::Cidr>,
    /// Seconds to wait for requests in flight after Ctrl-C / SIGTERM before stopping anyway.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub shutdown_grace: u64,
    /// Seconds a client has to send a request's headers, counted from the connection's start or
    /// the end of the previous response: also how long an idle connection is kept open (AB-5).
    #[arg(long, env = "MONBAN_HEADER_TIMEOUT", default_value_t = 10, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a client has to send a request's body once its headers arrived; a slower body is
    /// answered 408 `request_timeout` (AB-5).
    #[arg(long, env = "MONBAN_BODY_TIMEOUT", default_value_t = 10, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// At most this many connections are open at once; more clients wait until one closes (AB-5).
    #[arg(long, env = "MONBAN_MAX_CONNECTIONS", default_value_t = 1024, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
}

/// Logs to stderr: `RUST_LOG` (e.g. `monban=debug,info`) or `info`. Never a secret: requests
/// are logged by route template, not by path (a reset link's path holds its token).
fn init_logs() {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second initialization (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Resolves when Ctrl-C or SIGTERM arrives.
async fn stop_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: stopping; requests in flight finish first"),
        () = term => tracing::info!("SIGTERM: stopping; requests in flight finish first"),
    }
}

fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl ServeArgs {
    /// The support token file: `--support-token-file`, else beside the database.
    pub fn support_token_file(&self) -> PathBuf {
        self.support_token_file
            .clone()
            .unwrap_or_else(|| self.data.beside_db("monban.support-token"))
    }
}

/// The example first tenant the start banner shows, as `POST /support/tenants` takes it: one
/// the running policy accepts (an access key only where the policy has one, of its length).
pub fn example_tenant(policy: &Policy) -> serde_json::Value {
    let mut t = serde_json::json!({
        "code": "999999999",
        "name": "黒猫堂",
        "admin": {"name": "黒猫太郎", "email": "123@a.com"},
    });
    if let Some(digits) = policy.profile.access_key_digits {
        t["access_key"] = "7".repeat(digits).into();
    }
    if matches!(policy.profile.name, NameRule::FirstLast { .. }) {
        t["admin"]["name"] = "太郎".into();
        t["admin"]["family_name"] = "黒猫".into();
    }
    t
}

fn first_tenant_help(base: &str, args: &ServeArgs, policy: &Policy, preset_flag: &str) -> String {
    let token = shell_quote(&args.support_token_file());
    let db = shell_quote(&args.data.db);
    // The binary as it was started (`target/release/monban` under `cargo run`).
    let me = std::env::args_os()
        .next()
        .map(|a| shell_quote(Path::new(&a)))
        .unwrap_or_else(|| "monban".to_owned());
    let example = example_tenant(policy);
    let key = example["access_key"].as_str();
    let (key_env, key_flag) = match key {
        Some(k) => (format!("ACCESS_KEY={k} "), " --access-key-env ACCESS_KEY"),
        None => (String::new(), ""),
    };
    let name_flags = match example["admin"]["family_name"].as_str() {
        Some(family) => format!(
            "--admin-name {} --admin-family-name {family}",
            example["admin"]["name"].as_str().unwrap_or_default()
        ),
        None => format!(
            "--admin-name {}",
            example["admin"]["name"].as_str().unwrap_or_default()
        ),
    };
    let reset_fields = if key.is_some() {
        "{\"tenant\",\"user_id\",\"access_key\"}"
    } else {
        "{\"tenant\",\"user_id\"}"
    };
    format!(
        "\nNo tenant yet. Create the first one over HTTP with the support token:\n\
         \n  curl -sS -X POST {base}/support/tenants \\\n    \
         -H \"authorization: Bearer $(cat {token})\" -H 'content-type: application/json' \\\n    \
         -d '{example}'\n\
         \nor on this machine{}:\n\
         \n  {key_env}{me} tenant create --db {db}{preset_flag} --code 999999999 \\\n    \
         --name 黒猫堂 {name_flags} --admin-email 123@a.com{key_flag}\n\
         \nThe admin (user ID = tenant code) then asks for the reset link: POST {base}/reset\n\
         with {reset_fields}; the mails land in {}.",
        if key.is_some() {
            " (the access key is read from a variable, not the command line)"
        } else {
            ""
        },
        args.data.outbox().display()
    )
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    init_logs();
    let (mut policy, from_file) = args.policy.load()?;
    let rng = OsRandom::new()?;

    // The address first: a start that cannot listen creates no file.
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| CliError::new(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");

    // Then the secrets: an unsafe or malformed one stops the start before anything is created.
    let key_file = args.data.key_file();
    let token_file = args.support_token_file();
    let outbox = args.data.outbox();
    let db_existed = args.data.db.exists();
    let previous_keys = args.data.previous_keys()?;
    let key = files::load_or_create(&key_file, SecretKind::SessionKey, &rng)?;
    let token = files::load_or_create(&token_file, SecretKind::SupportToken, &rng)?;
    if key.created && db_existed {
        tracing::warn!(
            key_file = %key_file.display(),
            "created a new session key for an existing database: earlier sessions and codes no longer verify"
        );
    }
    let db_created = files::prepare_db_file(&args.data.db)?;
    let store = SqliteStore::open(&args.data.db).map_err(|e| {
        CliError::new(format!(
            "cannot open the database {}: {e}",
            args.data.db.display()
        ))
    })?;
    let outbox_created = files::prepare_outbox(&outbox)?;
    let mailer = OutboxMailer::new(&outbox)
        .map_err(|e| CliError::new(format!("cannot use the outbox {}: {e}", outbox.display())))?;

    match (&args.public_url, from_file) {
        (Some(url), _) => {
            policy.mail.reset_base_url = format!("{}/reset/", url.trim_end_matches('/'));
        }
        (None, false) => {
            if addr.ip().is_unspecified() {
                tracing::warn!(
                    "listening on every interface without --public-url: reset links name {base}"
                );
            }
            policy.mail.reset_base_url = format!("{base}/reset/");
        }
        (None, true) => {}
    }
    let policy_name = policy.name.clone();
    let reset_base = policy.mail.reset_base_url.clone();
    // The operator commands on this file apply the rules the server runs with.
    store
        .set_setting(super::operator::POLICY_SETTING, &policy.to_json())
        .await
        .map_err(|e| CliError::new(format!("cannot record the policy in the database: {e}")))?;

    let banner_policy = policy.clone();
    let hash_slots = policy.password.hash_slots();
    let wake = crate::courier::Wake::new();
    let service = AuthService::new(
        policy,
        files::session_key(&key.value)?,
        store,
        mailer,
        SystemClock,
        rng,
    )?
    .with_offload(TokioOffload::with_limit(hash_slots))
    .with_previous_keys(previous_keys)
    .on_queued(wake.waker());
    let no_users = service.store().scan_users(None, 1).await?.items.is_empty();
    let theme = match &args.theme {
        Some(dir) => crate::pages::Theme::from_dir(dir)
            .map_err(|e| CliError::new(format!("--theme: {e}")))?,
        None => crate::pages::Theme::default(),
    };
    let theme = theme.cookie_mode(if args.dev_http_cookies {
        tracing::warn!("--dev-http-cookies: the pages' cookies are sent without Secure");
        crate::pages::CookieMode::DevHttp
    } else {
        crate::pages::CookieMode::Host
    });
    let state = AppState::new(service, Some(token.value))
        .theme(theme)
        .cors_origins(args.cors_origin.clone())
        .trust_cert_header(args.trust_cert_header)
        .trusted_proxies(args.trusted_proxy.clone())
        .body_timeout(Duration::from_secs(args.body_timeout));
    // M-4: mails queued by requests (and any left from an earlier run) go out from here.
    let (courier_stop, courier_stopping) = watch::channel(false);
    let courier = crate::courier::spawn(
        state.shared_service(),
        wake,
        crate::courier::POLL,
        courier_stopping,
    );
    let app = router(state).layer(middleware::from_fn(crate::api::log_request));

    let mut out = Out::new();
    let created: Vec<String> = [
        (db_created, &args.data.db, "database"),
        (key.created, &key_file, "session key"),
        (token.created, &token_file, "support token"),
        (outbox_created, &outbox, "mail outbox"),
    ]
    .into_iter()
    .filter(|(made, _, _)| *made)
    .map(|(_, path, what)| format!("{} ({what})", path.display()))
    .collect();
    if !created.is_empty() {
        out.line(&format!(
            "monban: created {}; each is readable by its owner only.",
            created.join(", ")
        ))?;
    }
    out.line(&format!(
        "monban: listening on {base} (policy {policy_name}; database {}; outbox {}; reset links {reset_base}…)",
        args.data.db.display(),
        outbox.display()
    ))?;
    // UI-1: the pages, where a browser reaches this server.
    let site = args
        .public_url
        .as_deref()
        .map_or(base.as_str(), |u| u.trim_end_matches('/'));
    out.line(&format!("monban: pages at {site}/ui/login"))?;
    if no_users {
        let preset_flag = match (&args.policy.policy, &args.policy.preset) {
            (Some(f), _) => format!(" --policy {}", shell_quote(f)),
            (None, Some(p)) => format!(" --preset {p}"),
            (None, None) => String::new(),
        };
        out.line(&first_tenant_help(
            &base,
            &args,
            &banner_policy,
            &preset_flag,
        ))?;
    }
    tracing::info!(address = %addr, policy = %policy_name, "listening");

    let (stopping_tx, mut stopping_rx) = watch::channel(false);
    let limits = super::listen::ConnLimits {
        header_timeout: Duration::from_secs(args.header_timeout),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    };
    let server = super::listen::serve(listener, app, limits, async move {
        stop_signal().await;
        let _ = stopping_tx.send(true);
    });
    let grace = Duration::from_secs(args.shutdown_grace);
    let give_up = async move {
        if stopping_rx.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = server => r.map_err(|e| CliError::new(format!("server: {e}")))?,
        () = give_up => {
            tracing::warn!(secs = grace.as_secs(), "requests still in flight after the grace period: stopping anyway");
        }
    }
    // What the last requests queued goes out now, within the grace period; whatever is left
    // (a mail server down) stays queued for the next start (M-4).
    let _ = courier_stop.send(true);
    if tokio::time::timeout(grace, courier).await.is_err() {
        tracing::warn!(
            "mails still being delivered at shutdown: the rest go out at the next start"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    use axum::body::Body;
    use axum::http::Request;
    use monban_core::memory::{CapturingMailer, ManualClock, MemoryStore, SeededRandom};
    use monban_core::token::SessionKey;
    use monban_core::{Secret, Timestamp};
    use tower::ServiceExt as _;

    // The start banner's example tenant is one that every preset accepts as printed.
    #[tokio::test]
    async fn the_banner_tenant_fits_every_preset() {
        for name in Policy::PRESETS {
            let policy = Policy::preset(name).unwrap().with_test_hashing();
            let body = example_tenant(&policy);
            assert_eq!(
                body.get("access_key").is_some(),
                policy.profile.access_key_digits.is_some(),
                "{name}"
            );
            let service = AuthService::new(
                policy,
                SessionKey::new(vec![7; 32]).unwrap(),
                MemoryStore::new(),
                CapturingMailer::new(),
                ManualClock::at(Timestamp(1_800_000_000)),
                SeededRandom::new(1),
            )
            .unwrap();
            let app = router(AppState::new(service, Some(Secret::new("tok"))));
            let res = app
                .oneshot(
                    Request::post("/support/tenants")
                        .header("authorization", "Bearer tok")
                        .header("content-type", "application/json")
                        .body(Body::from(body.to_string()))
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = res.status();
            let bytes = axum::body::to_bytes(res.into_body(), 1 << 16)
                .await
                .unwrap();
            assert_eq!(status, 201, "{name}: {}", String::from_utf8_lossy(&bytes));
        }
    }
}
