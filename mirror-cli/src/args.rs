//! The command line, parsed with `clap`: `kafka-mirror --config FILE
//! [OPTIONS]` runs the mirrors; `kafka-mirror completions SHELL` prints a
//! shell completion script. Usage errors exit with [`crate::EXIT_USAGE`],
//! `--help` and `--version` with [`crate::EXIT_OK`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0    done: every flow caught up (--until-caught-up), or stopped with Ctrl-C in continuous mode
  1    runtime failure: a mirror could not start or failed, a partition ended FAILED,
       or the --metrics-addr address cannot be listened on
  2    bad usage, or a configuration that cannot be used (the message names the file, line and key)
  130  Ctrl-C before --until-caught-up finished (offsets are committed; the next run resumes)";

/// `kafka-mirror`: the parsed command line.
#[derive(Debug, Parser)]
#[command(
    name = "kafka-mirror",
    version,
    about = "Copies Kafka topics between clusters, configured by a MirrorMaker 2 properties file",
    long_about = "Runs every enabled flow (source->target.enabled = true) of a MirrorMaker 2 \
                  properties file, the file connect-mirror-maker.sh takes. Warnings about the \
                  file name its line and key; settings with no equivalent here are noted.",
    after_help = EXIT_CODES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Running the mirrors (when no subcommand is given).
    #[command(flatten)]
    pub run: RunArgs,
    /// Another command.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Print a completion script for SHELL to stdout, e.g.
    /// `kafka-mirror completions bash > /etc/bash_completion.d/kafka-mirror`
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// How logs and messages are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Lines for people: status and summaries on stdout, warnings and errors
    /// on stderr.
    #[default]
    Text,
    /// One JSON object per line on stdout, for log shippers: every event
    /// with its fields (flow, topic, partition, broker, offset, ...).
    Json,
}

/// What running the mirrors takes.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct RunArgs {
    /// The MirrorMaker 2 properties file
    #[arg(short = 'c', long, value_name = "FILE", required = true)]
    pub config: Option<PathBuf>,
    /// Copy up to the end offsets seen at start, commit, print a summary per
    /// flow and exit
    #[arg(long)]
    pub until_caught_up: bool,
    /// Print a status line per flow every SECS seconds (fractions allowed)
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    pub status_interval: Option<Duration>,
    /// Serve /metrics (Prometheus), /status (JSON) and /healthz over HTTP on
    /// HOST:PORT (port 0 picks a free one; the address is printed)
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port)]
    pub metrics_addr: Option<String>,
    /// How logs and messages are written
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Running the mirrors, with the file known.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `--config FILE`.
    pub config: PathBuf,
    /// `--until-caught-up`.
    pub until_caught_up: bool,
    /// `--status-interval SECS`.
    pub status_interval: Option<Duration>,
    /// `--metrics-addr HOST:PORT`.
    pub metrics_addr: Option<String>,
    /// `--log-format`.
    pub log_format: LogFormat,
}

/// What the arguments ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Run the mirrors.
    Run(Options),
    /// Print a completion script.
    Completions(clap_complete::Shell),
}

/// Why the arguments do not ask for a run: help or version text (printed
/// to stdout, exit 0) or a usage error (stderr, exit 2), as clap words it.
#[derive(Debug)]
pub struct Refused {
    /// The exit code.
    pub code: i32,
    /// The text, with clap's formatting.
    pub error: clap::Error,
}

impl Refused {
    /// Prints the text where it belongs (stdout for help, stderr for an
    /// error).
    pub fn print(&self) {
        // Printing to a closed pipe is no reason to fail further.
        let _ = self.error.print();
    }
}

/// Parses the arguments (without the program name).
pub fn parse<I, S>(args: I) -> Result<Request, Refused>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let argv =
        std::iter::once(OsString::from("kafka-mirror")).chain(args.into_iter().map(Into::into));
    let cli = Cli::try_parse_from(argv).map_err(|error| Refused {
        code: error.exit_code(),
        error,
    })?;
    if let Some(Command::Completions { shell }) = cli.command {
        return Ok(Request::Completions(shell));
    }
    let r = cli.run;
    let config = r
        .config
        .expect("clap requires --config without a subcommand");
    Ok(Request::Run(Options {
        config,
        until_caught_up: r.until_caught_up,
        status_interval: r.status_interval,
        metrics_addr: r.metrics_addr,
        log_format: r.log_format,
    }))
}

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut Cli::command(), "kafka-mirror", out);
}

fn positive_seconds(v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{v:?} is not a positive number of seconds"))
}

/// `HOST:PORT`, with the host a name, an IPv4 address or a bracketed IPv6
/// address; resolved when the server starts.
fn host_port(v: &str) -> Result<String, String> {
    let bad =
        || format!("{v:?} is not HOST:PORT (e.g. 0.0.0.0:9464, localhost:9464 or [::1]:9464)");
    let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>().map_err(|_| bad())?;
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || (host.contains(':') && !bracketed) {
        return Err(bad());
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args) {
            Ok(Request::Run(o)) => o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn refused(args: &[&str]) -> Refused {
        match parse(args) {
            Err(r) => r,
            Ok(r) => panic!("{args:?} parsed: {r:?}"),
        }
    }

    #[test]
    fn arguments() {
        assert_eq!(
            run(&["--config", "f.properties"]),
            Options {
                config: "f.properties".into(),
                until_caught_up: false,
                status_interval: None,
                metrics_addr: None,
                log_format: LogFormat::Text,
            }
        );
        assert_eq!(
            run(&[
                "--until-caught-up",
                "--config=f",
                "--status-interval",
                "0.5",
                "--metrics-addr",
                "127.0.0.1:0",
                "--log-format",
                "json",
            ]),
            Options {
                config: "f".into(),
                until_caught_up: true,
                status_interval: Some(Duration::from_millis(500)),
                metrics_addr: Some("127.0.0.1:0".into()),
                log_format: LogFormat::Json,
            }
        );
        assert_eq!(run(&["-c", "f"]).config, PathBuf::from("f"));
        let help = refused(&["-h"]);
        assert_eq!(help.code, crate::EXIT_OK);
        assert!(help.error.to_string().contains("--until-caught-up"));
        assert_eq!(refused(&["--version"]).code, crate::EXIT_OK);
        for bad in [
            &[][..],
            &["--config"],
            &["--config", "f", "--status-interval", "0"],
            &["--config", "f", "--status-interval", "-1"],
            &["--config", "f", "--metrics-addr", "9464"],
            &["--config", "f", "--metrics-addr", "::1:9464"],
            &["--config", "f", "--log-format", "xml"],
            &["--bogus"],
            &["--config", "f", "completions", "bash"],
        ] {
            assert_eq!(refused(bad).code, crate::EXIT_USAGE, "{bad:?}");
        }
        let e = refused(&[]).error.to_string();
        assert!(e.contains("--config"), "{e}");
        let e = refused(&["--bogus"]).error.to_string();
        assert!(e.contains("--bogus"), "{e}");
        assert_eq!(
            run(&["--config", "f", "--metrics-addr", "[::1]:9464"]).metrics_addr,
            Some("[::1]:9464".into())
        );
    }

    #[test]
    fn completions_need_no_config() {
        assert_eq!(
            parse(["completions", "bash"]).unwrap(),
            Request::Completions(clap_complete::Shell::Bash)
        );
        let mut out = Vec::new();
        completions(clap_complete::Shell::Bash, &mut out);
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("--metrics-addr"), "{script}");
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
