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

    /// RFC 3339 in UTC, e.g. `2026-12-05T17:06:00Z`. Times outside the years 0000..=9999 (which
    /// RFC 3339 cannot write) are clamped to them.
    pub fn rfc3339(self) -> String {
        const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
        const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
        let secs = self.0.clamp(MIN, MAX);
        let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
        let rem = secs.rem_euclid(DAY);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01, in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`). Days within ±10^12 are exact.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.clamp(-1_000_000_000_000, 1_000_000_000_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn leap(y: i64) -> bool {
        (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    }

    fn month_days(y: i64, m: i64) -> i64 {
        match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_796_490_360).rfc3339(), "2026-12-05T17:06:00Z");
        assert_eq!(Timestamp(951_782_400).rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp(-1).rfc3339(), "1969-12-31T23:59:59Z");
        assert_eq!(Timestamp(1_709_251_199).rfc3339(), "2024-02-29T23:59:59Z");
        assert_eq!(Timestamp(i64::MAX).rfc3339(), "9999-12-31T23:59:59Z");
        assert_eq!(Timestamp(i64::MIN).rfc3339(), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn civil_from_days_matches_counting_for_four_centuries() {
        // Every day of 1600..2400 (leap centuries and not), counted one by one from 1970.
        let mut days = 0i64;
        for y in 1600..1970 {
            days -= if leap(y) { 366 } else { 365 };
        }
        for y in 1600..2400 {
            for m in 1..=12 {
                for d in 1..=month_days(y, m) {
                    assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
                    days += 1;
                }
            }
        }
    }
}
