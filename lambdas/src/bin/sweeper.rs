//! The scheduled Lambda function of LC-1: an EventBridge schedule invokes it (daily, say), and
//! it deletes the users dormant for the policy's period together with their e-mail and
//! certificate claims, answering the report (`{"scanned", "deleted"}`) as JSON.
//!
//! Configured like `bootstrap` ([`lambda::worker_service`]); it sends no mail, but the service
//! is the same. A configuration that does not work is reported as an init error.

use lambda_runtime::{LambdaEvent, service_fn};
use monban_lambdas::aws::lambda::{self, Error};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_logs();
    let service = &lambda::worker_service().await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        lambda::sweep(service, event).await
    }))
    .await
}
