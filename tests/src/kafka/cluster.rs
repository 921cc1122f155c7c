//! Apache Kafka clusters for tests: one node (broker and controller in one
//! JVM, KRaft) or several combined nodes, on free loopback ports, in a
//! fresh folder; or a 3.9 broker in ZooKeeper mode for a legacy source.

use std::{
    collections::BTreeMap,
    fmt, fs,
    path::{Path, PathBuf},
    sync::Mutex,
    thread,
    time::{Duration, Instant},
};

use super::{
    java::{self, java_command, tail, write_file, ExitCleanup, JavaProcess, Jvm, KafkaLine},
    stores::{KafkaStores, STORE_PASSWORD},
};
use crate::{ports, HarnessError, Result};

/// SASL users every secured cluster has, for PLAIN and both SCRAMs:
/// (name, password).
pub const SASL_USERS: [(&str, &str); 2] = [("admin", "admin-secret"), ("alice", "alice-secret")];

/// A client listener besides PLAINTEXT (which every node has, and which
/// the brokers talk to each other on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Listener {
    /// SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
    SaslPlaintext,
    /// SSL (server authentication only), the broker's keystore in JKS.
    Ssl,
    /// SASL_SSL with the three mechanisms, the broker's keystore in PKCS#12.
    SaslSsl,
    /// SSL with `ssl.client.auth=required` (mutual TLS).
    MutualTls,
}

impl Listener {
    /// Every secured listener.
    pub const ALL: [Listener; 4] = [
        Self::SaslPlaintext,
        Self::Ssl,
        Self::SaslSsl,
        Self::MutualTls,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslSsl => "SASL_SSL",
            Self::MutualTls => "MTLS",
        }
    }

    fn protocol(self) -> &'static str {
        match self {
            Self::MutualTls => "SSL",
            other => other.name(),
        }
    }

    fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    fn tls(self) -> bool {
        !matches!(self, Self::SaslPlaintext)
    }
}

/// How the cluster keeps its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataMode {
    /// KRaft: every node is broker and controller.
    Kraft,
    /// ZooKeeper (3.9 only), one ZooKeeper server started beside.
    ZooKeeper,
}

/// Options for [`KafkaCluster::start_with`].
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// Nodes (each broker and controller).
    pub nodes: usize,
    /// Which Kafka.
    pub line: KafkaLine,
    /// KRaft or ZooKeeper (the latter needs [`KafkaLine::Legacy`]).
    pub metadata: MetadataMode,
    /// Secured listeners besides PLAINTEXT.
    pub listeners: Vec<Listener>,
    /// Extra broker properties, after the harness's own (so they win).
    pub properties: Vec<(String, String)>,
    /// Maximum heap per node.
    pub heap_mb: u32,
    /// How long a node may take to log that it started.
    pub startup_timeout: Duration,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        Self {
            nodes: 1,
            line: KafkaLine::Current,
            metadata: MetadataMode::Kraft,
            listeners: Vec::new(),
            properties: Vec::new(),
            heap_mb: 512,
            startup_timeout: Duration::from_secs(90),
        }
    }
}

impl KafkaOptions {
    /// Adds a broker property.
    pub fn property(mut self, key: &str, value: impl ToString) -> Self {
        self.properties.push((key.to_owned(), value.to_string()));
        self
    }
}

/// The ports of one node.
#[derive(Debug, Clone)]
struct NodePorts {
    plaintext: u16,
    controller: u16,
    secured: BTreeMap<Listener, u16>,
}

struct Node {
    id: i32,
    dir: PathBuf,
    ports: NodePorts,
    process: Option<JavaProcess>,
    /// Ready markers in its log before the last spawn (the log is appended
    /// across restarts).
    markers_before: usize,
}

/// An Apache Kafka cluster of throw-away nodes.
///
/// Dropping it kills every node and removes its folder; dropping it while
/// the test panics keeps the nodes' logs (not their data) and prints where,
/// with the tail of each log.
pub struct KafkaCluster {
    opts: KafkaOptions,
    root: PathBuf,
    cluster_id: String,
    nodes: Vec<Mutex<Node>>,
    zookeeper: Option<(u16, JavaProcess)>,
    stores: Option<KafkaStores>,
    cleanup: ExitCleanup,
}

impl fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaCluster")
            .field("line", &self.opts.line)
            .field("bootstrap", &self.bootstrap())
            .field("root", &self.root)
            .finish()
    }
}

const READY_KRAFT: &str = "Kafka Server started";
const READY_ZK: &str = "] started (kafka.server.KafkaServer)";
const LOG_FILE: &str = "server.log";

impl KafkaCluster {
    /// One KRaft node of the current line, PLAINTEXT only.
    pub fn start() -> Result<Self> {
        Self::start_with(KafkaOptions::default())
    }

    /// A cluster with `opts`; returns once every node has started and the
    /// cluster's metadata lists all of them.
    pub fn start_with(opts: KafkaOptions) -> Result<Self> {
        assert!(opts.nodes >= 1, "a cluster needs a node");
        assert!(
            opts.metadata == MetadataMode::Kraft || opts.line == KafkaLine::Legacy,
            "ZooKeeper mode needs the 3.9 line"
        );
        java::find_java()?;
        java::jars_dir(opts.line)?;
        let root = tempfile::Builder::new()
            .prefix("kafka-")
            .tempdir()
            .map_err(HarnessError::io("creating the cluster's temp dir"))?
            .keep();
        let free = || ports::free_port().map_err(HarnessError::io("finding a free port"));
        let mut nodes = Vec::new();
        for i in 0..opts.nodes {
            let mut secured = BTreeMap::new();
            for l in &opts.listeners {
                secured.insert(*l, free()?);
            }
            let dir = root.join(format!("node-{}", i + 1));
            fs::create_dir_all(dir.join("data"))
                .map_err(HarnessError::io(format!("creating {}", dir.display())))?;
            nodes.push(Mutex::new(Node {
                id: i as i32 + 1,
                dir,
                ports: NodePorts {
                    plaintext: free()?,
                    controller: free()?,
                    secured,
                },
                process: None,
                markers_before: 0,
            }));
        }
        let stores = if opts.listeners.iter().any(|l| l.tls()) {
            Some(KafkaStores::create(&root)?)
        } else {
            None
        };
        let cleanup = ExitCleanup::new(&root)?;
        let mut cluster = Self {
            cleanup,
            cluster_id: cluster_id(),
            opts,
            root,
            nodes,
            zookeeper: None,
            stores,
        };
        if cluster.opts.metadata == MetadataMode::ZooKeeper {
            cluster.start_zookeeper()?;
        }
        for n in &cluster.nodes {
            let n = n.lock().unwrap_or_else(|e| e.into_inner());
            write_file(
                &n.dir.join("server.properties"),
                &cluster.server_properties(&n),
            )?;
            if cluster.opts.metadata == MetadataMode::Kraft {
                cluster.format(&n)?;
            }
        }
        // Start every node before waiting on any: a KRaft quorum of several
        // nodes only elects a leader once a majority runs.
        for i in 0..cluster.nodes.len() {
            cluster.spawn_node(i)?;
        }
        for i in 0..cluster.nodes.len() {
            cluster.wait_node(i)?;
        }
        cluster.wait_for_brokers(cluster.nodes.len(), cluster.opts.startup_timeout)?;
        Ok(cluster)
    }

    /// `host:port,...` of every node's PLAINTEXT listener.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let n = n.lock().unwrap_or_else(|e| e.into_inner());
                format!("127.0.0.1:{}", n.ports.plaintext)
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `host:port` of each running node's PLAINTEXT listener.
    pub fn node_bootstraps(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter_map(|n| {
                let n = n.lock().unwrap_or_else(|e| e.into_inner());
                n.process
                    .as_ref()
                    .map(|_| format!("127.0.0.1:{}", n.ports.plaintext))
            })
            .collect()
    }

    /// `host:port` of node `id`'s PLAINTEXT listener.
    pub fn node_bootstrap(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.node(id).ports.plaintext)
    }

    /// `host:port,...` of every node's `listener`; panics if the cluster
    /// was started without it.
    pub fn bootstrap_of(&self, listener: Listener) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let n = n.lock().unwrap_or_else(|e| e.into_inner());
                let port = n
                    .ports
                    .secured
                    .get(&listener)
                    .unwrap_or_else(|| panic!("the cluster has no {listener:?} listener"));
                format!("127.0.0.1:{port}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The TLS stores (when a TLS listener was asked for).
    pub fn stores(&self) -> Option<&KafkaStores> {
        self.stores.as_ref()
    }

    /// Which Kafka runs.
    pub fn line(&self) -> KafkaLine {
        self.opts.line
    }

    /// Node ids, `1..=nodes`.
    pub fn node_ids(&self) -> Vec<i32> {
        (1..=self.nodes.len() as i32).collect()
    }

    /// The cluster's folder (a `node-N` folder per node with its
    /// `server.properties`, `server.log` and `data/`).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Keeps the cluster's folder (logs and data) when the process ends;
    /// for a shared cluster whose test failed.
    pub fn keep_on_exit(&self) {
        self.cleanup.keep();
    }

    /// Node `id`'s log so far.
    pub fn node_log(&self, id: i32) -> String {
        fs::read_to_string(self.node(id).dir.join(LOG_FILE)).unwrap_or_default()
    }

    /// The tail of every node's log, for a failure message.
    pub fn log(&self) -> String {
        self.node_ids()
            .into_iter()
            .map(|id| {
                let path = self.node(id).dir.join(LOG_FILE);
                let text = fs::read_to_string(&path).unwrap_or_default();
                format!(
                    "--- Apache Kafka node {id}: {} (tail) ---\n{}",
                    path.display(),
                    tail(&text, 40)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn node(&self, id: i32) -> std::sync::MutexGuard<'_, Node> {
        let i = usize::try_from(id - 1)
            .ok()
            .filter(|i| *i < self.nodes.len());
        let i = i.unwrap_or_else(|| panic!("no node {id} in a cluster of {}", self.nodes.len()));
        self.nodes[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops node `id` with SIGTERM (Kafka's controlled shutdown moves its
    /// leaderships first), or SIGKILL when `crash`.
    pub fn stop_node(&self, id: i32, crash: bool) -> Result<()> {
        let process = self.node(id).process.take();
        if let Some(p) = process {
            if crash {
                p.kill()?;
            } else {
                p.stop(Duration::from_secs(30))?;
            }
        }
        Ok(())
    }

    /// Starts node `id` again on its data, and waits until it runs.
    pub fn start_node(&self, id: i32) -> Result<()> {
        self.spawn_node((id - 1) as usize)?;
        self.wait_node((id - 1) as usize)
    }

    /// Pauses node `id` (SIGSTOP).
    pub fn pause_node(&self, id: i32) -> Result<()> {
        match &self.node(id).process {
            Some(p) => p.pause(),
            None => Err(HarnessError::NotRunning("kafka node")),
        }
    }

    /// Resumes node `id` (SIGCONT).
    pub fn resume_node(&self, id: i32) -> Result<()> {
        match &self.node(id).process {
            Some(p) => p.resume(),
            None => Err(HarnessError::NotRunning("kafka node")),
        }
    }

    fn spawn_node(&self, i: usize) -> Result<()> {
        let mut n = self.nodes[i].lock().unwrap_or_else(|e| e.into_inner());
        let log = n.dir.join(LOG_FILE);
        n.markers_before = fs::read_to_string(&log)
            .unwrap_or_default()
            .matches(self.ready_marker())
            .count();
        let mut cmd = java_command(
            self.opts.line,
            &Jvm::Test(self.opts.heap_mb),
            &n.dir,
            &log,
            "kafka.Kafka",
        )?;
        cmd.arg(n.dir.join("server.properties"));
        let what = format!("{} node {}", self.opts.line, n.id);
        n.process = Some(JavaProcess::spawn(
            what,
            cmd,
            &n.dir.join("stdout.log"),
            &log,
        )?);
        Ok(())
    }

    fn ready_marker(&self) -> &'static str {
        match self.opts.metadata {
            MetadataMode::Kraft => READY_KRAFT,
            MetadataMode::ZooKeeper => READY_ZK,
        }
    }

    fn wait_node(&self, i: usize) -> Result<()> {
        let marker = self.ready_marker();
        let mut n = self.nodes[i].lock().unwrap_or_else(|e| e.into_inner());
        // The log is appended across restarts: wait for one more marker.
        let seen = n.markers_before;
        let deadline = Instant::now() + self.opts.startup_timeout;
        let p = n
            .process
            .as_mut()
            .ok_or(HarnessError::NotRunning("kafka node"))?;
        loop {
            p.wait_for_log(marker, deadline.saturating_duration_since(Instant::now()))?;
            let now = fs::read_to_string(p.log_path())
                .unwrap_or_default()
                .matches(marker)
                .count();
            if now > seen {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::NotReady {
                    what: format!("{} node {}", self.opts.line, i + 1),
                    details: format!(
                        "no new {marker:?} in its log after a restart\n--- {} (tail) ---\n{}",
                        p.log_path().display(),
                        tail(&fs::read_to_string(p.log_path()).unwrap_or_default(), 40)
                    ),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the cluster's metadata lists `brokers` brokers.
    pub fn wait_for_brokers(&self, brokers: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = super::admin::broker_count(&self.bootstrap());
            if seen.as_ref().is_ok_and(|n| *n >= brokers) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::NotReady {
                    what: format!("{} cluster", self.opts.line),
                    details: format!(
                        "metadata did not list {brokers} brokers within {timeout:?} ({seen:?})\n{}",
                        self.log()
                    ),
                });
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    fn format(&self, n: &Node) -> Result<()> {
        let mut args = vec![
            "format".to_owned(),
            "--ignore-formatted".to_owned(),
            "-t".to_owned(),
            self.cluster_id.clone(),
            "-c".to_owned(),
            n.dir.join("server.properties").display().to_string(),
        ];
        if self.opts.listeners.iter().any(|l| l.sasl()) {
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                for (user, password) in SASL_USERS {
                    args.push("--add-scram".to_owned());
                    args.push(format!("{mechanism}=[name={user},password={password}]"));
                }
            }
        }
        java::run_tool(
            self.opts.line,
            "kafka.tools.StorageTool",
            &args,
            &n.dir,
            Duration::from_secs(120),
        )
        .map(drop)
    }

    fn start_zookeeper(&mut self) -> Result<()> {
        let dir = self.root.join("zookeeper");
        fs::create_dir_all(dir.join("data"))
            .map_err(HarnessError::io(format!("creating {}", dir.display())))?;
        let port = ports::free_port().map_err(HarnessError::io("finding a free port"))?;
        let props = dir.join("zookeeper.properties");
        write_file(
            &props,
            &format!(
                "dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 maxClientCnxns=0\nadmin.enableServer=false\n\
                 4lw.commands.whitelist=ruok\n",
                dir.join("data").display()
            ),
        )?;
        let log = dir.join("zookeeper.log");
        let mut cmd = java_command(
            self.opts.line,
            &Jvm::Test(256),
            &dir,
            &log,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        )?;
        cmd.arg(&props);
        let mut p = JavaProcess::spawn("ZooKeeper", cmd, &dir.join("stdout.log"), &log)?;
        if !ports::wait_until_accepting(ports::loopback(port), Duration::from_secs(60), || {
            p.exited().is_some()
        }) {
            return Err(HarnessError::NotReady {
                what: "ZooKeeper".into(),
                details: tail(&fs::read_to_string(&log).unwrap_or_default(), 30),
            });
        }
        self.zookeeper = Some((port, p));
        Ok(())
    }

    fn server_properties(&self, n: &Node) -> String {
        let mut p: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: String| p.push((k.to_owned(), v));
        let mut listeners = vec![format!("PLAINTEXT://127.0.0.1:{}", n.ports.plaintext)];
        let mut map = vec!["PLAINTEXT:PLAINTEXT".to_owned()];
        for (l, port) in &n.ports.secured {
            listeners.push(format!("{}://127.0.0.1:{port}", l.name()));
            map.push(format!("{}:{}", l.name(), l.protocol()));
        }
        let advertised = listeners.join(",");
        match self.opts.metadata {
            MetadataMode::Kraft => {
                set("process.roles", "broker,controller".into());
                set("node.id", n.id.to_string());
                let voters = self
                    .nodes
                    .iter()
                    .enumerate()
                    .map(|(i, other)| {
                        // `n` is locked by the caller: use its ports for itself.
                        let port = if i as i32 + 1 == n.id {
                            n.ports.controller
                        } else {
                            other
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .ports
                                .controller
                        };
                        format!("{}@127.0.0.1:{port}", i + 1)
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                set("controller.quorum.voters", voters);
                set("controller.listener.names", "CONTROLLER".into());
                listeners.push(format!("CONTROLLER://127.0.0.1:{}", n.ports.controller));
                map.push("CONTROLLER:PLAINTEXT".into());
            }
            MetadataMode::ZooKeeper => {
                let zk = self.zookeeper.as_ref().map_or(0, |(port, _)| *port);
                set("broker.id", n.id.to_string());
                set("zookeeper.connect", format!("127.0.0.1:{zk}"));
                set("zookeeper.connection.timeout.ms", "30000".into());
            }
        }
        set("listeners", listeners.join(","));
        set("advertised.listeners", advertised);
        set("listener.security.protocol.map", map.join(","));
        set("inter.broker.listener.name", "PLAINTEXT".into());
        set("log.dirs", n.dir.join("data").display().to_string());
        let rf = self.nodes.len().min(3).to_string();
        let min_isr = if self.nodes.len() >= 3 { "2" } else { "1" };
        set("offsets.topic.replication.factor", rf.clone());
        set("offsets.topic.num.partitions", "5".into());
        set("transaction.state.log.replication.factor", rf.clone());
        set("transaction.state.log.min.isr", min_isr.into());
        set("transaction.state.log.num.partitions", "5".into());
        if self.opts.line != KafkaLine::Legacy {
            set(
                "share.coordinator.state.topic.replication.factor",
                rf.clone(),
            );
            set("share.coordinator.state.topic.min.isr", min_isr.into());
            set("share.coordinator.state.topic.num.partitions", "5".into());
        }
        set("default.replication.factor", rf);
        set("group.initial.rebalance.delay.ms", "0".into());
        set("auto.create.topics.enable", "false".into());
        // Test records carry fixed timestamps from 2023: with the default
        // 7-day time retention Kafka would delete them at once.
        set("log.retention.ms", "-1".into());
        // Two shared cores: fewer threads than a production broker.
        set("num.network.threads", "2".into());
        set("num.io.threads", "2".into());
        set("num.recovery.threads.per.data.dir", "1".into());
        set("background.threads", "4".into());
        set("log.cleaner.threads", "1".into());
        set("log.cleaner.dedupe.buffer.size", "4194304".into());
        // A cleaner that looks for work often, for compacted-topic tests.
        set("log.cleaner.backoff.ms", "500".into());
        set("log.retention.check.interval.ms", "1000".into());
        set("log.initial.task.delay.ms", "1000".into());
        if self.opts.listeners.iter().any(|l| l.sasl()) {
            set(
                "sasl.enabled.mechanisms",
                "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512".into(),
            );
            let plain_users: String = SASL_USERS
                .iter()
                .map(|(u, pw)| format!(" user_{u}=\"{pw}\""))
                .collect();
            for l in self.opts.listeners.iter().filter(|l| l.sasl()) {
                let name = l.name().to_lowercase();
                set(
                    &format!("listener.name.{name}.plain.sasl.jaas.config"),
                    format!(
                        "org.apache.kafka.common.security.plain.PlainLoginModule required{plain_users};"
                    ),
                );
                for m in ["scram-sha-256", "scram-sha-512"] {
                    set(
                        &format!("listener.name.{name}.{m}.sasl.jaas.config"),
                        "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
                    );
                }
            }
        }
        if let Some(stores) = &self.stores {
            for l in self.opts.listeners.iter().filter(|l| l.tls()) {
                let name = l.name().to_lowercase();
                // Both store types on the broker side: JKS on SSL and MTLS,
                // PKCS#12 on SASL_SSL.
                let (keystore, kind) = match l {
                    Listener::SaslSsl => (&stores.broker_p12, "PKCS12"),
                    _ => (&stores.broker_jks, "JKS"),
                };
                let mut lset = |k: &str, v: String| set(&format!("listener.name.{name}.{k}"), v);
                lset("ssl.keystore.location", keystore.display().to_string());
                lset("ssl.keystore.type", kind.into());
                lset("ssl.keystore.password", STORE_PASSWORD.into());
                lset("ssl.key.password", STORE_PASSWORD.into());
                lset(
                    "ssl.truststore.location",
                    stores.truststore_jks.display().to_string(),
                );
                lset("ssl.truststore.type", "JKS".into());
                lset("ssl.truststore.password", STORE_PASSWORD.into());
                if *l == Listener::MutualTls {
                    lset("ssl.client.auth", "required".into());
                }
            }
        }
        p.extend(self.opts.properties.iter().cloned());
        p.iter()
            .map(|(k, v)| format!("{k}={}\n", escape_property(v)))
            .collect()
    }
}

/// A `.properties` value: backslashes doubled (the JAAS strings have none
/// otherwise).
fn escape_property(v: &str) -> String {
    v.replace('\\', "\\\\")
}

/// A KRaft cluster id: 16 random bytes, URL-safe base64 without padding,
/// not starting with `-`.
fn cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        // Random enough for a throw-away cluster: the hasher's random keys.
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        *b = h.finish() as u8;
    }
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = String::new();
    for b in bytes {
        bits = (bits << 8) | u32::from(b);
        n += 8;
        while n >= 6 {
            n -= 6;
            out.push(ALPHABET[((bits >> n) & 63) as usize] as char);
        }
    }
    if n > 0 {
        out.push(ALPHABET[((bits << (6 - n)) & 63) as usize] as char);
    }
    if out.starts_with('-') {
        out.replace_range(0..1, "A");
    }
    out
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        let keep = thread::panicking();
        for n in &self.nodes {
            let mut n = n.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = n.process.take() {
                let _ = p.kill();
            }
        }
        if let Some((_, zk)) = self.zookeeper.take() {
            let _ = zk.kill();
        }
        if keep {
            for n in &self.nodes {
                let n = n.lock().unwrap_or_else(|e| e.into_inner());
                let _ = fs::remove_dir_all(n.dir.join("data"));
            }
            eprintln!(
                "the test failed: Apache Kafka's logs are kept in {}\n{}",
                self.root.display(),
                self.log()
            );
        } else {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        let id = cluster_id();
        assert_eq!(id.len(), 22, "{id}");
        assert!(!id.starts_with('-'));
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, cluster_id());
    }
}
