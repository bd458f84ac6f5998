//! Randomized back-off after a conflict, scaled to the contention a store sees. Shared by
//! [`SqliteStore`](crate::SqliteStore) and monban-lambdas' `DynamoStore`.
//!
//! The service answers a conflict by reading again and re-deciding (up to 100 times). When many
//! tasks race on one record, every read-to-commit window overlaps the others' and only one per
//! round wins: without a pause, 200 racing logins need up to 200 rounds. A random pause spreads
//! the retries out, so most of them find the record quiet (randomized back-off, as in Ethernet or
//! DynamoDB clients). The pause is uniform in `[0, unit × calls in flight]`, at most
//! [`BackOff::max`], where the unit is a few typical commits (a moving average the store feeds),
//! clamped to [`BackOff::unit_min`]..=[`BackOff::unit_max`]. A lone conflict waits a few
//! milliseconds.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// The shape of a store's back-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackOff {
    /// The typical commit assumed before any was measured.
    pub first_commit: Duration,
    /// The unit is this many typical commits…
    pub commits_per_unit: u32,
    /// …but at least this…
    pub unit_min: Duration,
    /// …and at most this.
    pub unit_max: Duration,
    /// The longest pause, whatever the load.
    pub max: Duration,
}

/// The calls a store has in flight and how long its commits take: what its back-off scales to.
#[derive(Debug)]
pub struct Contention {
    shape: BackOff,
    in_flight: AtomicUsize,
    /// Moving average (weight 1/8) of a commit's duration, in microseconds.
    commit_micros: AtomicU64,
}

impl Contention {
    /// Nothing in flight, commits assumed to take `shape.first_commit`.
    pub fn new(shape: BackOff) -> Self {
        Self {
            shape,
            in_flight: AtomicUsize::new(0),
            commit_micros: AtomicU64::new(micros(shape.first_commit)),
        }
    }

    /// Counts a call in progress until the guard is dropped (also when the caller's future is
    /// dropped).
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Calls in progress.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Feeds one commit's duration into the moving average.
    pub fn note_commit(&self, took: Duration) {
        let took = micros(took);
        // Lost updates between racing commits only make the average a little staler.
        let avg = self.commit_micros.load(Ordering::Relaxed);
        let next = avg.saturating_mul(7).saturating_add(took) / 8;
        self.commit_micros.store(next, Ordering::Relaxed);
    }

    /// The moving average of a commit's duration.
    pub fn typical_commit(&self) -> Duration {
        Duration::from_micros(self.commit_micros.load(Ordering::Relaxed))
    }

    /// The longest pause at the current load: the unit times the calls in flight (at least
    /// one), at most [`BackOff::max`].
    pub fn pause_bound(&self) -> Duration {
        let unit = self
            .typical_commit()
            .saturating_mul(self.shape.commits_per_unit)
            .clamp(self.shape.unit_min, self.shape.unit_max);
        let load = u32::try_from(self.in_flight().max(1)).unwrap_or(u32::MAX);
        unit.saturating_mul(load).min(self.shape.max)
    }

    /// How long to wait before a conflict is answered: uniform in `[0, pause_bound()]`. The
    /// caller sleeps it its own way (a blocking thread, a runtime timer).
    pub fn pause(&self) -> Duration {
        jitter(self.pause_bound())
    }
}

/// A call in progress; see [`Contention::enter`].
#[derive(Debug)]
pub struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A uniformly random duration in `[0, max]` (not for secrets: spreads retries apart).
pub fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    let x = RandomState::new().hash_one(DRAWS.fetch_add(1, Ordering::Relaxed));
    // The top 53 bits as a fraction in [0, 1); exact in an f64.
    max.mul_f64((x >> 11) as f64 / (1u64 << 53) as f64)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: BackOff = BackOff {
        first_commit: Duration::from_millis(1),
        commits_per_unit: 4,
        unit_min: Duration::from_millis(3),
        unit_max: Duration::from_millis(25),
        max: Duration::from_secs(1),
    };

    #[test]
    fn the_bound_grows_with_the_calls_in_flight_up_to_the_max() {
        let c = Contention::new(SHAPE);
        // Nothing in flight counts as one call: the unit, 4 × 1 ms.
        assert_eq!(c.pause_bound(), Duration::from_millis(4));
        let guards: Vec<_> = (0..10).map(|_| c.enter()).collect();
        assert_eq!(c.in_flight(), 10);
        assert_eq!(c.pause_bound(), Duration::from_millis(40));
        let more: Vec<_> = (0..1000).map(|_| c.enter()).collect();
        assert_eq!(c.pause_bound(), SHAPE.max);
        drop(more);
        drop(guards);
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn the_unit_follows_the_commits_within_its_bounds() {
        let c = Contention::new(SHAPE);
        for _ in 0..100 {
            c.note_commit(Duration::ZERO);
        }
        assert_eq!(c.typical_commit(), Duration::ZERO);
        assert_eq!(c.pause_bound(), SHAPE.unit_min);
        for _ in 0..200 {
            c.note_commit(Duration::from_millis(100));
        }
        let typical = c.typical_commit();
        assert!(typical > Duration::from_millis(99), "{typical:?}");
        assert_eq!(c.pause_bound(), SHAPE.unit_max);
    }

    #[test]
    fn a_pause_stays_within_its_bound_and_varies() {
        let c = Contention::new(SHAPE);
        let _g: Vec<_> = (0..5).map(|_| c.enter()).collect();
        let bound = c.pause_bound();
        let pauses: Vec<Duration> = (0..200).map(|_| c.pause()).collect();
        assert!(pauses.iter().all(|p| *p <= bound));
        let distinct: std::collections::HashSet<_> = pauses.iter().collect();
        assert!(distinct.len() > 150, "{} distinct pauses", distinct.len());
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
