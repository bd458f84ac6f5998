//! Time as a value. The core never reads a clock: callers pass `now` in (principle 1).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Seconds since the Unix epoch (UTC).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Seconds since the Unix epoch.
    pub const fn secs(self) -> i64 {
        self.0
    }
    /// `self + secs`, saturating.
    #[must_use]
    pub const fn plus_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }
    /// `self + days`, saturating.
    #[must_use]
    pub const fn plus_days(self, days: i64) -> Self {
        self.plus_secs(days.saturating_mul(DAY))
    }
    /// Whole seconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{}", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Seconds in a minute.
pub const MINUTE: i64 = 60;
/// Seconds in a day.
pub const DAY: i64 = 86_400;
