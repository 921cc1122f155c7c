//! Finding Java and Kafka's jars, and running a JVM that cannot outlive
//! the test process.
//!
//! A broker shared by the tests of a binary lives in a `static`, which is
//! never dropped. So every long-running JVM gets a watchdog: a `sh` child
//! that reads its standard input from a pipe this process holds. When the
//! test process ends, however it ends (exit, panic, SIGKILL), the pipe
//! closes, and the watchdog kills the JVM. [`ExitCleanup`] removes a folder
//! the same way, unless a `KEEP` file marks it as the evidence of a failed
//! test.

use std::{
    env, fmt, fs,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::OnceLock,
    thread,
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;

use crate::{HarnessError, Result};

/// The versions `.ci/install-deps kafka` fetches (its `versions.env`).
const VERSIONS_ENV: &str = include_str!("../../kafka/versions.env");

/// How to get Java and the jars; part of every "not found" error.
pub const KAFKA_INSTALL_HINT: &str = "The Apache Kafka tests need Java 17+ (`java`, \
`keytool`) and Kafka's jars from Maven Central. Fetch them with `.ci/install-deps kafka` \
(Maven, about 30 s the first time; the jars go to ~/.cache/kafka-replicator/kafka, or \
$KAFKA_JARS_DIR). These tests never skip when they are missing.";

/// A line of Apache Kafka the harness can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KafkaLine {
    /// The newest 4.x that resolved (`KAFKA_VERSION`): KRaft only.
    Current,
    /// The 3.9 line (`KAFKA_LEGACY_VERSION`): KRaft or ZooKeeper mode.
    Legacy,
    /// MirrorMaker 2's jars (`KAFKA_MM2_VERSION`).
    MirrorMaker,
}

impl KafkaLine {
    /// The version `.ci/install-deps kafka` fetches for this line.
    pub fn version(self) -> &'static str {
        let key = match self {
            Self::Current => "KAFKA_VERSION",
            Self::Legacy => "KAFKA_LEGACY_VERSION",
            Self::MirrorMaker => "KAFKA_MM2_VERSION",
        };
        version_of(VERSIONS_ENV, key).unwrap_or_else(|| panic!("{key} missing in versions.env"))
    }

    fn folder(self) -> String {
        match self {
            Self::Current | Self::Legacy => format!("broker-{}", self.version()),
            Self::MirrorMaker => format!("mirror-maker-{}", self.version()),
        }
    }

    /// Whether this line logs through log4j 2 (4.x) rather than reload4j (3.9).
    pub(crate) fn log4j2(self) -> bool {
        !matches!(self, Self::Legacy)
    }
}

impl fmt::Display for KafkaLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MirrorMaker => write!(f, "MirrorMaker 2 {}", self.version()),
            _ => write!(f, "Apache Kafka {}", self.version()),
        }
    }
}

fn version_of<'a>(env_file: &'a str, key: &str) -> Option<&'a str> {
    env_file
        .lines()
        .filter_map(|l| l.trim().split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
}

fn ci_hint(hint: &str) -> String {
    if env::var("CI").is_ok_and(|v| v == "true") {
        format!("{hint} (CI=true: .ci/run must call .ci/install-deps first.)")
    } else {
        hint.to_owned()
    }
}

/// The folder of jars for `line`: `$KAFKA_JARS_DIR/<line>-<version>` (default
/// `~/.cache/kafka-replicator/kafka`), complete once `.ci/install-deps kafka`
/// left its `.complete` mark there.
pub fn jars_dir(line: KafkaLine) -> Result<PathBuf> {
    let root = match env::var_os("KAFKA_JARS_DIR").filter(|s| !s.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env::var_os("HOME").unwrap_or_default())
            .join(".cache/kafka-replicator/kafka"),
    };
    jars_dir_in(&root, line)
}

/// [`jars_dir`] under `root` (for tests of the lookup itself).
pub fn jars_dir_in(root: &Path, line: KafkaLine) -> Result<PathBuf> {
    let dir = root.join(line.folder());
    if dir.join(".complete").is_file() {
        Ok(dir)
    } else {
        Err(HarnessError::ProgramNotFound {
            program: "Apache Kafka's jars",
            hint: ci_hint(&format!(
                "{line}: no complete folder of jars at {}. {KAFKA_INSTALL_HINT}",
                dir.display()
            )),
        })
    }
}

/// `java -cp 'DIR/*'`, as Kafka's own scripts run it.
pub fn class_path(line: KafkaLine) -> Result<String> {
    Ok(format!("{}/*", jars_dir(line)?.display()))
}

/// The `java` to run: `$JAVA_HOME/bin/java`, else `java` on `PATH`.
pub fn find_java() -> Result<PathBuf> {
    static JAVA: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    JAVA.get_or_init(|| {
        let candidates = env::var_os("JAVA_HOME")
            .map(|h| PathBuf::from(h).join("bin/java"))
            .into_iter()
            .chain(env::var_os("PATH").into_iter().flat_map(|p| {
                env::split_paths(&p)
                    .map(|d| d.join("java"))
                    .collect::<Vec<_>>()
            }));
        candidates
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| ci_hint(KAFKA_INSTALL_HINT))
    })
    .clone()
    .map_err(|hint| HarnessError::ProgramNotFound {
        program: "java",
        hint,
    })
}

/// `keytool`, beside `java` (the JDK's, not a JRE's).
pub fn find_keytool() -> Result<PathBuf> {
    let java =
        fs::canonicalize(find_java()?).map_err(HarnessError::io("resolving the path of java"))?;
    let beside = java.with_file_name("keytool");
    if beside.is_file() {
        return Ok(beside);
    }
    env::var_os("PATH")
        .into_iter()
        .flat_map(|p| env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("keytool"))
        .find(|p| p.is_file())
        .ok_or_else(|| HarnessError::ProgramNotFound {
            program: "keytool",
            hint: ci_hint(KAFKA_INSTALL_HINT),
        })
}

/// How a JVM is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jvm {
    /// For tests on two shared cores: a bounded heap of this many MiB,
    /// the serial collector and fewer compiler threads.
    Test(u32),
    /// As Kafka's own scripts run it (`kafka-run-class.sh`: G1 with a
    /// 20 ms pause goal), with a maximum heap of this many MiB and the
    /// scripts' 256 MiB initial heap: what a user's MirrorMaker 2 runs
    /// with, for the benchmarks.
    KafkaScripts(u32),
}

impl Jvm {
    fn args(&self) -> Vec<String> {
        match self {
            Self::Test(heap) => vec![
                format!("-Xmx{heap}m"),
                format!("-Xms{}m", (*heap).min(128)),
                "-XX:+UseSerialGC".into(),
                "-XX:CICompilerCount=2".into(),
            ],
            Self::KafkaScripts(heap) => vec![
                format!("-Xmx{heap}m"),
                format!("-Xms{}m", (*heap).min(256)),
                "-server".into(),
                "-XX:+UseG1GC".into(),
                "-XX:MaxGCPauseMillis=20".into(),
                "-XX:InitiatingHeapOccupancyPercent=35".into(),
                "-XX:+ExplicitGCInvokesConcurrent".into(),
            ],
        }
    }
}

/// A `java` command for `main` with `line`'s jars, run as `jvm` says, and
/// logging to `log_file` (log4j 2 on 4.x, reload4j on 3.9; the config file
/// is written into `dir`).
pub fn java_command(
    line: KafkaLine,
    jvm: &Jvm,
    dir: &Path,
    log_file: &Path,
    main: &str,
) -> Result<Command> {
    let mut cmd = Command::new(find_java()?);
    cmd.args(jvm.args())
        .arg("-Djava.awt.headless=true")
        .arg("-cp")
        .arg(class_path(line)?);
    if line.log4j2() {
        let config = dir.join("log4j2.properties");
        write_file(&config, &log4j2_properties(log_file))?;
        cmd.arg(format!("-Dlog4j2.configurationFile={}", config.display()));
    } else {
        let config = dir.join("log4j.properties");
        write_file(&config, &reload4j_properties(log_file))?;
        cmd.arg(format!("-Dlog4j.configuration=file:{}", config.display()));
    }
    cmd.arg(main).current_dir(dir).stdin(Stdio::null());
    Ok(cmd)
}

fn log4j2_properties(log_file: &Path) -> String {
    format!(
        "status = warn\n\
         appender.file.type = File\n\
         appender.file.name = file\n\
         appender.file.fileName = {}\n\
         appender.file.layout.type = PatternLayout\n\
         appender.file.layout.pattern = [%d] %p %m (%c)%n\n\
         rootLogger.level = info\n\
         rootLogger.appenderRef.file.ref = file\n\
         logger.zk.name = org.apache.zookeeper\n\
         logger.zk.level = warn\n",
        log_file.display()
    )
}

fn reload4j_properties(log_file: &Path) -> String {
    format!(
        "log4j.rootLogger=INFO, file\n\
         log4j.appender.file=org.apache.log4j.FileAppender\n\
         log4j.appender.file.File={}\n\
         log4j.appender.file.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n\
         log4j.logger.org.apache.zookeeper=WARN\n",
        log_file.display()
    )
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(HarnessError::io(format!("writing {}", path.display())))
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A long-running JVM (broker, ZooKeeper, MirrorMaker 2) with its
/// watchdog. Dropping it kills the JVM at once.
pub struct JavaProcess {
    what: String,
    child: Child,
    watchdog: Option<(Child, ChildStdin)>,
    log: PathBuf,
}

impl fmt::Debug for JavaProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JavaProcess")
            .field("what", &self.what)
            .field("pid", &self.child.id())
            .field("log", &self.log)
            .finish()
    }
}

impl JavaProcess {
    /// Spawns `cmd` (stdout and stderr appended to `stdout_log`; `log` is
    /// the file its logging writes) and its watchdog, which kills it when
    /// this process dies.
    pub fn spawn(
        what: impl Into<String>,
        mut cmd: Command,
        stdout_log: &Path,
        log: &Path,
    ) -> Result<Self> {
        let what = what.into();
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(stdout_log)
            .map_err(HarnessError::io(format!(
                "opening {}",
                stdout_log.display()
            )))?;
        let err = out
            .try_clone()
            .map_err(HarnessError::io("duplicating a log file handle"))?;
        let child = cmd
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(HarnessError::io(format!("spawning {what}: {cmd:?}")))?;
        let watchdog = watchdog("kill -9 \"$1\" 2>/dev/null", &child.id().to_string())?;
        Ok(Self {
            what,
            child,
            watchdog: Some(watchdog),
            log: log.to_owned(),
        })
    }

    /// The JVM's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The log file the JVM writes.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Waits until the log shows `marker`, the process exits, or `timeout`
    /// passes.
    pub fn wait_for_log(&mut self, marker: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains(marker) {
                return Ok(());
            }
            let exited = self.exited();
            if exited.is_some() || Instant::now() >= deadline {
                let exit = exited
                    .map(|s| format!("it exited with {s}"))
                    .unwrap_or_else(|| format!("no {marker:?} within {timeout:?}"));
                return Err(HarnessError::NotReady {
                    what: self.what.clone(),
                    details: format!(
                        "{exit}\n--- {} (tail) ---\n{}",
                        self.log.display(),
                        tail(&text, 40)
                    ),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM (Kafka's controlled shutdown), then SIGKILL after `grace`.
    pub fn stop(mut self, grace: Duration) -> Result<ExitStatus> {
        self.disarm();
        if self.exited().is_none() {
            self.signal(Signal::SIGTERM)?;
            let deadline = Instant::now() + grace;
            while self.exited().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
        }
        self.reap()
    }

    /// SIGKILL: a crash, no shutdown work.
    pub fn kill(mut self) -> Result<ExitStatus> {
        self.disarm();
        self.reap()
    }

    /// SIGSTOP: the JVM freezes; its sockets stay open.
    pub fn pause(&self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    fn signal(&self, sig: Signal) -> Result<()> {
        crate::tansu::signal(&self.child, sig)
    }

    /// Stops the watchdog (without it acting): this process now ends the JVM.
    fn disarm(&mut self) {
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            drop(stdin);
        }
    }

    fn reap(&mut self) -> Result<ExitStatus> {
        if self.exited().is_none() {
            let _ = self.signal(Signal::SIGCONT);
            let _ = self.child.kill();
        }
        self.child.wait().map_err(HarnessError::io(format!(
            "waiting for {} to exit",
            self.what
        )))
    }
}

impl Drop for JavaProcess {
    fn drop(&mut self) {
        self.disarm();
        let _ = self.reap();
    }
}

/// A `sh` child that runs `script` (with `$1` = `arg`) once its standard
/// input reaches EOF: when every holder of the pipe's write end, this
/// process only (Rust's pipes are close-on-exec), is gone.
fn watchdog(script: &str, arg: &str) -> Result<(Child, ChildStdin)> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("read _unused; {script}"))
        .arg("kafka-watchdog")
        .arg(arg)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(HarnessError::io("spawning a watchdog (sh)"))?;
    let stdin = child.stdin.take().expect("piped stdin");
    Ok((child, stdin))
}

/// Removes a folder when this process ends, even if the value holding it
/// is never dropped (a `static`), unless `DIR/KEEP` exists then.
pub struct ExitCleanup {
    dir: PathBuf,
    watchdog: Option<(Child, ChildStdin)>,
}

impl fmt::Debug for ExitCleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExitCleanup")
            .field("dir", &self.dir)
            .finish()
    }
}

impl ExitCleanup {
    /// Watches `dir`.
    pub fn new(dir: &Path) -> Result<Self> {
        let watchdog = watchdog(
            // After the JVMs' watchdogs have killed them.
            "sleep 1; [ -e \"$1/KEEP\" ] || rm -rf \"$1\"",
            &dir.display().to_string(),
        )?;
        Ok(Self {
            dir: dir.to_owned(),
            watchdog: Some(watchdog),
        })
    }

    /// Marks the folder to be kept.
    pub fn keep(&self) {
        let _ = fs::write(self.dir.join("KEEP"), "");
    }
}

impl Drop for ExitCleanup {
    /// Dropped normally: the owner has dealt with the folder already.
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            let _ = child.kill();
            let _ = child.wait();
            drop(stdin);
        }
    }
}

/// Runs a short-lived Java tool (`main` with `args`) to completion within
/// `timeout`; returns its standard output.
pub fn run_tool(
    line: KafkaLine,
    main: &str,
    args: &[String],
    dir: &Path,
    timeout: Duration,
) -> Result<String> {
    let log = dir.join(format!(
        "{}.log",
        main.rsplit('.').next().unwrap_or("tool").to_lowercase()
    ));
    let mut cmd = java_command(line, &Jvm::Test(256), dir, &log, main)?;
    cmd.args(args);
    crate::tansu::run_with_timeout(cmd, timeout).map_err(|e| match e {
        HarnessError::Command {
            command,
            status,
            stderr,
        } => HarnessError::Command {
            command,
            status,
            stderr: format!(
                "{stderr}\n--- {} (tail) ---\n{}",
                log.display(),
                tail(&fs::read_to_string(&log).unwrap_or_default(), 30)
            ),
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_env_has_every_line() {
        for line in [
            KafkaLine::Current,
            KafkaLine::Legacy,
            KafkaLine::MirrorMaker,
        ] {
            let v = line.version();
            assert!(v.split('.').count() == 3, "{line}: {v}");
        }
        assert!(KafkaLine::Current.version().starts_with("4."));
        assert!(KafkaLine::Legacy.version().starts_with("3.9."));
    }

    #[test]
    fn missing_jars_say_how_to_install() {
        let root = tempfile::tempdir().unwrap();
        let err = jars_dir_in(root.path(), KafkaLine::Current)
            .unwrap_err()
            .to_string();
        assert!(err.contains(".ci/install-deps kafka"), "{err}");
        assert!(err.contains(KafkaLine::Current.version()), "{err}");
        // A folder an interrupted fetch left (no `.complete`) is not enough.
        let dir = root.path().join(KafkaLine::Legacy.folder());
        fs::create_dir_all(&dir).unwrap();
        assert!(jars_dir_in(root.path(), KafkaLine::Legacy).is_err());
        fs::write(dir.join(".complete"), "").unwrap();
        assert_eq!(jars_dir_in(root.path(), KafkaLine::Legacy).unwrap(), dir);
    }
}
