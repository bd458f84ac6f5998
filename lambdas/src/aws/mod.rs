//! monban on AWS: [`DynamoStore`](store::DynamoStore) (one DynamoDB table),
//! [`SesMailer`](mailer::SesMailer) (SES v2 `SendEmail`), the configuration the Lambda functions
//! read once per cold start, and what the `bootstrap` and `sweeper` binaries run.

pub mod config;
pub mod item;
pub mod lambda;
pub mod mailer;
pub mod store;
