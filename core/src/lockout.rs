//! L-4, L-6, L-7: the lockout state machine, stored on the user record.
//!
//! STUB: implemented by the identity-rules task.

use crate::model::LockState;
use crate::policy::LockoutPolicy;
use crate::time::Timestamp;

/// Whether an account is locked now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockStatus {
    /// Not locked.
    Open,
    /// Locked; `until` is when it lifts by itself (`None`: only an unlock lifts it).
    Locked {
        /// When the lock lifts.
        until: Option<Timestamp>,
    },
}

/// The status at `now`.
pub fn status(state: &LockState, policy: &LockoutPolicy, now: Timestamp) -> LockStatus {
    let _ = policy;
    let _ = now;
    if state.locked_at.is_some() {
        LockStatus::Locked { until: None }
    } else {
        LockStatus::Open
    }
}

/// Records a failure; returns true when this failure locked the account. A lock that has
/// lifted by time is cleared first.
pub fn record_failure(state: &mut LockState, policy: &LockoutPolicy, now: Timestamp) -> bool {
    let _ = (state, policy, now);
    false
}

/// L-7: a success resets the count.
pub fn record_success(state: &mut LockState) {
    *state = LockState::default();
}

/// Unlock by an admin or support.
pub fn unlock(state: &mut LockState) {
    *state = LockState::default();
}
