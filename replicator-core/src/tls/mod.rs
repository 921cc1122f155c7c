//! TLS for `SSL` and `SASL_SSL` with rustls (ring provider): trust anchors
//! from PEM, the system, Mozilla's list, PKCS#12 or JKS; client
//! certificates from PEM, PKCS#12 or JKS (store files are read by what
//! they hold, see [`store`]); hostname and IP SAN verification; and errors
//! that say which side to fix.

mod insecure;
mod jks;
mod pkcs12;
mod store;

use std::{fs, io, path::Path, sync::Arc};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::pem::PemObject;

use crate::address::BrokerLabel;
use crate::config::{ClientIdentity, TlsConfig, TrustStore};
use crate::error::Error;

/// A ready rustls client configuration plus the name override.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<String>,
    has_identity: bool,
    insecure: bool,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .field("has_identity", &self.has_identity)
            .field("insecure", &self.insecure)
            .finish()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn material_err(what: &'static str, source: &str, reason: impl ToString, hint: &str) -> Error {
    Error::TlsMaterial {
        what,
        source_name: source.to_owned(),
        reason: reason.to_string(),
        hint: hint.to_owned(),
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|e| {
        material_err(
            what,
            &path.display().to_string(),
            e,
            "check the path and that this process may read it",
        )
    })
}

/// Certificates from PEM text; at least one.
fn pem_certs(
    what: &'static str,
    source: &str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            material_err(
                what,
                source,
                e,
                "the file must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
            )
        })?;
    if certs.is_empty() {
        return Err(material_err(
            what,
            source,
            "no certificate found",
            "the file must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

fn pem_key(source: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(material_err(
            "the client private key",
            source,
            "the key is encrypted, which is not supported",
            "decrypt it with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem`, or use a PKCS#12 keystore with a password",
        ));
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        material_err(
            "the client private key",
            source,
            // The PEM parser's messages never contain key material.
            e,
            "the file must hold one unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1)",
        )
    })
}

/// The trust anchors for `trust`.
pub(crate) fn root_store(trust: &TrustStore) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    let (what, source, certs): (&'static str, String, Vec<CertificateDer<'static>>) = match trust {
        TrustStore::System => {
            let loaded = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
            if added == 0 {
                let errors: Vec<String> = loaded.errors.iter().map(|e| e.to_string()).collect();
                return Err(material_err(
                    "the system CA certificates",
                    "the operating system's store",
                    if errors.is_empty() {
                        "no certificate found".to_owned()
                    } else {
                        errors.join("; ")
                    },
                    "install the ca-certificates package, set SSL_CERT_FILE, or configure a CA bundle file",
                ));
            }
            return Ok(roots);
        }
        TrustStore::Mozilla => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            return Ok(roots);
        }
        TrustStore::Pem(text) => {
            let certs = pem_certs("the CA bundle", "inline PEM", text.as_bytes())?;
            ("the CA bundle", "inline PEM".to_owned(), certs)
        }
        TrustStore::PemFile(path) => {
            let (what, certs) = store::trust_anchors("the CA bundle", path, None)?;
            (what, path.display().to_string(), certs)
        }
        TrustStore::Pkcs12 { path, password } => {
            let (what, certs) =
                store::trust_anchors("the PKCS#12 truststore", path, password.as_ref())?;
            (what, path.display().to_string(), certs)
        }
        TrustStore::Jks { path, password } => {
            let (what, certs) =
                store::trust_anchors("the JKS truststore", path, password.as_ref())?;
            (what, path.display().to_string(), certs)
        }
    };
    for cert in certs {
        roots.add(cert).map_err(|e| {
            material_err(
                what,
                &source,
                format!("a certificate cannot be used as a trust anchor: {e}"),
                "the file must hold valid X.509 CA certificates",
            )
        })?;
    }
    Ok(roots)
}

/// The client certificate chain and key for `identity`.
pub(crate) fn client_identity(
    identity: &ClientIdentity,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    match identity {
        ClientIdentity::PemFiles { cert_chain, key } => {
            let chain_pem = read_file("the client certificate", cert_chain)?;
            let key_pem = read_file("the client private key", key)?;
            Ok((
                pem_certs(
                    "the client certificate",
                    &cert_chain.display().to_string(),
                    &chain_pem,
                )?,
                pem_key(&key.display().to_string(), &key_pem)?,
            ))
        }
        ClientIdentity::Pem { cert_chain, key } => Ok((
            pem_certs(
                "the client certificate",
                "inline PEM",
                cert_chain.as_bytes(),
            )?,
            pem_key("inline PEM", key.expose().as_bytes())?,
        )),
        ClientIdentity::Pkcs12 { path, password } => {
            store::identity("the PKCS#12 keystore", path, password.as_ref(), None)
        }
        ClientIdentity::KeyStore {
            path,
            password,
            key_password,
        } => store::identity(
            "the keystore",
            path,
            password.as_ref(),
            key_password.as_ref(),
        ),
    }
}

/// What [`crate::fuzz::jks`] compares: every certificate, alias and
/// decrypted key (or why it does not decrypt) of a JKS file.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_jks(data: &[u8], password: Option<&str>) -> Result<Vec<Vec<u8>>, String> {
    let store = jks::parse(data, password).map_err(|e| e.to_string())?;
    let mut out: Vec<Vec<u8>> = store.trusted.iter().map(|c| c.to_vec()).collect();
    for k in &store.keys {
        out.push(k.alias.as_bytes().to_vec());
        out.extend(k.chain.iter().map(|c| c.to_vec()));
        out.push(match k.decrypt(crate::fuzz::JKS_PASSWORD) {
            Ok(key) => key,
            Err(e) => {
                let e = e.to_string();
                // The message names the entry, never the password.
                let alias_has_it = k.alias.contains(crate::fuzz::JKS_PASSWORD);
                assert!(
                    alias_has_it || !e.contains(crate::fuzz::JKS_PASSWORD),
                    "{e}"
                );
                e.into_bytes()
            }
        });
    }
    Ok(out)
}

impl TrustStore {
    /// Loads the trust anchors as a connection would, so that a wrong path,
    /// an unreadable file, a wrong password or a store without a
    /// certificate is reported before connecting. The error names the file
    /// and says which password is wrong.
    pub fn check(&self) -> Result<(), Error> {
        root_store(self).map(drop)
    }
}

impl ClientIdentity {
    /// Loads the certificate chain and private key as a connection would
    /// (see [`TrustStore::check`]).
    pub fn check(&self) -> Result<(), Error> {
        client_identity(self).map(drop)
    }
}

impl TlsConnector {
    /// Builds the rustls configuration for `config`: loads files, checks
    /// that the key matches the certificate.
    pub(crate) fn new(config: &TlsConfig) -> Result<Self, Error> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config {
                what: format!("the TLS provider cannot be set up: {e}"),
                hint: "this is a bug; please report it".into(),
            })?;
        let builder = if config.insecure_skip_verification {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(insecure::AcceptAnyCertificate::new(
                    provider(),
                )))
        } else {
            builder.with_root_certificates(root_store(&config.trust)?)
        };
        let mut tls = match &config.identity {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                let (chain, key) = client_identity(identity)?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    material_err(
                        "the client certificate and key",
                        "the configured identity",
                        e,
                        "the private key must belong to the first certificate of the chain",
                    )
                })?
            }
        };
        // Kafka does not use ALPN; keep the handshake like Java's.
        tls.alpn_protocols.clear();
        if let Some(name) = &config.server_name {
            ServerName::try_from(name.clone()).map_err(|_| Error::Config {
                what: format!("TLS server name {name:?} is not a valid DNS name or IP address"),
                hint: "use the host name in the broker certificate".into(),
            })?;
        }
        Ok(Self {
            inner: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            server_name: config.server_name.clone(),
            has_identity: config.identity.is_some(),
            insecure: config.insecure_skip_verification,
        })
    }

    /// Runs the TLS handshake on `tcp` for `broker`.
    pub(crate) async fn connect(
        &self,
        broker: &BrokerLabel,
        tcp: tokio::net::TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Error> {
        if self.insecure {
            tracing::warn!(
                broker = %broker,
                "TLS certificate verification is OFF (insecure_skip_verification): \
                 the broker's identity is not checked and the traffic can be read and changed \
                 by anyone on the path"
            );
        }
        let host = self
            .server_name
            .clone()
            .unwrap_or_else(|| broker.address.host().to_owned());
        let name = ServerName::try_from(host.clone()).map_err(|_| Error::Tls {
            broker: broker.clone(),
            reason: format!("{host:?} is not a valid TLS server name"),
            hint: "use a DNS name or IP address, or set the TLS server name".into(),
        })?;
        self.inner
            .connect(name, tcp)
            .await
            .map_err(|e| self.handshake_error(broker, &host, &e))
    }

    /// The error for an IO failure during or right after the handshake.
    pub(crate) fn handshake_error(&self, broker: &BrokerLabel, host: &str, e: &io::Error) -> Error {
        let (reason, hint) = classify(e, host, self.has_identity);
        Error::Tls {
            broker: broker.clone(),
            reason,
            hint,
        }
    }

    /// The name the broker's certificate is checked against.
    pub(crate) fn verified_name(&self, broker: &BrokerLabel) -> String {
        self.server_name
            .clone()
            .unwrap_or_else(|| broker.address.host().to_owned())
    }
}

/// Finds the rustls error inside an IO error, if any.
pub(crate) fn rustls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// A reason and a hint for a TLS failure.
pub(crate) fn classify(e: &io::Error, host: &str, has_identity: bool) -> (String, String) {
    use rustls::AlertDescription as A;
    let Some(err) = rustls_error(e) else {
        let hint = if matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ) {
            if has_identity {
                "The broker closed the connection during TLS: check that this port speaks TLS, and that the broker trusts the client certificate's CA"
            } else {
                "The broker closed the connection during TLS: check that this port speaks TLS (a PLAINTEXT listener drops a TLS hello), and if the broker requires client certificates (ssl.client.auth=required), configure a client certificate and key"
            }
        } else {
            "Check that this port speaks TLS (security.protocol SSL or SASL_SSL)"
        };
        return (e.to_string(), hint.to_owned());
    };
    let (reason, hint): (String, &str) = match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => (
                "the broker's certificate is not signed by a trusted CA (unknown issuer)".into(),
                "configure the CA bundle or truststore holding the CA that signed the broker certificate",
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
                format!("the broker's certificate is not valid for {host:?} ({cert})"),
                "connect using a host name or IP address listed in the certificate's subjectAltName, or set the TLS server name to one of them",
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                format!("the broker's certificate has expired ({cert})"),
                "renew the broker certificate, and check this machine's clock",
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                format!("the broker's certificate is not valid yet ({cert})"),
                "check the clocks of this machine and of the CA",
            ),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
                format!("the broker's certificate is not for TLS servers ({cert})"),
                "issue the broker a certificate with extendedKeyUsage serverAuth",
            ),
            other => (
                format!("the broker's certificate was rejected: {other}"),
                "check the broker certificate and the configured CA",
            ),
        },
        rustls::Error::AlertReceived(alert) => match alert {
            A::CertificateRequired => (
                "the broker requires a client certificate".into(),
                if has_identity {
                    "the configured client certificate was not accepted"
                } else {
                    "configure a client certificate and key (mutual TLS, ssl.keystore.*)"
                },
            ),
            A::UnknownCA | A::BadCertificate | A::CertificateUnknown | A::AccessDenied
                if has_identity =>
            (
                format!("the broker rejected the client certificate (alert {alert:?})"),
                "use a client certificate signed by a CA the broker trusts (ssl.truststore on the broker)",
            ),
            A::HandshakeFailure | A::BadCertificate | A::CertificateUnknown if !has_identity => (
                format!("the broker ended the handshake (alert {alert:?})"),
                "the broker probably requires a client certificate (mutual TLS): configure one",
            ),
            A::ProtocolVersion | A::InsufficientSecurity => (
                format!("no TLS version or cipher suite in common (alert {alert:?})"),
                "the broker must allow TLS 1.2 or 1.3 with modern cipher suites",
            ),
            other => (
                format!("the broker sent TLS alert {other:?}"),
                "see the broker's logs for why it refused the handshake",
            ),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => (
            format!("the peer does not speak TLS ({err})"),
            "check that this port is a TLS listener; a PLAINTEXT or SASL_PLAINTEXT listener needs a matching security.protocol",
        ),
        other => (
            other.to_string(),
            "check the TLS settings of the client and the broker",
        ),
    };
    (reason, capitalize(hint))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
