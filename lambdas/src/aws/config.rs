//! What the Lambda functions read once per cold start: [`LambdaConfig::from_env`].
//!
//! | variable | meaning |
//! |---|---|
//! | `MONBAN_TABLE` | the DynamoDB table (required) |
//! | `MONBAN_SENDER` | the `From` of every mail, a verified SES identity (required) |
//! | `MONBAN_SES_CONFIGURATION_SET` | an SES configuration set to send through (optional) |
//! | `MONBAN_PUBLIC_URL` | where users reach the API; reset links are `<url>/reset/<token>` (required with `MONBAN_PRESET`; with `MONBAN_POLICY_JSON` it replaces the policy's `mail.reset_base_url` when set) |
//! | `MONBAN_PRESET` | a preset: kuroneko, e_parcel, secom_passport, identity_reset, nist, pci_dss |
//! | `MONBAN_POLICY_JSON` | a whole policy as JSON (the form `Policy::to_json` writes), instead of a preset |
//! | `MONBAN_SIGNING_KEY_PARAMETER` | SSM parameter (SecureString) holding the session-signing key, 64 hex digits |
//! | `MONBAN_SIGNING_KEY_FILE` | or a file holding it (local runs and tests; the format `monban serve` writes, mode 0600) |
//! | `MONBAN_PREVIOUS_SIGNING_KEY_PARAMETER` | SSM parameter holding the key before the last rotation (optional): what it sealed or keyed stays readable while `monban rekey` re-writes it |
//! | `MONBAN_PREVIOUS_SIGNING_KEY_FILE` | or a file holding it (optional) |
//! | `MONBAN_SUPPORT_TOKEN_PARAMETER` | SSM parameter holding the support API token (optional) |
//! | `MONBAN_SUPPORT_TOKEN_FILE` | or a file holding it (optional; without either, `/support/*` answers 403) |
//! | `MONBAN_CORS_ORIGIN` | browser apps' origins allowed to call the JSON API, comma-separated, each `https://host[:port]` (optional; without it no CORS headers, so browsers keep other origins out; never `*`) |
//! | `MONBAN_THEME` | a folder overriding the pages' look and words: `templates/*.html`, `style.css`, `texts.ja.json` / `texts.en.json`, e.g. `/opt/theme` from a Lambda layer (optional; read at the cold start, a file that does not parse stops it) |
//! | `MONBAN_DYNAMODB_ENDPOINT`, `MONBAN_SES_ENDPOINT`, `MONBAN_SSM_ENDPOINT` | endpoint overrides for local stand-ins (optional) |
//!
//! An empty value counts as unset (templates often pass `""` for "none"). A missing or bad value
//! is a [`ConfigError`] naming the variable; no error or log line ever holds a secret.

use monban_core::token::SessionKey;
use monban_core::{Policy, Secret};
use monban_server::cli::files::{self, KEY_BYTES, MIN_TOKEN_CHARS, SecretKind};
use monban_server::pages::Theme;
use std::path::PathBuf;
use std::sync::Arc;

/// The table name.
pub const TABLE: &str = "MONBAN_TABLE";
/// The sender.
pub const SENDER: &str = "MONBAN_SENDER";
/// The SES configuration set.
pub const SES_CONFIGURATION_SET: &str = "MONBAN_SES_CONFIGURATION_SET";
/// The public URL.
pub const PUBLIC_URL: &str = "MONBAN_PUBLIC_URL";
/// The policy preset.
pub const PRESET: &str = "MONBAN_PRESET";
/// The policy as JSON.
pub const POLICY_JSON: &str = "MONBAN_POLICY_JSON";
/// The SSM parameter of the signing key.
pub const SIGNING_KEY_PARAMETER: &str = "MONBAN_SIGNING_KEY_PARAMETER";
/// The signing key file.
pub const SIGNING_KEY_FILE: &str = "MONBAN_SIGNING_KEY_FILE";
/// The SSM parameter of the previous signing key (K-2).
pub const PREVIOUS_SIGNING_KEY_PARAMETER: &str = "MONBAN_PREVIOUS_SIGNING_KEY_PARAMETER";
/// The previous signing key file (K-2).
pub const PREVIOUS_SIGNING_KEY_FILE: &str = "MONBAN_PREVIOUS_SIGNING_KEY_FILE";
/// The SSM parameter of the support token.
pub const SUPPORT_TOKEN_PARAMETER: &str = "MONBAN_SUPPORT_TOKEN_PARAMETER";
/// The support token file.
pub const SUPPORT_TOKEN_FILE: &str = "MONBAN_SUPPORT_TOKEN_FILE";
/// DynamoDB endpoint override.
pub const DYNAMODB_ENDPOINT: &str = "MONBAN_DYNAMODB_ENDPOINT";
/// SES endpoint override.
pub const SES_ENDPOINT: &str = "MONBAN_SES_ENDPOINT";
/// SSM endpoint override.
pub const SSM_ENDPOINT: &str = "MONBAN_SSM_ENDPOINT";
/// Browser apps' origins allowed to call the JSON API (CORS), comma-separated.
pub const CORS_ORIGIN: &str = "MONBAN_CORS_ORIGIN";
/// A folder overriding the pages' templates, texts and stylesheet.
pub const THEME: &str = "MONBAN_THEME";

/// A configuration problem: the variable it concerns and what is wrong (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable (or variables) at fault.
    pub var: &'static str,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// A problem with `var`.
    pub fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where a secret comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Read from a file at configuration time (its value; `Debug` prints `[redacted]`).
    File {
        /// The file.
        path: PathBuf,
        /// Its content, checked.
        value: Secret,
    },
    /// An SSM Parameter Store parameter (SecureString), read with decryption when the secrets
    /// are resolved.
    Parameter(String),
}

/// The secrets the service needs, resolved.
#[derive(Debug)]
pub struct Secrets {
    /// The session-signing key.
    pub signing_key: SessionKey,
    /// The key before the last rotation, if any (K-2).
    pub previous_signing_key: Option<SessionKey>,
    /// The support API token, if support is on.
    pub support_token: Option<Secret>,
}

/// Everything a Lambda function is configured with.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The DynamoDB table.
    pub table: String,
    /// The `From` of every mail.
    pub sender: String,
    /// The SES configuration set, if any.
    pub configuration_set: Option<String>,
    /// The policy, validated, with its reset links pointing at the public URL.
    pub policy: Policy,
    /// The session-signing key.
    pub signing_key: SecretSource,
    /// The key before the last rotation (K-2), if any.
    pub previous_signing_key: Option<SecretSource>,
    /// The support API token (`None`: support is off).
    pub support_token: Option<SecretSource>,
    /// DynamoDB endpoint override.
    pub dynamodb_endpoint: Option<String>,
    /// SES endpoint override.
    pub ses_endpoint: Option<String>,
    /// SSM endpoint override.
    pub ssm_endpoint: Option<String>,
    /// The origins allowed to call the JSON API from a browser (CORS; empty: none).
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// The pages' theme: the built-in one, or the folder `MONBAN_THEME` names, read now.
    pub theme: Arc<Theme>,
}

/// Checks an endpoint or public URL: http(s), a host, no white space or control characters.
fn http_url(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty()
    }) && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(v.trim_end_matches('/').to_owned())
    } else {
        Err(ConfigError::new(
            var,
            format!("must be an http:// or https:// URL with a host, not {v:?}"),
        ))
    }
}

/// The value of the session-signing key, checked (64 hex digits).
fn signing_key(var: &'static str, value: &Secret) -> Result<SessionKey, ConfigError> {
    let bytes = files::unhex(value.expose().trim(), KEY_BYTES).ok_or_else(|| {
        ConfigError::new(
            var,
            "the signing key must be exactly 64 hex digits (a 256-bit key)",
        )
    })?;
    SessionKey::new(bytes).map_err(|e| ConfigError::new(var, e.to_string()))
}

/// The value of the support token, checked (at least 32 visible ASCII characters).
fn support_token(var: &'static str, value: &Secret) -> Result<Secret, ConfigError> {
    let v = value.expose().trim();
    if v.chars().count() >= MIN_TOKEN_CHARS && v.chars().all(|c| c.is_ascii_graphic()) {
        Ok(Secret::new(v.to_owned()))
    } else {
        Err(ConfigError::new(
            var,
            "the support token must be at least 32 visible ASCII characters on one line",
        ))
    }
}

impl LambdaConfig {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The configuration from `var` (a variable's value by name; tests pass a map). Secret files
    /// are read and checked now; SSM parameters are read by [`LambdaConfig::secrets`].
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |name: &'static str, what: &str| {
            get(name).ok_or_else(|| ConfigError::new(name, format!("missing: set it to {what}")))
        };

        let table = required(TABLE, "the name of the DynamoDB table")?;
        if !(3..=255).contains(&table.len())
            || !table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(ConfigError::new(
                TABLE,
                format!("{table:?} is not a DynamoDB table name (3..=255 of A-Z a-z 0-9 _ . -)"),
            ));
        }

        let sender = required(
            SENDER,
            "the From address of the mails (a verified SES identity)",
        )?;
        if !sender.contains('@') || sender.chars().any(char::is_control) {
            return Err(ConfigError::new(
                SENDER,
                format!("{sender:?} is not a mail address"),
            ));
        }
        let configuration_set = get(SES_CONFIGURATION_SET);

        let (mut policy, from_json) = match (get(PRESET), get(POLICY_JSON)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "MONBAN_PRESET / MONBAN_POLICY_JSON",
                    "set only one of them",
                ));
            }
            (Some(name), None) => {
                let p = Policy::preset(&name).map_err(|_| {
                    ConfigError::new(
                        PRESET,
                        format!(
                            "unknown preset {name:?}: choose one of {}",
                            Policy::PRESETS.join(", ")
                        ),
                    )
                })?;
                (p, false)
            }
            (None, Some(json)) => {
                let p = Policy::from_json(&json)
                    .map_err(|e| ConfigError::new(POLICY_JSON, e.to_string()))?;
                (p, true)
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "MONBAN_PRESET / MONBAN_POLICY_JSON",
                    format!(
                        "missing: set MONBAN_PRESET to a preset ({}) or MONBAN_POLICY_JSON to a policy",
                        Policy::PRESETS.join(", ")
                    ),
                ));
            }
        };
        match get(PUBLIC_URL) {
            Some(url) => {
                let url = http_url(PUBLIC_URL, &url)?;
                policy.mail.reset_base_url = format!("{url}/reset/");
            }
            None if from_json => {}
            None => {
                return Err(ConfigError::new(
                    PUBLIC_URL,
                    "missing: set it to the URL users reach the API at (reset links are <url>/reset/<token>)",
                ));
            }
        }
        policy.validate().map_err(|e| {
            ConfigError::new(
                if from_json { POLICY_JSON } else { PUBLIC_URL },
                e.to_string(),
            )
        })?;

        let secret = |param: &'static str, file: &'static str, kind: SecretKind| match (
            get(param),
            get(file),
        ) {
            (Some(_), Some(_)) => Err(ConfigError::new(
                param,
                format!("set only one of {param} and {file}"),
            )),
            (Some(name), None) => Ok(Some(SecretSource::Parameter(name))),
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let value =
                    files::load(&path, kind).map_err(|e| ConfigError::new(file, e.to_string()))?;
                Ok(Some(SecretSource::File { path, value }))
            }
            (None, None) => Ok(None),
        };
        let signing_key = secret(
            SIGNING_KEY_PARAMETER,
            SIGNING_KEY_FILE,
            SecretKind::SessionKey,
        )?
        .ok_or_else(|| {
            ConfigError::new(
                SIGNING_KEY_PARAMETER,
                "missing: name the SSM parameter (SecureString) holding the session-signing key, \
                 or set MONBAN_SIGNING_KEY_FILE",
            )
        })?;
        let previous_signing_key = secret(
            PREVIOUS_SIGNING_KEY_PARAMETER,
            PREVIOUS_SIGNING_KEY_FILE,
            SecretKind::SessionKey,
        )?;
        let support_token = secret(
            SUPPORT_TOKEN_PARAMETER,
            SUPPORT_TOKEN_FILE,
            SecretKind::SupportToken,
        )?;

        let cors_origins = get(CORS_ORIGIN)
            .map(|v| {
                v.split(',')
                    .filter(|o| !o.trim().is_empty())
                    .map(|o| {
                        monban_server::parse_cors_origin(o)
                            .map_err(|e| ConfigError::new(CORS_ORIGIN, e))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let theme = match get(THEME) {
            Some(dir) => Theme::from_dir(std::path::Path::new(&dir))
                .map_err(|e| ConfigError::new(THEME, e))?,
            None => Theme::default(),
        };

        let endpoint = |name: &'static str| get(name).map(|v| http_url(name, &v)).transpose();
        Ok(Self {
            table,
            sender,
            configuration_set,
            policy,
            signing_key,
            previous_signing_key,
            support_token,
            dynamodb_endpoint: endpoint(DYNAMODB_ENDPOINT)?,
            ses_endpoint: endpoint(SES_ENDPOINT)?,
            ssm_endpoint: endpoint(SSM_ENDPOINT)?,
            cors_origins,
            theme: Arc::new(theme),
        })
    }

    /// Whether a secret must be read from SSM.
    pub fn needs_ssm(&self) -> bool {
        matches!(self.signing_key, SecretSource::Parameter(_))
            || matches!(self.previous_signing_key, Some(SecretSource::Parameter(_)))
            || matches!(self.support_token, Some(SecretSource::Parameter(_)))
    }

    /// An SSM client for `sdk`, with the endpoint override if configured.
    pub fn ssm_client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_ssm::Client {
        let mut b = aws_sdk_ssm::config::Builder::from(sdk);
        if let Some(url) = &self.ssm_endpoint {
            b = b.endpoint_url(url);
        }
        aws_sdk_ssm::Client::from_conf(b.build())
    }

    /// Resolves the secrets: file values as read, SSM parameters through `ssm` (with
    /// decryption). `ssm` may be `None` when [`LambdaConfig::needs_ssm`] is false.
    pub async fn secrets(&self, ssm: Option<&aws_sdk_ssm::Client>) -> Result<Secrets, ConfigError> {
        let key = resolve(&self.signing_key, SIGNING_KEY_PARAMETER, ssm).await?;
        let signing_key = signing_key(
            source_var(&self.signing_key, SIGNING_KEY_FILE, SIGNING_KEY_PARAMETER),
            &key,
        )?;
        let previous_signing_key = match &self.previous_signing_key {
            None => None,
            Some(src) => {
                let var = source_var(
                    src,
                    PREVIOUS_SIGNING_KEY_FILE,
                    PREVIOUS_SIGNING_KEY_PARAMETER,
                );
                let v = resolve(src, PREVIOUS_SIGNING_KEY_PARAMETER, ssm).await?;
                Some(self::signing_key(var, &v)?)
            }
        };
        let support_token = match &self.support_token {
            None => None,
            Some(src) => {
                let var = source_var(src, SUPPORT_TOKEN_FILE, SUPPORT_TOKEN_PARAMETER);
                let v = resolve(src, SUPPORT_TOKEN_PARAMETER, ssm).await?;
                Some(support_token(var, &v)?)
            }
        };
        Ok(Secrets {
            signing_key,
            previous_signing_key,
            support_token,
        })
    }
}

/// The variable that named `src`: the file one or the parameter one (for error messages).
fn source_var(src: &SecretSource, file: &'static str, param: &'static str) -> &'static str {
    match src {
        SecretSource::File { .. } => file,
        SecretSource::Parameter(_) => param,
    }
}

/// A secret's value: the file's, or the SSM parameter's (decrypted).
async fn resolve(
    src: &SecretSource,
    var: &'static str,
    ssm: Option<&aws_sdk_ssm::Client>,
) -> Result<Secret, ConfigError> {
    match src {
        SecretSource::File { value, .. } => Ok(value.clone()),
        SecretSource::Parameter(name) => {
            let client = ssm.ok_or_else(|| ConfigError::new(var, "no SSM client to read it"))?;
            let out = client
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| {
                    use aws_sdk_ssm::error::ProvideErrorMetadata as _;
                    let why = match &e {
                        aws_sdk_ssm::error::SdkError::ServiceError(se) => format!(
                            "{} (HTTP {})",
                            se.err().code().unwrap_or("error"),
                            se.raw().status().as_u16()
                        ),
                        aws_sdk_ssm::error::SdkError::TimeoutError(_) => "timed out".to_owned(),
                        aws_sdk_ssm::error::SdkError::DispatchFailure(_) => {
                            "SSM could not be reached".to_owned()
                        }
                        _ => "request failed".to_owned(),
                    };
                    ConfigError::new(
                        var,
                        format!("cannot read the SSM parameter {name:?}: {why}"),
                    )
                })?;
            out.parameter()
                .and_then(|p| p.value())
                .map(|v| Secret::new(v.to_owned()))
                .ok_or_else(|| {
                    ConfigError::new(var, format!("the SSM parameter {name:?} has no value"))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::collections::HashMap;

    const KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    struct Env {
        dir: tempfile::TempDir,
        vars: HashMap<&'static str, String>,
    }

    impl Env {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let key = dir.path().join("monban.key");
            write_private(&key, &format!("{KEY_HEX}\n"));
            let vars = HashMap::from([
                (TABLE, "monban-test".to_owned()),
                (SENDER, "no-reply@example.com".to_owned()),
                (PRESET, "kuroneko".to_owned()),
                (PUBLIC_URL, "https://auth.example.com/".to_owned()),
                (SIGNING_KEY_FILE, key.display().to_string()),
            ]);
            Self { dir, vars }
        }
        fn set(mut self, k: &'static str, v: &str) -> Self {
            self.vars.insert(k, v.to_owned());
            self
        }
        fn unset(mut self, k: &'static str) -> Self {
            self.vars.remove(k);
            self
        }
        fn load(&self) -> Result<LambdaConfig, ConfigError> {
            LambdaConfig::from_vars(|k| self.vars.get(k).cloned())
        }
    }

    fn write_private(path: &std::path::Path, content: &str) {
        std::fs::write(path, content).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    #[tokio::test]
    async fn a_complete_environment_configures_everything() {
        let env = Env::new()
            .set(SES_CONFIGURATION_SET, "monban-events")
            .set(DYNAMODB_ENDPOINT, "http://127.0.0.1:8000");
        let token = env.dir.path().join("support-token");
        write_private(&token, &"t".repeat(40));
        let env = env.set(SUPPORT_TOKEN_FILE, &token.display().to_string());
        let c = env.load().unwrap();
        assert_eq!(c.table, "monban-test");
        assert_eq!(c.sender, "no-reply@example.com");
        assert_eq!(c.configuration_set.as_deref(), Some("monban-events"));
        assert_eq!(c.policy.name, "kuroneko");
        assert_eq!(
            c.policy.mail.reset_base_url,
            "https://auth.example.com/reset/"
        );
        assert_eq!(
            c.dynamodb_endpoint.as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(c.ses_endpoint, None);
        assert!(!c.needs_ssm());
        let s = c.secrets(None).await.unwrap();
        assert_eq!(s.support_token.unwrap().expose(), "t".repeat(40));
        // Debug never shows a secret.
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(KEY_HEX) && !dbg.contains("tttttttt"), "{dbg}");
    }

    #[tokio::test]
    async fn the_previous_signing_key_is_read_for_a_rotation() {
        // SPEC: K-2 — during a rotation the key before it keeps what it sealed readable.
        let env = Env::new();
        let old_hex = "ff".repeat(32);
        let old = env.dir.path().join("old.key");
        write_private(&old, &format!("{old_hex}\n"));
        let c = env.load().unwrap();
        assert!(c.previous_signing_key.is_none());
        assert!(
            c.secrets(None)
                .await
                .unwrap()
                .previous_signing_key
                .is_none()
        );
        let c = env
            .set(PREVIOUS_SIGNING_KEY_FILE, &old.display().to_string())
            .load()
            .unwrap();
        let s = c.secrets(None).await.unwrap();
        let previous = s.previous_signing_key.as_ref().unwrap();
        let want = SessionKey::new(vec![0xff; 32]).unwrap();
        assert_eq!(
            previous.keyed_digest("t", b"x"),
            want.keyed_digest("t", b"x")
        );
        assert!(!format!("{c:?}{s:?}").contains(&old_hex));
        // A parameter needs SSM; a bad file names its variable.
        let c = Env::new()
            .set(PREVIOUS_SIGNING_KEY_PARAMETER, "/monban/old-key")
            .load()
            .unwrap();
        assert!(c.needs_ssm());
        let bad = Env::new();
        let f = bad.dir.path().join("bad.key");
        write_private(&f, "not hex\n");
        let e = bad
            .set(PREVIOUS_SIGNING_KEY_FILE, &f.display().to_string())
            .load()
            .unwrap_err();
        assert_eq!(e.var, PREVIOUS_SIGNING_KEY_FILE);
    }

    #[test]
    fn a_missing_or_bad_value_names_its_variable() {
        let cases: Vec<(Env, &str)> = vec![
            (Env::new().unset(TABLE), TABLE),
            (Env::new().set(TABLE, "a b"), TABLE),
            (Env::new().unset(SENDER), SENDER),
            (Env::new().set(SENDER, "nobody"), SENDER),
            (Env::new().set(PRESET, "kuroneco"), PRESET),
            (
                Env::new().unset(PRESET),
                "MONBAN_PRESET / MONBAN_POLICY_JSON",
            ),
            (
                Env::new().set(POLICY_JSON, "{}"),
                "MONBAN_PRESET / MONBAN_POLICY_JSON",
            ),
            (Env::new().unset(PRESET).set(POLICY_JSON, "{"), POLICY_JSON),
            (Env::new().unset(PUBLIC_URL), PUBLIC_URL),
            (Env::new().set(PUBLIC_URL, "auth.example.com"), PUBLIC_URL),
            (Env::new().unset(SIGNING_KEY_FILE), SIGNING_KEY_PARAMETER),
            (
                Env::new().set(SIGNING_KEY_FILE, "/nonexistent/monban.key"),
                SIGNING_KEY_FILE,
            ),
            (
                Env::new().set(SIGNING_KEY_PARAMETER, "/monban/key"),
                SIGNING_KEY_PARAMETER,
            ),
            (Env::new().set(SES_ENDPOINT, "localhost:4566"), SES_ENDPOINT),
        ];
        for (env, var) in cases {
            let e = env.load().unwrap_err();
            assert_eq!(e.var, var, "{e}");
            assert!(e.to_string().starts_with(var), "{e}");
        }
    }

    #[test]
    fn a_malformed_key_file_is_refused_without_showing_it() {
        let env = Env::new();
        let key = env.dir.path().join("bad.key");
        write_private(&key, "secret-but-not-hex-secret-but-not-hex");
        let e = env
            .set(SIGNING_KEY_FILE, &key.display().to_string())
            .load()
            .unwrap_err();
        assert_eq!(e.var, SIGNING_KEY_FILE);
        assert!(e.message.contains("malformed"), "{e}");
        assert!(!e.to_string().contains("secret-but-not-hex"), "{e}");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let c = Env::new()
            .set(SES_CONFIGURATION_SET, " ")
            .set(SUPPORT_TOKEN_PARAMETER, "")
            .set(SSM_ENDPOINT, "")
            .load()
            .unwrap();
        assert_eq!(c.configuration_set, None);
        assert!(c.support_token.is_none());
        assert_eq!(c.ssm_endpoint, None);
    }

    #[test]
    fn a_json_policy_keeps_its_reset_url_unless_a_public_url_is_given() {
        let mut p = Policy::e_parcel();
        p.mail.reset_base_url = "https://eparcel.example/reset/".into();
        let json = p.to_json();
        let env = Env::new().unset(PRESET).set(POLICY_JSON, &json);
        let c = env.unset(PUBLIC_URL).load().unwrap();
        assert_eq!(c.policy.name, "e_parcel");
        assert_eq!(
            c.policy.mail.reset_base_url,
            "https://eparcel.example/reset/"
        );
        let c = Env::new()
            .unset(PRESET)
            .set(POLICY_JSON, &json)
            .set(PUBLIC_URL, "http://127.0.0.1:3000")
            .load()
            .unwrap();
        assert_eq!(c.policy.mail.reset_base_url, "http://127.0.0.1:3000/reset/");
    }

    /// The browser-app origins and the pages' theme reach the router the function serves,
    /// as `--cors-origin` and `--theme` do for `monban serve`; bad values stop the start.
    #[tokio::test]
    async fn cors_origins_and_the_theme_reach_the_functions_router() {
        use axum::body::Body;
        use axum::http::Request;
        use tower::ServiceExt;
        const APP: &str = "https://app.example.com";
        let env = Env::new();
        let theme = env.dir.path().join("theme");
        std::fs::create_dir(&theme).unwrap();
        std::fs::write(theme.join("style.css"), "body { color: #123456 }").unwrap();
        let env = env
            .set(CORS_ORIGIN, &format!(" {APP}, http://localhost:5173 ,"))
            .set(THEME, &theme.display().to_string())
            // No call is made: the clients are built without a network call.
            .set(DYNAMODB_ENDPOINT, "http://127.0.0.1:9")
            .set(SES_ENDPOINT, "http://127.0.0.1:9");
        let c = env.load().unwrap();
        assert_eq!(c.cors_origins, [APP, "http://localhost:5173"]);
        let app = crate::aws::lambda::app(crate::aws::lambda::state(&c).await.unwrap());

        let preflight = |origin: &str| {
            Request::options("/login")
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .body(Body::empty())
                .unwrap()
        };
        let a = app.clone().oneshot(preflight(APP)).await.unwrap();
        assert!(a.status().is_success(), "{}", a.status());
        assert_eq!(a.headers()["access-control-allow-origin"], APP);
        let a = app
            .clone()
            .oneshot(preflight("https://evil.example"))
            .await
            .unwrap();
        assert!(a.headers().get("access-control-allow-origin").is_none());

        let css = app
            .oneshot(Request::get("/ui/style.css").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(css.status().is_success(), "{}", css.status());
        let body = axum::body::to_bytes(css.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(&body[..], b"body { color: #123456 }");

        for bad in ["*", "https://app.example.com/", "app.example.com"] {
            let e = Env::new().set(CORS_ORIGIN, bad).load().unwrap_err();
            assert_eq!(e.var, CORS_ORIGIN, "{bad}");
        }
        let e = Env::new()
            .set(THEME, "/nonexistent/monban-theme")
            .load()
            .unwrap_err();
        assert_eq!(e.var, THEME);
        std::fs::create_dir_all(theme.join("templates")).unwrap();
        std::fs::write(theme.join("templates").join("nope.html"), "x").unwrap();
        let e = env.load().unwrap_err();
        assert_eq!(e.var, THEME);
        assert!(e.message.contains("no such template"), "{}", e.message);
    }

    #[test]
    fn every_preset_is_accepted_by_name() {
        for name in Policy::PRESETS {
            let c = Env::new().set(PRESET, name).load().unwrap();
            assert_eq!(c.policy.name, name);
        }
    }

    fn ssm_client(endpoint: &str) -> aws_sdk_ssm::Client {
        let conf = aws_sdk_ssm::Config::builder()
            .http_client(crate::aws::http_client())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ssm::config::Credentials::new(
                "local", "local", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .retry_config(aws_sdk_ssm::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_ssm::Client::from_conf(conf)
    }

    #[tokio::test]
    async fn the_signing_key_is_read_from_ssm_with_decryption() {
        let (endpoint, requests) = crate::aws::mailer::fake_http::serve(
            "200 OK",
            String::new(),
            r#"{"Parameter":{"Name":"/monban/signing-key","Type":"SecureString","Value":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff","Version":3}}"#,
        );
        let c = Env::new()
            .unset(SIGNING_KEY_FILE)
            .set(SIGNING_KEY_PARAMETER, "/monban/signing-key")
            .set(SSM_ENDPOINT, &endpoint)
            .load()
            .unwrap();
        assert!(c.needs_ssm());
        assert_eq!(c.ssm_endpoint.as_deref(), Some(endpoint.as_str()));
        let s = c.secrets(Some(&ssm_client(&endpoint))).await.unwrap();
        assert!(s.support_token.is_none());
        let req = requests.recv().unwrap().to_ascii_lowercase();
        assert!(
            req.contains("x-amz-target: amazonssm.getparameter"),
            "{req}"
        );
        assert!(req.contains(r#""withdecryption":true"#), "{req}");
        assert!(req.contains("/monban/signing-key"), "{req}");
        // Without a client the parameter cannot be read.
        let e = c.secrets(None).await.unwrap_err();
        assert_eq!(e.var, SIGNING_KEY_PARAMETER);
    }

    #[tokio::test]
    async fn an_ssm_failure_or_a_bad_value_names_the_variable_not_the_value() {
        let (endpoint, _r) = crate::aws::mailer::fake_http::serve(
            "400 Bad Request",
            "x-amzn-ErrorType: ParameterNotFound\r\n".into(),
            r#"{"__type":"ParameterNotFound","message":"Parameter /monban/token not found."}"#,
        );
        let c = Env::new()
            .set(SUPPORT_TOKEN_PARAMETER, "/monban/token")
            .load()
            .unwrap();
        let e = c.secrets(Some(&ssm_client(&endpoint))).await.unwrap_err();
        assert_eq!(e.var, SUPPORT_TOKEN_PARAMETER);
        assert!(e.message.contains("ParameterNotFound"), "{e}");
        let (endpoint, _r) = crate::aws::mailer::fake_http::serve(
            "200 OK",
            String::new(),
            r#"{"Parameter":{"Name":"/monban/signing-key","Type":"SecureString","Value":"not-a-key-but-secret","Version":1}}"#,
        );
        let c = Env::new()
            .unset(SIGNING_KEY_FILE)
            .set(SIGNING_KEY_PARAMETER, "/monban/signing-key")
            .load()
            .unwrap();
        let e = c.secrets(Some(&ssm_client(&endpoint))).await.unwrap_err();
        assert_eq!(e.var, SIGNING_KEY_PARAMETER);
        assert!(!e.to_string().contains("not-a-key-but-secret"), "{e}");
    }

    #[test]
    fn secret_values_are_checked() {
        assert!(signing_key("X", &Secret::new(KEY_HEX)).is_ok());
        let e = signing_key("X", &Secret::new("abc")).unwrap_err();
        assert!(!e.to_string().contains("abc"));
        assert!(support_token("X", &Secret::new("t".repeat(32))).is_ok());
        assert!(support_token("X", &Secret::new("short")).is_err());
    }
}
