//! runc-compatible logging: `--log FILE`, `--log-format text|json`, `--debug`.
//!
//! Lines look like logrus's: text `time="..." level=error msg="..."`, json
//! `{"level":"error","msg":"...","time":"..."}`. containerd's runc shim reads the json form
//! from the log file to report why a command failed. The forked init writes through the same
//! (inherited, O_APPEND, close-on-exec) file, so its lines land in order with the parent's.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::SystemTime;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// logrus text format.
    #[default]
    Text,
    /// one JSON object per line.
    Json,
}

/// Severity of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Only with --debug.
    Debug,
    /// Informational.
    Info,
    /// Something is off but the command goes on.
    Warn,
    /// The command failed.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

struct Sink {
    file: Option<File>,
    format: Format,
    debug: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sets up logging once, at startup. Without `path` records go to stderr.
pub fn init(path: Option<&Path>, format: Format, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(p)?,
        ),
        None => None,
    };
    let _ = SINK.set(Sink {
        file,
        format,
        debug,
    });
    Ok(())
}

/// Whether records go to a file (then errors are also printed plainly on stderr, as runc does).
pub fn to_file() -> bool {
    SINK.get().is_some_and(|s| s.file.is_some())
}

/// Formats one record as logrus would.
pub fn format_line(format: Format, level: Level, msg: &str, time: SystemTime) -> String {
    let time = crate::util::rfc3339(time);
    match format {
        Format::Json => {
            let v = serde_json::json!({"level": level.as_str(), "msg": msg, "time": time});
            format!("{v}\n")
        }
        Format::Text => {
            let quoted = serde_json::Value::String(msg.to_string()).to_string();
            format!("time=\"{time}\" level={} msg={quoted}\n", level.as_str())
        }
    }
}

/// Writes a record if the level is enabled.
pub fn log(level: Level, msg: &str) {
    let (file, format, debug) = match SINK.get() {
        Some(s) => (s.file.as_ref(), s.format, s.debug),
        None => (None, Format::Text, false),
    };
    if level == Level::Debug && !debug {
        return;
    }
    let line = format_line(format, level, msg, SystemTime::now());
    let _ = match file {
        Some(mut f) => f.write_all(line.as_bytes()),
        None => std::io::stderr().write_all(line.as_bytes()),
    };
}

/// Logs at debug level (only with --debug).
pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

/// Logs a warning.
pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}

/// Logs an error.
pub fn error(msg: &str) {
    log(Level::Error, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn lines_match_logrus() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(
            format_line(Format::Text, Level::Error, "container \"x\" does not exist", t),
            "time=\"2026-11-18T11:06:40Z\" level=error msg=\"container \\\"x\\\" does not exist\"\n"
        );
        assert_eq!(
            format_line(Format::Json, Level::Warn, "hi", t),
            "{\"level\":\"warning\",\"msg\":\"hi\",\"time\":\"2026-11-18T11:06:40Z\"}\n"
        );
    }
}
