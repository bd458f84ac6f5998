//! What the AWS tests share: DynamoDB Local and the SES v2 stand-in (from
//! `monban_tests::aws_local`, started once per test process or named by
//! `MONBAN_TEST_DYNAMODB_ENDPOINT` / `MONBAN_TEST_SES_ENDPOINT`), a fresh table per test, unique
//! mail addresses (the SES stand-in is shared), and the mails read back from its `/store`.
//!
//! Nothing is skipped: a stand-in that cannot be started or reached fails the test with what to
//! do about it.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod runtime_api;

use monban_core::Lang;
use monban_core::mail::{Mail, MailKind, extract_secret};
use monban_lambdas::aws::store;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A name no other test (in this or another process) uses: `<prefix>-<pid>-<time>-<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000_000;
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A unique address at example.com, e.g. `admin.4242-…@example.com`.
pub fn address(who: &str) -> String {
    format!("{}@example.com", unique(who).replace('-', "."))
}

/// DynamoDB Local's endpoint.
pub fn dynamodb_endpoint() -> String {
    monban_tests::aws_local::dynamodb_endpoint()
}

/// A new table on DynamoDB Local, with its client.
pub async fn fresh_table() -> (aws_sdk_dynamodb::Client, String) {
    let endpoint = dynamodb_endpoint();
    let client = store::local_client(&endpoint);
    let table = unique("monban-test");
    store::create_table(&client, &table)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot create table {table} on DynamoDB Local at {endpoint}: {e}")
        });
    (client, table)
}

/// One mail the SES stand-in received.
#[derive(Debug, Clone)]
pub struct SesMail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
}

impl SesMail {
    /// The secret it delivers, read as a mail of `kind` (either language).
    pub fn secret(&self, kind: MailKind) -> Option<String> {
        [Lang::Ja, Lang::En].into_iter().find_map(|lang| {
            extract_secret(&Mail {
                id: String::new(),
                to: self.to.first().cloned().unwrap_or_default(),
                kind,
                lang,
                subject: self.subject.clone(),
                body: self.text.clone(),
            })
        })
    }
}

/// The SES v2 stand-in.
#[derive(Debug, Clone)]
pub struct Ses {
    pub endpoint: String,
}

impl Ses {
    pub fn start() -> Self {
        Self {
            endpoint: monban_tests::aws_local::ses_endpoint(),
        }
    }

    /// Every mail the stand-in holds, oldest first.
    pub fn all(&self) -> Vec<SesMail> {
        let url = format!("{}/store", self.endpoint);
        let body: Value = ureq::get(&url)
            .call()
            .unwrap_or_else(|e| panic!("the SES stand-in at {url} does not answer: {e}"))
            .body_mut()
            .read_json()
            .unwrap_or_else(|e| panic!("the SES stand-in at {url} answered no JSON: {e}"));
        body["emails"]
            .as_array()
            .unwrap_or_else(|| panic!("no `emails` in the SES stand-in's store: {body}"))
            .iter()
            .map(|m| SesMail {
                from: m["from"].as_str().unwrap_or("").to_owned(),
                to: m["destination"]["to"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                subject: m["subject"].as_str().unwrap_or("").to_owned(),
                text: m["body"]["text"].as_str().unwrap_or("").to_owned(),
            })
            .collect()
    }

    /// The mails to `to`, oldest first.
    pub fn to(&self, to: &str) -> Vec<SesMail> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect()
    }

    /// The last mail to `to`, which must deliver a secret as a mail of `kind`.
    #[track_caller]
    pub fn last_of(&self, to: &str, kind: MailKind) -> String {
        let mails = self.to(to);
        let last = mails
            .last()
            .unwrap_or_else(|| panic!("the SES stand-in has no mail to {to}"));
        last.secret(kind).unwrap_or_else(|| {
            panic!(
                "the last mail to {to} ({:?}) delivers no {kind:?} secret",
                last.subject
            )
        })
    }

    /// Waits (up to 10 s) until `to` has at least `count` mails; answers them.
    pub fn wait_for(&self, to: &str, count: usize) -> Vec<SesMail> {
        let started = Instant::now();
        loop {
            let mails = self.to(to);
            if mails.len() >= count {
                return mails;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{to} has {} mails, expected {count}",
                mails.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Writes a file only its owner may read (the secret files the functions accept).
pub fn write_private(path: &std::path::Path, content: &str) {
    std::fs::write(path, content).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The table's DynamoDB Stream as Lambda's event source mapping reads it for the courier
/// function (M-4): new outbox entries only (the template's filter), as DynamoDB stream events.
pub struct StreamFeed {
    client: aws_sdk_dynamodbstreams::Client,
    iterators: Vec<String>,
}

impl StreamFeed {
    /// Reads `table`'s stream from its start.
    pub async fn open(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Self {
        let arn = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .table()
            .and_then(|t| t.latest_stream_arn().map(str::to_owned))
            .unwrap_or_else(|| panic!("table {table} has no stream"));
        let conf = aws_sdk_dynamodbstreams::Config::builder()
            .http_client(monban_lambdas::aws::http_client())
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
            .endpoint_url(dynamodb_endpoint())
            .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
                "monbanlocal",
                "monbanlocal",
                None,
                None,
                "test",
            ))
            .build();
        let client = aws_sdk_dynamodbstreams::Client::from_conf(conf);
        let stream = client
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .unwrap();
        let mut iterators = Vec::new();
        for shard in stream
            .stream_description()
            .map(|d| d.shards())
            .unwrap_or_default()
        {
            let it = client
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id().unwrap_or_default())
                .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap();
            iterators.extend(it.shard_iterator().map(str::to_owned));
        }
        Self { client, iterators }
    }

    /// The next records that pass the courier's filter (inserts into the `OUTBOX` partition),
    /// as the `Records` of a DynamoDB stream event; waits up to 10 s for at least `at_least`.
    pub async fn next_event(&mut self, at_least: usize) -> Value {
        use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType};
        let started = Instant::now();
        let mut records = Vec::new();
        loop {
            let mut next = Vec::new();
            for it in std::mem::take(&mut self.iterators) {
                let out = self
                    .client
                    .get_records()
                    .shard_iterator(it)
                    .send()
                    .await
                    .unwrap();
                for r in out.records() {
                    let Some(d) = r.dynamodb() else { continue };
                    let keys = d.keys().cloned().unwrap_or_default();
                    let s = |k: &str| match keys.get(k) {
                        Some(AttributeValue::S(v)) => v.clone(),
                        _ => String::new(),
                    };
                    if r.event_name() != Some(&OperationType::Insert)
                        || s(monban_lambdas::aws::item::PK) != monban_lambdas::aws::item::OUTBOX_PK
                    {
                        continue;
                    }
                    records.push(serde_json::json!({
                        "eventID": r.event_id().unwrap_or_default(),
                        "eventName": "INSERT",
                        "eventSource": "aws:dynamodb",
                        "awsRegion": "us-east-1",
                        "dynamodb": {
                            "Keys": {
                                "pk": {"S": s("pk")},
                                "sk": {"S": s("sk")},
                            },
                            "SequenceNumber": d.sequence_number().unwrap_or_default(),
                            "StreamViewType": "KEYS_ONLY",
                        },
                    }));
                }
                next.extend(out.next_shard_iterator().map(str::to_owned));
            }
            self.iterators = next;
            if records.len() >= at_least {
                return serde_json::json!({ "Records": records });
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the stream gave {} outbox inserts, expected {at_least}",
                records.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
