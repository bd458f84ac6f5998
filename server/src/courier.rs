//! M-4: the courier task of `monban serve` (and of any host running the router on tokio). It
//! waits until the service queues a mail or request (the service's `on_queued` wakes it) or
//! its slow poll comes round (entries whose back-off ended, entries another process queued
//! into the same database), then delivers everything due.

use monban_core::AuthService;
use monban_core::ports::{Mailer, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often the courier looks for due entries when nothing woke it.
pub const POLL: Duration = Duration::from_secs(5);

/// A wake-up signal: give [`Wake::waker`] to the service's `on_queued`, and the `Wake` to
/// [`spawn`].
#[derive(Clone, Debug, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// A new signal.
    pub fn new() -> Self {
        Self::default()
    }

    /// The function the service calls after queueing.
    pub fn waker(&self) -> impl Fn() + Send + Sync + 'static {
        let n = Arc::clone(&self.0);
        move || n.notify_one()
    }
}

/// Runs the courier on the current tokio runtime until `stop` turns true: then it finishes
/// the round it is in, delivers what is due once more, and ends (await the handle, with a
/// deadline). A round is never cut short by the stop, so no mail is left taken but unsent.
pub fn spawn<S, M>(
    service: Arc<AuthService<S, M>>,
    wake: Wake,
    poll: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()>
where
    S: Store + 'static,
    M: Mailer + 'static,
{
    tokio::spawn(async move {
        loop {
            let stopping = *stop.borrow();
            match service.deliver_pending().await {
                Ok(d) if d.failed > 0 => {
                    tracing::warn!(
                        failed = d.failed,
                        "mails given up on after their last attempt; see `monban mail queue --state failed`"
                    );
                }
                Ok(d) if d.retried > 0 => {
                    tracing::info!(retried = d.retried, "mail delivery failed; retrying later");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "courier: cannot read the outbox"),
            }
            if stopping {
                return;
            }
            tokio::select! {
                () = wake.0.notified() => {}
                () = tokio::time::sleep(poll) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        }
    })
}
