//! The store-conformance suite (`src/conformance.rs`) against every `Store`: the memory store
//! and `SqliteStore` (each SQLite case on a fresh file). DynamoStore joins with the AWS issue.
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
