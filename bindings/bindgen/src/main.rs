//! uniffi-bindgen for monban-ffi (the uniffi version the library is built with), run as
//! `cargo run -p monban-uniffi-bindgen -- generate --library <libmonban> --language <lang>
//! --out-dir <dir>`; maturin finds and runs it when it builds the Python wheel.
//!
//! Kotlin and Swift come out exactly as uniffi writes them. The Python module (`monban.py`) gets
//! two touches after uniffi has written it (see [`python`]):
//!
//! - every fieldless enum becomes an `enum.StrEnum` whose values are the HTTP API's strings
//!   (`Role.GENERAL.value == "general"`, `Role("general") is Role.GENERAL`): uniffi's converters
//!   look members up by name, so nothing else changes, and mypy and pyright see the types;
//! - every record (and every variant of an enum with data) gets `to_dict()`, and a record's
//!   `==` answers `NotImplemented` for another type instead of failing on a missing field.

mod python;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let python_module = python_module(&args);
    uniffi::uniffi_bindgen_main();
    let Some(path) = python_module else {
        return ExitCode::SUCCESS;
    };
    match python::touch_up_file(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monban uniffi-bindgen: {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// The Python module a `generate` command writes (`<out-dir>/monban.py`), when it writes Python.
fn python_module(args: &[String]) -> Option<PathBuf> {
    if args.first().map(String::as_str) != Some("generate") {
        return None;
    }
    let mut language = None;
    let mut out_dir = None;
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if let Some(v) = arg.strip_prefix("--language=") {
            language = Some(v.to_owned());
        } else if let Some(v) = arg.strip_prefix("--out-dir=") {
            out_dir = Some(v.to_owned());
        } else if arg == "--language" || arg == "-l" {
            language = rest.next().cloned();
        } else if arg == "--out-dir" || arg == "-o" {
            out_dir = rest.next().cloned();
        }
    }
    match (language.as_deref(), out_dir) {
        (Some("python") | None, Some(dir)) => {
            let path = PathBuf::from(dir).join("monban.py");
            // Without `--language`, uniffi writes every language; Python only if it is there.
            (language.is_some() || path.exists()).then_some(path)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn finds_the_python_module_of_a_generate_command() {
        assert_eq!(
            python_module(&args(
                "generate --no-format --language python --out-dir /x --library l.so"
            )),
            Some(PathBuf::from("/x/monban.py"))
        );
        assert_eq!(
            python_module(&args("generate -l python -o /y l.so")),
            Some(PathBuf::from("/y/monban.py"))
        );
        assert_eq!(
            python_module(&args("generate --language kotlin --out-dir /x")),
            None
        );
        assert_eq!(python_module(&args("--help")), None);
    }
}
