//! [`DynamoStore`]: the [`Store`] port on one DynamoDB table.
//!
//! # Table layout
//!
//! One table, string keys `pk` (partition) and `sk` (sort), on-demand billing
//! (`PAY_PER_REQUEST`). Attribute names and the record ↔ item mapping are in
//! [`super::item`]; each item carries `type` and `version`.
//!
//! | item          | `pk`             | `sk`          | in index                                     |
//! |---------------|------------------|---------------|----------------------------------------------|
//! | tenant        | `T#<code>`       | `META`        | `users`: `upk`=`TENANT`, `usk`=`<code>`      |
//! | user          | `T#<code>`       | `U#<user id>` | `users`: `upk`=`USER`, `usk`=`<code>\0<id>`  |
//! | e-mail owners | `E#<normalized>` | `OWNERS`      | —                                            |
//! | cert owner    | `K#<cert key>`   | `OWNER`       | —                                            |
//! | audit event   | `T#<code>` (`A#` without tenant) | `A#<seq>` | `audit`: `apk`=`AUDIT`, `ask`=`A#<seq>` |
//! | counter (AB-6) | `N#<group>`     | `N#<name>`    | —                                            |
//!
//! Two global secondary indexes, both sparse (only the items that carry their keys):
//!
//! - **`users`** (keys only) pages every user of every tenant for
//!   [`Store::scan_users`] (the dormancy sweep), ordered by (tenant, user ID) like the other
//!   stores; the records themselves are then read with a consistent `BatchGetItem`. Chosen over
//!   a table `Scan` because a scan would also read every audit event, the bulk of the table,
//!   and its order is a hash order. Keys-only projection: a user update that keeps its keys
//!   writes nothing to the index, so the index costs one index write per user created or
//!   deleted, not per login.
//!   Tenant items carry keys of the same index in their own partition (`upk`=`TENANT`), so
//!   [`Store::list_tenants`] pages the tenants by code the same way (a tenant written before
//!   this entry existed appears once it is next written).
//! - **`audit`** (all attributes) orders every audit event for the audit query without a tenant
//!   filter. A query with a tenant reads the tenant's partition (`begins_with(sk, "A#")`)
//!   instead, consistently.
//!
//! Each index has one partition key value, so it is one hot partition: the `audit` index takes
//! about 1000 events per second (DynamoDB's per-partition write limit) before appends throttle;
//! beyond that its key would need a shard suffix and the unfiltered query a merge. `users` is
//! written only when a user is created or deleted.
//!
//! `list_users` is a consistent `Query` on `pk = T#<code>` with `begins_with(sk, "U#")`.
//! `<seq>` of an audit event is 16 hex digits of a process-wide strictly increasing microsecond
//! clock and 8 hex digits of a per-process random number: unique, and in append order (across
//! processes, up to clock skew), so a cursor never misses an event appended later.
//!
//! # Consistency
//!
//! Every record read by key is a `GetItem` with `ConsistentRead`; `list_users`, tenant-filtered
//! audit queries and the `BatchGetItem` behind `scan_users` are consistent too. A write is a
//! conditional `PutItem`/`DeleteItem` (one record) or one `TransactWriteItems` (several, at most
//! 100, all or nothing). Every put carries `version = <record version> + 1` and the condition
//! `attribute_not_exists(pk)` (version 0: create) or `version = :v`; every delete
//! `version = :v`. So a batch applies only if every record is still at the version it was
//! read at, exactly the [`Write`] contract the memory and SQLite stores keep: a read-decide-write
//! that raced another writer fails its condition (`ConditionalCheckFailed`, or a transaction
//! cancelled with that reason or with `TransactionConflict`) and answers
//! [`StoreError::Conflict`]; the service reads again and re-decides. A batch naming one record
//! twice is refused before anything is sent (DynamoDB would refuse it too), and so is a batch of
//! more than 100 writes.
//!
//! The two indexes are eventually consistent, and only the listings without a strong need read
//! them: a sweep may miss a user created a moment ago (it is not dormant) and skips one deleted
//! a moment ago (its `BatchGetItem` finds nothing); the unfiltered audit view may trail the
//! appends by a moment.
//!
//! Audit events ride in the batch of the state change they record: puts with no
//! condition inside the same `TransactWriteItems`, so an event is stored exactly when its
//! change is. Events that record no change of their own (an unknown account's failure) are one
//! unconditional `PutItem`, or one transaction for several. The outbox (M-4) is one partition,
//! `OUTBOX`, with an entry per sort key `O#<id>` (IDs sort in queueing order): the table's
//! stream feeds its inserts to the courier function; a consistent `Query` lists what is due.
//! One partition takes about 1,000 writes a second, and each queued mail costs three (queue,
//! take, delete): past some 300 mails a second, shard the partition.
//!
//! # Errors
//!
//! Condition failures and `TransactionConflict` are [`StoreError::Conflict`]. Throttling,
//! 5xx, timeouts and everything else are [`StoreError::Unavailable`] with the operation and the
//! DynamoDB error code — never an item, so never a secret. The SDK's retry policy (standard
//! mode, 3 attempts, see [`local_config`]) retries throttling and 5xx before that. A conflict is
//! answered after a short random pause that grows with the calls in flight (as `SqliteStore`
//! does), so that many tasks racing on one record spread out even when the service's clock
//! does not pause.
//!
//! Items hold password hashes and authenticator secrets: this module never logs or formats
//! one, but the AWS SDK itself logs whole request and response bodies at `TRACE` level
//! (`aws_smithy_runtime`), so that target must stay below `TRACE` in production.
//!
//! # TTL
//!
//! monban keeps its one-time things — pending logins (OTP challenges) and pending resets — on
//! the user record (ARCHITECTURE.md: "One-time things live on the user record"), so there are no
//! challenge or token items to expire, and expiry is always checked on read. Tenants, users and
//! the uniqueness claims live until deleted. The only items that may expire are audit events:
//! [`DynamoStore::with_audit_retention`] sets their `ttl` attribute (`at` + retention) so that
//! DynamoDB's TTL (enabled on `ttl` by [`create_table`] and by the deployment template) deletes
//! them; without a retention (the policies have none today) audit events are kept.
//!
//! # Cost figures
//!
//! Every call asks for `ReturnConsumedCapacity::TOTAL`; [`DynamoStore::usage`] gives the calls
//! and capacity units per operation since the store was made ([`Usage::since`] for a step);
//! `benches/src/bin/dynamo_cost.rs` prints them per flow step. A user item is under 1 KB (one
//! write unit, one consistent read unit); an audit event costs two write units (the item and
//! its `audit` index entry); a two-record transaction (a user and its e-mail claim) six (two
//! items, the new user's `users` index entry, doubled for the transaction).

use super::item::{self, Item};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConsumedCapacity, Delete,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType,
    Put, ReturnConsumedCapacity, ReturnValue, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus, TimeToLiveSpecification, TransactWriteItem,
};
use monban_core::abuse::Counter;
use monban_core::audit::{AuditEvent, AuditFilter};
use monban_core::model::{CertOwner, EmailOwners, Page, Tenant, User, UserRef, Write};
use monban_core::outbox::{OutboxEntry, OutboxFilter};
use monban_core::ports::{Store, StoreError, StoreResult};
use monban_core::time::Timestamp;
use monban_embedded::contention::{BackOff, Contention, jitter};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Most writes one `TransactWriteItems` takes.
pub const MAX_BATCH: usize = 100;
/// Most items a listing page holds (a larger `limit` is cut to this).
pub const MAX_PAGE: usize = 1000;
/// Most keys one `BatchGetItem` takes.
const BATCH_GET_MAX: usize = 100;
/// How often unprocessed batch items are re-sent before the call answers `Unavailable`.
const BATCH_RETRIES: u32 = 8;

// ---- usage ------------------------------------------------------------------------------------

/// Calls and capacity units of one DynamoDB operation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OpUsage {
    /// Calls made (each one logical call; the SDK's own retries are not counted apart).
    pub calls: u64,
    /// Calls that answered an error (a failed condition included).
    pub failed: u64,
    /// Read capacity units reported consumed.
    pub read_units: f64,
    /// Write capacity units reported consumed. A failed condition consumes write units too,
    /// but DynamoDB does not report them on an error, so they are not counted here.
    pub write_units: f64,
}

/// Calls and consumed capacity per DynamoDB operation (`GetItem`, `PutItem`, …). Audit appends
/// appended on their own are counted apart, as `PutItem (audit)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    /// Per operation name.
    pub ops: BTreeMap<&'static str, OpUsage>,
}

impl Usage {
    /// What was used after `earlier` (a snapshot of the same store).
    #[must_use]
    pub fn since(&self, earlier: &Usage) -> Usage {
        let mut ops = BTreeMap::new();
        for (name, now) in &self.ops {
            let then = earlier.ops.get(name).copied().unwrap_or_default();
            let d = OpUsage {
                calls: now.calls.saturating_sub(then.calls),
                failed: now.failed.saturating_sub(then.failed),
                read_units: now.read_units - then.read_units,
                write_units: now.write_units - then.write_units,
            };
            if d.calls > 0 || d.read_units != 0.0 || d.write_units != 0.0 {
                ops.insert(*name, d);
            }
        }
        Usage { ops }
    }

    /// Calls of every operation.
    pub fn calls(&self) -> u64 {
        self.ops.values().map(|o| o.calls).sum()
    }

    /// Read capacity units of every operation.
    pub fn read_units(&self) -> f64 {
        self.ops.values().map(|o| o.read_units).sum()
    }

    /// Write capacity units of every operation.
    pub fn write_units(&self) -> f64 {
        self.ops.values().map(|o| o.write_units).sum()
    }

    /// `GetItem×2, PutItem×1` — the calls, by operation.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .ops
            .iter()
            .filter(|(_, o)| o.calls > 0)
            .map(|(name, o)| format!("{name}×{}", o.calls))
            .collect();
        if parts.is_empty() {
            "—".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// Whether an operation's capacity counts as reads or writes.
#[derive(Clone, Copy)]
enum Class {
    Read,
    Write,
}

fn class(op: &str) -> Class {
    match op {
        "GetItem" | "Query" | "Scan" | "BatchGetItem" | "DescribeTable" => Class::Read,
        _ => Class::Write,
    }
}

/// The capacity a call's output reports (`ReturnConsumedCapacity::TOTAL`).
trait Consumed {
    fn consumed(&self) -> &[ConsumedCapacity];
}

macro_rules! consumed {
    (one: $($one:ty),*; many: $($many:ty),*) => {
        $(impl Consumed for $one {
            fn consumed(&self) -> &[ConsumedCapacity] {
                self.consumed_capacity.as_slice()
            }
        })*
        $(impl Consumed for $many {
            fn consumed(&self) -> &[ConsumedCapacity] {
                self.consumed_capacity()
            }
        })*
    };
}

consumed!(
    one: aws_sdk_dynamodb::operation::get_item::GetItemOutput,
        aws_sdk_dynamodb::operation::query::QueryOutput,
        aws_sdk_dynamodb::operation::put_item::PutItemOutput,
        aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput,
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
    many: aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput,
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput
);

// ---- the store --------------------------------------------------------------------------------

/// A [`Store`] on one DynamoDB table (layout and consistency in the
/// [module documentation](self)). Cheap to clone: clones share the client and the counters.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
    /// Seconds an audit event is kept (its `ttl` is `at` + this), if set.
    audit_retention_secs: Option<i64>,
    shared: Arc<Shared>,
}

struct Shared {
    usage: Mutex<Usage>,
    /// Calls in progress and a commit's round trip: what the conflict back-off scales to.
    contention: Contention,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("audit_retention_secs", &self.audit_retention_secs)
            .finish_non_exhaustive()
    }
}

fn unavailable(why: impl Into<String>) -> StoreError {
    StoreError::Unavailable(why.into())
}

fn build_error(what: &str, e: &BuildError) -> StoreError {
    unavailable(format!("dynamodb: cannot build {what}: {e}"))
}

/// A short, secret-free reason: the operation, the DynamoDB error code and its message (AWS's
/// messages name parameters, never attribute values), cut to a sane length.
fn sdk_error<E>(op: &str, e: &SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(se) => match e.code() {
            Some("ConditionalCheckFailedException" | "TransactionConflictException") => {
                StoreError::Conflict
            }
            Some(code) => {
                let mut msg = e.message().unwrap_or_default().to_owned();
                if msg.chars().count() > 160 {
                    msg = msg.chars().take(160).collect::<String>() + "…";
                }
                if msg.is_empty() {
                    unavailable(format!("dynamodb {op}: {code}"))
                } else {
                    unavailable(format!("dynamodb {op}: {code}: {msg}"))
                }
            }
            None => unavailable(format!(
                "dynamodb {op}: HTTP {} without an error code",
                se.raw().status().as_u16()
            )),
        },
        SdkError::TimeoutError(_) => unavailable(format!("dynamodb {op}: timed out")),
        SdkError::DispatchFailure(d) => {
            let why = if d.is_timeout() {
                "timed out connecting"
            } else if d.is_io() {
                "I/O error"
            } else {
                "could not send the request"
            };
            unavailable(format!("dynamodb {op}: {why}"))
        }
        SdkError::ResponseError(_) => unavailable(format!("dynamodb {op}: unreadable response")),
        SdkError::ConstructionFailure(_) => {
            unavailable(format!("dynamodb {op}: request not built"))
        }
        _ => unavailable(format!("dynamodb {op}: failed")),
    }
}

/// `TransactWriteItems` errors: a cancellation whose reasons are all failed conditions or
/// conflicting transactions is a [`StoreError::Conflict`]; any other reason (throttling, a
/// validation error, capacity) is `Unavailable`.
fn transact_error(e: &SdkError<TransactWriteItemsError>) -> StoreError {
    if let SdkError::ServiceError(se) = e
        && let TransactWriteItemsError::TransactionCanceledException(tc) = se.err()
    {
        let reasons: Vec<&str> = tc
            .cancellation_reasons()
            .iter()
            .filter_map(|r| r.code())
            .filter(|c| *c != "None")
            .collect();
        if !reasons.is_empty()
            && reasons
                .iter()
                .all(|c| matches!(*c, "ConditionalCheckFailed" | "TransactionConflict"))
        {
            return StoreError::Conflict;
        }
        let mut shown = reasons;
        shown.sort_unstable();
        shown.dedup();
        return unavailable(format!(
            "dynamodb TransactWriteItems: transaction cancelled ({})",
            if shown.is_empty() {
                "no reason given".to_owned()
            } else {
                shown.join(", ")
            }
        ));
    }
    sdk_error("TransactWriteItems", e)
}

/// The conflict back-off's unit is two typical commit round trips (2 to 50 ms), times the calls
/// in flight, at most 2 s.
const BACK_OFF: BackOff = BackOff {
    first_commit: Duration::from_millis(5),
    commits_per_unit: 2,
    unit_min: Duration::from_millis(2),
    unit_max: Duration::from_millis(50),
    max: Duration::from_secs(2),
};

/// The next audit sort key: `A#<16 hex: strictly increasing microseconds><8 hex: process id>`.
fn next_audit_sk() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::OnceLock;
    static LAST: AtomicU64 = AtomicU64::new(0);
    static PROCESS: OnceLock<u32> = OnceLock::new();
    let process = *PROCESS.get_or_init(|| {
        let x = RandomState::new().hash_one(std::process::id());
        u32::try_from(x >> 32).unwrap_or(0)
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let prev = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last.saturating_add(1)))
        })
        .unwrap_or(now);
    let seq = now.max(prev.saturating_add(1));
    format!("{}{seq:016x}{process:08x}", item::AUDIT_PREFIX)
}

/// Items a query asks for per call when it needs `need` more: with a filter (evaluated after
/// `Limit`), a good stretch, so a selective filter does not take one call per item.
fn per_call(filtered: bool) -> impl Fn(usize) -> usize {
    move |need| {
        if filtered {
            need.clamp(100, MAX_PAGE + 1)
        } else {
            need
        }
    }
}

/// `limit` as the page size (1..=[`MAX_PAGE`]) and the items to fetch (+1: is there more?).
fn limits(limit: usize) -> (usize, usize) {
    let limit = limit.clamp(1, MAX_PAGE);
    (limit, limit + 1)
}

fn i32_limit(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A query: which index, key condition, filter, and their placeholders.
struct Query {
    op_index: Option<&'static str>,
    key_condition: String,
    filter: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    consistent: bool,
}

/// One write, ready for the wire.
enum Op {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Item,
        condition: Condition,
    },
    /// An audit event: a put with no condition.
    Append {
        item: Item,
    },
}

struct Condition {
    expression: &'static str,
    names: HashMap<String, String>,
    values: Option<HashMap<String, AttributeValue>>,
}

/// A put's condition: absent (version 0) or at `version`.
fn put_condition(version: u64) -> Condition {
    if version == 0 {
        Condition {
            expression: "attribute_not_exists(#pk)",
            names: HashMap::from([("#pk".to_owned(), item::PK.to_owned())]),
            values: None,
        }
    } else {
        at_version(version)
    }
}

/// Stored at exactly `version` (an absent record has no version, so fails it).
fn at_version(version: u64) -> Condition {
    Condition {
        expression: "#v = :v",
        names: HashMap::from([("#v".to_owned(), item::VERSION.to_owned())]),
        values: Some(HashMap::from([(
            ":v".to_owned(),
            AttributeValue::N(version.to_string()),
        )])),
    }
}

fn next_version(what: &str, version: u64) -> StoreResult<u64> {
    version
        .checked_add(1)
        .ok_or_else(|| unavailable(format!("{what}: version overflow")))
}

/// The primary key a write touches, for the duplicate check (an audit append gets a fresh
/// one of its own).
fn write_key(w: &Write) -> Option<(String, String)> {
    Some(match w {
        Write::PutTenant(t) => (item::tenant_pk(&t.code), item::TENANT_SK.to_owned()),
        Write::DeleteTenant { code, .. } => (item::tenant_pk(code), item::TENANT_SK.to_owned()),
        Write::PutUser(u) => (item::tenant_pk(&u.tenant), item::user_sk(&u.user_id)),
        Write::DeleteUser { user, .. } => {
            (item::tenant_pk(&user.tenant), item::user_sk(&user.user_id))
        }
        Write::PutEmailOwners(e) => (item::email_pk(&e.address), item::EMAIL_SK.to_owned()),
        Write::DeleteEmailOwners { address, .. } => {
            (item::email_pk(address), item::EMAIL_SK.to_owned())
        }
        Write::PutCertOwner(c) => (item::cert_pk(&c.key), item::CERT_SK.to_owned()),
        Write::DeleteCertOwner { key, .. } => (item::cert_pk(key), item::CERT_SK.to_owned()),
        Write::PutOutbox(o) => (
            item::OUTBOX_PK.to_owned(),
            format!("{}{}", item::OUTBOX_PREFIX, o.id),
        ),
        Write::DeleteOutbox { id, .. } => (
            item::OUTBOX_PK.to_owned(),
            format!("{}{id}", item::OUTBOX_PREFIX),
        ),
        Write::Audit(_) => return None,
    })
}

fn what(w: &Write) -> &'static str {
    match w {
        Write::PutTenant(_) | Write::DeleteTenant { .. } => "tenant",
        Write::PutUser(_) | Write::DeleteUser { .. } => "user",
        Write::PutEmailOwners(_) | Write::DeleteEmailOwners { .. } => "e-mail owners record",
        Write::PutCertOwner(_) | Write::DeleteCertOwner { .. } => "certificate owner",
        Write::PutOutbox(_) | Write::DeleteOutbox { .. } => "outbox entry",
        Write::Audit(_) => "audit event",
    }
}

impl DynamoStore {
    fn op_of(&self, w: Write) -> StoreResult<Op> {
        Ok(match w {
            Write::Audit(e) => Op::Append {
                item: self.audit_item(&e),
            },
            Write::PutOutbox(o) => Op::Put {
                item: item::outbox_item(&o, next_version("outbox entry", o.version)?),
                condition: put_condition(o.version),
            },
            Write::DeleteOutbox { id, expect } => Op::Delete {
                key: item::outbox_key(&id),
                condition: at_version(expect),
            },
            w => op_of(w)?,
        })
    }

    fn audit_item(&self, e: &AuditEvent) -> Item {
        let expires = self
            .audit_retention_secs
            .map(|r| e.at.secs().saturating_add(r));
        item::audit_item(e, &next_audit_sk(), expires)
    }
}

fn op_of(w: Write) -> StoreResult<Op> {
    Ok(match w {
        Write::PutTenant(t) => Op::Put {
            item: item::tenant_item(&t, next_version("tenant", t.version)?),
            condition: put_condition(t.version),
        },
        Write::DeleteTenant { code, expect } => Op::Delete {
            key: item::tenant_key(&code),
            condition: at_version(expect),
        },
        Write::PutUser(u) => Op::Put {
            item: item::user_item(&u, next_version("user", u.version)?),
            condition: put_condition(u.version),
        },
        Write::DeleteUser { user, expect } => Op::Delete {
            key: item::user_key(&user),
            condition: at_version(expect),
        },
        Write::PutEmailOwners(e) => Op::Put {
            item: item::email_owners_item(&e, next_version("e-mail owners", e.version)?),
            condition: put_condition(e.version),
        },
        Write::DeleteEmailOwners { address, expect } => Op::Delete {
            key: item::email_key(&address),
            condition: at_version(expect),
        },
        Write::PutCertOwner(c) => Op::Put {
            item: item::cert_owner_item(&c, next_version("certificate owner", c.version)?),
            condition: put_condition(c.version),
        },
        Write::DeleteCertOwner { key, expect } => Op::Delete {
            key: item::cert_key(&key),
            condition: at_version(expect),
        },
        Write::PutOutbox(_) | Write::DeleteOutbox { .. } | Write::Audit(_) => {
            return Err(unavailable(
                "outbox and audit writes are mapped by the store",
            ));
        }
    })
}

fn key_of(what: &'static str, item: &Item) -> StoreResult<Item> {
    Ok(item::key(
        item::string_attr(what, item, item::PK)?,
        item::string_attr(what, item, item::SK)?,
    ))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

impl DynamoStore {
    /// A store on `table` (which must exist, see [`create_table`]) through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table: String = table.into();
        Self {
            client,
            table: Arc::from(table),
            audit_retention_secs: None,
            shared: Arc::new(Shared {
                usage: Mutex::new(Usage::default()),
                contention: Contention::new(BACK_OFF),
            }),
        }
    }

    /// Audit events get a `ttl` of `at + retention`, for DynamoDB's TTL to delete them
    /// (`None`, the default: kept).
    #[must_use]
    pub fn with_audit_retention(mut self, retention: Option<Duration>) -> Self {
        self.audit_retention_secs =
            retention.map(|r| i64::try_from(r.as_secs()).unwrap_or(i64::MAX));
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Calls and capacity units consumed since the store was made.
    pub fn usage(&self) -> Usage {
        self.shared
            .usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records a call (its consumed capacity when it succeeded) and maps its error with `error`.
    fn recorded<O: Consumed, E>(
        &self,
        op: &'static str,
        out: Result<O, SdkError<E>>,
        error: impl FnOnce(&SdkError<E>) -> StoreError,
    ) -> StoreResult<O> {
        match out {
            Ok(o) => {
                self.record(op, true, o.consumed());
                Ok(o)
            }
            Err(e) => {
                self.record(op, false, []);
                Err(error(&e))
            }
        }
    }

    fn record<'a>(
        &self,
        op: &'static str,
        ok: bool,
        consumed: impl IntoIterator<Item = &'a ConsumedCapacity>,
    ) {
        let (mut read, mut write) = (0.0, 0.0);
        for c in consumed {
            match (c.read_capacity_units(), c.write_capacity_units()) {
                (None, None) => match class(op) {
                    Class::Read => read += c.capacity_units().unwrap_or(0.0),
                    Class::Write => write += c.capacity_units().unwrap_or(0.0),
                },
                (r, w) => {
                    read += r.unwrap_or(0.0);
                    write += w.unwrap_or(0.0);
                }
            }
        }
        let mut usage = self
            .shared
            .usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let o = usage.ops.entry(op).or_default();
        o.calls += 1;
        if !ok {
            o.failed += 1;
        }
        o.read_units += read;
        o.write_units += write;
    }

    /// Waits a random while before a conflict is answered, longer the more calls are in
    /// flight: many tasks re-deciding against one hot record (200 racing wrong passwords) then
    /// spread out instead of colliding again at once (see [`monban_embedded::contention`]).
    async fn back_off(&self) {
        tokio::time::sleep(self.shared.contention.pause()).await;
    }

    // ---- reads ------------------------------------------------------------------------------

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let _f = self.shared.contention.enter();
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let out = self.recorded("GetItem", out, |e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// One `Query` call: the items and where the next call starts.
    async fn query_once(
        &self,
        q: &Query,
        start: Option<Item>,
        limit: usize,
    ) -> StoreResult<(Vec<Item>, Option<Item>)> {
        let _f = self.shared.contention.enter();
        let out = self
            .client
            .query()
            .table_name(&*self.table)
            .set_index_name(q.op_index.map(str::to_owned))
            .key_condition_expression(&q.key_condition)
            .set_filter_expression(q.filter.clone())
            .set_expression_attribute_names(Some(q.names.clone()))
            .set_expression_attribute_values(Some(q.values.clone()))
            .set_exclusive_start_key(start)
            .consistent_read(q.consistent)
            .limit(i32_limit(limit))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        let out = self.recorded("Query", out, |e| sdk_error("Query", e))?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Queries until `want` items are collected or the query ends; `per_call` is the `Limit`
    /// of each call (items evaluated, before the filter).
    async fn query(
        &self,
        q: &Query,
        mut start: Option<Item>,
        want: usize,
        per_call: impl Fn(usize) -> usize,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            let need = want.saturating_sub(items.len());
            let (page, last) = self.query_once(q, start, per_call(need)).await?;
            items.extend(page);
            match last {
                Some(last) if items.len() < want => start = Some(last),
                _ => break,
            }
        }
        Ok(items)
    }

    /// Consistent `BatchGetItem` of `keys` (any number), in the order of `keys`; missing
    /// items are left out.
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        let order: Vec<(String, String)> = keys
            .iter()
            .map(|k| {
                Ok((
                    item::string_attr("key", k, item::PK)?,
                    item::string_attr("key", k, item::SK)?,
                ))
            })
            .collect::<StoreResult<_>>()?;
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending: Vec<Item> = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt > BATCH_RETRIES {
                    return Err(unavailable(
                        "dynamodb BatchGetItem: keys left unprocessed (throttled)",
                    ));
                }
                if attempt > 0 {
                    tokio::time::sleep(jitter(Duration::from_millis(10 << attempt.min(6)))).await;
                }
                attempt += 1;
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| build_error("BatchGetItem keys", &e))?;
                let _f = self.shared.contention.enter();
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&*self.table, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await;
                let out = self.recorded("BatchGetItem", out, |e| sdk_error("BatchGetItem", e))?;
                if let Some(items) = out.responses.and_then(|mut r| r.remove(&*self.table)) {
                    for it in items {
                        let k = (
                            item::string_attr("item", &it, item::PK)?,
                            item::string_attr("item", &it, item::SK)?,
                        );
                        found.insert(k, it);
                    }
                }
                if let Some(left) = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&*self.table))
                {
                    pending = left.keys;
                }
            }
        }
        Ok(order.into_iter().filter_map(|k| found.remove(&k)).collect())
    }

    // ---- writes -----------------------------------------------------------------------------

    async fn write_one(&self, op: Op) -> StoreResult<()> {
        let _f = self.shared.contention.enter();
        match op {
            Op::Put { item, condition } => {
                let out = self
                    .client
                    .put_item()
                    .table_name(&*self.table)
                    .set_item(Some(item))
                    .condition_expression(condition.expression)
                    .set_expression_attribute_names(Some(condition.names))
                    .set_expression_attribute_values(condition.values)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await;
                self.recorded("PutItem", out, |e| sdk_error("PutItem", e))
                    .map(drop)
            }
            Op::Delete { key, condition } => {
                let out = self
                    .client
                    .delete_item()
                    .table_name(&*self.table)
                    .set_key(Some(key))
                    .condition_expression(condition.expression)
                    .set_expression_attribute_names(Some(condition.names))
                    .set_expression_attribute_values(condition.values)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await;
                self.recorded("DeleteItem", out, |e| sdk_error("DeleteItem", e))
                    .map(drop)
            }
            Op::Append { item } => self.put_unconditional(item).await,
        }
    }

    async fn write_all(&self, ops: Vec<Op>) -> StoreResult<()> {
        let mut items = Vec::with_capacity(ops.len());
        for op in ops {
            let t = match op {
                Op::Put { item, condition } => TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&*self.table)
                            .set_item(Some(item))
                            .condition_expression(condition.expression)
                            .set_expression_attribute_names(Some(condition.names))
                            .set_expression_attribute_values(condition.values)
                            .build()
                            .map_err(|e| build_error("a transaction put", &e))?,
                    )
                    .build(),
                Op::Delete { key, condition } => TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&*self.table)
                            .set_key(Some(key))
                            .condition_expression(condition.expression)
                            .set_expression_attribute_names(Some(condition.names))
                            .set_expression_attribute_values(condition.values)
                            .build()
                            .map_err(|e| build_error("a transaction delete", &e))?,
                    )
                    .build(),
                Op::Append { item } => TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&*self.table)
                            .set_item(Some(item))
                            .build()
                            .map_err(|e| build_error("a transaction put", &e))?,
                    )
                    .build(),
            };
            items.push(t);
        }
        let _f = self.shared.contention.enter();
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.recorded("TransactWriteItems", out, transact_error)
            .map(drop)
    }

    async fn put_unconditional(&self, item: Item) -> StoreResult<()> {
        let _f = self.shared.contention.enter();
        let out = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.recorded("PutItem (audit)", out, |e| sdk_error("PutItem", e))
            .map(drop)
    }
}

// ---- counters (AB-6) ---------------------------------------------------------------------------

/// How often a bump re-tries when its two conditional updates keep losing to others (each loss
/// means another request changed the window in between, so this is never reached in practice).
const COUNTER_ROUNDS: usize = 16;

impl DynamoStore {
    /// One `UpdateItem` of a counter: `Ok(None)` when its condition failed.
    async fn update_counter(
        &self,
        key: Item,
        update: &str,
        condition: &str,
        attrs: &[(&str, &str)],
        values: HashMap<String, AttributeValue>,
    ) -> StoreResult<Option<Item>> {
        let _f = self.shared.contention.enter();
        let out = self
            .client
            .update_item()
            .table_name(&*self.table)
            .set_key(Some(key))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names(attrs)))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match self.recorded("UpdateItem", out, |e| sdk_error("UpdateItem", e)) {
            Ok(o) => Ok(o.attributes),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---- the port ---------------------------------------------------------------------------------

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Store for DynamoStore {
    // The sort keys this store writes: `A#` + 16 + 8 hex digits.
    const AUDIT_CURSOR_PATTERN: &'static str = "^A#[0-9A-Fa-f]{24}$";
    const MAX_BATCH: usize = MAX_BATCH;

    async fn outbox_entry(&self, id: &str) -> StoreResult<Option<OutboxEntry>> {
        self.get(item::outbox_key(id))
            .await?
            .map(|it| item::outbox_from(&it))
            .transpose()
    }

    async fn list_outbox(
        &self,
        filter: &OutboxFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<OutboxEntry>> {
        let (limit, want) = limits(limit);
        let mut names = names(&[("#pk", item::PK), ("#sk", item::SK)]);
        let mut values = HashMap::from([
            (":pk".to_owned(), s(item::OUTBOX_PK)),
            (":o".to_owned(), s(item::OUTBOX_PREFIX)),
        ]);
        let mut filters = Vec::new();
        if let Some(state) = filter.state {
            names.insert("#state".to_owned(), item::STATE.to_owned());
            values.insert(":state".to_owned(), s(state.as_str()));
            filters.push("#state = :state");
        }
        if let Some(due) = filter.due_by {
            names.insert("#due".to_owned(), item::DUE_AT.to_owned());
            values.insert(":due".to_owned(), AttributeValue::N(due.secs().to_string()));
            filters.push("#due <= :due");
        }
        let filtered = !filters.is_empty();
        let q = Query {
            op_index: None,
            key_condition: "#pk = :pk AND begins_with(#sk, :o)".to_owned(),
            filter: filtered.then(|| filters.join(" AND ")),
            names,
            values,
            consistent: true,
        };
        let start = after.map(item::outbox_key);
        let items = self.query(&q, start, want, per_call(filtered)).await?;
        let more = items.len() > limit;
        let entries = items
            .iter()
            .take(limit)
            .map(item::outbox_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = if more {
            entries.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(Page {
            items: entries,
            next,
        })
    }

    async fn tenant(&self, code: &str) -> StoreResult<Option<Tenant>> {
        self.get(item::tenant_key(code))
            .await?
            .map(|it| item::tenant_from(&it))
            .transpose()
    }

    async fn user(&self, user: &UserRef) -> StoreResult<Option<User>> {
        self.get(item::user_key(user))
            .await?
            .map(|it| item::user_from(&it))
            .transpose()
    }

    async fn list_tenants(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<Tenant>> {
        let (limit, want) = limits(limit);
        let mut values = HashMap::from([(":t".to_owned(), s(item::TENANTS_INDEX_PK_VALUE))]);
        let mut names = names(&[("#upk", item::USERS_INDEX_PK)]);
        let key_condition = match after {
            Some(a) => {
                values.insert(":after".to_owned(), s(a));
                names.insert("#usk".to_owned(), item::USERS_INDEX_SK.to_owned());
                "#upk = :t AND #usk > :after"
            }
            None => "#upk = :t",
        };
        let q = Query {
            op_index: Some(item::USERS_INDEX),
            key_condition: key_condition.to_owned(),
            filter: None,
            names,
            values,
            consistent: false,
        };
        let entries = self.query(&q, None, want, |need| need).await?;
        let more = entries.len() > limit;
        let entries = &entries[..entries.len().min(limit)];
        let next = if more {
            match entries.last() {
                Some(e) => Some(item::string_attr(
                    "tenant index entry",
                    e,
                    item::USERS_INDEX_SK,
                )?),
                None => None,
            }
        } else {
            None
        };
        let keys = entries
            .iter()
            .map(|e| key_of("tenant index entry", e))
            .collect::<StoreResult<Vec<_>>>()?;
        let tenants = self
            .batch_get(keys)
            .await?
            .iter()
            .map(item::tenant_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page {
            items: tenants,
            next,
        })
    }

    async fn email_owners(&self, address: &str) -> StoreResult<Option<EmailOwners>> {
        self.get(item::email_key(address))
            .await?
            .map(|it| item::email_owners_from(&it))
            .transpose()
    }

    async fn cert_owner(&self, key: &str) -> StoreResult<Option<CertOwner>> {
        self.get(item::cert_key(key))
            .await?
            .map(|it| item::cert_owner_from(&it))
            .transpose()
    }

    async fn list_users(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<User>> {
        let (limit, want) = limits(limit);
        let q = Query {
            op_index: None,
            key_condition: "#pk = :pk AND begins_with(#sk, :u)".to_owned(),
            filter: None,
            names: names(&[("#pk", item::PK), ("#sk", item::SK)]),
            values: HashMap::from([
                (":pk".to_owned(), s(item::tenant_pk(tenant))),
                (":u".to_owned(), s(item::USER_PREFIX)),
            ]),
            consistent: true,
        };
        let start = after.map(|a| item::key(item::tenant_pk(tenant), item::user_sk(a)));
        let items = self.query(&q, start, want, |need| need).await?;
        let more = items.len() > limit;
        let users = items
            .iter()
            .take(limit)
            .map(item::user_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = if more {
            users.last().map(|u| u.user_id.clone())
        } else {
            None
        };
        Ok(Page { items: users, next })
    }

    async fn scan_users(&self, after: Option<&str>, limit: usize) -> StoreResult<Page<User>> {
        let (limit, want) = limits(limit);
        let mut values = HashMap::from([(":u".to_owned(), s(item::USERS_INDEX_PK_VALUE))]);
        let mut names = names(&[("#upk", item::USERS_INDEX_PK)]);
        let key_condition = match after {
            Some(a) => {
                values.insert(":after".to_owned(), s(a));
                names.insert("#usk".to_owned(), item::USERS_INDEX_SK.to_owned());
                "#upk = :u AND #usk > :after"
            }
            None => "#upk = :u",
        };
        let q = Query {
            op_index: Some(item::USERS_INDEX),
            key_condition: key_condition.to_owned(),
            filter: None,
            names,
            values,
            consistent: false,
        };
        let entries = self.query(&q, None, want, |need| need).await?;
        let more = entries.len() > limit;
        let entries = &entries[..entries.len().min(limit)];
        let next = if more {
            match entries.last() {
                Some(e) => Some(item::string_attr(
                    "user index entry",
                    e,
                    item::USERS_INDEX_SK,
                )?),
                None => None,
            }
        } else {
            None
        };
        let keys = entries
            .iter()
            .map(|e| key_of("user index entry", e))
            .collect::<StoreResult<Vec<_>>>()?;
        let users = self
            .batch_get(keys)
            .await?
            .iter()
            .map(item::user_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items: users, next })
    }

    async fn commit(&self, writes: Vec<Write>) -> StoreResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::new();
        for w in &writes {
            if write_key(w).is_some_and(|k| !seen.insert(k)) {
                return Err(unavailable(format!(
                    "one batch writes a {} twice; a batch may touch each record once",
                    what(w)
                )));
            }
        }
        if writes.len() > MAX_BATCH {
            return Err(unavailable(format!(
                "a batch of {} writes is more than DynamoDB's {MAX_BATCH} per transaction",
                writes.len()
            )));
        }
        let mut ops = writes
            .into_iter()
            .map(|w| self.op_of(w))
            .collect::<StoreResult<Vec<_>>>()?;
        let started = std::time::Instant::now();
        let out = match (ops.pop(), ops.is_empty()) {
            (Some(op), true) => self.write_one(op).await,
            (Some(op), false) => {
                ops.push(op);
                self.write_all(ops).await
            }
            (None, _) => Ok(()),
        };
        self.shared.contention.note_commit(started.elapsed());
        if out == Err(StoreError::Conflict) {
            self.back_off().await;
        }
        out
    }

    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<AuditEvent>> {
        // Cursors are the sort keys this store writes: `A#` + 16 + 8 hex digits.
        if let Some(a) = after
            && !a
                .strip_prefix(item::AUDIT_PREFIX)
                .is_some_and(|h| h.len() == 24 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(StoreError::BadCursor);
        }
        let (limit, want) = limits(limit);
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut filters = Vec::new();
        if let Some(subject) = &filter.subject {
            names.insert("#subject".to_owned(), item::SUBJECT.to_owned());
            values.insert(":subject".to_owned(), s(subject));
            filters.push("#subject = :subject");
        }
        if let Some(kind) = filter.kind {
            names.insert("#event".to_owned(), item::EVENT.to_owned());
            values.insert(":event".to_owned(), s(kind.as_str()));
            filters.push("#event = :event");
        }
        let filtered = !filters.is_empty();
        let filter_expr = filtered.then(|| filters.join(" AND "));
        let (q, start) = match &filter.tenant {
            Some(tenant) => {
                names.insert("#pk".to_owned(), item::PK.to_owned());
                names.insert("#sk".to_owned(), item::SK.to_owned());
                values.insert(":pk".to_owned(), s(item::tenant_pk(tenant)));
                values.insert(":a".to_owned(), s(item::AUDIT_PREFIX));
                let start = after.map(|a| item::key(item::tenant_pk(tenant), a.to_owned()));
                let q = Query {
                    op_index: None,
                    key_condition: "#pk = :pk AND begins_with(#sk, :a)".to_owned(),
                    filter: filter_expr,
                    names,
                    values,
                    consistent: true,
                };
                (q, start)
            }
            None => {
                names.insert("#apk".to_owned(), item::AUDIT_INDEX_PK.to_owned());
                values.insert(":apk".to_owned(), s(item::AUDIT_INDEX_PK_VALUE));
                let key_condition = match after {
                    Some(a) => {
                        names.insert("#ask".to_owned(), item::AUDIT_INDEX_SK.to_owned());
                        values.insert(":after".to_owned(), s(a));
                        "#apk = :apk AND #ask > :after"
                    }
                    None => "#apk = :apk",
                };
                let q = Query {
                    op_index: Some(item::AUDIT_INDEX),
                    key_condition: key_condition.to_owned(),
                    filter: filter_expr,
                    names,
                    values,
                    consistent: false,
                };
                (q, None)
            }
        };
        let items = self.query(&q, start, want, per_call(filtered)).await?;
        let more = items.len() > limit;
        let items = &items[..items.len().min(limit)];
        let events = items
            .iter()
            .map(item::audit_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = match (more, items.last()) {
            (true, Some(last)) => Some(item::string_attr(item::TYPE_AUDIT, last, item::SK)?),
            _ => None,
        };
        Ok(Page {
            items: events,
            next,
        })
    }

    async fn bump_counter(
        &self,
        key: &str,
        now: Timestamp,
        window_end: Timestamp,
    ) -> StoreResult<Counter> {
        // ADD within a live window; else (absent or ended) SET a new window. Each is one
        // conditional UpdateItem, so parallel bumps lose none: a bump that finds the window
        // changed under it tries the other branch again.
        let n = |v: i64| AttributeValue::N(v.to_string());
        for _ in 0..COUNTER_ROUNDS {
            let live = self
                .update_counter(
                    item::counter_key(key),
                    "ADD #c :one",
                    "#e > :now",
                    &[("#c", item::COUNT), ("#e", item::EXPIRES)],
                    HashMap::from([
                        (":one".to_owned(), n(1)),
                        (":now".to_owned(), n(now.secs())),
                    ]),
                )
                .await?;
            if let Some(it) = live {
                return item::counter_from(key, &it);
            }
            let fresh = self
                .update_counter(
                    item::counter_key(key),
                    "SET #c = :one, #e = :end, #ttl = :end, #t = :type",
                    "attribute_not_exists(#pk) OR #e <= :now",
                    &[
                        ("#pk", item::PK),
                        ("#c", item::COUNT),
                        ("#e", item::EXPIRES),
                        ("#ttl", item::TTL),
                        ("#t", item::TYPE),
                    ],
                    HashMap::from([
                        (":one".to_owned(), n(1)),
                        (":now".to_owned(), n(now.secs())),
                        (":end".to_owned(), n(window_end.secs())),
                        (":type".to_owned(), s(item::TYPE_COUNTER)),
                    ]),
                )
                .await?;
            if let Some(it) = fresh {
                return item::counter_from(key, &it);
            }
        }
        Err(unavailable("dynamodb UpdateItem: counter kept changing"))
    }

    async fn counter(&self, key: &str, now: Timestamp) -> StoreResult<Option<Counter>> {
        let Some(it) = self.get(item::counter_key(key)).await? else {
            return Ok(None);
        };
        let c = item::counter_from(key, &it)?;
        Ok((c.expires_at > now).then_some(c))
    }

    async fn delete_counter(&self, key: &str) -> StoreResult<()> {
        let _f = self.shared.contention.enter();
        let out = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .set_key(Some(item::counter_key(key)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        self.recorded("DeleteItem", out, |e| sdk_error("DeleteItem", e))
            .map(drop)
    }

    async fn list_counters(
        &self,
        group: &str,
        now: Timestamp,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Page<Counter>> {
        let (limit, want) = limits(limit);
        let q = Query {
            op_index: None,
            key_condition: "#pk = :pk AND begins_with(#sk, :n)".to_owned(),
            filter: Some("#e > :now".to_owned()),
            names: names(&[("#pk", item::PK), ("#sk", item::SK), ("#e", item::EXPIRES)]),
            values: HashMap::from([
                (":pk".to_owned(), s(item::counter_pk(group))),
                (":n".to_owned(), s(item::COUNTER_PREFIX)),
                (":now".to_owned(), AttributeValue::N(now.secs().to_string())),
            ]),
            consistent: true,
        };
        let start = after
            .filter(|a| item::counter_group_of(a) == group)
            .map(item::counter_key);
        let items = self.query(&q, start, want, |need| need.max(25)).await?;
        let more = items.len() > limit;
        let counters = items
            .iter()
            .take(limit)
            .map(|it| {
                let name = item::string_attr(item::TYPE_COUNTER, it, item::SK)?;
                let name = name.strip_prefix(item::COUNTER_PREFIX).unwrap_or(&name);
                item::counter_from(&format!("{group}/{name}"), it)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let next = if more {
            counters.last().map(|c| c.key.clone())
        } else {
            None
        };
        Ok(Page {
            items: counters,
            next,
        })
    }
}

// ---- table and clients ------------------------------------------------------------------------

fn attr(name: &str) -> StoreResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| build_error("an attribute definition", &e))
}

fn key_schema(name: &str, kind: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| build_error("a key schema", &e))
}

fn index(
    name: &str,
    pk: &str,
    sk: &str,
    projection: ProjectionType,
) -> StoreResult<GlobalSecondaryIndex> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_schema(pk, KeyType::Hash)?)
        .key_schema(key_schema(sk, KeyType::Range)?)
        .projection(Projection::builder().projection_type(projection).build())
        .build()
        .map_err(|e| build_error("an index", &e))
}

/// Creates `table` with the layout of the [module documentation](self) — `pk`/`sk`, on-demand,
/// the `users` (keys only) and `audit` (all attributes) indexes, a stream of the changed
/// items' keys (the courier's feed, M-4) — waits until it and its indexes are `ACTIVE`, and
/// enables TTL on `ttl`. A table that exists already is waited for,
/// not re-created.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(item::PK)?)
        .attribute_definitions(attr(item::SK)?)
        .attribute_definitions(attr(item::USERS_INDEX_PK)?)
        .attribute_definitions(attr(item::USERS_INDEX_SK)?)
        .attribute_definitions(attr(item::AUDIT_INDEX_PK)?)
        .attribute_definitions(attr(item::AUDIT_INDEX_SK)?)
        .key_schema(key_schema(item::PK, KeyType::Hash)?)
        .key_schema(key_schema(item::SK, KeyType::Range)?)
        .global_secondary_indexes(index(
            item::USERS_INDEX,
            item::USERS_INDEX_PK,
            item::USERS_INDEX_SK,
            ProjectionType::KeysOnly,
        )?)
        .global_secondary_indexes(index(
            item::AUDIT_INDEX,
            item::AUDIT_INDEX_PK,
            item::AUDIT_INDEX_SK,
            ProjectionType::All,
        )?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::KeysOnly)
                .build()
                .map_err(|e| build_error("the stream specification", &e))?,
        )
        .send()
        .await;
    if let Err(e) = created
        && e.code() != Some("ResourceInUseException")
    {
        return Err(sdk_error("CreateTable", &e));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let d = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTable", &e))?;
        let ready = d.table().is_some_and(|t| {
            t.table_status() == Some(&TableStatus::Active)
                && t.global_secondary_indexes().iter().all(|i| {
                    i.index_status() == Some(&aws_sdk_dynamodb::types::IndexStatus::Active)
                })
        });
        if ready {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(unavailable(format!(
                "dynamodb table {table} not active after 5 minutes"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(item::TTL)
        .enabled(true)
        .build()
        .map_err(|e| build_error("the TTL specification", &e))?;
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Already enabled (a table that existed).
        Err(e)
            if e.code() == Some("ValidationException")
                && e.message().is_some_and(|m| m.contains("already enabled")) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("UpdateTimeToLive", &e)),
    }
}

/// The client configuration for DynamoDB Local at `endpoint` (`http://127.0.0.1:<port>`):
/// static dummy credentials, region `us-east-1`, the endpoint override, standard retries
/// (3 attempts: throttling and 5xx are retried with back-off) and a 10 s attempt timeout.
/// Tests add their own HTTP client or retry settings to it before `build()`.
pub fn local_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .http_client(crate::aws::http_client())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        // DynamoDB Local accepts letters and digits only in the access key ID.
        .credentials_provider(Credentials::new(
            "monbanlocal",
            "monbanlocal",
            None,
            None,
            "monban-local-static",
        ))
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
}

/// A client for DynamoDB Local at `endpoint` (see [`local_config`]).
pub fn local_client(endpoint: &str) -> Client {
    Client::from_conf(local_config(endpoint).build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn audit_keys_increase_and_are_unique() {
        let keys: Vec<String> = (0..1000).map(|_| next_audit_sk()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(
            keys.iter()
                .all(|k| k.starts_with("A#") && k.len() == 2 + 16 + 8)
        );
    }

    #[test]
    fn usage_since_subtracts() {
        let mut a = Usage::default();
        a.ops.insert(
            "GetItem",
            OpUsage {
                calls: 2,
                failed: 0,
                read_units: 2.0,
                write_units: 0.0,
            },
        );
        let mut b = a.clone();
        b.ops.entry("GetItem").or_default().calls += 1;
        b.ops.entry("GetItem").or_default().read_units += 1.0;
        b.ops.insert(
            "PutItem",
            OpUsage {
                calls: 1,
                failed: 1,
                read_units: 0.0,
                write_units: 1.0,
            },
        );
        let d = b.since(&a);
        assert_eq!(d.calls(), 2);
        assert_eq!(d.read_units(), 1.0);
        assert_eq!(d.write_units(), 1.0);
        assert_eq!(d.summary(), "GetItem×1, PutItem×1");
        assert_eq!(a.since(&a).summary(), "—");
    }

    #[test]
    fn duplicate_keys_are_found_across_put_and_delete() {
        let u = UserRef::new("1", "a");
        let del = Write::DeleteUser {
            user: u.clone(),
            expect: 1,
        };
        let put_t = Write::DeleteCertOwner {
            key: "a".into(),
            expect: 1,
        };
        assert_ne!(write_key(&del), write_key(&put_t));
        assert_eq!(write_key(&del), Some(("T#1".to_owned(), "U#a".to_owned())));
    }
}
