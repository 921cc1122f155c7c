//! MirrorMaker 2 in dedicated mode (`org.apache.kafka.connect.mirror.MirrorMaker`
//! with a properties file, what `connect-mirror-maker.sh` runs), between
//! test clusters: the tool our users would otherwise pick, run beside our
//! mirror in the group-migration test and the end-to-end bench.

use std::{
    fmt, fs,
    path::{Path, PathBuf},
    time::Duration,
};

use super::java::{java_command, tail, write_file, ExitCleanup, JavaProcess, Jvm, KafkaLine};
use crate::{HarnessError, Result};

/// The main class behind `connect-mirror-maker.sh`.
pub const MM2_MAIN: &str = "org.apache.kafka.connect.mirror.MirrorMaker";

/// MirrorMaker 2 properties for one flow `source->target`, with the
/// intervals shortened for tests: topics and groups found within a second,
/// checkpoints and offset syncs exact (`offset.lag.max=0`) and emitted
/// every second, internal topics with one replica.
pub fn mm2_properties(source: &str, target: &str, topics: &str, groups: &str) -> String {
    format!(
        "clusters = source, target\n\
         source.bootstrap.servers = {source}\n\
         target.bootstrap.servers = {target}\n\
         source->target.enabled = true\n\
         target->source.enabled = false\n\
         source->target.topics = {topics}\n\
         source->target.groups = {groups}\n\
         source->target.emit.heartbeats.enabled = false\n\
         source->target.emit.checkpoints.enabled = true\n\
         source->target.emit.checkpoints.interval.seconds = 1\n\
         source->target.sync.group.offsets.enabled = true\n\
         source->target.sync.group.offsets.interval.seconds = 1\n\
         source->target.refresh.topics.interval.seconds = 1\n\
         source->target.refresh.groups.interval.seconds = 1\n\
         source->target.offset.lag.max = 0\n\
         source->target.sync.topic.configs.enabled = false\n\
         source->target.sync.topic.acls.enabled = false\n\
         offset.flush.interval.ms = 1000\n\
         {SINGLE_BROKER}"
    )
}

/// MirrorMaker 2 properties for clusters of one broker: every topic it
/// creates (mirrored, internal, Connect's stores) with one replica, and no
/// internal REST server.
pub const SINGLE_BROKER: &str = "replication.factor = 1
checkpoints.topic.replication.factor = 1
heartbeats.topic.replication.factor = 1
offset-syncs.topic.replication.factor = 1
offset.storage.replication.factor = 1
status.storage.replication.factor = 1
config.storage.replication.factor = 1
dedicated.mode.enable.internal.rest = false
";

/// A running MirrorMaker 2; killed on drop.
pub struct MirrorMaker2 {
    dir: PathBuf,
    process: Option<JavaProcess>,
    _cleanup: ExitCleanup,
}

impl fmt::Debug for MirrorMaker2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MirrorMaker2")
            .field("dir", &self.dir)
            .field("pid", &self.pid())
            .finish()
    }
}

impl MirrorMaker2 {
    /// Starts MirrorMaker 2 on `properties` (the text of an `mm2.properties`
    /// file), its JVM run as `jvm` says.
    pub fn start(properties: &str, jvm: &Jvm) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("mm2-")
            .tempdir()
            .map_err(HarnessError::io("creating MirrorMaker 2's temp dir"))?
            .keep();
        let cleanup = ExitCleanup::new(&dir)?;
        let props = dir.join("mm2.properties");
        write_file(&props, properties)?;
        let log = dir.join("mm2.log");
        let mut cmd = java_command(KafkaLine::MirrorMaker, jvm, &dir, &log, MM2_MAIN)?;
        cmd.arg(&props);
        let process = JavaProcess::spawn("MirrorMaker 2", cmd, &dir.join("stdout.log"), &log)?;
        Ok(Self {
            dir,
            process: Some(process),
            _cleanup: cleanup,
        })
    }

    /// The JVM's pid (for CPU and RSS readings).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(JavaProcess::pid)
    }

    /// MirrorMaker 2's folder (properties and log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its log so far (tail).
    pub fn log(&self) -> String {
        format!(
            "--- MirrorMaker 2: {} (tail) ---\n{}",
            self.dir.join("mm2.log").display(),
            tail(
                &fs::read_to_string(self.dir.join("mm2.log")).unwrap_or_default(),
                60
            )
        )
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.exited().is_none())
    }

    /// Stops it (SIGTERM, then SIGKILL after 20 s).
    pub fn stop(&mut self) -> Result<()> {
        if let Some(p) = self.process.take() {
            p.stop(Duration::from_secs(20))?;
        }
        Ok(())
    }
}

impl Drop for MirrorMaker2 {
    fn drop(&mut self) {
        if let Some(p) = self.process.take() {
            let _ = p.kill();
        }
        if std::thread::panicking() {
            eprintln!(
                "the test failed: MirrorMaker 2's log is kept in {}",
                self.dir.display()
            );
            eprintln!("{}", self.log());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
