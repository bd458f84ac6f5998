//! monban-ffi: monban for Python, Kotlin and Swift through uniffi (proc-macros, no UDL).
//!
//! - Engine functions (pure): password rules, hashing, TOTP, the e-mail sharing check,
//!   normalization, policies.
//! - [`Auth`]: the flows on an embedded SQLite file, with mail going to a host-implemented
//!   [`Mailer`] or to an outbox folder.
//! - Every failure is a [`MonbanError`] carrying the core's stable code; a panic in Rust becomes
//!   an exception in the host language (uniffi catches it; the crate keeps `panic = "unwind"`).
//!
//! See README.md for installing and using the Python and Kotlin packages.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod aio;
mod auth;
mod engine;
mod meta;
mod types;

pub use aio::AsyncAuth;
pub use auth::{Auth, Mailer};
pub use engine::*;
pub use meta::*;
pub use types::*;

uniffi::setup_scaffolding!("monban");
