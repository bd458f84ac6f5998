//! monban-embedded: the embedded default (SQLite store and mail outbox folder).
//!
//! Placeholder until the "embedded default and HTTP API" issue: the crate exists so the
//! workspace layout of DESIGN.md builds from the start.
