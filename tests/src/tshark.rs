//! Packet captures with Debian's `tshark`: record loopback traffic to some
//! ports, then decode it with Wireshark's Kafka dissector and look for
//! malformed packets.

use std::{
    fs,
    path::PathBuf,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use tempfile::TempDir;

use crate::{tansu::run_with_timeout, HarnessError, Result};

const HINT: &str = "Install it with `.ci/install-deps apt` (Debian: `apt-get install tshark`); \
captures on the loopback interface need root or CAP_NET_RAW.";

/// A running capture.
pub struct Capture {
    child: Option<Child>,
    dir: TempDir,
    pcap: PathBuf,
    ports: Vec<u16>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("pcap", &self.pcap)
            .field("ports", &self.ports)
            .finish()
    }
}

/// What the Kafka dissector made of a capture.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Packets the dissector decoded as Kafka.
    pub kafka_packets: usize,
    /// Lines of packets flagged malformed (empty when clean).
    pub malformed: Vec<String>,
    /// The verbose decode (`-O kafka`), for failure messages.
    pub text: String,
}

fn tshark_missing() -> HarnessError {
    HarnessError::ProgramNotFound {
        program: "tshark",
        hint: HINT.into(),
    }
}

impl Capture {
    /// Starts capturing TCP traffic to or from `ports` on loopback.
    pub fn start(ports: &[u16]) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("capture-")
            .tempdir()
            .map_err(HarnessError::io("creating the capture temp dir"))?;
        let pcap = dir.path().join("capture.pcap");
        let stderr_path = dir.path().join("tshark.err");
        let filter = ports
            .iter()
            .map(|p| format!("tcp port {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let stderr =
            fs::File::create(&stderr_path).map_err(HarnessError::io("creating tshark.err"))?;
        let child = Command::new("tshark")
            .args(["-i", "lo", "-f", &filter, "-w"])
            .arg(&pcap)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    tshark_missing()
                } else {
                    HarnessError::Io {
                        context: "spawning tshark".into(),
                        source: e,
                    }
                }
            })?;
        let mut cap = Self {
            child: Some(child),
            dir,
            pcap,
            ports: ports.to_vec(),
        };
        // tshark logs "Capture started." once dumpcap captures.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let err = fs::read_to_string(&stderr_path).unwrap_or_default();
            if err.contains("Capture started") {
                // The kernel filter is attached just after the message.
                thread::sleep(Duration::from_millis(200));
                return Ok(cap);
            }
            let exited = cap.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                cap.kill();
                return Err(HarnessError::NotReady {
                    what: "tshark capture".into(),
                    details: format!("exit {exited:?}; stderr:\n{err}\n{HINT}"),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the capture (SIGINT, so the file is complete) and decodes it.
    pub fn finish(mut self) -> Result<Decoded> {
        // Let the last packets reach the capture buffer.
        thread::sleep(Duration::from_millis(300));
        if let Some(mut child) = self.child.take() {
            let pid = i32::try_from(child.id()).unwrap_or(0);
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let decode_as: Vec<String> = self
            .ports
            .iter()
            .flat_map(|p| ["-d".to_owned(), format!("tcp.port=={p},kafka")])
            .collect();
        let run = |extra: &[&str]| -> Result<String> {
            let mut cmd = Command::new("tshark");
            cmd.arg("-r").arg(&self.pcap).args(&decode_as).args(extra);
            run_with_timeout(cmd, Duration::from_secs(60))
        };
        let text = run(&["-O", "kafka"])?;
        let kafka_packets = run(&["-Y", "kafka"])?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        let malformed = run(&["-Y", "_ws.malformed"])?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let _ = &self.dir;
        Ok(Decoded {
            kafka_packets,
            malformed,
            text,
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.kill();
    }
}
