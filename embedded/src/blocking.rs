//! Runs blocking work (SQLite, file writes, argon2) off the async workers.

/// Runs `job` on tokio's blocking pool when called inside a tokio runtime, and inline
/// otherwise (another executor, or a plain `block_on`), so no adapter panics for want of a
/// runtime. `Err` only when the job panicked or the runtime is shutting down.
pub(crate) async fn run<R: Send + 'static>(
    job: impl FnOnce() -> R + Send + 'static,
) -> Result<R, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(job)
            .await
            .map_err(|e| format!("blocking task failed: {e}")),
        Err(_) => Ok(job()),
    }
}
