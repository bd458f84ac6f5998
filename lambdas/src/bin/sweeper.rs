//! The scheduled Lambda function of LC-1: an EventBridge schedule invokes it (daily, say), and
//! it deletes the users dormant for the policy's period together with their e-mail and
//! certificate claims, answering the report (`{"scanned", "deleted"}`) as JSON.
//!
//! Configured like `bootstrap` ([`LambdaConfig::from_env`]); it sends no mail, but the service
//! is the same. A configuration that does not work is reported as an init error.

use lambda_runtime::{LambdaEvent, service_fn};
use monban_lambdas::aws::config::LambdaConfig;
use monban_lambdas::aws::lambda::{self, Error};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_logs();
    let service = match LambdaConfig::from_env() {
        Ok(mut config) => {
            // The sweep needs no support token: do not read (or need permission for) it.
            config.support_token = None;
            lambda::service(&config).await
        }
        Err(e) => Err(e.into()),
    };
    let service = match service {
        Ok((s, _)) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            lambda::report_init_error(&e).await;
            std::process::exit(1);
        }
    };
    let service = &service;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        lambda::sweep(service, event).await
    }))
    .await
}
