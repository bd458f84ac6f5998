//! What the `bootstrap` (HTTP API) and `sweeper` (LC-1 schedule) Lambda functions share: JSON
//! logs, the service built from [`LambdaConfig`], the mutual-TLS client certificate taken from
//! API Gateway's request context, the HTTP app, the sweep handler, and the report of a failed
//! start to the Lambda Runtime API.
//!
//! Logs are one JSON object per line on stdout (CloudWatch keeps them as they are). A line
//! written while an invocation runs carries lambda_runtime's span, `"span":
//! {"requestId": "…", "name": "Lambda runtime invoke"}`. Requests are logged by route template
//! (`/reset/{token}`), never by path; no line holds a secret. Debug and trace output of the
//! runtime, HTTP and AWS SDK crates is never written, whatever `RUST_LOG` says: the runtime
//! traces the raw event (a login's password) and the SDK traces request bodies (a mail's OTP).

use crate::aws::config::{ConfigError, LambdaConfig};
use crate::aws::mailer::SesMailer;
use crate::aws::store::DynamoStore;
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use base64::Engine as _;
use lambda_http::request::RequestContext;
use monban_core::AuthService;
use monban_core::cert::ClientCert;
use monban_core::ports::{Mailer, Store};
use monban_core::secret::Digest;
use monban_embedded::{OsRandom, SystemClock, TokioOffload};
use monban_server::extract::{VerifiedClientCert, VerifiedClientIp};
use monban_server::{AppState, router};
use serde_json::Value;
use std::time::Instant;

/// The error a Lambda function's start or handler fails with.
pub type Error = lambda_runtime::Error;

/// The service the functions run.
pub type LambdaService = AuthService<DynamoStore, SesMailer>;

/// The router's state on AWS.
pub type LambdaState = AppState<DynamoStore, SesMailer>;

/// Crates whose debug and trace events may hold request or response bodies.
const QUIET: [&str; 9] = [
    "lambda_runtime",
    "lambda_http",
    "aws_smithy",
    "aws_sdk",
    "aws_sigv4",
    "aws_config",
    "hyper",
    "h2",
    "rustls",
];

/// Installs the JSON logger on stdout: level from `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced
/// logging controls), else `RUST_LOG`, else `info`. A second call keeps the first logger.
pub fn init_logs() {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{EnvFilter, FilterExt as _, filter_fn};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let spec = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let env = EnvFilter::try_new(if spec.trim().is_empty() {
        "info"
    } else {
        &spec
    })
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let quiet = filter_fn(|meta| {
        *meta.level() <= tracing::Level::INFO || !QUIET.iter().any(|q| meta.target().starts_with(q))
    });
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stdout)
        .with_filter(env.and(quiet));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

// ---- the client certificate (L-8) ------------------------------------------------------------

/// The SHA-256 fingerprint (lowercase hex) of the first certificate in `pem`: the digest of the
/// DER bytes inside `-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----`. `None` when
/// there is no such block or it is not base64.
pub fn pem_sha256(pem: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.find(BEGIN)? + BEGIN.len();
    let rest = pem.get(start..)?;
    let body = rest.get(..rest.find(END)?)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .ok()
        .filter(|d| !d.is_empty())?;
    Some(Digest::of(&der).to_hex())
}

/// The client certificate API Gateway verified (HTTP API mutual TLS:
/// `requestContext.authentication.clientCert`): its SHA-256 fingerprint computed from
/// `clientCertPem`, its serial number and subject DN. `None` without a client certificate.
pub fn client_cert(ctx: &RequestContext) -> Option<ClientCert> {
    let cert = match ctx {
        RequestContext::ApiGatewayV2(c) => c.authentication.as_ref()?.client_cert.as_ref()?,
        _ => return None,
    };
    let sha256 = cert.client_cert_pem.as_deref().and_then(pem_sha256);
    let serial = cert.serial_number.clone().filter(|s| !s.trim().is_empty());
    let subject_dn = cert.subject_dn.clone().filter(|s| !s.trim().is_empty());
    if sha256.is_none() && (serial.is_none() || subject_dn.is_none()) {
        tracing::warn!("the mutual-TLS context names no usable client certificate");
        return None;
    }
    Some(ClientCert {
        sha256,
        serial,
        subject_dn,
    })
}

/// The client address API Gateway saw (AB-3): `requestContext.http.sourceIp` (HTTP API, the
/// only event kind this function is built for). API Gateway is the trusted proxy here: it sets
/// the field from the connection, and a client's `X-Forwarded-For` never reaches it.
pub fn source_ip(ctx: &RequestContext) -> Option<std::net::IpAddr> {
    let ip = match ctx {
        RequestContext::ApiGatewayV2(c) => c.http.source_ip.as_deref()?,
        _ => return None,
    };
    ip.trim().parse().ok()
}

/// Moves the mutual-TLS certificate and the source address from lambda_http's request context
/// into the [`VerifiedClientCert`] and [`VerifiedClientIp`] extensions the handlers read; a
/// request without them gets none.
async fn attach_client_cert(mut req: Request, next: Next) -> Response {
    let ctx = req.extensions().get::<RequestContext>();
    let cert = ctx.and_then(client_cert);
    let ip = ctx.and_then(source_ip);
    req.extensions_mut().remove::<VerifiedClientCert>();
    req.extensions_mut().remove::<VerifiedClientIp>();
    if let Some(c) = cert {
        req.extensions_mut().insert(VerifiedClientCert(c));
    }
    if let Some(ip) = ip {
        req.extensions_mut().insert(VerifiedClientIp(ip));
    }
    next.run(req).await
}

/// The HTTP app the `bootstrap` function serves: the router with the request log and the
/// mutual-TLS certificate moved into the request.
pub fn app<S: Store + 'static, M: Mailer + 'static>(state: AppState<S, M>) -> Router {
    router(state)
        .layer(middleware::from_fn(monban_server::api::log_request))
        .layer(middleware::from_fn(attach_client_cert))
}

// ---- the service -----------------------------------------------------------------------------

/// The AWS SDK configuration from the environment (region and credentials of the function),
/// with [`sdk_loader`]'s retry and timeout policy.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_loader().load().await
}

/// The configuration loader every AWS client of the functions starts from: standard retries
/// (3 attempts; throttling, 5xx and transient network errors retried with jittered exponential
/// back-off), 2 s to connect, 3 s per attempt and 8 s per call, so a stalled call fails inside
/// the function's 15 s timeout with a retryable error instead of the whole invocation timing
/// out. Region and credentials come from the environment unless set on the loader.
pub fn sdk_loader() -> aws_config::ConfigLoader {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    use std::time::Duration;
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(super::http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        )
}

/// A DynamoDB client for `sdk`, talking to `endpoint` instead of DynamoDB when given (a local
/// stand-in).
pub fn dynamodb_client(
    sdk: &aws_config::SdkConfig,
    endpoint: Option<&str>,
) -> aws_sdk_dynamodb::Client {
    let mut b = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(url) = endpoint {
        b = b.endpoint_url(url);
    }
    aws_sdk_dynamodb::Client::from_conf(b.build())
}

/// The service `config` describes: [`DynamoStore`] and [`SesMailer`], the system clock and
/// random source, argon2 on tokio's blocking pool; the secrets read (from SSM if so configured).
/// Returns the support token too.
pub async fn service(
    config: &LambdaConfig,
) -> Result<(LambdaService, Option<monban_core::Secret>), Error> {
    let sdk = sdk_config().await;
    let ssm = config.needs_ssm().then(|| config.ssm_client(&sdk));
    let secrets = config.secrets(ssm.as_ref()).await?;
    let store = DynamoStore::new(
        dynamodb_client(&sdk, config.dynamodb_endpoint.as_deref()),
        config.table.clone(),
    );
    let mailer = SesMailer::new(
        SesMailer::client(&sdk, config.ses_endpoint.as_deref()),
        config.sender.clone(),
        config.configuration_set.clone(),
    );
    let rng = OsRandom::new()?;
    let service = AuthService::new(
        config.policy.clone(),
        secrets.signing_key,
        store,
        mailer,
        SystemClock,
        rng,
    )
    .map_err(|e| ConfigError::new(crate::aws::config::PRESET, e.to_string()))?
    .with_previous_keys(secrets.previous_signing_key.into_iter().collect())
    .with_offload(TokioOffload::with_limit(
        config.policy.password.hash_slots(),
    ));
    Ok((service, secrets.support_token))
}

/// The service of a function that serves no support route (`sweeper`, `courier`), from the
/// environment ([`LambdaConfig::from_env`]) without reading the support token. A
/// configuration that does not work is reported as an init error, and the process exits.
pub async fn worker_service() -> LambdaService {
    let service = match LambdaConfig::from_env() {
        Ok(mut config) => {
            // No support route: do not read (or need permission for) the token.
            config.support_token = None;
            service(&config).await
        }
        Err(e) => Err(e.into()),
    };
    match service {
        Ok((s, _)) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            report_init_error(&e).await;
            std::process::exit(1);
        }
    }
}

/// The router's state `config` describes.
pub async fn state(config: &LambdaConfig) -> Result<LambdaState, Error> {
    let (service, support) = service(config).await?;
    Ok(AppState::new(service, support)
        .theme(std::sync::Arc::clone(&config.theme))
        .cors_origins(config.cors_origins.clone()))
}

// ---- the sweep (LC-1) ------------------------------------------------------------------------

/// The `sweeper` function's handler: on any event (an EventBridge schedule), deletes the
/// dormant users and their claims, logs the counts and answers the report as JSON
/// (`{"scanned": n, "deleted": [{"tenant", "user_id"}, …]}`; the log holds counts only, since
/// user IDs may be mail addresses).
pub async fn sweep<S: Store, M: Mailer>(
    service: &AuthService<S, M>,
    event: lambda_runtime::LambdaEvent<Value>,
) -> Result<Value, Error> {
    let started = Instant::now();
    let id = event
        .payload
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_owned();
    let kind = event
        .payload
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("-")
        .to_owned();
    let report = service.sweep_dormant().await.map_err(|e| {
        tracing::error!(event_id = %id, error = %e, "dormancy sweep failed");
        e
    })?;
    tracing::info!(
        event_id = %id,
        detail_type = %kind,
        scanned = report.scanned,
        deleted = report.deleted.len(),
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "dormancy sweep"
    );
    Ok(serde_json::to_value(&report)?)
}

// ---- the courier (M-4) -----------------------------------------------------------------------

/// The `courier` function's handler (M-4). Two kinds of event reach it:
///
/// - a batch of DynamoDB Stream records of the table (its event source mapping lets only new
///   outbox entries through): each names an entry by key, which is delivered if it is still
///   pending and due. A record whose delivery could not even start (the store out) is
///   answered in `batchItemFailures`, so Lambda retries from it (partial batch response);
///   a mail the mailer refused is not a failure here: the entry keeps it with its back-off.
/// - anything else (an EventBridge schedule, every minute): every due entry is delivered —
///   the retries after a back-off, entries an operator put back, any the stream missed.
///
/// Answers `{"batchItemFailures": [...]}` for a stream batch, the counts for a schedule.
pub async fn courier<S: Store, M: Mailer>(
    service: &AuthService<S, M>,
    event: lambda_runtime::LambdaEvent<Value>,
) -> Result<Value, Error> {
    let started = Instant::now();
    let Some(records) = event.payload.get("Records").and_then(Value::as_array) else {
        let d = service.deliver_pending().await.map_err(|e| {
            tracing::error!(error = %e, "courier: cannot read the outbox");
            e
        })?;
        log_delivery("scheduled delivery", &d, started);
        return Ok(serde_json::json!({
            "sent": d.sent, "resolved": d.resolved, "retried": d.retried, "failed": d.failed,
        }));
    };
    let mut total = monban_core::service::Delivery::default();
    let mut failures = Vec::new();
    for r in records {
        let sequence = r
            .pointer("/dynamodb/SequenceNumber")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let id = r
            .pointer("/dynamodb/Keys/sk/S")
            .and_then(Value::as_str)
            .and_then(|sk| sk.strip_prefix(crate::aws::item::OUTBOX_PREFIX));
        let inserted = r.get("eventName").and_then(Value::as_str) != Some("REMOVE");
        let Some(id) = id.filter(|_| inserted) else {
            continue;
        };
        match service.deliver_entry(id).await {
            Ok(d) => total.add(d),
            Err(e) => {
                tracing::warn!(error = %e, "courier: entry not delivered; the batch is retried from it");
                failures.push(serde_json::json!({ "itemIdentifier": sequence }));
            }
        }
    }
    log_delivery("stream delivery", &total, started);
    Ok(serde_json::json!({ "batchItemFailures": failures }))
}

fn log_delivery(what: &str, d: &monban_core::service::Delivery, started: Instant) {
    tracing::info!(
        sent = d.sent,
        resolved = d.resolved,
        retried = d.retried,
        failed = d.failed,
        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "{what}"
    );
}

// ---- a failed start --------------------------------------------------------------------------

/// Tells the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`) that the function could not start
/// (`POST /2018-06-01/runtime/init/error`), so the failure shows as an init error with its
/// message. The message names what is wrong and never holds a secret. Without the variable
/// (not on Lambda) nothing is sent.
pub async fn report_init_error(error: &(dyn std::fmt::Display + Sync)) {
    let Some(api) = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return;
    };
    let message = error.to_string();
    let sent = async {
        let base: lambda_http::http::Uri = format!("http://{}", api.trim()).parse()?;
        let client = lambda_runtime_api_client::Client::builder()
            .with_endpoint(base)
            .build()?;
        let body = serde_json::json!({
            "errorType": "Runtime.ConfigError",
            "errorMessage": message,
        })
        .to_string();
        let req = lambda_runtime_api_client::build_request()
            .method("POST")
            .uri("/2018-06-01/runtime/init/error")
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
            .header("Content-Type", "application/json")
            .body(lambda_runtime_api_client::body::Body::from(body))?;
        let res = client.call(req).await?;
        Ok::<_, Error>(res.status())
    }
    .await;
    match sent {
        Ok(status) if status.is_success() => {}
        Ok(status) => tracing::error!(status = status.as_u16(), "init error not accepted"),
        Err(e) => tracing::error!(error = %e, "cannot report the init error"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    // A tiny self-signed certificate's PEM; its SHA-256 computed with
    // `openssl x509 -noout -fingerprint -sha256`.
    const PEM: &str = include_str!("../../tests/fixtures/client_cert.pem");
    const FINGERPRINT: &str = include_str!("../../tests/fixtures/client_cert.sha256");

    #[test]
    fn the_fingerprint_is_the_sha256_of_the_der() {
        // SPEC: L-8
        assert_eq!(pem_sha256(PEM).as_deref(), Some(FINGERPRINT.trim()));
        // Line breaks as API Gateway sends them, or none at all.
        let one_line = PEM.replace('\n', "");
        assert_eq!(pem_sha256(&one_line).as_deref(), Some(FINGERPRINT.trim()));
        assert_eq!(pem_sha256("no certificate"), None);
        assert_eq!(
            pem_sha256("-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----"),
            None
        );
        assert_eq!(
            pem_sha256("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----"),
            None
        );
    }
}
