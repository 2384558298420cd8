//! The `qrscan` binary: parse the command line, start logging, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // First of all, before a thread exists: a SIGHUP or SIGTERM during start-up must wait for
    // `serve`'s handlers, not end the process.
    qrscan::server::hold_signals();
    let cli = qrscan::cli::Cli::parse();
    qrscan::telemetry::init(cli.log_format);
    match qrscan::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            qrscan::commands::say(format_args!("qrscan: {err:#}"));
            ExitCode::from(2)
        }
    }
}
