//! L-4, L-6, L-7: the lockout state machine, stored on the user record.
//!
//! ```text
//!   Open(n) --failure--> Open(n+1)    when n+1 < N
//!   Open(n) --failure--> Locked(now)  when n+1 = N    (record_failure returns true)
//!   Open(n) --success--> Open(0)                      (L-7)
//!   Locked  --failure--> Locked       unchanged       (record_failure returns false)
//!   Locked  --unlock---> Open(0)                      (admin or support)
//!   Locked  --duration-> Open(0)      at locked_at + duration, when the policy sets one
//! ```
//!
//! - N is `policy.max_failures` (Kuroneko 5, PCI DSS at most 10); `None` never locks.
//! - Without `lock_duration_secs` only [`unlock`] (admin or support) lifts a lock (Kuroneko);
//!   with one, the lock lifts by itself at exactly `locked_at + duration` (PCI DSS: 30 min),
//!   and the next failure counts from 1.
//! - L-4: wrong second-factor codes are failures too, when the policy counts them; the caller
//!   decides and calls [`record_failure`].
//! - Failures while locked change nothing (the lock does not extend).

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

impl LockStatus {
    /// Whether this is [`LockStatus::Locked`].
    pub fn is_locked(self) -> bool {
        matches!(self, LockStatus::Locked { .. })
    }
}

/// The status at `now`: locked from `locked_at` until `locked_at + lock_duration_secs`
/// (exclusive), or until unlocked when the policy sets no duration.
pub fn status(state: &LockState, policy: &LockoutPolicy, now: Timestamp) -> LockStatus {
    let Some(locked_at) = state.locked_at else {
        return LockStatus::Open;
    };
    match policy.lock_duration_secs {
        None => LockStatus::Locked { until: None },
        Some(duration) => {
            let until = locked_at.plus_secs(duration);
            if now < until {
                LockStatus::Locked { until: Some(until) }
            } else {
                LockStatus::Open
            }
        }
    }
}

/// Shorthand for `status(..).is_locked()`.
pub fn is_locked(state: &LockState, policy: &LockoutPolicy, now: Timestamp) -> bool {
    status(state, policy, now).is_locked()
}

/// Records a failure; returns true when this failure locked the account. A lock that has
/// lifted by time is cleared first. While locked, nothing changes and the answer is false.
pub fn record_failure(state: &mut LockState, policy: &LockoutPolicy, now: Timestamp) -> bool {
    if state.locked_at.is_some() {
        if is_locked(state, policy, now) {
            return false;
        }
        *state = LockState::default();
    }
    state.failures = state.failures.saturating_add(1);
    match policy.max_failures {
        Some(max) if state.failures >= max => {
            state.locked_at = Some(now);
            true
        }
        _ => false,
    }
}

/// L-7: a success resets the count.
pub fn record_success(state: &mut LockState) {
    *state = LockState::default();
}

/// Unlock by an admin or support.
pub fn unlock(state: &mut LockState) {
    *state = LockState::default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;
    use crate::time::MINUTE;
    use proptest::prelude::*;

    const T0: Timestamp = Timestamp(1_700_000_000);

    #[test]
    fn kuroneko_locks_at_five_until_unlocked() {
        // SPEC: L-6 (Kuroneko: decided 5, no duration)
        let policy = Policy::kuroneko().lockout;
        let mut s = LockState::default();
        assert_eq!(policy.max_failures, Some(5));
        for i in 1u32..5 {
            let now = T0.plus_secs(i64::from(i));
            assert!(!record_failure(&mut s, &policy, now));
            assert_eq!(s.failures, i);
            assert_eq!(status(&s, &policy, now), LockStatus::Open);
        }
        let at = T0.plus_secs(5);
        assert!(record_failure(&mut s, &policy, at), "the 5th failure locks");
        assert_eq!(s.failures, 5);
        assert_eq!(s.locked_at, Some(at));
        let years_later = at.plus_days(3650);
        assert_eq!(
            status(&s, &policy, years_later),
            LockStatus::Locked { until: None }
        );
        assert!(!record_failure(&mut s, &policy, years_later));
        assert_eq!(
            (s.failures, s.locked_at),
            (5, Some(at)),
            "unchanged while locked"
        );
        unlock(&mut s);
        assert_eq!(s, LockState::default());
        assert_eq!(status(&s, &policy, years_later), LockStatus::Open);
        assert!(!record_failure(&mut s, &policy, years_later));
        assert_eq!(s.failures, 1);
    }

    #[test]
    fn success_resets_the_count() {
        // SPEC: L-7
        let policy = Policy::kuroneko().lockout;
        let mut s = LockState::default();
        for _ in 0..4 {
            record_failure(&mut s, &policy, T0);
        }
        record_success(&mut s);
        assert_eq!(s, LockState::default());
        for _ in 0..4 {
            assert!(!record_failure(&mut s, &policy, T0));
        }
        assert!(record_failure(&mut s, &policy, T0));
    }

    #[test]
    fn pci_lock_lifts_after_thirty_minutes() {
        // SPEC: L-6 (PCI DSS: at most 10 attempts, at least 30 minutes)
        let policy = Policy::pci_dss().lockout;
        assert_eq!(policy.max_failures, Some(10));
        assert_eq!(policy.lock_duration_secs, Some(30 * MINUTE));
        let (n, d) = (10, 30 * MINUTE);
        let mut s = LockState::default();
        for _ in 1..n {
            assert!(!record_failure(&mut s, &policy, T0));
        }
        assert!(record_failure(&mut s, &policy, T0));
        let until = T0.plus_secs(d);
        assert_eq!(
            status(&s, &policy, T0),
            LockStatus::Locked { until: Some(until) }
        );
        assert_eq!(
            status(&s, &policy, until.plus_secs(-1)),
            LockStatus::Locked { until: Some(until) }
        );
        assert!(!record_failure(&mut s, &policy, until.plus_secs(-1)));
        assert_eq!(
            s.locked_at,
            Some(T0),
            "a failure while locked does not extend it"
        );
        assert_eq!(status(&s, &policy, until), LockStatus::Open);
        assert!(!record_failure(&mut s, &policy, until));
        assert_eq!((s.failures, s.locked_at), (1, None), "counts from 1 again");
    }

    #[test]
    fn no_max_never_locks() {
        // SPEC: L-6
        let mut policy = Policy::kuroneko().lockout;
        policy.max_failures = None;
        let mut s = LockState {
            failures: u32::MAX - 1,
            locked_at: None,
        };
        for _ in 0..3 {
            assert!(!record_failure(&mut s, &policy, T0));
        }
        assert_eq!(s.failures, u32::MAX);
        assert_eq!(status(&s, &policy, T0), LockStatus::Open);
    }

    #[derive(Clone, Copy, Debug)]
    enum Event {
        Failure,
        Success,
        Unlock,
    }

    /// The reference model: a list of failure times since the last reset, and the time of the
    /// failure that reached N.
    #[derive(Default)]
    struct Model {
        failures_since_reset: u32,
        locked_at: Option<Timestamp>,
    }

    impl Model {
        fn locked(&self, policy: &LockoutPolicy, now: Timestamp) -> bool {
            match (self.locked_at, policy.lock_duration_secs) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(at), Some(d)) => now.secs() < at.secs() + d,
            }
        }
    }

    fn policy_strategy() -> impl Strategy<Value = LockoutPolicy> {
        prop_oneof![
            Just(Policy::kuroneko().lockout),
            Just(Policy::pci_dss().lockout),
            (1u32..=6, proptest::option::of(1i64..=100)).prop_map(|(n, d)| {
                let mut p = Policy::kuroneko().lockout;
                p.max_failures = Some(n);
                p.lock_duration_secs = d;
                p
            }),
        ]
    }

    fn steps() -> impl Strategy<Value = Vec<(Event, i64)>> {
        let event = prop_oneof![
            6 => Just(Event::Failure),
            1 => Just(Event::Success),
            1 => Just(Event::Unlock),
        ];
        let advance = prop_oneof![
            Just(0i64),
            0i64..=120,
            Just(30 * MINUTE - 1),
            Just(30 * MINUTE),
            0i64..=3600,
        ];
        proptest::collection::vec((event, advance), 0..80)
    }

    proptest! {
        #[test]
        fn matches_the_reference_model(policy in policy_strategy(), steps in steps()) {
            // SPEC: L-6, L-7, L-4
            let n = policy.max_failures.unwrap_or(u32::MAX);
            let mut s = LockState::default();
            let mut m = Model::default();
            let mut now = T0;
            let mut locked_reports_this_lock = 0u32;
            for (event, advance) in steps {
                now = now.plus_secs(advance);
                match event {
                    Event::Failure => {
                        let locked_before = m.locked(&policy, now);
                        let locked_now = record_failure(&mut s, &policy, now);
                        if !locked_before {
                            if m.locked_at.is_some() {
                                // The timed lock has lifted: a fresh count.
                                m = Model::default();
                                locked_reports_this_lock = 0;
                            }
                            m.failures_since_reset += 1;
                            if m.failures_since_reset == n {
                                m.locked_at = Some(now);
                            }
                        }
                        prop_assert_eq!(
                            locked_now,
                            !locked_before && m.locked(&policy, now),
                            "true exactly when this failure locked"
                        );
                        if locked_now {
                            locked_reports_this_lock += 1;
                        }
                        prop_assert!(locked_reports_this_lock <= 1);
                    }
                    Event::Success => {
                        record_success(&mut s);
                        m = Model::default();
                        locked_reports_this_lock = 0;
                    }
                    Event::Unlock => {
                        unlock(&mut s);
                        m = Model::default();
                        locked_reports_this_lock = 0;
                    }
                }
                prop_assert!(s.failures <= n, "failures never exceed N");
                prop_assert_eq!(is_locked(&s, &policy, now), m.locked(&policy, now));
                prop_assert_eq!(
                    is_locked(&s, &policy, now),
                    m.failures_since_reset >= n && m.locked(&policy, now)
                );
                if let LockStatus::Locked { until } = status(&s, &policy, now) {
                    prop_assert_eq!(
                        until,
                        policy.lock_duration_secs.and_then(|d| m.locked_at.map(|at| at.plus_secs(d)))
                    );
                }
            }
        }
    }
}
