//! `monban`: the local server (`monban serve`) and the operator commands on the embedded
//! default (SQLite + mail outbox). See `monban --help` and [`monban_server::cli`].

fn main() -> std::process::ExitCode {
    monban_server::cli::main()
}
