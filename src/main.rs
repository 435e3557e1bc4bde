//! `hull` entry point: parse the command line, set up logging, dispatch, and turn an error
//! into runc's behaviour: the error logged (to --log in its format, else to stderr as a
//! logrus text line), also printed plainly on stderr when logging to a file, exit status 1.

use clap::Parser;
use hull::cli::{self, Cli};
use hull::error::Kind;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            std::process::exit(1);
        }
        Err(e) => {
            let _ = e.print();
            std::process::exit(0);
        }
    };
    let g = &cli.globals;
    if let Err(e) = hull::log::init(g.log.as_deref(), g.log_format, g.debug) {
        eprintln!("hull: open log file: {e}");
        std::process::exit(1);
    }
    match cli::dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = anyhow::Error::new(e);
            // Each error's message already carries its cause; the chain would repeat it.
            let text = strip_os_error(&msg.to_string());
            hull::log::error(&text);
            if hull::log::to_file() {
                eprintln!("{text}");
            }
            let code = msg
                .downcast_ref::<cli::CliError>()
                .map_or(1, |e| e.kind().exit_code());
            std::process::exit(code);
        }
    }
}

/// Drops the " (os error N)" Rust appends to OS errors, so messages read like runc's.
fn strip_os_error(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" (os error ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " (os error ".len()..];
        match tail.find(')') {
            Some(j) if tail[..j].bytes().all(|b| b.is_ascii_digit()) => rest = &tail[j + 1..],
            _ => {
                out.push_str(" (os error ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}
