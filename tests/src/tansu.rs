//! A throw-away Tansu broker for integration tests.

use std::{
    env,
    ffi::OsStr,
    fmt, fs,
    io::Read,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use tempfile::TempDir;

use crate::{ports, HarnessError, Result};

/// How to get the `tansu` binary; part of every "not found" error.
pub const TANSU_INSTALL_HINT: &str = "The integration tests need the Tansu broker \
(`tansu` on PATH or in ~/.cargo/bin, or TANSU_BIN=/path/to/tansu). Install it with \
`.ci/install-deps tansu`, or directly with \
`cargo install tansu --version 0.6.0 --locked --features dynostore,libsql` \
(about 10 minutes on 2 cores). These tests never skip when it is missing.";

/// The SQLite file, relative to the broker's working directory (Tansu mangles
/// absolute paths).
const SQLITE_URL: &str = "sqlite://tansu.db";
const LOG_FILE: &str = "broker.log";
const STOP_GRACE: Duration = Duration::from_secs(5);
const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// Finds the `tansu` binary: `$TANSU_BIN`, then `$PATH`, then `~/.cargo/bin`.
pub fn find_tansu() -> Result<PathBuf> {
    find_tansu_in(
        env::var_os("TANSU_BIN").as_deref(),
        env::var_os("PATH").as_deref(),
        env::var_os("HOME").as_deref().map(Path::new),
    )
}

/// [`find_tansu`] with explicit inputs (for tests of the lookup itself).
pub fn find_tansu_in(
    explicit: Option<&OsStr>,
    path: Option<&OsStr>,
    home: Option<&Path>,
) -> Result<PathBuf> {
    if let Some(explicit) = explicit.filter(|s| !s.is_empty()) {
        let p = PathBuf::from(explicit);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(not_found(format!(
                "TANSU_BIN={} is not an executable file. {TANSU_INSTALL_HINT}",
                p.display()
            )))
        };
    }
    let from_path = path
        .into_iter()
        .flat_map(env::split_paths)
        .map(|dir| dir.join("tansu"));
    let from_home = home.map(|h| h.join(".cargo").join("bin").join("tansu"));
    from_path
        .chain(from_home)
        .find(|p| is_executable(p))
        .ok_or_else(|| not_found(TANSU_INSTALL_HINT.to_owned()))
}

fn not_found(hint: String) -> HarnessError {
    let hint = if env::var("CI").is_ok_and(|v| v == "true") {
        format!("{hint} (CI=true: .ci/run must call .ci/install-deps first.)")
    } else {
        hint
    };
    HarnessError::ProgramNotFound {
        program: "tansu",
        hint,
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where the broker keeps its data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Storage {
    /// `sqlite://tansu.db` in the broker's temp dir: exact high watermarks,
    /// survives kill and restart. Use this for correctness tests.
    #[default]
    Sqlite,
    /// `memory://tansu/`: fast, lost on restart, and under-reports the high
    /// watermark by one batch until more data arrives.
    Memory,
}

impl Storage {
    fn url(&self) -> &'static str {
        match self {
            Self::Sqlite => SQLITE_URL,
            Self::Memory => "memory://tansu/",
        }
    }
}

/// SCRAM mechanisms Tansu supports (it has no PLAIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256
    Sha256,
    /// SCRAM-SHA-512
    Sha512,
}

impl ScramMechanism {
    /// The name used in SaslHandshake and client configs, e.g. `SCRAM-SHA-256`.
    pub fn kafka_name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn cli_name(self) -> &'static str {
        match self {
            Self::Sha256 => "scram256",
            Self::Sha512 => "scram512",
        }
    }
}

/// Options for [`TansuBroker::start_with`].
#[derive(Debug, Clone)]
pub struct TansuOptions {
    /// Listen on this loopback port instead of a free one.
    pub port: Option<u16>,
    /// Advertise this loopback port in metadata (e.g. a TLS front's port)
    /// instead of the listener's own.
    pub advertised_port: Option<u16>,
    /// Require SASL (SCRAM) authentication (`--authentication`).
    pub authentication: bool,
    /// Storage engine.
    pub storage: Storage,
    /// `--cluster-id`, when set.
    pub cluster_id: Option<String>,
    /// How long to wait for the port to accept connections.
    pub startup_timeout: Duration,
    /// Extra arguments after `tansu broker ...`.
    pub extra_args: Vec<String>,
    /// Extra environment variables for the broker process (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
}

impl Default for TansuOptions {
    fn default() -> Self {
        Self {
            port: None,
            advertised_port: None,
            authentication: false,
            storage: Storage::Sqlite,
            cluster_id: None,
            startup_timeout: Duration::from_secs(20),
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// A Tansu broker child process on 127.0.0.1 with its own temp dir.
///
/// The process is killed (SIGKILL) when this value is dropped, and the temp
/// dir (with the SQLite file and `broker.log`) is removed.
pub struct TansuBroker {
    binary: PathBuf,
    opts: TansuOptions,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    paused: bool,
}

impl fmt::Debug for TansuBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TansuBroker")
            .field("port", &self.port)
            .field("pid", &self.pid())
            .field("dir", &self.dir.path())
            .field("paused", &self.paused)
            .field("opts", &self.opts)
            .finish()
    }
}

impl TansuBroker {
    /// Starts a broker with default options (SQLite, no authentication).
    pub fn start() -> Result<Self> {
        Self::start_with(TansuOptions::default())
    }

    /// Starts a broker with `opts`, and waits until its port accepts TCP.
    pub fn start_with(opts: TansuOptions) -> Result<Self> {
        let binary = find_tansu()?;
        let dir = tempfile::Builder::new()
            .prefix("tansu-")
            .tempdir()
            .map_err(HarnessError::io("creating the broker's temp dir"))?;
        let port = match opts.port {
            Some(p) => p,
            None => ports::free_port().map_err(HarnessError::io("finding a free port"))?,
        };
        let mut broker = Self {
            binary,
            opts,
            port,
            dir,
            child: None,
            paused: false,
        };
        broker.spawn()?;
        Ok(broker)
    }

    /// Starts a broker without authentication, creates the SCRAM `users`
    /// (name, password, mechanism), then restarts it on the same data with
    /// `--authentication`.
    pub fn start_with_scram_users(
        opts: TansuOptions,
        users: &[(&str, &str, ScramMechanism)],
    ) -> Result<Self> {
        let mut broker = Self::start_with(TansuOptions {
            authentication: false,
            ..opts
        })?;
        for (name, password, mechanism) in users {
            broker.create_scram_user(name, password, *mechanism)?;
        }
        broker.set_authentication(true)?;
        Ok(broker)
    }

    /// `host:port` for Kafka clients' `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The listener as a URL, as the `tansu` CLI wants it.
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// The listener's socket address.
    pub fn addr(&self) -> SocketAddr {
        ports::loopback(self.port)
    }

    /// The listener's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port advertised in metadata.
    pub fn advertised_port(&self) -> u16 {
        self.opts.advertised_port.unwrap_or(self.port)
    }

    /// The options the broker runs with.
    pub fn options(&self) -> &TansuOptions {
        &self.opts
    }

    /// The broker's working directory (SQLite file and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The broker's combined stdout/stderr log (appended across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    /// The broker's log so far (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The child's pid, when running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the child process is alive (paused counts as alive).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Whether the broker is paused with SIGSTOP.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// SIGTERM, then SIGKILL after a grace period; waits for the exit.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if matches!(child.try_wait(), Ok(None)) {
            signal(&child, Signal::SIGTERM)?;
            if self.paused {
                signal(&child, Signal::SIGCONT)?;
            }
            let deadline = Instant::now() + STOP_GRACE;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
        }
        self.paused = false;
        child
            .wait()
            .map(drop)
            .map_err(HarnessError::io("waiting for tansu to exit"))
    }

    /// SIGKILL (a crash: no shutdown work); waits for the exit.
    pub fn kill(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        self.paused = false;
        if matches!(child.try_wait(), Ok(None)) {
            signal(&child, Signal::SIGKILL)?;
        }
        child
            .wait()
            .map(drop)
            .map_err(HarnessError::io("waiting for tansu to exit"))
    }

    /// SIGSTOP: the broker freezes; connections stay open but nothing is
    /// answered (and new connections are still accepted by the kernel).
    pub fn pause(&mut self) -> Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or(HarnessError::NotRunning("tansu"))?;
        signal(child, Signal::SIGSTOP)?;
        self.paused = true;
        Ok(())
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&mut self) -> Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or(HarnessError::NotRunning("tansu"))?;
        signal(child, Signal::SIGCONT)?;
        self.paused = false;
        Ok(())
    }

    /// Stops the broker (if running) and starts it again on the same port
    /// and the same SQLite file.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.spawn()
    }

    /// Starts the broker again after [`stop`](Self::stop) or
    /// [`kill`](Self::kill). Does nothing when it is running.
    pub fn start_again(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.child = None;
        self.spawn()
    }

    /// Switches `--authentication` on or off, restarting the broker.
    pub fn set_authentication(&mut self, on: bool) -> Result<()> {
        self.opts.authentication = on;
        self.restart()
    }

    /// Advertises `port` in metadata (`None`: the listener's own port),
    /// restarting the broker on the same data. Lets a plaintext client
    /// read a broker that was running behind a TLS front.
    pub fn set_advertised_port(&mut self, port: Option<u16>) -> Result<()> {
        self.opts.advertised_port = port;
        self.restart()
    }

    /// `tansu topic create NAME --partitions N` against this broker.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        self.cli(&[
            "topic",
            "create",
            name,
            "--broker",
            &self.url(),
            "--partitions",
            &partitions.to_string(),
        ])
        .map(drop)
    }

    /// `tansu topic delete NAME` against this broker.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        self.cli(&["topic", "delete", name, "--broker", &self.url()])
            .map(drop)
    }

    /// `tansu topic list`: the topic names, sorted.
    pub fn list_topics(&self) -> Result<Vec<String>> {
        let out = self.cli(&["topic", "list", "--broker", &self.url()])?;
        parse_topic_list(&out)
    }

    /// `tansu user create` (SCRAM credentials). Needs a broker without
    /// `--authentication`; restart with [`set_authentication`](Self::set_authentication)
    /// afterwards, or use [`start_with_scram_users`](Self::start_with_scram_users).
    pub fn create_scram_user(
        &self,
        name: &str,
        password: &str,
        mechanism: ScramMechanism,
    ) -> Result<()> {
        self.cli(&[
            "user",
            "create",
            "--broker",
            &self.url(),
            "--mechanism",
            mechanism.cli_name(),
            name,
            password,
        ])
        .map(drop)
    }

    /// Runs `tansu ARGS...` in the broker's directory, with a timeout;
    /// returns its stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(&self.binary);
        cmd.args(args).current_dir(self.dir.path());
        run_with_timeout(cmd, CLI_TIMEOUT)
    }

    fn spawn(&mut self) -> Result<()> {
        // A just-killed broker's port can take a moment to be free again.
        const ATTEMPTS: u32 = 3;
        let mut last_err = None;
        for attempt in 1..=ATTEMPTS {
            match self.spawn_once() {
                Ok(()) => return Ok(()),
                Err(e @ HarnessError::NotReady { .. }) if attempt < ATTEMPTS => {
                    last_err = Some(e);
                    thread::sleep(Duration::from_millis(250));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or(HarnessError::NotRunning("tansu")))
    }

    fn spawn_once(&mut self) -> Result<()> {
        let log_path = self.log_path();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(HarnessError::io(format!("opening {}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(HarnessError::io("duplicating the log file handle"))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("broker")
            .arg("--listener-url")
            .arg(self.url())
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{}", self.advertised_port()))
            .arg("--storage-engine")
            .arg(self.opts.storage.url());
        if let Some(id) = &self.opts.cluster_id {
            cmd.arg("--cluster-id").arg(id);
        }
        if self.opts.authentication {
            cmd.arg("--authentication");
        }
        cmd.args(&self.opts.extra_args)
            .envs(self.opts.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let mut child = cmd.spawn().map_err(HarnessError::io(format!(
            "spawning {}",
            self.binary.display()
        )))?;

        let mut exited: Option<ExitStatus> = None;
        let ready = ports::wait_until_accepting(self.addr(), self.opts.startup_timeout, || {
            exited = child.try_wait().ok().flatten();
            exited.is_some()
        });
        // Our probe may have raced the exit.
        if ready && exited.is_none() {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
            }
        }
        if ready && exited.is_none() {
            self.child = Some(child);
            self.paused = false;
            return Ok(());
        }
        let _ = child.kill();
        let status = child.wait().ok().or(exited);
        Err(HarnessError::not_ready(
            "tansu broker",
            &self.bootstrap(),
            self.opts.startup_timeout,
            status,
            &log_path,
            &tail(&self.log(), 30),
        ))
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn signal(child: &Child, sig: Signal) -> Result<()> {
    let pid = child.id();
    let raw = i32::try_from(pid).map_err(|_| HarnessError::Signal {
        signal: sig.as_str(),
        pid,
        source: nix::errno::Errno::ESRCH,
    })?;
    nix::sys::signal::kill(Pid::from_raw(raw), sig).map_err(|source| HarnessError::Signal {
        signal: sig.as_str(),
        pid,
        source,
    })
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `tansu topic list` output (a JSON array of Metadata topics): the
/// topic names, sorted.
fn parse_topic_list(out: &str) -> Result<Vec<String>> {
    let json = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('['))
        .unwrap_or_default();
    let topics: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| HarnessError::Command {
            command: "tansu topic list".into(),
            status: format!("unexpected output ({e})"),
            stderr: out.to_owned(),
        })?;
    let mut names: Vec<String> = topics
        .iter()
        .filter_map(|t| t.get("name")?.as_str().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// Runs `cmd` with piped output, killing it after `timeout`; returns stdout
/// when it exits successfully.
pub(crate) fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<String> {
    let line = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(HarnessError::io(format!("spawning {line}")))?;
    let readers = [
        child.stdout.take().map(|mut s| {
            thread::spawn(move || {
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                buf
            })
        }),
        child.stderr.take().map(|mut s| {
            thread::spawn(move || {
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                buf
            })
        }),
    ];
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(HarnessError::io(format!("waiting for {line}"))(e)),
        }
    };
    let [out, err] = readers.map(|r| r.and_then(|h| h.join().ok()).unwrap_or_default());
    match status {
        Some(s) if s.success() => Ok(out),
        Some(s) => Err(HarnessError::Command {
            command: line,
            status: s.to_string(),
            stderr: format!("{err}{out}").trim().to_owned(),
        }),
        None => Err(HarnessError::Command {
            command: line,
            status: format!("timed out after {timeout:?}"),
            stderr: format!("{err}{out}").trim().to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_list_parsing() {
        let out = r#"[{"error_code":0,"name":"b-topic"},{"error_code":0,"name":"a.topic"}]"#;
        assert_eq!(parse_topic_list(out).unwrap(), vec!["a.topic", "b-topic"]);
        assert!(parse_topic_list("oops").is_err());
    }

    #[test]
    fn missing_tansu_error_says_how_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_tansu_in(None, Some(empty.path().as_os_str()), Some(empty.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(".ci/install-deps"), "{err}");
        assert!(
            err.contains(
                "cargo install tansu --version 0.6.0 --locked --features dynostore,libsql"
            ),
            "{err}"
        );
    }

    #[test]
    fn explicit_tansu_bin_must_exist() {
        let err = find_tansu_in(Some(OsStr::new("/nonexistent/tansu")), None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("TANSU_BIN=/nonexistent/tansu"), "{err}");
    }

    #[test]
    fn finds_tansu_in_cargo_home() {
        use std::os::unix::fs::PermissionsExt as _;
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join(".cargo/bin");
        fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("tansu");
        fs::write(&exe, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        let found = find_tansu_in(None, Some(OsStr::new("/nonexistent")), Some(home.path()));
        assert_eq!(found.unwrap(), exe);
    }
}
