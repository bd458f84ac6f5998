//! Drives the real `monban` binary: starts `monban serve` in a folder on a free port, talks
//! HTTP to it (ureq, blocking), stops it with SIGTERM, runs the operator commands, and reads
//! the mails from its outbox.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use monban_core::mail::{MailKind, extract_secret};
use monban_embedded::OutboxMailer;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_monban");

/// Environment variables the binary reads; cleared so the test machine's settings do not leak in.
const ENV: [&str; 8] = [
    "MONBAN_DB",
    "MONBAN_OUTBOX",
    "MONBAN_KEY_FILE",
    "MONBAN_PRESET",
    "MONBAN_POLICY",
    "MONBAN_LISTEN",
    "MONBAN_SUPPORT_TOKEN_FILE",
    "MONBAN_PUBLIC_URL",
];

/// A port nobody listens on right now (bound, read, released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `monban <args>` run in `dir`.
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir);
    for v in ENV {
        c.env_remove(v);
    }
    c
}

/// Runs an operator command in `dir` and returns its output.
pub fn monban(dir: &Path, args: &[&str]) -> Output {
    command(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs an operator command that must succeed; returns its stdout.
#[track_caller]
pub fn monban_ok(dir: &Path, args: &[&str]) -> String {
    let out = monban(dir, args);
    assert!(
        out.status.success(),
        "monban {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Parses JSON lines.
pub fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A running `monban serve`.
pub struct Server {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub port: u16,
    pub base: String,
    /// Which start of the server this is in `dir` (its stdout/stderr files are numbered).
    pub run: usize,
}

impl Server {
    /// Starts `monban serve <args> --listen 127.0.0.1:<free port>` in `dir` and waits until
    /// `/health` answers. `run` numbers the log files (`serve-<run>.out` / `.err`).
    pub fn start(dir: &Path, args: &[&str], run: usize) -> Server {
        for _attempt in 0..3 {
            let port = free_port();
            let listen = format!("127.0.0.1:{port}");
            let out = std::fs::File::create(dir.join(format!("serve-{run}.out"))).unwrap();
            let err = std::fs::File::create(dir.join(format!("serve-{run}.err"))).unwrap();
            let child = command(dir)
                .arg("serve")
                .args(args)
                .args(["--listen", &listen])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap();
            let mut s = Server {
                child: Some(child),
                dir: dir.to_owned(),
                port,
                base: format!("http://{listen}"),
                run,
            };
            if s.wait_healthy() {
                return s;
            }
            let stderr = s.stderr();
            assert!(
                stderr.contains("cannot listen"),
                "monban serve did not start:\n{stderr}"
            );
            // Someone took the port in between: try another.
        }
        panic!("monban serve did not start on three free ports");
    }

    fn wait_healthy(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        let http = Http::new(&self.base);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                eprintln!("monban serve exited early: {status}");
                return false;
            }
            if http.try_get("/health").is_some_and(|(s, _)| s == 200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("monban serve did not answer /health:\n{}", self.stderr());
    }

    pub fn http(&self) -> Http {
        Http::new(&self.base)
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("serve-{}.out", self.run)))
            .unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("serve-{}.err", self.run)))
            .unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(
            Pid::from_raw(i32::try_from(self.pid()).unwrap()),
            Signal::SIGTERM,
        )
        .unwrap();
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// Waits (at most a minute) for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("monban serve did not stop within a minute of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate();
        self.wait()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A tiny JSON-over-HTTP client.
pub struct Http {
    pub base: String,
    agent: ureq::Agent,
}

/// An answer: status and the body as JSON (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub text: String,
}

impl Answer {
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text);
        self
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        self.expect(status);
        assert_eq!(self.json["code"], code, "body: {}", self.text);
        self
    }

    #[track_caller]
    pub fn str(&self, field: &str) -> String {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string {field:?} in {}", self.text))
            .to_owned()
    }
}

impl Http {
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            base: base.to_owned(),
            agent,
        }
    }

    fn try_get(&self, path: &str) -> Option<(u16, String)> {
        let mut res = self.agent.get(format!("{}{path}", self.base)).call().ok()?;
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().ok()?;
        Some((status, text))
    }

    /// A request; `body` is sent as JSON, `bearer` as `Authorization: Bearer`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        bearer: Option<&str>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let res = match method {
            "GET" | "DELETE" => {
                let mut r = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                r.call()
            }
            m => {
                let mut r = match m {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    other => panic!("method {other}"),
                };
                if let Some(a) = &auth {
                    r = r.header("authorization", a);
                }
                match body {
                    Some(b) => r
                        .header("content-type", "application/json")
                        .send(b.to_string()),
                    None => r.send_empty(),
                }
            }
        };
        let mut res = res.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, json, text }
    }
}

/// Waits until the courier of the server whose outbox is `outbox` (its database beside it)
/// has tried every mail queued so far (M-4): polls the queue, at most 10 s.
#[track_caller]
pub fn settle(outbox: &Path) {
    settle_db(&outbox.parent().unwrap().join("monban.db"));
}

/// [`settle`] for the database at `db`.
#[track_caller]
pub fn settle_db(db: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.exists() && monban_embedded::undelivered(db).unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the courier left mails queued in {}",
            db.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The secret (link, password, code) of the newest mail of `kind` to `to` in `outbox`.
#[track_caller]
pub fn last_mail(outbox: &Path, to: &str, kind: MailKind) -> String {
    settle(outbox);
    let mails = OutboxMailer::read_all(outbox).unwrap();
    let m = mails
        .iter()
        .rev()
        .find(|m| m.mail.to.eq_ignore_ascii_case(to) && m.mail.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} mail to {to} in {}", outbox.display()));
    extract_secret(&m.mail).unwrap()
}

/// How many mails of `kind` to `to` the outbox holds.
pub fn count_mails(outbox: &Path, to: &str, kind: MailKind) -> usize {
    settle(outbox);
    OutboxMailer::read_all(outbox)
        .unwrap()
        .iter()
        .filter(|m| m.mail.to.eq_ignore_ascii_case(to) && m.mail.kind == kind)
        .count()
}
