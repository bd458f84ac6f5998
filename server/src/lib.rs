#![doc = include_str!("../README.md")]

pub mod api;
pub mod cli;
pub mod courier;
pub mod extract;
pub mod http_error;
pub mod pages;
pub mod state;

pub use api::{ApiDoc, BODY_LIMIT, router};
pub use http_error::{ApiError, ERROR_CODES, ErrorBody};
pub use state::{AppState, parse_cors_origin};

/// The Rust examples of the rules guide (`docs/` in the repository), run as doc tests.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../docs/presets.md")]
    mod presets {}
    #[doc = include_str!("../../docs/policy.md")]
    mod policy {}
}
