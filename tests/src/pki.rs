//! Throw-away certificates made in-process with `rcgen`: a CA, server
//! certificates with chosen names and validity (for hostname-mismatch and
//! expiry tests), client certificates, and the same material as users
//! store it: PKCS#12 written by `openssl pkcs12`, and JKS and PKCS#12
//! stores written by the real `keytool` (a JDK's), the way Kafka's security
//! guide makes them.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use tempfile::TempDir;

use crate::{keytool, tansu::run_with_timeout, HarnessError, Result};

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From yesterday for 30 days.
    Current,
    /// Expired in 2020.
    Expired,
}

/// A certificate and its key as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// Certificate (PEM).
    pub cert: PathBuf,
    /// Private key (PEM, PKCS#8, unencrypted).
    pub key: PathBuf,
}

/// A CA in a temp dir that issues server and client certificates.
pub struct Pki {
    dir: TempDir,
    ca: Certificate,
    ca_key: KeyPair,
    /// The CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// The CA's private key (PEM), for `openssl x509 -req`.
    ca_key_file: PathBuf,
    serial: u64,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir.path())
            .finish()
    }
}

fn rc(e: rcgen::Error) -> HarnessError {
    HarnessError::Command {
        command: "rcgen".into(),
        status: "error".into(),
        stderr: e.to_string(),
    }
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    fs::write(path, data).map_err(HarnessError::io(format!("writing {}", path.display())))
}

fn validity(params: &mut CertificateParams, v: Validity) {
    match v {
        Validity::Current => {
            let now = std::time::SystemTime::now();
            params.not_before = (now - Duration::from_secs(86_400)).into();
            params.not_after = (now + Duration::from_secs(30 * 86_400)).into();
        }
        Validity::Expired => {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 6, 1);
        }
    }
}

impl Pki {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("pki-")
            .tempdir()
            .map_err(HarnessError::io("creating the PKI temp dir"))?;
        let ca_key = KeyPair::generate().map_err(rc)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        validity(&mut params, Validity::Current);
        let ca = params.self_signed(&ca_key).map_err(rc)?;
        let ca_cert = dir.path().join("ca.pem");
        write(&ca_cert, ca.pem().as_bytes())?;
        let ca_key_file = dir.path().join("ca.key");
        write(&ca_key_file, ca_key.serialize_pem().as_bytes())?;
        Ok(Self {
            dir,
            ca,
            ca_key,
            ca_cert,
            ca_key_file,
            serial: 1,
        })
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate in DER.
    pub fn ca_der(&self) -> Vec<u8> {
        self.ca.der().to_vec()
    }

    fn issue(
        &mut self,
        file: &str,
        cn: &str,
        sans: &[&str],
        v: Validity,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<CertFiles> {
        let key = KeyPair::generate().map_err(rc)?;
        let mut params =
            CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map_err(rc)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.extended_key_usages = vec![usage];
        self.serial += 1;
        params.serial_number = Some(self.serial.into());
        validity(&mut params, v);
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).map_err(rc)?;
        let files = CertFiles {
            cert: self.dir.path().join(format!("{file}.pem")),
            key: self.dir.path().join(format!("{file}.key")),
        };
        write(&files.cert, cert.pem().as_bytes())?;
        write(&files.key, key.serialize_pem().as_bytes())?;
        Ok(files)
    }

    /// A server certificate for `sans` (DNS names or IP addresses).
    pub fn server(&mut self, file: &str, sans: &[&str], v: Validity) -> Result<CertFiles> {
        self.issue(
            file,
            sans.first().copied().unwrap_or("server"),
            sans,
            v,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate with common name `cn`.
    pub fn client(&mut self, file: &str, cn: &str) -> Result<CertFiles> {
        self.issue(
            file,
            cn,
            &[],
            Validity::Current,
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    /// A PKCS#12 truststore with the CA certificate, written by `openssl`.
    pub fn pkcs12_truststore(&self, password: &str) -> Result<PathBuf> {
        let out = self.dir.path().join("truststore.p12");
        openssl(&[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            &s(&self.ca_cert),
            "-out",
            &s(&out),
            "-passout",
            &format!("pass:{password}"),
        ])?;
        Ok(out)
    }

    /// A PKCS#12 keystore with `files`' key and certificate, by `openssl`.
    pub fn pkcs12_keystore(&self, files: &CertFiles, password: &str) -> Result<PathBuf> {
        let out = self.dir.path().join("keystore.p12");
        openssl(&[
            "pkcs12",
            "-export",
            "-in",
            &s(&files.cert),
            "-inkey",
            &s(&files.key),
            "-name",
            "client",
            "-out",
            &s(&out),
            "-passout",
            &format!("pass:{password}"),
        ])?;
        Ok(out)
    }

    /// A truststore `file` of `store_type` (`JKS` or `PKCS12`) holding the
    /// CA, written by `keytool` ([`keytool::truststore`]).
    pub fn keytool_truststore(
        &self,
        file: &str,
        store_type: &str,
        password: &str,
    ) -> Result<PathBuf> {
        let out = self.dir.path().join(file);
        keytool::truststore(&self.ca_cert, &out, store_type, password)?;
        Ok(out)
    }

    /// A client keystore `file` signed by this CA, made by `keytool` as
    /// Kafka's security guide does ([`keytool::keystore`]).
    pub fn keytool_keystore(
        &self,
        file: &str,
        store_type: &str,
        store_password: &str,
        key_password: &str,
        cn: &str,
    ) -> Result<PathBuf> {
        let out = self.dir.path().join(file);
        let ca = keytool::Ca {
            cert: &self.ca_cert,
            key: &self.ca_key_file,
        };
        keytool::keystore(&ca, &out, store_type, store_password, key_password, cn)?;
        Ok(out)
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn openssl(args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(30)).map(drop)
}
