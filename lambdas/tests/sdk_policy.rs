//! The retry and timeout policy the Lambda functions give every AWS client
//! (`aws::lambda::sdk_loader`), on the clients the functions build (`dynamodb_client`,
//! `SesMailer::client`): an endpoint that accepts connections and never answers is tried again,
//! and the call then ends with the store's or the mailer's retryable error instead of hanging
//! until the function's own timeout.
//!
//! Nothing here times the calls: the test would hang (and fail at the harness's limit) if the
//! timeouts were not set, and it counts the attempts the stalled endpoint saw.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_core::Lang;
use monban_core::mail::{Mail, MailKind};
use monban_core::model::UserRef;
use monban_core::ports::{Mailer, Store, StoreError};
use monban_lambdas::aws::lambda::{dynamodb_client, sdk_loader};
use monban_lambdas::aws::mailer::SesMailer;
use monban_lambdas::aws::store::DynamoStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A loopback endpoint that accepts every connection, reads nothing and answers nothing.
/// Returns its URL and the number of connections it accepted so far.
async fn stalled_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

/// The functions' SDK configuration, with the region and credentials fixed instead of read
/// from the environment.
async fn sdk() -> aws_config::SdkConfig {
    sdk_loader()
        .region(aws_config::Region::new("ap-northeast-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "sdk-policy",
        ))
        .load()
        .await
}

#[tokio::test]
async fn a_stalled_dynamodb_is_retried_then_answered_unavailable() {
    let (url, accepted) = stalled_endpoint().await;
    let store = DynamoStore::new(dynamodb_client(&sdk().await, Some(&url)), "monban");
    let got = store.user(&UserRef::new("123456789", "admin")).await;
    match got {
        Err(StoreError::Unavailable(why)) => {
            assert!(why.contains("timed out"), "{why}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // The first attempt timed out and the standard retry mode tried again before the call's
    // own deadline ended it.
    let n = accepted.load(Ordering::SeqCst);
    assert!((2..=3).contains(&n), "{n} attempts");
}

#[tokio::test]
async fn a_stalled_ses_is_retried_then_answered_with_a_mail_error() {
    let (url, accepted) = stalled_endpoint().await;
    let mailer = SesMailer::new(
        SesMailer::client(&sdk().await, Some(&url)),
        "monban <no-reply@example.com>",
        None,
    );
    let mail = Mail {
        id: String::new(),
        to: "taro@example.com".into(),
        kind: MailKind::Otp,
        lang: Lang::Ja,
        subject: "ワンタイムパスワードのご連絡".into(),
        body: "■ワンタイムパスワード\n493817\n".into(),
    };
    let err = mailer.send(&mail).await.unwrap_err();
    assert!(err.0.contains("did not answer in time"), "{err}");
    assert!(!err.0.contains("493817"), "{err}");
    let n = accepted.load(Ordering::SeqCst);
    assert!((2..=3).contains(&n), "{n} attempts");
}
