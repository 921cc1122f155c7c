//! CPU time and peak RSS of one child process, and of idle processes.
//!
//! A measured child is started by a small wrapper process whose only child
//! it is, so the wrapper's `RUSAGE_CHILDREN` (user+sys, and `ru_maxrss`,
//! which for children is the largest of them) is that child's alone.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike;

/// Line prefix the wrapper prints its figures after.
pub const PREFIX: &str = "RUSAGE ";

/// What one child used.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// User CPU seconds.
    pub user: f64,
    /// System CPU seconds.
    pub sys: f64,
    /// Peak resident set size, bytes.
    pub max_rss: u64,
    /// Exit code (-1 when killed by a signal).
    pub exit_code: i32,
}

impl Usage {
    /// User plus system CPU seconds.
    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }

    /// The wrapper's output line.
    pub fn to_line(&self) -> String {
        format!(
            "{PREFIX}wall={} user={} sys={} maxrss={} exit={}",
            self.wall.as_secs_f64(),
            self.user,
            self.sys,
            self.max_rss,
            self.exit_code
        )
    }

    /// Parses a wrapper line (`None` if it is not one).
    pub fn from_line(line: &str) -> Option<Self> {
        let rest = line.strip_prefix(PREFIX)?;
        let mut u = Usage::default();
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            match k {
                "wall" => u.wall = Duration::from_secs_f64(v.parse().ok()?),
                "user" => u.user = v.parse().ok()?,
                "sys" => u.sys = v.parse().ok()?,
                "maxrss" => u.max_rss = v.parse().ok()?,
                "exit" => u.exit_code = v.parse().ok()?,
                _ => {}
            }
        }
        Some(u)
    }
}

/// Runs `cmd` to completion and returns its usage. Call only from a
/// process with no other children (the wrapper), or the figures mix.
pub fn run_alone(cmd: &mut Command) -> io::Result<Usage> {
    let start = Instant::now();
    let status = cmd.status()?;
    let wall = start.elapsed();
    let ru = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(io::Error::from)?;
    let secs = |t: nix::sys::time::TimeVal| t.num_microseconds() as f64 / 1e6;
    Ok(Usage {
        wall,
        user: secs(ru.user_time()),
        sys: secs(ru.system_time()),
        // Linux reports KiB.
        max_rss: u64::try_from(ru.max_rss()).unwrap_or(0) * 1024,
        exit_code: status.code().unwrap_or(-1),
    })
}

/// CPU seconds (user+sys, all threads) a running process has used so far,
/// from `/proc/<pid>/stat` (clock ticks of 1/100 s on Linux).
pub fn proc_cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line.
    let after = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("unreadable /proc stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| io::Error::other("unreadable /proc stat field"))
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// Current resident set size of a running process, bytes.
pub fn proc_rss(pid: u32) -> io::Result<u64> {
    proc_status_kib(pid, "VmRSS:")
}

/// Peak resident set size of a running process so far (`VmHWM`), bytes.
pub fn proc_peak_rss(pid: u32) -> io::Result<u64> {
    proc_status_kib(pid, "VmHWM:")
}

fn proc_status_kib(pid: u32, field: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other(format!("no {field} in /proc status")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trips() {
        let u = Usage {
            wall: Duration::from_millis(1500),
            user: 1.25,
            sys: 0.5,
            max_rss: 123 << 20,
            exit_code: 0,
        };
        assert_eq!(Usage::from_line(&u.to_line()), Some(u));
        assert_eq!(Usage::from_line("mirror done"), None);
    }

    #[test]
    fn own_process_figures_are_readable() {
        let pid = std::process::id();
        assert!(proc_cpu_seconds(pid).unwrap() >= 0.0);
        assert!(proc_rss(pid).unwrap() > 0);
        assert!(proc_peak_rss(pid).unwrap() >= proc_rss(pid).unwrap() / 2);
    }
}
