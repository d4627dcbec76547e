//! The `weaksignal` binary: parse the command line, run it, map the result to
//! an exit code (0 ok, 1 partial, 2 fatal or usage error).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use weaksignal::cli::{Cli, LogFormat};
use weaksignal::Outcome;

// The import and index paths allocate many small strings; mimalloc is markedly
// faster than the system allocator there (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Partial) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    Ok(weaksignal::cli::run(cli)?)
}

fn init_logging(cli: &Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "warn,weaksignal=info",
        (false, 1) => "info,weaksignal=debug",
        _ => "debug,weaksignal=trace",
    };
    // The HTML parser reports every quirk of scraped pages ("foster parenting
    // not implemented"); they are the pages' problems, not the operator's.
    let default = format!("{default},html5ever=error");
    let filter =
        EnvFilter::try_from_env("WEAKSIGNAL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false);
    match cli.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.compact().init(),
    }
}
