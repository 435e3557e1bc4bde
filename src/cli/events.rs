//! `hull events`: the container's stats as runc prints them, once (`--stats`) or every
//! `--interval` together with OOM notifications, one JSON object per line, until the
//! container stops.

use super::{CliError, Globals};
use crate::container::Event;
use std::ops::ControlFlow;
use std::time::Duration;

/// Flags of `events`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// set the stats collection interval
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// display the container's stats then exit
    #[arg(long)]
    pub stats: bool,
    /// the container id
    pub id: String,
}

/// Runs `events`.
pub fn run(args: Args, g: &Globals) -> Result<i32, CliError> {
    let bad = |reason: String| CliError::BadArg {
        arg: "--interval",
        reason,
    };
    let interval = parse_duration(&args.interval).map_err(bad)?;
    if interval.is_zero() {
        return Err(bad("duration interval must be greater than 0".into()));
    }
    let root = g.state_root();
    if args.stats {
        super::print(&line(&crate::container::stats(&root, &args.id)?))?;
        return Ok(0);
    }
    let mut failed = None;
    let mut emit = |ev: &Event| match super::print(&line(ev)) {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => {
            failed = Some(e);
            ControlFlow::Break(())
        }
    };
    crate::container::watch(&root, &args.id, interval, &mut emit)?;
    failed.map_or(Ok(0), Err)
}

fn line(ev: &Event) -> String {
    format!("{}\n", serde_json::to_string(ev).unwrap_or_default())
}

/// A Go duration (`5s`, `100ms`, `1m30s`, `1.5h`, `0`); a negative one is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut s) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !s.is_empty() {
        let num_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (num, rest) = s.split_at(num_len);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_len);
        let ns = match unit {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {text:?}")),
        };
        let value: f64 = num.parse().map_err(|_| invalid())?;
        total += value * ns;
        s = rest;
    }
    if negative || total < 1.0 {
        return Ok(Duration::ZERO);
    }
    Ok(Duration::from_nanos(total.min(u64::MAX as f64) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("5s"), Ok(ms(5000)));
        assert_eq!(parse_duration("100ms"), Ok(ms(100)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("-1s"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "1.2.3s", "5x", "-", ".s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
