//! monban-ffi: uniffi bindings for Python, Kotlin and Swift.
//!
//! Placeholder until the bindings issue: the crate exists so the workspace layout of DESIGN.md
//! builds from the start.
