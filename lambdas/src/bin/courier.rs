//! The courier Lambda function (M-4): fed by the table's DynamoDB Stream (new outbox entries)
//! and by an EventBridge schedule (retries after a back-off), it sends the queued mails
//! through SES and resolves queued recovery requests; see [`lambda::courier`].
//!
//! Configured like `bootstrap` ([`lambda::worker_service`]), without the support token. A
//! configuration that does not work is reported as an init error.

use lambda_runtime::{LambdaEvent, service_fn};
use monban_lambdas::aws::lambda::{self, Error};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_logs();
    let service = &lambda::worker_service().await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        lambda::courier(service, event).await
    }))
    .await
}
