//! The store-conformance suite (`src/conformance.rs`) against every `Store`: the memory store,
//! `SqliteStore` (each SQLite case on a fresh file) and `DynamoStore` (each case on a fresh
//! table of the DynamoDB Local shared by the test process, see `monban_tests::aws_local`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod memory {
    monban_tests::store_conformance_tests!((monban_core::memory::MemoryStore::new(), ()));
}

mod sqlite {
    monban_tests::store_conformance_tests!({
        let dir = tempfile::tempdir().unwrap();
        (
            monban_embedded::SqliteStore::open(dir.path().join("monban.db")).unwrap(),
            dir,
        )
    });
}

mod dynamo {
    use monban_lambdas::aws::store::{DynamoStore, create_table, local_client};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh table on DynamoDB Local (started once per test process), and its name as the
    /// guard. Tables are not dropped: DynamoDB Local runs in memory and ends with the run.
    pub(super) async fn fresh() -> (DynamoStore, String) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let endpoint = tokio::task::spawn_blocking(monban_tests::aws_local::dynamodb_endpoint)
            .await
            .unwrap();
        let client = local_client(&endpoint);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let table = format!(
            "conformance-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        create_table(&client, &table).await.unwrap();
        (DynamoStore::new(client, table.clone()), table)
    }

    monban_tests::store_conformance_tests!(fresh().await);
}
