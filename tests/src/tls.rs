//! TLS fronts: Debian's `stunnel4` in front of a plaintext port, with a
//! throw-away CA, server and client certificates made by `openssl`.
//!
//! Tansu 0.6.0 cannot switch its own TLS on from the command line, so a
//! broker behind TLS is Tansu advertising the front's port (see
//! [`TansuBroker::start_behind_tls`](crate::TansuBroker::start_behind_tls)).

use std::{
    fmt, fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use tempfile::TempDir;

use crate::{
    pki::CertFiles,
    ports,
    tansu::{run_with_timeout, TansuBroker, TansuOptions},
    tls_proxy::TlsProxy,
    HarnessError, Result,
};

const APT_HINT: &str = "Install it with `.ci/install-deps apt` \
(Debian: `apt-get install stunnel4 openssl`).";
const OPENSSL_TIMEOUT: Duration = Duration::from_secs(30);

/// PEM files of a throw-away PKI: one CA, a server certificate for
/// `localhost`/`127.0.0.1`, and a client certificate (CN `client`) for mTLS.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// CA certificate: trust anchor for clients and, with mTLS, the server.
    pub ca_cert: PathBuf,
    /// CA private key.
    pub ca_key: PathBuf,
    /// Server certificate (SAN `DNS:localhost, IP:127.0.0.1`).
    pub server_cert: PathBuf,
    /// Server private key.
    pub server_key: PathBuf,
    /// Client certificate (CN `client`, clientAuth).
    pub client_cert: PathBuf,
    /// Client private key.
    pub client_key: PathBuf,
}

impl TlsMaterial {
    /// Generates P-256 keys and certificates (valid 2 days) into `dir`.
    pub fn generate(dir: &Path) -> Result<Self> {
        let p = |name: &str| dir.join(name);
        let m = Self {
            ca_cert: p("ca.pem"),
            ca_key: p("ca.key"),
            server_cert: p("server.pem"),
            server_key: p("server.key"),
            client_cert: p("client.pem"),
            client_key: p("client.key"),
        };
        let path = |p: &Path| p.to_string_lossy().into_owned();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &path(&m.ca_key),
            "-out",
            &path(&m.ca_cert),
            "-days",
            "2",
            "-subj",
            "/CN=integration-tests CA",
        ])?;
        let leaf = |cn: &str, key: &Path, cert: &Path, ext: &str, serial: &str| -> Result<()> {
            let csr = dir.join(format!("{cn}.csr"));
            let ext_file = dir.join(format!("{cn}.ext"));
            fs::write(&ext_file, ext)
                .map_err(HarnessError::io(format!("writing {}", ext_file.display())))?;
            openssl(&[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &path(key),
                "-out",
                &path(&csr),
                "-subj",
                &format!("/CN={cn}"),
            ])?;
            openssl(&[
                "x509",
                "-req",
                "-in",
                &path(&csr),
                "-CA",
                &path(&m.ca_cert),
                "-CAkey",
                &path(&m.ca_key),
                "-set_serial",
                serial,
                "-days",
                "2",
                "-out",
                &path(cert),
                "-extfile",
                &path(&ext_file),
            ])
        };
        leaf(
            "localhost",
            &m.server_key,
            &m.server_cert,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            "2",
        )?;
        leaf(
            "client",
            &m.client_key,
            &m.client_cert,
            "extendedKeyUsage=clientAuth\n",
            "3",
        )?;
        Ok(m)
    }
}

fn openssl(args: &[&str]) -> Result<()> {
    if which("openssl").is_none() {
        return Err(HarnessError::ProgramNotFound {
            program: "openssl",
            hint: APT_HINT.into(),
        });
    }
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    run_with_timeout(cmd, OPENSSL_TIMEOUT).map(drop)
}

/// The first `name` on `PATH`.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A `stunnel4` front with its own throw-away PKI ([`TlsMaterial`]),
/// terminating TLS on a loopback port and forwarding plaintext to an
/// upstream port. Killed on drop. The process itself is a [`TlsProxy`].
pub struct StunnelFront {
    proxy: Option<TlsProxy>,
    port: u16,
    upstream: SocketAddr,
    mutual: bool,
    material: TlsMaterial,
    dir: TempDir,
}

impl fmt::Debug for StunnelFront {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StunnelFront")
            .field("port", &self.port)
            .field("upstream", &self.upstream)
            .field("mutual", &self.mutual)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl StunnelFront {
    /// A TLS front on a free port. With `mutual`, clients must present a
    /// certificate signed by the generated CA.
    pub fn start(upstream: SocketAddr, mutual: bool) -> Result<Self> {
        let port = ports::free_port().map_err(HarnessError::io("finding a free port"))?;
        Self::start_on(port, upstream, mutual)
    }

    /// A TLS front on `port` (e.g. the port a broker already advertises).
    pub fn start_on(port: u16, upstream: SocketAddr, mutual: bool) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("stunnel-")
            .tempdir()
            .map_err(HarnessError::io("creating the stunnel temp dir"))?;
        let material = TlsMaterial::generate(dir.path())?;
        let server = CertFiles {
            cert: material.server_cert.clone(),
            key: material.server_key.clone(),
        };
        let client_ca = mutual.then_some(material.ca_cert.as_path());
        let proxy = TlsProxy::start(Some(port), upstream, &server, client_ca)?;
        Ok(Self {
            proxy: Some(proxy),
            port,
            upstream,
            mutual,
            material,
            dir,
        })
    }

    /// The TLS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Whether clients must present a certificate.
    pub fn is_mutual(&self) -> bool {
        self.mutual
    }

    /// The CA, server and client PEM files.
    pub fn material(&self) -> &TlsMaterial {
        &self.material
    }

    /// Kills stunnel.
    pub fn stop(&mut self) {
        self.proxy.take();
    }
}

impl TansuBroker {
    /// A broker that advertises a TLS front's port, and that front
    /// (`stunnel4`, mutual TLS when `mutual`). Clients bootstrap from
    /// [`StunnelFront::bootstrap`] and trust [`TlsMaterial::ca_cert`].
    pub fn start_behind_tls(
        opts: TansuOptions,
        mutual: bool,
    ) -> Result<(TansuBroker, StunnelFront)> {
        let front_port = ports::free_port().map_err(HarnessError::io("finding a free port"))?;
        let broker = TansuBroker::start_with(TansuOptions {
            advertised_port: Some(front_port),
            ..opts
        })?;
        let front = StunnelFront::start_on(front_port, broker.addr(), mutual)?;
        Ok((broker, front))
    }
}
