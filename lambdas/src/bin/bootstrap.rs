//! The HTTP Lambda function: the monban API behind API Gateway (HTTP API, payload 2.0).
//!
//! At a cold start it reads its configuration once ([`LambdaConfig::from_env`]: table, sender,
//! policy, signing key from SSM, …), builds the service on DynamoDB and SES, and serves every
//! invocation with the one router the local server uses. A mutual-TLS client certificate in
//! the request context reaches the login as the L-8 certificate. A configuration that does not
//! work is reported to the Runtime API as an init error naming the variable, and the process
//! exits with status 1.

use monban_lambdas::aws::config::LambdaConfig;
use monban_lambdas::aws::lambda::{self, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_logs();
    let state = match LambdaConfig::from_env() {
        Ok(config) => lambda::state(&config).await,
        Err(e) => Err(e.into()),
    };
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            lambda::report_init_error(&e).await;
            std::process::exit(1);
        }
    };
    tracing::info!(policy = %state.service().policy().name, "started");
    lambda_http::run(lambda::app(state)).await
}
