//! A TLS front (`stunnel4`) with certificates chosen by the test, for TLS
//! failure cases: unknown CA, wrong host name, expired certificate, client
//! certificate required. [`crate::StunnelFront`] runs one with its own PKI.

use std::{
    fs,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tempfile::TempDir;

use crate::{pki::CertFiles, ports, HarnessError, Result};

const HINT: &str = "Install it with `.ci/install-deps apt` (Debian: `apt-get install stunnel4`).";

/// `stunnel4` terminating TLS on a loopback port, forwarding to `upstream`.
pub struct TlsProxy {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

impl std::fmt::Debug for TlsProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsProxy")
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

fn stunnel() -> Result<PathBuf> {
    crate::tls::which("stunnel4")
        .or_else(|| crate::tls::which("stunnel"))
        .ok_or_else(|| HarnessError::ProgramNotFound {
            program: "stunnel4",
            hint: HINT.into(),
        })
}

impl TlsProxy {
    /// Serves `server` on a free port (or `port`), forwarding to
    /// `upstream`; with `client_ca`, clients must present a certificate
    /// signed by it.
    pub fn start(
        port: Option<u16>,
        upstream: SocketAddr,
        server: &CertFiles,
        client_ca: Option<&std::path::Path>,
    ) -> Result<Self> {
        let binary = stunnel()?;
        let port = match port {
            Some(p) => p,
            None => ports::free_port().map_err(HarnessError::io("finding a free port"))?,
        };
        let dir = tempfile::Builder::new()
            .prefix("tls-proxy-")
            .tempdir()
            .map_err(HarnessError::io("creating the proxy temp dir"))?;
        let log = dir.path().join("stunnel.log");
        let mut conf = format!(
            "foreground = yes\npid =\noutput = {}\ndebug = 5\n\n[kafka]\naccept = 127.0.0.1:{port}\nconnect = {upstream}\ncert = {}\nkey = {}\n",
            log.display(),
            server.cert.display(),
            server.key.display(),
        );
        if let Some(ca) = client_ca {
            conf.push_str(&format!(
                "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
                ca.display()
            ));
        }
        let conf_path = dir.path().join("stunnel.conf");
        fs::write(&conf_path, conf).map_err(HarnessError::io("writing stunnel.conf"))?;
        let mut child = Command::new(&binary)
            .arg(&conf_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(HarnessError::io(format!("spawning {}", binary.display())))?;
        let addr = ports::loopback(port);
        let timeout = Duration::from_secs(10);
        let mut exited = None;
        if !ports::wait_until_accepting(addr, timeout, || {
            exited = child.try_wait().ok().flatten();
            exited.is_some()
        }) {
            let _ = child.kill();
            let status = child.wait().ok().or(exited);
            return Err(HarnessError::not_ready(
                "stunnel4",
                &addr.to_string(),
                timeout,
                status,
                &log,
                &fs::read_to_string(&log).unwrap_or_default(),
            ));
        }
        Ok(Self {
            child: Some(child),
            port,
            dir,
        })
    }

    /// The TLS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `localhost:port` (for name-based verification).
    pub fn bootstrap_localhost(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// stunnel's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stunnel.log")).unwrap_or_default()
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
