//! `lambdas/template.yaml` agrees with the code it deploys: the table has the keys and indexes
//! `DynamoStore::create_table` makes, each function's IAM policy allows exactly the DynamoDB
//! calls `DynamoStore` makes (least privilege, and nothing missing that would fail only on AWS),
//! and the environment variables the functions read are the ones the template sets.
//! (cfn-lint checks the template itself: `scripts/lint-template`, run by `scripts/test`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use monban_lambdas::aws::item;
use std::collections::BTreeSet;

const TEMPLATE: &str = include_str!("../template.yaml");
const STORE_SRC: &str = include_str!("../src/aws/store.rs");
const CONFIG_SRC: &str = include_str!("../src/aws/config.rs");

/// The lines of one top-level resource (two-space indent) of the template.
fn resource(name: &str) -> Vec<&'static str> {
    let head = format!("  {name}:");
    let mut lines = TEMPLATE.lines().skip_while(|l| *l != head);
    assert!(
        lines.next().is_some(),
        "no resource {name} in template.yaml"
    );
    lines
        .take_while(|l| l.is_empty() || l.starts_with("   ") || l.trim_start().starts_with('#'))
        .collect()
}

/// The `dynamodb:*` actions of the `Table` statement in a role's policy.
fn dynamodb_actions(role: &str) -> BTreeSet<String> {
    resource(role)
        .iter()
        .skip_while(|l| l.trim() != "- Sid: Table")
        .skip(1)
        .take_while(|l| !l.trim().starts_with("- Sid:"))
        .filter_map(|l| l.trim().strip_prefix("- dynamodb:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_courier_is_fed_new_outbox_entries_by_the_stream_and_retries_on_a_schedule() {
    // SPEC: M-4
    let table = resource("Table").join("\n");
    assert!(table.contains("StreamViewType: KEYS_ONLY"), "{table}");
    let f = resource("CourierFunction").join("\n");
    assert!(f.contains("Stream: !GetAtt Table.StreamArn"), "{f}");
    assert!(
        f.contains("FunctionResponseTypes: [ReportBatchItemFailures]"),
        "{f}"
    );
    assert!(
        f.contains("Destination: !GetAtt CourierDeadLetterQueue.Arn"),
        "{f}"
    );
    assert!(
        f.contains(&format!(
            r#"{{"eventName": ["INSERT"], "dynamodb": {{"Keys": {{"{}": {{"S": ["{}"]}}}}}}}}"#,
            item::PK,
            item::OUTBOX_PK
        )),
        "the filter names the outbox partition: {f}"
    );
    assert!(f.contains("ScheduleExpression: rate(1 minute)"), "{f}");
    // Only the courier sends mail.
    assert!(resource("CourierRole").join("\n").contains("ses:SendEmail"));
    for role in ["HttpRole", "SweeperRole"] {
        assert!(
            !resource(role).join("\n").contains("ses:SendEmail"),
            "{role}"
        );
    }
}

/// The DynamoDB operations `DynamoStore` calls, from its source (`.get_item()` → `GetItem`),
/// with `TransactWriteItems` expanded to the item actions IAM checks instead.
fn store_operations() -> BTreeSet<String> {
    let calls = [
        ("get_item", "GetItem"),
        ("batch_get_item", "BatchGetItem"),
        ("query", "Query"),
        ("scan", "Scan"),
        ("put_item", "PutItem"),
        ("update_item", "UpdateItem"),
        ("delete_item", "DeleteItem"),
        ("batch_write_item", "BatchWriteItem"),
    ];
    let mut ops: BTreeSet<String> = calls
        .iter()
        .filter(|(call, _)| STORE_SRC.contains(&format!(".{call}()")))
        .map(|(_, action)| (*action).to_owned())
        .collect();
    if STORE_SRC.contains(".transact_write_items()") {
        // A transaction's items: puts, deletes and (for records read but not written)
        // condition checks.
        for a in ["PutItem", "DeleteItem", "ConditionCheckItem"] {
            ops.insert(a.to_owned());
        }
    }
    ops
}

#[test]
fn each_function_may_make_exactly_the_calls_the_store_makes() {
    let ops = store_operations();
    assert!(
        ops.contains("GetItem") && ops.contains("PutItem"),
        "{ops:?}"
    );
    for role in ["HttpRole", "SweeperRole", "CourierRole"] {
        assert_eq!(dynamodb_actions(role), ops, "{role}'s DynamoDB actions");
    }
}

#[test]
fn table_has_the_keys_and_indexes_create_table_makes() {
    let table: String = resource("Table").join("\n");
    for attr in [
        item::PK,
        item::SK,
        item::USERS_INDEX_PK,
        item::USERS_INDEX_SK,
        item::AUDIT_INDEX_PK,
        item::AUDIT_INDEX_SK,
    ] {
        assert!(
            table.contains(&format!("{{ AttributeName: {attr}, AttributeType: S }}")),
            "attribute definition {attr}"
        );
    }
    assert!(table.contains(&format!("{{ AttributeName: {}, KeyType: HASH }}", item::PK)));
    assert!(table.contains(&format!(
        "{{ AttributeName: {}, KeyType: RANGE }}",
        item::SK
    )));
    for (index, pk, sk, projection) in [
        (
            item::USERS_INDEX,
            item::USERS_INDEX_PK,
            item::USERS_INDEX_SK,
            "KEYS_ONLY",
        ),
        (
            item::AUDIT_INDEX,
            item::AUDIT_INDEX_PK,
            item::AUDIT_INDEX_SK,
            "ALL",
        ),
    ] {
        let block = format!(
            "        - IndexName: {index}\n          KeySchema:\n            \
             - {{ AttributeName: {pk}, KeyType: HASH }}\n            \
             - {{ AttributeName: {sk}, KeyType: RANGE }}\n          \
             Projection: {{ ProjectionType: {projection} }}"
        );
        assert!(table.contains(&block), "index {index}:\n{block}");
    }
    assert!(
        table.contains(&format!(
            "AttributeName: {}\n        Enabled: true",
            item::TTL
        )),
        "TTL on {}",
        item::TTL
    );
    assert!(table.contains("PointInTimeRecoveryEnabled: true"));
    assert!(table.contains("BillingMode: PAY_PER_REQUEST"));
}

#[test]
fn the_template_sets_every_variable_the_functions_require() {
    // Every MONBAN_* name the configuration reads is either set by the template or optional
    // there; the template sets nothing the code does not read.
    let read: BTreeSet<&str> = CONFIG_SRC
        .split('"')
        .filter(|s| {
            s.starts_with("MONBAN_") && s.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .collect();
    let set: BTreeSet<&str> = TEMPLATE
        .lines()
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k))
        .filter(|k| k.starts_with("MONBAN_"))
        .collect();
    assert!(!set.is_empty());
    for name in &set {
        assert!(
            read.contains(name),
            "template sets {name}, which the code never reads"
        );
    }
    for name in ["MONBAN_TABLE", "MONBAN_SENDER", "MONBAN_PUBLIC_URL"] {
        assert!(set.contains(name), "template does not set {name}");
    }
}
