//! `overload`: bounded hashing and load shedding (AB-4) seen from outside.
//!
//! 1. **Calibration**: `--calibrate-concurrency` workers (default: two per core, enough to keep
//!    every hashing slot busy without reaching the queue's end) send unknown-user logins back
//!    to back for `--calibrate` seconds; the logins answered per second are the server's
//!    hashing capacity (each costs one dummy argon2 verification, L-5).
//! 2. **Overload**: unknown-user logins at a fixed arrival rate, `--factor` × that capacity
//!    (or `--rate`), for `--duration` seconds. Open loop: a request is sent when it is due,
//!    whether or not earlier ones were answered, each on a free keep-alive connection (a new
//!    one when none is free, at most `--max-connections`), so the overload is real. A latency
//!    counts from when the request was due, so a late load generator shows as latency too.
//! 3. Meanwhile a prober calls `GET /health` and an authenticated `GET /me` every
//!    `--probe-interval` milliseconds, each on its own connection, and the server's resident
//!    memory (`VmRSS` of `/proc/<--server-pid>/status`) is read once a second.
//!
//! Each login claims its own client address through `X-Forwarded-For` (the server trusts the
//! loopback proxy: `monban serve --trusted-proxy 127.0.0.1`), as logins from many machines
//! would; from one address the per-address throttle (AB-1) would answer 429 after 20 failures
//! and the hashing would not be reached. `--forwarded false` sends no header.
//!
//! Answers are sorted into: admitted (the server hashed and answered; for an unknown user
//! 401 `login_failed`), 503 `busy` (shed, AB-4), 429 `throttled`, other 5xx, and transport
//! errors. The run fails (exit status 1) when there is any other 5xx or transport error, or
//! when a probe is not answered 200.

use hyper::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

use crate::http::{Answer, Client, Target};
use crate::outbox::Outbox;
use crate::stats::{cpu_time, machine_busy, ms, quantile};
use crate::{Args, Ctx, Result, State, fail, full_login};

/// A probe slower than this misses the bound.
const PROBE_BOUND_US: u32 = 10_000;

/// How one offered login ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Hashed and answered (401 `login_failed` for an unknown user).
    Admitted,
    /// 503 `busy`: shed before hashing.
    Busy,
    /// 429 `throttled` (AB-1).
    Throttled,
    /// Any other 5xx.
    Other5xx,
    /// No HTTP answer.
    Transport,
}

fn classify(a: &Answer) -> Class {
    if a.status == StatusCode::SERVICE_UNAVAILABLE && a.code().as_deref() == Some("busy") {
        Class::Busy
    } else if a.status.is_server_error() {
        Class::Other5xx
    } else if a.status == StatusCode::TOO_MANY_REQUESTS {
        Class::Throttled
    } else {
        Class::Admitted
    }
}

/// One offered login: when it was due (µs from the run's start), its latency from then (µs),
/// how it ended.
#[derive(Clone, Copy)]
struct Rec {
    due_us: u64,
    latency_us: u32,
    class: Class,
}

/// Everything the spawned requests report.
#[derive(Default)]
struct Book {
    recs: Vec<Rec>,
    /// Answers by description (`HTTP 401 login_failed`, transport errors by message).
    kinds: BTreeMap<String, u64>,
    /// 503 `busy` answers without `Retry-After`.
    busy_without_retry_after: u64,
}

/// The body of a login for an unknown user of the bench tenant.
fn unknown_login(state: &State, i: u64) -> serde_json::Value {
    json!({
        "tenant": state.tenant,
        "identifier": format!("nobody{i}"),
        "password": "Wrong0pass",
        "access_key": state.access_key,
    })
}

/// A client address of its own for the `i`-th login: 10.x.y.z, 16 million before one repeats.
pub(crate) fn address(i: u64) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

/// Sends login `i` on `client` and says how it ended.
async fn send_login(
    client: &mut Client,
    state: &State,
    forwarded: bool,
    i: u64,
    book: &Mutex<Book>,
) -> Class {
    let sent = async {
        client.forwarded_for(forwarded.then(|| address(i)).as_deref())?;
        client.post("/login", None, &unknown_login(state, i)).await
    }
    .await;
    let (class, what) = match sent {
        Ok(a) => {
            let c = classify(&a);
            if c == Class::Busy
                && !a.retry_after
                && let Ok(mut b) = book.lock()
            {
                b.busy_without_retry_after += 1;
            }
            (c, a.describe())
        }
        Err(e) => (Class::Transport, format!("transport: {e}")),
    };
    if let Ok(mut b) = book.lock() {
        *b.kinds.entry(what).or_insert(0) += 1;
    }
    class
}

/// Closed-loop unknown-user logins: answered (admitted) logins per second over `secs` after
/// half a second of warm-up, and the answers seen.
async fn calibrate(
    target: &Target,
    state: &Arc<State>,
    forwarded: bool,
    workers: usize,
    secs: Duration,
    next: &Arc<AtomicU64>,
) -> Result<(f64, Book)> {
    let book = Arc::new(Mutex::new(Book::default()));
    let start = Instant::now();
    let from = start + Duration::from_millis(500);
    let until = from + secs;
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let (target, state, book, next) = (
            target.clone(),
            Arc::clone(state),
            Arc::clone(&book),
            Arc::clone(next),
        );
        tasks.spawn(async move {
            let mut client = Client::new(target);
            let mut admitted = 0u64;
            while Instant::now() < until {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let class = send_login(&mut client, &state, forwarded, i, &book).await;
                if class == Class::Admitted && Instant::now() >= from {
                    admitted += 1;
                }
            }
            admitted
        });
    }
    let mut admitted = 0u64;
    while let Some(n) = tasks.join_next().await {
        admitted += n?;
    }
    let counted = Instant::now().saturating_duration_since(from).as_secs_f64();
    let book = Arc::try_unwrap(book)
        .map_err(|_| fail("calibration tasks still hold the tally"))?
        .into_inner()
        .map_err(|_| fail("poisoned tally"))?;
    Ok((admitted as f64 / counted.max(1e-3), book))
}

/// One probe's results.
#[derive(Default)]
struct Probe {
    latencies: Vec<u32>,
    bad: BTreeMap<String, u64>,
}

/// Calls `GET path` every `every` until `stop`, on one connection.
async fn probe(
    target: Target,
    path: &'static str,
    token: Option<String>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> Probe {
    let mut out = Probe::default();
    let mut client = Client::new(target);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let t0 = Instant::now();
        let a = client.get(path, token.as_deref()).await;
        let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
        out.latencies.push(us);
        match a {
            Ok(a) if a.status == StatusCode::OK => {}
            Ok(a) => *out.bad.entry(a.describe()).or_insert(0) += 1,
            Err(e) => *out.bad.entry(format!("transport: {e}")).or_insert(0) += 1,
        }
    }
    out
}

/// Resident memory (kB) and thread count of a process, from `/proc/<pid>/status`.
fn rss_kb(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("Threads:")?))
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

fn ms_f(us: Option<u32>) -> Option<f64> {
    us.map(|u| f64::from(u) / 1000.0)
}

pub(crate) async fn overload_mode(args: &Args) -> Result<()> {
    let target = Target::parse(args.str("base")?)?;
    let ctx = Ctx {
        target: target.clone(),
        outbox: Outbox::new(args.str("outbox")?),
        state: State::load(args.str("state")?)?,
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let forwarded = match args.opt("forwarded").unwrap_or("true") {
        "true" => true,
        "false" => false,
        other => return Err(fail(format!("--forwarded: true or false, not {other:?}"))),
    };
    let calib_workers: usize = args.num("calibrate-concurrency", 2 * cores)?;
    let calib_secs = args.secs("calibrate", 3.0)?;
    let factor: f64 = args.num("factor", 4.0)?;
    let duration = args.secs("duration", 10.0)?;
    let every = Duration::from_millis(args.num("probe-interval", 50)?);
    let max_conns: usize = args.num("max-connections", 512)?;
    let drain = args.secs("drain", 30.0)?;
    let server_pid: Option<u32> = match args.opt("server-pid") {
        Some(p) => Some(
            p.parse()
                .map_err(|_| fail(format!("--server-pid: {p:?}")))?,
        ),
        None => None,
    };
    if calib_workers == 0 || max_conns == 0 || every.is_zero() {
        return Err(fail(
            "--calibrate-concurrency, --max-connections and --probe-interval must be above 0",
        ));
    }

    // A session for the `GET /me` probe: one full login of the first bench user.
    let user = ctx
        .state
        .users
        .first()
        .ok_or_else(|| fail("the state file holds no users"))?;
    let mut client = Client::new(target.clone());
    let session = full_login(
        &mut client,
        &ctx,
        &user.user_id,
        &user.email,
        &user.password,
    )
    .await?;
    drop(client);
    let state = Arc::new(ctx.state.clone());
    let next = Arc::new(AtomicU64::new(0));

    // 1. Calibration.
    let (capacity, calib) = match args.opt("rate") {
        Some(_) => (0.0, Book::default()),
        None => calibrate(&target, &state, forwarded, calib_workers, calib_secs, &next).await?,
    };
    let rate: f64 = match args.opt("rate") {
        Some(_) => args.num("rate", 0.0)?,
        None => {
            println!(
                "calibration: {calib_workers} workers back to back for {:.1} s: {capacity:.1} unknown-user logins/s answered",
                calib_secs.as_secs_f64()
            );
            for (what, n) in &calib.kinds {
                println!("    {n} × {what}");
            }
            factor * capacity
        }
    };
    if !(rate.is_finite() && rate > 0.0) {
        return Err(fail(format!("no offered rate (capacity {capacity:.1}/s)")));
    }

    // 2. Overload, with the probes and the memory sampler beside it.
    let stop = Arc::new(AtomicBool::new(false));
    let rss0 = server_pid.and_then(rss_kb);
    let sampler = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut series = Vec::new();
            let Some(pid) = server_pid else {
                return series;
            };
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Some(s) = rss_kb(pid) {
                    series.push(s);
                }
            }
            series
        })
    };
    let health = tokio::spawn(probe(
        target.clone(),
        "/health",
        None,
        every,
        Arc::clone(&stop),
    ));
    let me = tokio::spawn(probe(
        target.clone(),
        "/me",
        Some(session.token),
        every,
        Arc::clone(&stop),
    ));

    let book = Arc::new(Mutex::new(Book::default()));
    let pool: Arc<Mutex<Vec<Client>>> = Arc::new(Mutex::new(Vec::new()));
    let mut opened = 0usize;
    let mut not_sent = 0u64;
    let mut max_lag = Duration::ZERO;
    let mut inflight = JoinSet::new();
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let cpu0 = (cpu_time(server_pid), cpu_time(None), machine_busy());
    let start = Instant::now();
    let mut k = 0u64;
    while k < total {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due.into()).await;
            continue;
        }
        max_lag = max_lag.max(now - due);
        while inflight.try_join_next().is_some() {}
        let free = pool.lock().ok().and_then(|mut p| p.pop());
        let client = match free {
            Some(c) => c,
            None if opened < max_conns => {
                opened += 1;
                Client::new(target.clone())
            }
            None => {
                not_sent += 1;
                k += 1;
                continue;
            }
        };
        let i = next.fetch_add(1, Ordering::Relaxed);
        let due_us = u64::try_from(due.duration_since(start).as_micros()).unwrap_or(u64::MAX);
        let (state, book, pool) = (Arc::clone(&state), Arc::clone(&book), Arc::clone(&pool));
        inflight.spawn(async move {
            let mut client = client;
            let class = send_login(&mut client, &state, forwarded, i, &book).await;
            let latency_us = u32::try_from(due.elapsed().as_micros()).unwrap_or(u32::MAX);
            if let Ok(mut b) = book.lock() {
                b.recs.push(Rec {
                    due_us,
                    latency_us,
                    class,
                });
            }
            if let Ok(mut p) = pool.lock() {
                p.push(client);
            }
        });
        k += 1;
    }
    let offered_secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let drained = tokio::time::timeout(drain, async {
        while inflight.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    let cpu1 = (cpu_time(server_pid), cpu_time(None), machine_busy());
    let wall = start.elapsed().as_secs_f64();
    let unanswered = inflight.len();
    inflight.abort_all();
    let health = health.await?;
    let me = me.await?;
    let mut series = sampler.await?;
    if let Some(s) = server_pid.and_then(rss_kb) {
        series.push(s);
    }

    // 3. Figures.
    let book = {
        let mut b = book.lock().map_err(|_| fail("poisoned tally"))?;
        std::mem::take(&mut *b)
    };
    let count = |c: Class| book.recs.iter().filter(|r| r.class == c).count();
    let sent = book.recs.len();
    let (admitted, busy, throttled, other5xx, transport) = (
        count(Class::Admitted),
        count(Class::Busy),
        count(Class::Throttled),
        count(Class::Other5xx),
        count(Class::Transport),
    );
    let sorted = |c: Class| {
        let mut v: Vec<u32> = book
            .recs
            .iter()
            .filter(|r| r.class == c)
            .map(|r| r.latency_us)
            .collect();
        v.sort_unstable();
        v
    };
    let adm = sorted(Class::Admitted);
    let shed = sorted(Class::Busy);
    // Admitted logins per second while the load was offered (the server's goodput).
    let offered_us = (offered_secs * 1e6) as u64;
    let admitted_in_window = book
        .recs
        .iter()
        .filter(|r| r.class == Class::Admitted && r.due_us + u64::from(r.latency_us) <= offered_us)
        .count();
    let share = |n: usize| {
        if sent > 0 {
            n as f64 / sent as f64 * 100.0
        } else {
            0.0
        }
    };
    let busy_of = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if wall > 0.0 => Some(b.saturating_sub(a).as_secs_f64() / wall),
        _ => None,
    };
    let server_busy = busy_of(cpu0.0, cpu1.0);
    let own_busy = busy_of(cpu0.1, cpu1.1);
    let machine = busy_of(cpu0.2, cpu1.2);
    let cores_busy = |b: Option<f64>| b.map_or_else(|| "-".into(), |b| format!("{b:.2}"));

    let how = if capacity > 0.0 {
        format!(" ({factor} × {capacity:.1})")
    } else {
        " (--rate)".to_owned()
    };
    println!(
        "overload: {rate:.1} logins/s offered open-loop{how} for {offered_secs:.1} s, unknown users{}",
        if forwarded {
            ", one client address each"
        } else {
            ", one client address"
        }
    );
    println!(
        "  {total} due, {sent} sent on {opened} connections, {not_sent} not sent (every connection busy); dispatch at most {:.1} ms late",
        max_lag.as_secs_f64() * 1000.0
    );
    println!(
        "  admitted (hashed, answered): {admitted} ({:.1} %), {:.1}/s while offered; latency from due: p50 {}, p99 {}, max {}",
        share(admitted),
        admitted_in_window as f64 / offered_secs.max(1e-3),
        ms(quantile(&adm, 0.5)),
        ms(quantile(&adm, 0.99)),
        ms(adm.last().copied())
    );
    println!(
        "  503 busy: {busy} ({:.1} %), {} without Retry-After; latency p50 {}, p99 {}",
        share(busy),
        book.busy_without_retry_after,
        ms(quantile(&shed, 0.5)),
        ms(quantile(&shed, 0.99))
    );
    println!(
        "  429 throttled: {throttled}; other 5xx: {other5xx}; transport errors: {transport}; unanswered after {:.0} s: {unanswered}",
        drain.as_secs_f64()
    );
    for (what, n) in &book.kinds {
        println!("    {n} × {what}");
    }
    let mut probe_ok = true;
    let mut probe_json = serde_json::Map::new();
    for (name, p) in [("GET /health", &health), ("GET /me", &me)] {
        let mut v = p.latencies.clone();
        v.sort_unstable();
        let over = v.iter().filter(|&&u| u > PROBE_BOUND_US).count();
        let bad: u64 = p.bad.values().sum();
        probe_ok &= bad == 0;
        println!(
            "  probe {name}: {} calls every {} ms, {bad} not 200; p50 {}, p99 {}, max {}; {over} over 10 ms",
            v.len(),
            every.as_millis(),
            ms(quantile(&v, 0.5)),
            ms(quantile(&v, 0.99)),
            ms(v.last().copied())
        );
        for (what, n) in &p.bad {
            println!("    {n} × {what}");
        }
        probe_json.insert(
            name.to_owned(),
            json!({
                "calls": v.len(), "not_200": bad, "over_10ms": over,
                "p50_ms": ms_f(quantile(&v, 0.5)), "p99_ms": ms_f(quantile(&v, 0.99)),
                "max_ms": ms_f(v.last().copied()),
            }),
        );
    }
    let rss_max = series.iter().map(|s| s.0).max();
    if let Some((first, _)) = rss0 {
        let end = series.last().map_or(first, |s| s.0);
        println!(
            "  server memory (VmRSS): start {}, max {}, end {}; threads start {}, max {}",
            mib(first),
            mib(rss_max.unwrap_or(first).max(first)),
            mib(end),
            rss0.map_or(0, |s| s.1),
            series.iter().map(|s| s.1).max().unwrap_or(0)
        );
        let each: Vec<String> = series
            .iter()
            .map(|s| format!("{:.1}", s.0 as f64 / 1024.0))
            .collect();
        println!("    once a second (MiB): {}", each.join(" "));
    }
    println!(
        "  CPU (cores busy): server {}, loadgen {}, machine {} ({cores} cores)",
        cores_busy(server_busy),
        cores_busy(own_busy),
        cores_busy(machine)
    );

    if let Some(path) = args.opt("json") {
        let v = json!({
            "cores": cores,
            "calibration_per_sec": capacity,
            "calibration_workers": calib_workers,
            "calibration_answers": calib.kinds,
            "offered_per_sec": rate,
            "offered_secs": offered_secs,
            "due": total, "sent": sent, "not_sent": not_sent, "connections": opened,
            "max_dispatch_lag_ms": max_lag.as_secs_f64() * 1000.0,
            "admitted": admitted,
            "admitted_per_sec": admitted_in_window as f64 / offered_secs.max(1e-3),
            "admitted_p50_ms": ms_f(quantile(&adm, 0.5)),
            "admitted_p99_ms": ms_f(quantile(&adm, 0.99)),
            "admitted_max_ms": ms_f(adm.last().copied()),
            "busy": busy, "busy_share": share(busy) / 100.0,
            "busy_without_retry_after": book.busy_without_retry_after,
            "busy_p99_ms": ms_f(quantile(&shed, 0.99)),
            "throttled": throttled, "other_5xx": other5xx, "transport_errors": transport,
            "unanswered": unanswered,
            "answers": book.kinds,
            "probes": probe_json,
            "rss_kb_start": rss0.map(|s| s.0), "rss_kb_max": rss_max, "rss_kb_end": series.last().map(|s| s.0),
            "rss_kb_series": series.iter().map(|s| s.0).collect::<Vec<_>>(),
            "server_cores_busy": server_busy, "loadgen_cores_busy": own_busy,
            "machine_cores_busy": machine,
        });
        std::fs::write(path, format!("{v}\n"))?;
    }

    let mut failures = Vec::new();
    if other5xx > 0 {
        failures.push(format!("{other5xx} answers were 5xx other than 503 busy"));
    }
    if transport > 0 || !drained {
        failures.push(format!(
            "{transport} logins got no HTTP answer, {unanswered} were still open after the drain"
        ));
    }
    if !probe_ok {
        failures.push("a probe was not answered 200".to_owned());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(fail(format!("overload: {}", failures.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_login_has_its_own_address() {
        assert_eq!(address(0), "10.0.0.0");
        assert_eq!(address(65_536 + 256 + 7), "10.1.1.7");
        let seen: std::collections::HashSet<_> = (0..100_000).map(address).collect();
        assert_eq!(seen.len(), 100_000);
    }
}
