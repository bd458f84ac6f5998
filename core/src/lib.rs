#![doc = include_str!("../README.md")]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod abuse;
pub mod audit;
pub mod cert;
pub mod email;
pub mod error;
pub mod flow;
pub mod lang;
pub mod lockout;
pub mod mail;
#[cfg(feature = "test-util")]
pub mod memory;
pub mod model;
pub mod normalize;
pub mod otp;
pub mod outbox;
pub mod password;
pub mod policy;
pub mod ports;
pub mod role;
pub mod seal;
pub mod secret;
pub mod service;
pub mod time;
pub mod token;
pub mod totp;

pub use error::{Error, Feature, Field, InputProblem, PasswordProblem, Result};
pub use lang::Lang;
pub use policy::Policy;
pub use role::{Permission, Role};
pub use secret::Secret;
pub use service::AuthService;
pub use time::Timestamp;
