//! The README's promise, kept by running it: its first command's `monban serve` arguments start
//! the real binary in a fresh folder, and the `sh` blocks of its "Walkthrough (curl)" section
//! run verbatim under `bash -euo pipefail` against it, with only `MONBAN` (the server's URL) and
//! `MONBAN_BIN` (the binary) set. Needs `curl` and `jq` (`scripts/test` installs them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod server;

use server::*;
use std::process::{Command, Stdio};

const README: &str = include_str!("../../README.md");
const COMMAND_1: &str = "cargo run --release -p monban-server -- ";
const HEADING: &str = "## Walkthrough (curl)";

/// The `sh` fenced blocks of `text`, in order.
fn sh_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim_end() == "```sh" => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => blocks.extend(current.take()),
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

/// The README's section under `heading`, up to the next `## ` heading.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no {heading:?} section"));
    let body = &text[start + heading.len() + 2..];
    body.find("\n## ").map_or(body, |end| &body[..end])
}

/// The `monban serve` arguments of the README's first command.
fn command_1_serve_args() -> Vec<String> {
    let first = sh_blocks(README)
        .into_iter()
        .next()
        .expect("a first sh block");
    let line = first
        .lines()
        .find(|l| l.starts_with(COMMAND_1))
        .unwrap_or_else(|| panic!("the README's first block runs no `{COMMAND_1}…`:\n{first}"));
    let args: Vec<String> = line[COMMAND_1.len()..]
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(args.first().map(String::as_str), Some("serve"), "{line}");
    assert!(
        !args.iter().any(|a| a.starts_with("--listen")),
        "command 1 uses the default address the walkthrough assumes"
    );
    args[1..].to_vec()
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_readme_opens_with_building_and_running_the_server_then_the_tests() {
    let blocks = sh_blocks(README);
    let first = &blocks[0];
    let commands: Vec<&str> = first
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(commands.len(), 2, "two commands: {commands:?}");
    assert!(commands[0].starts_with(COMMAND_1), "{}", commands[0]);
    assert_eq!(commands[1], "scripts/test");
    // Its arguments are what the walkthrough test starts the server with.
    command_1_serve_args();
}

#[test]
fn the_readme_walkthrough_runs_verbatim_against_the_binary() {
    assert!(
        have("curl") && have("jq"),
        "the README walkthrough needs curl and jq on PATH (scripts/test installs them)"
    );
    let script = sh_blocks(section(README, HEADING)).join("\n");
    assert!(script.contains("$MONBAN/support/tenants"), "{script}");

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let args = command_1_serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(dir, &args, 1);
    let file = dir.join("walkthrough.sh");
    std::fs::write(&file, &script).unwrap();

    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail"])
        .arg(&file)
        .current_dir(dir)
        .env("MONBAN", &server.base)
        .env("MONBAN_BIN", BIN)
        .env_remove("OUTBOX")
        .stdin(Stdio::null());
    for v in [
        "MONBAN_DB",
        "MONBAN_OUTBOX",
        "MONBAN_KEY_FILE",
        "MONBAN_PRESET",
        "MONBAN_POLICY",
    ] {
        cmd.env_remove(v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README walkthrough failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server\n{}",
        out.status,
        server.stderr()
    );

    // What it printed: the tenant, the opened link, the admin's own view, the users.
    assert!(stdout.contains(r#""user_id": "999999999""#), "{stdout}");
    assert!(
        stdout.contains(r#""status": "temporary_password_mailed""#),
        "{stdout}"
    );
    assert!(stdout.contains(r#""role": "admin""#), "{stdout}");
    assert!(stdout.contains("999999999\tadmin\t黒猫太郎"), "{stdout}");
    assert!(stdout.contains("clerk01\tgeneral\t山田花子"), "{stdout}");
    assert!(
        stdout.contains("clerk01's temporary password: "),
        "{stdout}"
    );
    // ... and the operator commands on the same database.
    assert!(
        stdout.contains(r#"{"user_id":"clerk01","locked":false,"has_temporary_password":true}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"{"kind":"password_changed","subject":"999999999","outcome":"success"}"#),
        "{stdout}"
    );

    assert!(server.stop().success());
}

#[test]
fn the_block_reader_finds_every_block_of_a_section() {
    let text = "intro\n```sh\na\n```\n## Walkthrough (curl)\n\n```sh\nb\n```\ntext\n```rust\nc\n```\n```sh\nd\n```\n## Next\n```sh\ne\n```\n";
    assert_eq!(sh_blocks(text), ["a\n", "b\n", "d\n", "e\n"]);
    assert_eq!(sh_blocks(section(text, HEADING)), ["b\n", "d\n"]);
}
