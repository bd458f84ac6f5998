//! monban-lambdas: the HTTP API (one axum router) and the AWS adapters.
//!
//! Placeholder until the HTTP API and AWS issues: the crate exists so the workspace layout of
//! DESIGN.md builds from the start.
