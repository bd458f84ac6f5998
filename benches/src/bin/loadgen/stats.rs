//! Latencies, rates and CPU time.

use std::collections::BTreeMap;
use std::time::Duration;

/// The `q` quantile (0..=1) of sorted microsecond samples, nearest-rank.
pub(crate) fn quantile(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank: the smallest sample with at least q of the samples at or below it.
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Milliseconds with two decimals, or `-`.
pub(crate) fn ms(us: Option<u32>) -> String {
    us.map_or_else(
        || "-".into(),
        |u| format!("{:.2} ms", f64::from(u) / 1000.0),
    )
}

/// One worker's result: (start offset from the run's start, latency), both in microseconds, of
/// each successful operation; and the errors by description.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) samples: Vec<(u64, u32)>,
    pub(crate) errors: BTreeMap<String, u64>,
}

impl Tally {
    pub(crate) fn ok(&mut self, start: Duration, latency: Duration) {
        self.samples.push((
            u64::try_from(start.as_micros()).unwrap_or(u64::MAX),
            u32::try_from(latency.as_micros()).unwrap_or(u32::MAX),
        ));
    }

    pub(crate) fn error(&mut self, what: String) {
        *self.errors.entry(what).or_insert(0) += 1;
    }

    pub(crate) fn merge(&mut self, other: Tally) {
        self.samples.extend(other.samples);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_insert(0) += v;
        }
    }
}

/// CPU time (user + system, all threads) of a process so far, from `/proc/<pid>/stat`; `None`
/// off Linux or when the process is gone. USER_HZ is 100 on every Linux architecture that
/// matters here (x86-64, arm64).
pub(crate) fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU time all processes of the machine spent busy so far (every state but idle and I/O
/// wait, summed over the cores), from `/proc/stat`; `None` off Linux.
pub(crate) fn machine_busy() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some(Duration::from_millis((total - idle) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&v, 1.0), Some(100));
        assert_eq!(quantile(&v, 0.0), Some(1));
        assert_eq!(quantile(&[7], 0.99), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn own_cpu_time_is_readable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(cpu_time(None).is_some());
            assert!(machine_busy().is_some());
        }
    }
}
