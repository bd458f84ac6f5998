#![doc = include_str!("../README.md")]

pub mod api;
pub mod cli;
pub mod extract;
pub mod http_error;
pub mod state;

pub use api::{ApiDoc, BODY_LIMIT, router};
pub use http_error::{ApiError, ERROR_CODES, ErrorBody};
pub use state::AppState;
