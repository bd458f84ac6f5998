//! The operating system's clock and random source, and tokio's blocking pool as the
//! [`Offload`] for argon2 — the ports a real deployment of `AuthService` needs besides the
//! store and the mailer.

use monban_core::Timestamp;
use monban_core::ports::{Clock, Job, Offload, SecureRandom};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// [`Clock`] on [`SystemTime`] (UTC seconds since the Unix epoch).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
        };
        Timestamp(secs)
    }

    /// Sleeps on the current tokio runtime (no wait outside one).
    fn pause(&self, millis: u64) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        match tokio::runtime::Handle::try_current() {
            Ok(_) => Box::pin(tokio::time::sleep(std::time::Duration::from_millis(millis))),
            Err(_) => Box::pin(std::future::ready(())),
        }
    }
}

/// [`SecureRandom`] from the operating system (`getrandom`: `getrandom(2)` on Linux).
#[derive(Clone, Copy, Debug)]
pub struct OsRandom(());

impl OsRandom {
    /// Checks once that the operating system's random source answers, so a machine without
    /// one fails at start-up rather than at the first login.
    pub fn new() -> std::io::Result<Self> {
        let mut probe = [0u8; 16];
        getrandom::fill(&mut probe).map_err(|e| {
            std::io::Error::other(format!("the operating system's random source failed: {e}"))
        })?;
        Ok(Self(()))
    }
}

impl SecureRandom for OsRandom {
    fn fill(&self, dest: &mut [u8]) {
        // The port has no error channel, and the bytes become tokens, codes and salts: carrying
        // on with bytes that are not random would hand out guessable secrets. After the probe in
        // `new` the OS source does not fail in practice (getrandom retries interruptions); if it
        // ever does, stop this request by unwinding (the caller's task or FFI call fails) rather
        // than return.
        if let Err(e) = getrandom::fill(dest) {
            tracing::error!(error = %e, "the operating system's random source failed");
            #[allow(clippy::panic)]
            {
                panic!("the operating system's random source failed: {e}");
            }
        }
    }
}

/// [`Offload`] on tokio's blocking pool, with at most `limit` jobs at once (argon2 takes
/// 19–46 MiB and one core per hash: more jobs than cores only queue and use memory). Outside a
/// tokio runtime the job runs inline.
#[derive(Clone, Debug)]
pub struct TokioOffload {
    permits: Arc<Semaphore>,
}

impl Default for TokioOffload {
    fn default() -> Self {
        Self::new()
    }
}

impl TokioOffload {
    /// At most as many jobs at once as the machine has cores.
    pub fn new() -> Self {
        Self::with_limit(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// At most `limit` jobs at once (at least 1).
    pub fn with_limit(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit.clamp(1, Semaphore::MAX_PERMITS))),
        }
    }
}

impl Offload for TokioOffload {
    fn run(&self, job: Job) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let permits = Arc::clone(&self.permits);
        Box::pin(async move {
            // The semaphore is never closed; without a permit the job still runs.
            let permit = permits.acquire_owned().await.ok();
            // A job that panicked leaves its result unset; the service reports that as an error.
            let _ = crate::blocking::run(move || {
                let _permit = permit;
                job();
            })
            .await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_clock_is_near_now() {
        let t = SystemClock.now();
        assert!(t.secs() > 1_700_000_000, "{t:?}");
    }

    #[test]
    fn os_random_fills_with_varying_bytes() {
        let r = OsRandom::new().unwrap();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        r.fill(&mut a);
        r.fill(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offload_runs_every_job_within_its_limit() {
        let off = TokioOffload::with_limit(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (running, peak, done) = (running.clone(), peak.clone(), done.clone());
            tasks.push(off.run(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
                done.fetch_add(1, Ordering::SeqCst);
            })));
        }
        let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
        for h in handles {
            h.await.unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 16);
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }

    #[test]
    fn offload_runs_inline_without_a_runtime() {
        let hit = Arc::new(AtomicUsize::new(0));
        let h = hit.clone();
        let mut fut = TokioOffload::new().run(Box::new(move || {
            h.fetch_add(1, Ordering::SeqCst);
        }));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        assert_eq!(hit.load(Ordering::SeqCst), 1);
    }
}
