//! Connection settings: security protocol, TLS, SASL, timeouts.
//!
//! Names follow Kafka's client configs where there is one
//! (`security.protocol`, `sasl.mechanism`, `ssl.truststore.location`, ...),
//! so a Java or librdkafka config translates one to one.

use std::{collections::BTreeMap, fmt, path::PathBuf, str::FromStr, time::Duration};

use kafka_proto::ApiKey;

use crate::error::Error;
use crate::secret::Password;

/// Kafka's `security.protocol`: whether the connection is encrypted (TLS)
/// and whether it authenticates with SASL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityProtocol {
    /// `PLAINTEXT`: no TLS, no SASL.
    #[default]
    Plaintext,
    /// `SSL`: TLS (optionally with a client certificate), no SASL.
    Ssl,
    /// `SASL_PLAINTEXT`: SASL over an unencrypted connection.
    SaslPlaintext,
    /// `SASL_SSL`: SASL inside TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name, e.g. `SASL_SSL`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the connection uses TLS.
    pub const fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether the connection authenticates with SASL.
    pub const fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecurityProtocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(Self::Plaintext),
            "SSL" => Ok(Self::Ssl),
            "SASL_PLAINTEXT" => Ok(Self::SaslPlaintext),
            "SASL_SSL" => Ok(Self::SaslSsl),
            _ => Err(Error::Config {
                what: format!("unknown security.protocol {s:?}"),
                hint: "use one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL".into(),
            }),
        }
    }
}

/// Kafka's `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616): the password is sent as is; use it only inside TLS.
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    /// The name used in SaslHandshake, e.g. `SCRAM-SHA-256`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SaslMechanism {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(Self::Plain),
            "SCRAM-SHA-256" => Ok(Self::ScramSha256),
            "SCRAM-SHA-512" => Ok(Self::ScramSha512),
            _ => Err(Error::Config {
                what: format!("unsupported sasl.mechanism {s:?}"),
                hint: "use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (GSSAPI and OAUTHBEARER are not supported)".into(),
            }),
        }
    }
}

/// SASL credentials (`sasl.mechanism`, `sasl.username`, `sasl.password`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslConfig {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user name.
    pub username: String,
    /// The password; never logged.
    pub password: Password,
}

impl SaslConfig {
    /// PLAIN credentials.
    pub fn plain(username: impl Into<String>, password: impl Into<Password>) -> Self {
        Self::new(SaslMechanism::Plain, username, password)
    }

    /// SCRAM-SHA-256 credentials.
    pub fn scram_sha256(username: impl Into<String>, password: impl Into<Password>) -> Self {
        Self::new(SaslMechanism::ScramSha256, username, password)
    }

    /// SCRAM-SHA-512 credentials.
    pub fn scram_sha512(username: impl Into<String>, password: impl Into<Password>) -> Self {
        Self::new(SaslMechanism::ScramSha512, username, password)
    }

    /// Credentials for any mechanism.
    pub fn new(
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<Password>,
    ) -> Self {
        Self {
            mechanism,
            username: username.into(),
            password: password.into(),
        }
    }
}

/// Where trusted CA certificates come from (`ssl.truststore.*` /
/// `ssl.ca.location`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrustStore {
    /// The operating system's roots (via `rustls-native-certs`; honours
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR`). The default, like Java's.
    #[default]
    System,
    /// Mozilla's roots compiled into the binary (`webpki-roots`), for hosts
    /// without a CA store.
    Mozilla,
    /// A PEM bundle file with one or more CA certificates.
    PemFile(PathBuf),
    /// PEM text with one or more CA certificates.
    Pem(String),
    /// A PKCS#12 truststore (`ssl.truststore.type=PKCS12`); every
    /// certificate in it is trusted. Like [`TrustStore::Jks`] and
    /// [`TrustStore::PemFile`], the file is read by what it holds
    /// ([`StoreFormat::detect`]), whatever the variant says.
    Pkcs12 {
        /// The `.p12`/`.pfx` file.
        path: PathBuf,
        /// Its password (`ssl.truststore.password`).
        password: Option<Password>,
    },
    /// A Java KeyStore truststore (`ssl.truststore.type=JKS`, Kafka's
    /// default); its trusted certificate entries are trusted. With a
    /// password, the file's integrity digest is checked, as Java does. A
    /// PKCS#12 file here is read as PKCS#12, as Java 9+ does.
    Jks {
        /// The `.jks` file.
        path: PathBuf,
        /// Its password (`ssl.truststore.password`).
        password: Option<Password>,
    },
}

/// The client certificate and key for mutual TLS (`ssl.keystore.*`,
/// `ssl.certificate.location` / `ssl.key.location`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// PEM files: the certificate chain (leaf first) and an unencrypted
    /// private key (PKCS#8, PKCS#1 or SEC1).
    PemFiles {
        /// Certificate chain file.
        cert_chain: PathBuf,
        /// Private key file.
        key: PathBuf,
    },
    /// PEM text: certificate chain and unencrypted private key.
    Pem {
        /// Certificate chain, leaf first.
        cert_chain: String,
        /// Private key; never logged.
        key: Password,
    },
    /// A PKCS#12 keystore (`ssl.keystore.type=PKCS12`) holding one private
    /// key with its certificate chain. The same as
    /// [`ClientIdentity::KeyStore`] without a key password.
    Pkcs12 {
        /// The `.p12`/`.pfx` file.
        path: PathBuf,
        /// Its password (`ssl.keystore.password`).
        password: Option<Password>,
    },
    /// A Java key store file holding one private key with its certificate
    /// chain: JKS (Kafka's default `ssl.keystore.type`) or PKCS#12, told
    /// apart by content ([`StoreFormat::detect`]); a PEM file with the chain
    /// and an unencrypted key is read too.
    KeyStore {
        /// The `.jks`/`.p12` file.
        path: PathBuf,
        /// The store password (`ssl.keystore.password`); checks the file.
        password: Option<Password>,
        /// The key password (`ssl.key.password`); decrypts the private key.
        /// Without it, the store password is used, as Kafka does.
        key_password: Option<Password>,
    },
}

/// What a key or trust store file holds, from its first bytes
/// ([`StoreFormat::detect`]): stores are read by content, not by their
/// name or declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreFormat {
    /// A Java KeyStore (magic `FEEDFEED`).
    Jks,
    /// A Java JCEKS store (magic `CECECECE`), which is not supported.
    Jceks,
    /// PKCS#12 (DER).
    Pkcs12,
    /// PEM text.
    Pem,
}

/// TLS settings, used when the security protocol is `SSL` or `SASL_SSL`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// Which CAs to trust.
    pub trust: TrustStore,
    /// Client certificate for mutual TLS.
    pub identity: Option<ClientIdentity>,
    /// Verify the broker's certificate against this name instead of the
    /// host dialled (for brokers reached through an IP or a tunnel).
    pub server_name: Option<String>,
    /// Accept any broker certificate, without checking the issuer, expiry or
    /// name. Anyone on the network path can then read and change the
    /// traffic. Only for tests; a warning is logged for every connection.
    pub insecure_skip_verification: bool,
}

impl TlsConfig {
    /// Trust the CAs in a PEM bundle file.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> Self {
        Self {
            trust: TrustStore::PemFile(path.into()),
            ..Self::default()
        }
    }

    /// Adds a client certificate chain and key (PEM files) for mutual TLS.
    pub fn client_pem_files(
        mut self,
        cert_chain: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.identity = Some(ClientIdentity::PemFiles {
            cert_chain: cert_chain.into(),
            key: key.into(),
        });
        self
    }

    /// Accept any broker certificate. Insecure: only for tests.
    pub fn insecure_skip_verification(mut self) -> Self {
        self.insecure_skip_verification = true;
        self
    }
}

/// Settings for connections to brokers.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// `client.id`, sent in every request header and shown in broker logs.
    pub client_id: String,
    /// `security.protocol`.
    pub security_protocol: SecurityProtocol,
    /// TLS settings (used by `SSL` and `SASL_SSL`).
    pub tls: TlsConfig,
    /// SASL credentials (required by `SASL_PLAINTEXT` and `SASL_SSL`).
    pub sasl: Option<SaslConfig>,
    /// Time allowed for TCP connect plus TLS, ApiVersions and SASL
    /// (`socket.connection.setup.timeout.ms`).
    pub connect_timeout: Duration,
    /// Time a request may wait for its response (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// First reconnect delay (`reconnect.backoff.ms`).
    pub reconnect_backoff: Duration,
    /// Largest reconnect delay (`reconnect.backoff.max.ms`).
    pub reconnect_backoff_max: Duration,
    /// Requests sent and not yet answered, per connection
    /// (`max.in.flight.requests.per.connection`).
    pub max_in_flight: usize,
    /// Largest response frame accepted (`receive.message.max.bytes`).
    pub max_frame_size: usize,
    /// Caps on the version used per API, below what both sides support (for
    /// example to keep requests readable by an older dissector).
    pub max_versions: BTreeMap<ApiKey, i16>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            client_id: "kafka-replicator".into(),
            security_protocol: SecurityProtocol::Plaintext,
            tls: TlsConfig::default(),
            sasl: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            max_in_flight: 5,
            max_frame_size: kafka_proto::frame::DEFAULT_MAX_FRAME_SIZE,
            max_versions: BTreeMap::new(),
        }
    }
}

impl ConnectionConfig {
    /// Checks that the settings fit together: SASL credentials for the
    /// SASL protocols, sane timeouts and limits.
    pub fn validate(&self) -> Result<(), Error> {
        if self.security_protocol.uses_sasl() && self.sasl.is_none() {
            return Err(Error::Config {
                what: format!(
                    "security.protocol is {} but no SASL credentials are set",
                    self.security_protocol
                ),
                hint: "set the SASL mechanism, username and password, or use PLAINTEXT/SSL".into(),
            });
        }
        if let Some(sasl) = &self.sasl {
            if sasl.username.is_empty() {
                return Err(Error::Config {
                    what: "the SASL username is empty".into(),
                    hint: "set sasl.username".into(),
                });
            }
            if sasl.mechanism == SaslMechanism::Plain
                && !self.security_protocol.uses_tls()
                && self.security_protocol.uses_sasl()
            {
                tracing::warn!(
                    "SASL PLAIN over {} sends the password unencrypted; use SASL_SSL outside tests",
                    self.security_protocol
                );
            }
        }
        for (what, d) in [
            ("connect timeout", self.connect_timeout),
            ("request timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::Config {
                    what: format!("the {what} is zero"),
                    hint: "use a positive duration, e.g. 10s".into(),
                });
            }
        }
        if self.max_in_flight == 0 {
            return Err(Error::Config {
                what: "max in-flight requests per connection is 0".into(),
                hint: "use at least 1 (Kafka's default is 5)".into(),
            });
        }
        if self.reconnect_backoff_max < self.reconnect_backoff {
            return Err(Error::Config {
                what: format!(
                    "reconnect.backoff.max ({:?}) is below reconnect.backoff ({:?})",
                    self.reconnect_backoff_max, self.reconnect_backoff
                ),
                hint: "make the maximum at least the initial backoff".into(),
            });
        }
        if self.max_frame_size < 1024 {
            return Err(Error::Config {
                what: format!("max frame size {} is too small", self.max_frame_size),
                hint: "use at least a few MiB (the default is 100 MiB)".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_protocols_use_kafka_names() {
        for p in [
            SecurityProtocol::Plaintext,
            SecurityProtocol::Ssl,
            SecurityProtocol::SaslPlaintext,
            SecurityProtocol::SaslSsl,
        ] {
            assert_eq!(p.name().parse::<SecurityProtocol>().unwrap(), p);
        }
        assert!(SecurityProtocol::SaslSsl.uses_tls() && SecurityProtocol::SaslSsl.uses_sasl());
        assert!(!SecurityProtocol::Ssl.uses_sasl());
        assert!(!SecurityProtocol::SaslPlaintext.uses_tls());
        let err = "TLS".parse::<SecurityProtocol>().unwrap_err().to_string();
        assert!(err.contains("SASL_SSL"), "{err}");
    }

    #[test]
    fn mechanisms_use_kafka_names() {
        assert_eq!(
            "scram-sha-512".parse::<SaslMechanism>().unwrap(),
            SaslMechanism::ScramSha512
        );
        let err = "GSSAPI".parse::<SaslMechanism>().unwrap_err().to_string();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn sasl_protocol_without_credentials_is_refused() {
        let cfg = ConnectionConfig {
            security_protocol: SecurityProtocol::SaslSsl,
            ..ConnectionConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("SASL_SSL") && err.contains("credentials"),
            "{err}"
        );
    }

    #[test]
    fn bad_limits_are_refused() {
        let cfg = ConnectionConfig {
            max_in_flight: 0,
            ..ConnectionConfig::default()
        };
        assert!(cfg.validate().is_err());
        let cfg = ConnectionConfig {
            request_timeout: Duration::ZERO,
            ..ConnectionConfig::default()
        };
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("request timeout"));
        let cfg = ConnectionConfig {
            reconnect_backoff: Duration::from_secs(5),
            reconnect_backoff_max: Duration::from_secs(1),
            ..ConnectionConfig::default()
        };
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn debug_never_shows_passwords() {
        let cfg = ConnectionConfig {
            security_protocol: SecurityProtocol::SaslSsl,
            sasl: Some(SaslConfig::scram_sha512("alice", "pa55word")),
            tls: TlsConfig {
                trust: TrustStore::Jks {
                    path: "t.jks".into(),
                    password: Some("jkspass".into()),
                },
                identity: Some(ClientIdentity::Pem {
                    cert_chain: "cert".into(),
                    key: "-----BEGIN PRIVATE KEY-----".into(),
                }),
                ..TlsConfig::default()
            },
            ..ConnectionConfig::default()
        };
        let dbg = format!("{cfg:?}");
        for secret in ["pa55word", "jkspass", "BEGIN PRIVATE KEY"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        assert!(dbg.contains("alice"));
    }
}
