#![doc = include_str!("../README.md")]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod blocking;
pub mod contention;
mod outbox;
mod sqlite;
mod system;

pub use outbox::{DEFAULT_SENDER, OutboxMail, OutboxMailer};
pub use sqlite::{SqliteOptions, SqliteStore, undelivered};
pub use system::{OsRandom, SystemClock, TokioOffload};

/// The repository README's Rust example, compiled and run as a doc test so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}
