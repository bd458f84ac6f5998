//! monban on AWS: [`DynamoStore`](store::DynamoStore) (one DynamoDB table),
//! [`SesMailer`](mailer::SesMailer) (SES v2 `SendEmail`), the configuration the Lambda functions
//! read once per cold start, and what the `bootstrap` and `sweeper` binaries run.

pub mod config;
pub mod item;
pub mod lambda;
pub mod mailer;
pub mod store;

/// The HTTPS client of monban's AWS clients (the SDK's own: hyper 1 with rustls, here on
/// `ring`, trusting the system's certificate store). The SDK crates are built without their
/// default client (rustls on aws-lc), so a client configured without one fails its first call.
/// Each call builds a new client with its own connection pool: the functions build one per
/// process (in [`lambda::sdk_loader`], shared by every client made from that configuration),
/// and a pool must not outlive the tokio runtime its connections were made on.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
