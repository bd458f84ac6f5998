//! `loadgen`: an HTTP/1.1 load generator for `monban serve` (Kuroneko-style tenants: tenant code,
//! user ID, password, access key, then the mailed one-time password).
//!
//! ```text
//! loadgen setup   --base URL --outbox DIR --state FILE (--support-token T | --support-token-file F)
//!                 [--users 32] [--concurrency 8] [--tenant CODE]
//! loadgen login   --base URL --outbox DIR --state FILE [--concurrency 8]
//!                 [--duration 20 | --count N] [--warmup 2] [--server-pid PID] [--json FILE]
//! loadgen session --base URL --outbox DIR --state FILE [--concurrency 8]
//!                 [--duration 10 | --count N] [--warmup 1] [--server-pid PID] [--json FILE]
//!                 [--path /me]
//! loadgen timing  --base URL --state FILE [--route login|reset|forgot-login-id] [--count 400]
//! loadgen overload --base URL --outbox DIR --state FILE [--factor 4 | --rate R] [--duration 10]
//!                 [--calibrate 3] [--calibrate-concurrency 2×cores] [--probe-interval 50]
//!                 [--max-connections 512] [--forwarded true] [--server-pid PID] [--json FILE]
//! every mode:     [--threads N]   (the load generator's tokio worker threads; default: one per core)
//! ```
//!
//! - `setup` creates a tenant with the support token, takes its admin through the reset link
//!   (`POST /reset` → mailed link → `POST /reset/open` → mailed temporary password → login →
//!   mailed code → forced change), creates `--users` general users with mail OTP, and gives
//!   each its first login (mailed temporary password → mailed code → forced change). The users
//!   and their passwords go to the `--state` file (JSON), so later logins are ordinary ones.
//! - `login`: `--concurrency` workers, each with its own users (worker `w` takes users `w`,
//!   `w + C`, …), do full logins for `--duration` seconds: `POST /login` → the code from the
//!   outbox → `POST /login/otp`. The latency of one login spans both requests and the reading
//!   of the mail. Under a policy without a second factor a login is `POST /login` alone.
//! - `session`: one full login per user first, then `--concurrency` workers call `GET /me` with
//!   those session tokens for `--duration` seconds (`--path /health` instead measures the HTTP
//!   stack alone, for comparison).
//! - `timing`: a known account against an unknown one, interleaved (L-5, RS-3).
//! - `overload`: unknown-user logins at a multiple of the measured hashing capacity, open loop,
//!   while `/health` and `GET /me` are probed and the server's memory is sampled (AB-4; see
//!   `overload.rs`).
//!
//! The first `--warmup` seconds are run but not counted. With `--server-pid` the server's CPU
//! time over the counted window is read from `/proc`, and the rate per busy server core shown.
//!
//! The load generator reads the outbox as a mail relay would: each mail it reads is removed from
//! the folder (see `outbox.rs`).

mod http;
mod outbox;
mod overload;
mod stats;

use hyper::StatusCode;
use monban_core::mail::MailKind;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{Client, Target};
use outbox::Outbox;
use stats::{Tally, cpu_time, machine_busy, ms, quantile};

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

fn fail(msg: impl Into<String>) -> Error {
    msg.into().into()
}

/// How long a worker waits for a mail to show up in the outbox.
const MAIL_WAIT: Duration = Duration::from_secs(10);

const USAGE: &str = "usage:
  loadgen setup   --base URL --outbox DIR --state FILE (--support-token T | --support-token-file F)
                  [--users 32] [--concurrency 8] [--tenant CODE]
  loadgen login   --base URL --outbox DIR --state FILE [--concurrency 8]
                  [--duration 20 | --count N] [--warmup 2] [--server-pid PID] [--json FILE]
  loadgen session --base URL --outbox DIR --state FILE [--concurrency 8]
                  [--duration 10 | --count N] [--warmup 1] [--server-pid PID] [--json FILE]
                  [--path /me]
  loadgen timing  --base URL --state FILE [--route login|reset|forgot-login-id] [--count 400]
                  [--warmup 20] [--json FILE]
  loadgen overload --base URL --outbox DIR --state FILE [--factor 4 | --rate R] [--duration 10]
                  [--calibrate 3] [--calibrate-concurrency 2×cores] [--probe-interval 50]
                  [--max-connections 512] [--drain 30] [--forwarded true|false]
                  [--server-pid PID] [--json FILE]
  every mode: [--threads N] (the load generator's tokio worker threads; default: one per core)";

// ---- arguments -------------------------------------------------------------------------------

struct Args {
    mode: String,
    opts: BTreeMap<String, String>,
}

impl Args {
    fn parse() -> Result<Self> {
        let mut it = std::env::args().skip(1);
        let mode = it.next().ok_or_else(|| fail(USAGE))?;
        if mode == "-h" || mode == "--help" {
            return Err(fail(USAGE));
        }
        let mut opts = BTreeMap::new();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| fail(format!("unexpected argument {flag:?}\n{USAGE}")))?;
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_owned(), v.to_owned()),
                None => (
                    name.to_owned(),
                    it.next()
                        .ok_or_else(|| fail(format!("--{name} needs a value")))?,
                ),
            };
            opts.insert(name, value);
        }
        Ok(Self { mode, opts })
    }

    fn str(&self, name: &str) -> Result<&str> {
        self.opts
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| fail(format!("--{name} is required\n{USAGE}")))
    }

    fn opt(&self, name: &str) -> Option<&str> {
        self.opts.get(name).map(String::as_str)
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.opts.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| fail(format!("--{name}: not a number: {v:?}"))),
        }
    }

    fn secs(&self, name: &str, default: f64) -> Result<Duration> {
        let s: f64 = self.num(name, default)?;
        Duration::try_from_secs_f64(s).map_err(|e| fail(format!("--{name}: {e}")))
    }
}

// ---- state -----------------------------------------------------------------------------------

/// What `setup` leaves for the other modes.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    tenant: String,
    access_key: String,
    users: Vec<BenchUser>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct BenchUser {
    user_id: String,
    email: String,
    password: String,
}

impl State {
    fn load(path: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(format!(
                "cannot read the state file {path}: {e} (run setup)"
            ))
        })?;
        let st: State = serde_json::from_str(&text)?;
        if st.users.is_empty() {
            return Err(fail(format!("{path} holds no users")));
        }
        Ok(st)
    }
}

/// Everything a worker needs.
struct Ctx {
    target: Target,
    outbox: Outbox,
    state: State,
}

// ---- flows -----------------------------------------------------------------------------------

/// A session from `POST /login/otp` or `POST /me/password`.
struct Session {
    token: String,
    change_password_only: bool,
}

fn session_of(v: &serde_json::Value) -> Result<Session> {
    let token = v
        .get("token")
        .and_then(|t| t.as_str())
        .ok_or_else(|| fail("no token in the session"))?
        .to_owned();
    let change_password_only = v.get("scope").and_then(|s| s.as_str()) == Some("change_password");
    Ok(Session {
        token,
        change_password_only,
    })
}

/// A full login: password, then the mailed code (or the password alone, when the policy has no
/// second factor). Errors carry the HTTP status and code.
async fn full_login(
    client: &mut Client,
    ctx: &Ctx,
    user_id: &str,
    email: &str,
    password: &str,
) -> Result<Session> {
    ctx.outbox.forget(email).await;
    let body = json!({
        "tenant": ctx.state.tenant,
        "identifier": user_id,
        "password": password,
        "access_key": ctx.state.access_key,
    });
    let step = client
        .post("/login", None, &body)
        .await?
        .json(StatusCode::OK, "POST /login")?;
    match step.get("next").and_then(|n| n.as_str()) {
        Some("second_factor") => {}
        // A policy without a second factor (`SECOND_FACTOR=off` in scripts/bench-http): the
        // password alone signs in.
        Some("session") => {
            return session_of(step.get("session").unwrap_or(&serde_json::Value::Null));
        }
        _ => {
            return Err(fail(format!(
                "POST /login: expected a second factor or a session, got {step}"
            )));
        }
    }
    let challenge = step
        .get("challenge")
        .and_then(|c| c.as_str())
        .ok_or_else(|| fail("POST /login: no challenge"))?
        .to_owned();
    let code = ctx.outbox.take(email, &[MailKind::Otp], MAIL_WAIT).await?;
    let s = client
        .post(
            "/login/otp",
            None,
            &json!({ "challenge": challenge, "code": code }),
        )
        .await?
        .json(StatusCode::OK, "POST /login/otp")?;
    session_of(&s)
}

/// First login with a temporary password, then the forced change to `new_password`.
async fn first_login(
    client: &mut Client,
    ctx: &Ctx,
    user_id: &str,
    email: &str,
    temporary: &str,
    new_password: &str,
) -> Result<Session> {
    let s = full_login(client, ctx, user_id, email, temporary).await?;
    if !s.change_password_only {
        return Err(fail(format!(
            "{user_id}: a temporary password gave a full session"
        )));
    }
    let body = json!({ "new": new_password, "confirm": new_password });
    let full = client
        .post("/me/password", Some(&s.token), &body)
        .await?
        .json(StatusCode::OK, "POST /me/password")?;
    session_of(&full)
}

fn support_token(args: &Args) -> Result<String> {
    if let Some(t) = args.opt("support-token") {
        return Ok(t.trim().to_owned());
    }
    let path = args.str("support-token-file")?;
    let t = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read the support token file {path}: {e}")))?;
    let t = t.trim().to_owned();
    if t.is_empty() {
        return Err(fail(format!("{path} is empty")));
    }
    Ok(t)
}

async fn setup(args: &Args) -> Result<()> {
    let target = Target::parse(args.str("base")?)?;
    let support = support_token(args)?;
    let n: usize = args.num("users", 32)?;
    let workers: usize = args.num("concurrency", 8)?;
    let state_path = args.str("state")?;
    let tenant = match args.opt("tenant") {
        Some(t) => t.to_owned(),
        // Nine digits from the clock, so that setups on one database do not clash.
        None => format!(
            "{:09}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
                % 1_000_000_000
        ),
    };
    let access_key = "2468024".to_owned();
    let admin_email = format!("admin.{tenant}@bench.example");
    let users: Vec<BenchUser> = (0..n)
        .map(|i| BenchUser {
            user_id: format!("bench{i}"),
            email: format!("bench{i}.{tenant}@bench.example"),
            password: format!("Lg{tenant}u{i}"),
        })
        .collect();
    let ctx = Arc::new(Ctx {
        target: target.clone(),
        outbox: Outbox::new(args.str("outbox")?),
        state: State {
            tenant: tenant.clone(),
            access_key: access_key.clone(),
            users,
        },
    });
    let started = Instant::now();
    let mut client = Client::new(target);

    // The tenant and its admin (T-1..T-3); the admin starts with the reset link (RS-1).
    let body = json!({
        "code": tenant,
        "name": "Load test shop",
        "access_key": access_key,
        "admin": { "name": "Bench Admin", "email": admin_email },
    });
    client
        .post("/support/tenants", Some(&support), &body)
        .await?
        .json(StatusCode::CREATED, "POST /support/tenants")?;
    ctx.outbox.forget(&admin_email).await;
    let body = json!({ "tenant": tenant, "user_id": tenant, "access_key": access_key });
    client
        .post("/reset", None, &body)
        .await?
        .json(StatusCode::ACCEPTED, "POST /reset")?;
    let url = ctx
        .outbox
        .take(&admin_email, &[MailKind::ResetStarted], MAIL_WAIT)
        .await?;
    let token = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .ok_or_else(|| fail(format!("no token in the reset URL {url:?}")))?;
    client
        .post("/reset/open", None, &json!({ "token": token }))
        .await?
        .json(StatusCode::OK, "POST /reset/open")?;
    let temporary = ctx
        .outbox
        .take(&admin_email, &[MailKind::TemporaryPassword], MAIL_WAIT)
        .await?;
    let admin_password = format!("Lg{tenant}adm");
    let admin = first_login(
        &mut client,
        &ctx,
        &tenant,
        &admin_email,
        &temporary,
        &admin_password,
    )
    .await?;
    println!(
        "setup: tenant {tenant} created, admin signed in ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // The general users (LC-2), each mailed a temporary password.
    for u in &ctx.state.users {
        let body = json!({
            "user_id": u.user_id,
            "role": "general",
            "login_method": "mail_otp",
            "profile": { "name": format!("Bench User {}", u.user_id), "email": u.email },
        });
        client
            .post("/admin/users", Some(&admin.token), &body)
            .await?
            .json(StatusCode::CREATED, "POST /admin/users")?;
    }
    println!(
        "setup: {n} users created ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // Each user's first login, `workers` at a time.
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (ctx, next) = (Arc::clone(&ctx), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(ctx.target.clone());
            loop {
                let i = usize::try_from(next.fetch_add(1, Ordering::Relaxed))?;
                let Some(u) = ctx.state.users.get(i) else {
                    return Ok::<(), Error>(());
                };
                let temporary = ctx
                    .outbox
                    .take(&u.email, &[MailKind::UserRegistered], MAIL_WAIT)
                    .await?;
                first_login(
                    &mut client,
                    &ctx,
                    &u.user_id,
                    &u.email,
                    &temporary,
                    &u.password,
                )
                .await
                .map_err(|e| fail(format!("{}: {e}", u.user_id)))?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    std::fs::write(state_path, serde_json::to_string_pretty(&ctx.state)?)?;
    println!(
        "setup: {n} users signed in once and set their passwords ({:.1} s); state in {state_path}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---- timed runs ------------------------------------------------------------------------------

/// When workers stop.
#[derive(Clone)]
enum Stop {
    /// Start nothing after this instant.
    At(Instant),
    /// Start at most this many counted operations in all.
    Count(Arc<AtomicU64>, u64),
}

impl Stop {
    fn go(&self) -> bool {
        match self {
            Stop::At(t) => Instant::now() < *t,
            Stop::Count(n, max) => n.fetch_add(1, Ordering::Relaxed) < *max,
        }
    }
}

struct Plan {
    workers: usize,
    warmup: Duration,
    stop: Stop,
    server_pid: Option<u32>,
    json: Option<PathBuf>,
}

impl Plan {
    fn of(args: &Args, default_secs: f64, default_warmup: f64) -> Result<(Self, Instant)> {
        let workers: usize = args.num("concurrency", 8)?;
        if workers == 0 {
            return Err(fail("--concurrency must be at least 1"));
        }
        let start = Instant::now();
        let (warmup, stop) = match args.opt("count") {
            Some(_) => {
                let n: u64 = args.num("count", 0)?;
                (Duration::ZERO, Stop::Count(Arc::new(AtomicU64::new(0)), n))
            }
            None => {
                let warmup = args.secs("warmup", default_warmup)?;
                let d = args.secs("duration", default_secs)?;
                (warmup, Stop::At(start + warmup + d))
            }
        };
        let server_pid = match args.opt("server-pid") {
            Some(p) => Some(
                p.parse()
                    .map_err(|_| fail(format!("--server-pid: {p:?}")))?,
            ),
            None => None,
        };
        Ok((
            Self {
                workers,
                warmup,
                stop,
                server_pid,
                json: args.opt("json").map(PathBuf::from),
            },
            start,
        ))
    }
}

/// Runs `plan.workers` copies of `work` (given the worker index, the run's start and the stop
/// rule), then reports.
async fn run<F, Fut>(label: &str, unit: &str, plan: Plan, start: Instant, work: F) -> Result<()>
where
    F: Fn(usize, Instant, Stop) -> Fut,
    Fut: std::future::Future<Output = Tally> + Send + 'static,
{
    let tasks: Vec<_> = (0..plan.workers)
        .map(|w| tokio::spawn(work(w, start, plan.stop.clone())))
        .collect();
    let counted_from = start + plan.warmup;
    tokio::time::sleep_until(counted_from.into()).await;
    let cpu0 = mark(plan.server_pid);
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await?);
    }
    let cpu1 = mark(plan.server_pid);
    report(label, unit, &plan, start, all, cpu0, cpu1)
}

/// CPU time so far of the server, of this process and of the whole machine, and when.
struct CpuMark {
    server: Option<Duration>,
    own: Option<Duration>,
    machine: Option<Duration>,
    at: Instant,
}

fn mark(server_pid: Option<u32>) -> CpuMark {
    CpuMark {
        server: cpu_time(server_pid),
        own: cpu_time(None),
        machine: machine_busy(),
        at: Instant::now(),
    }
}

fn report(
    label: &str,
    unit: &str,
    plan: &Plan,
    start: Instant,
    all: Tally,
    cpu0: CpuMark,
    cpu1: CpuMark,
) -> Result<()> {
    let warm_us = u64::try_from(plan.warmup.as_micros()).unwrap_or(u64::MAX);
    let mut lat: Vec<u32> = Vec::with_capacity(all.samples.len());
    let mut last_end_us = warm_us;
    let mut warm_ops = 0u64;
    for &(s, l) in &all.samples {
        if s >= warm_us {
            lat.push(l);
            last_end_us = last_end_us.max(s + u64::from(l));
        } else {
            warm_ops += 1;
        }
    }
    lat.sort_unstable();
    let window = Duration::from_micros(last_end_us - warm_us);
    let secs = window.as_secs_f64();
    let n = lat.len();
    let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let errors: u64 = all.errors.values().sum();
    let (p50, p99) = (quantile(&lat, 0.50), quantile(&lat, 0.99));
    let mean = if n > 0 {
        lat.iter().map(|&l| u64::from(l)).sum::<u64>() / n as u64
    } else {
        0
    };
    let wall = cpu1.at.duration_since(cpu0.at).as_secs_f64();
    let busy = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) if wall > 0.0 => Some(b.saturating_sub(a).as_secs_f64() / wall),
        _ => None,
    };
    let server_busy = busy(cpu0.server, cpu1.server);
    let loadgen_busy = busy(cpu0.own, cpu1.own);
    let machine_busy = busy(cpu0.machine, cpu1.machine);
    // What neither the server nor the load generator used: the kernel's own threads (I/O,
    // fsync) and any other process on the machine.
    let others_busy = match (machine_busy, server_busy, loadgen_busy) {
        (Some(m), s, Some(l)) => Some((m - s.unwrap_or(0.0) - l).max(0.0)),
        _ => None,
    };

    println!(
        "{label}: {} workers, {:.1} s counted after {:.1} s warm-up ({warm_ops} {unit} in the warm-up, {:.1} s in all)",
        plan.workers,
        secs,
        plan.warmup.as_secs_f64(),
        cpu1.at.duration_since(start).as_secs_f64()
    );
    println!("  {n} {unit}, {errors} errors");
    for (what, count) in &all.errors {
        println!("    {count} × {what}");
    }
    println!(
        "  {unit}/s: {rate:.1} total, {:.1} per core ({cores} cores)",
        rate / cores as f64
    );
    println!(
        "  latency: p50 {}, p99 {}, mean {}, max {}",
        ms(p50),
        ms(p99),
        ms(Some(u32::try_from(mean).unwrap_or(u32::MAX))),
        ms(lat.last().copied())
    );
    let cores_busy = |b: Option<f64>| b.map_or_else(|| "-".into(), |b| format!("{b:.2}"));
    println!(
        "  CPU (cores busy): server {}, loadgen {}, everything else {} (machine {})",
        cores_busy(server_busy),
        cores_busy(loadgen_busy),
        cores_busy(others_busy),
        cores_busy(machine_busy),
    );
    if let Some(b) = server_busy.filter(|b| *b > 0.0) {
        println!("  {:.1} {unit}/s per busy server core", rate / b);
    }
    if let Some(path) = &plan.json {
        let v = json!({
            "mode": label,
            "workers": plan.workers,
            "counted_secs": secs,
            "warmup_secs": plan.warmup.as_secs_f64(),
            "ok": n,
            "errors": errors,
            "error_kinds": all.errors,
            "per_sec": rate,
            "per_sec_per_core": rate / cores as f64,
            "cores": cores,
            "p50_ms": p50.map(|u| f64::from(u) / 1000.0),
            "p99_ms": p99.map(|u| f64::from(u) / 1000.0),
            "mean_ms": mean as f64 / 1000.0,
            "max_ms": lat.last().map(|&u| f64::from(u) / 1000.0),
            "server_cores_busy": server_busy,
            "loadgen_cores_busy": loadgen_busy,
            "other_cores_busy": others_busy,
            "machine_cores_busy": machine_busy,
        });
        std::fs::write(path, format!("{v}\n"))?;
    }
    Ok(())
}

async fn login_mode(args: &Args) -> Result<()> {
    let ctx = Arc::new(Ctx {
        target: Target::parse(args.str("base")?)?,
        outbox: Outbox::new(args.str("outbox")?),
        state: State::load(args.str("state")?)?,
    });
    let (plan, start) = Plan::of(args, 20.0, 2.0)?;
    if plan.workers > ctx.state.users.len() {
        return Err(fail(format!(
            "--concurrency {} needs at least as many users; the state file has {} (setup --users)",
            plan.workers,
            ctx.state.users.len()
        )));
    }
    let workers = plan.workers;
    let c = Arc::clone(&ctx);
    run("login", "logins", plan, start, move |w, start, stop| {
        let ctx = Arc::clone(&c);
        async move {
            let mut tally = Tally::default();
            let mut client = Client::new(ctx.target.clone());
            // This worker's users: w, w + C, w + 2C, … — no two workers share one.
            let mine: Vec<&BenchUser> = ctx.state.users.iter().skip(w).step_by(workers).collect();
            let mut k = 0usize;
            while stop.go() {
                let Some(u) = mine.get(k % mine.len().max(1)) else {
                    break;
                };
                k += 1;
                let t0 = Instant::now();
                match full_login(&mut client, &ctx, &u.user_id, &u.email, &u.password).await {
                    Ok(s) if !s.change_password_only => {
                        tally.ok(t0.duration_since(start), t0.elapsed());
                    }
                    Ok(_) => tally.error("change-password-only session".into()),
                    Err(e) => tally.error(e.to_string()),
                }
            }
            tally
        }
    })
    .await?;
    let (scans, files) = ctx.outbox.counters();
    println!("  outbox: {files} mails read in {scans} folder scans");
    Ok(())
}

async fn session_mode(args: &Args) -> Result<()> {
    let ctx = Ctx {
        target: Target::parse(args.str("base")?)?,
        outbox: Outbox::new(args.str("outbox")?),
        state: State::load(args.str("state")?)?,
    };
    let workers: usize = args.num("concurrency", 8)?;
    // One session per user, as many users as workers (or all of them).
    let mut client = Client::new(ctx.target.clone());
    let mut tokens = Vec::new();
    for u in ctx.state.users.iter().take(workers.max(1)) {
        let s = full_login(&mut client, &ctx, &u.user_id, &u.email, &u.password).await?;
        tokens.push(s.token);
    }
    let tokens = Arc::new(tokens);
    let target = ctx.target.clone();
    // `/me` by default; `--path /health` measures the HTTP stack alone for comparison.
    let path: Arc<str> = Arc::from(args.opt("path").unwrap_or("/me"));
    let (plan, start) = Plan::of(args, 10.0, 1.0)?;
    let label = if &*path == "/me" {
        "session".to_owned()
    } else {
        format!("session (GET {path})")
    };
    run(&label, "checks", plan, start, move |w, start, stop| {
        let (tokens, target, path) = (Arc::clone(&tokens), target.clone(), Arc::clone(&path));
        async move {
            let mut tally = Tally::default();
            let mut client = Client::new(target);
            let Some(token) = tokens.get(w % tokens.len().max(1)) else {
                tally.error("no session token".into());
                return tally;
            };
            while stop.go() {
                let t0 = Instant::now();
                match client.get(&path, Some(token)).await {
                    Ok(a) if a.status == StatusCode::OK => {
                        tally.ok(t0.duration_since(start), t0.elapsed());
                    }
                    Ok(a) => tally.error(a.describe()),
                    Err(e) => tally.error(e.to_string()),
                }
            }
            tally
        }
    })
    .await
}

/// L-5 / RS-3: does the answer's time tell whether an account exists? Alternates, on one
/// keep-alive connection, a request for a known account and the same request for an unknown
/// one (`--count` of each, after `--warmup` pairs), and compares the two latency samples:
/// medians, their ratio, and the Mann–Whitney U test's z (|z| < 2: no difference this sample
/// can see). `login`: a known user with a wrong password against an unknown user; `reset`:
/// `POST /reset`; `forgot-login-id`: `POST /forgot-login-id` (policies that have it).
/// `--spread-addresses true`: each pair comes from its own address in `X-Forwarded-For` (for a server that trusts loopback as its proxy), so the
/// per-address limits (AB-1, AB-2) do not turn the run into a measurement of 429s; the
/// per-account limits still apply.
async fn timing_mode(args: &Args) -> Result<()> {
    let target = Target::parse(args.str("base")?)?;
    let state = State::load(args.str("state")?)?;
    let route = args.opt("route").unwrap_or("login").to_owned();
    let count: usize = args.num("count", 400)?;
    let warmup: usize = args.num("warmup", 20)?;
    let spread = args.opt("spread-addresses") == Some("true");
    let user = state
        .users
        .first()
        .ok_or_else(|| fail("the state file holds no users"))?;
    let body = |known: bool, i: usize| -> Result<(&'static str, serde_json::Value)> {
        let (id, email) = if known {
            (user.user_id.clone(), user.email.clone())
        } else {
            (format!("nobody{i:05}"), format!("nobody{i:05}@example.com"))
        };
        Ok(match route.as_str() {
            "login" => (
                "/login",
                json!({"tenant": state.tenant, "identifier": id, "password": "Wrong0pass",
                       "access_key": state.access_key}),
            ),
            "reset" => (
                "/reset",
                json!({"tenant": state.tenant, "user_id": id, "access_key": state.access_key}),
            ),
            "forgot-login-id" => ("/forgot-login-id", json!({"email": email})),
            other => return Err(fail(format!("--route: unknown route {other:?}"))),
        })
    };
    let mut client = Client::new(target);
    let mut samples: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    let mut statuses: [BTreeMap<u16, usize>; 2] = [BTreeMap::new(), BTreeMap::new()];
    for i in 0..warmup + count {
        // Alternate which goes first, so neither always follows the other.
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        if spread {
            let n = u64::try_from(i).unwrap_or(u64::MAX);
            client.forwarded_for(Some(&overload::address(n)))?;
        }
        for known in order {
            let (path, b) = body(known, i)?;
            let t0 = Instant::now();
            let a = client.post(path, None, &b).await?;
            let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
            if i >= warmup {
                let k = usize::from(!known);
                samples[k].push(us);
                *statuses[k].entry(a.status.as_u16()).or_default() += 1;
            }
        }
    }
    let z = mann_whitney_z(&samples[0], &samples[1]);
    for s in &mut samples {
        s.sort_unstable();
    }
    let med = |s: &[u32]| quantile(s, 0.5).unwrap_or(0);
    let (mk, mu) = (med(&samples[0]), med(&samples[1]));
    let ratio = f64::from(mk) / f64::from(mu.max(1));
    println!("timing {route}: {count} known / {count} unknown, interleaved on one connection");
    println!(
        "  known   median {}  p90 {}  statuses {:?}",
        ms(Some(mk)),
        ms(quantile(&samples[0], 0.9)),
        statuses[0]
    );
    println!(
        "  unknown median {}  p90 {}  statuses {:?}",
        ms(Some(mu)),
        ms(quantile(&samples[1], 0.9)),
        statuses[1]
    );
    println!(
        "  known/unknown median ratio {ratio:.3} ({:+.1} %), Mann-Whitney z = {z:.2}",
        (ratio - 1.0) * 100.0
    );
    if let Some(path) = args.opt("json") {
        let out = json!({"route": route, "count": count, "known_median_us": mk,
            "unknown_median_us": mu, "ratio": ratio, "z": z,
            "known_statuses": statuses[0], "unknown_statuses": statuses[1]});
        std::fs::write(path, serde_json::to_vec_pretty(&out)?)?;
    }
    Ok(())
}

/// The normal approximation of the Mann–Whitney U statistic of `a` against `b` (ties ranked
/// by their mean rank): positive when `a` tends to be larger.
fn mann_whitney_z(a: &[u32], b: &[u32]) -> f64 {
    let mut all: Vec<(u32, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_unstable_by_key(|&(x, _)| x);
    let mut rank_sum_a = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1..=j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        rank_sum_a += mean_rank * all[i..=j].iter().filter(|e| e.1).count() as f64;
        i = j + 1;
    }
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return 0.0;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let sd = (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt();
    (u - mean) / sd
}

fn main() -> Result<()> {
    let args = Args::parse()?;
    let threads: usize = args.num("threads", 0)?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if threads > 0 {
        rt.worker_threads(threads);
    }
    let rt = rt.build()?;
    rt.block_on(async {
        match args.mode.as_str() {
            "setup" => setup(&args).await,
            "login" => login_mode(&args).await,
            "session" => session_mode(&args).await,
            "timing" => timing_mode(&args).await,
            "overload" => overload::overload_mode(&args).await,
            other => Err(fail(format!("unknown mode {other:?}\n{USAGE}"))),
        }
    })
}
