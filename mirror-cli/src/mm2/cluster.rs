//! Per-alias client settings (`a.bootstrap.servers`, `a.security.protocol`,
//! `a.ssl.*`, `a.sasl.*`, ...) turned into a [`ClusterConfig`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use replicator_core::parse_bootstrap;
use replicator_core::{
    AddressOverrides, ClientIdentity, ClusterConfig, ConnectionConfig, Password, SaslConfig,
    SaslMechanism, SecurityProtocol, StoreFormat, TlsConfig, TrustStore,
};

use super::error::{Mm2Error, WarningKind};
use super::jaas::{self, LoginModule};
use super::model::{Ctx, Raw};

/// A truststore, keystore or PEM file the config names, checked by
/// [`Mm2Config::check_files`](super::Mm2Config::check_files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFile {
    /// The key that names it, as written (e.g. `a.ssl.keystore.location`).
    pub key: String,
    /// Its line.
    pub line: usize,
    /// The path.
    pub path: PathBuf,
    /// The store type the file is declared as (`ssl.*.type`, else Kafka's
    /// default `JKS`). The file is read by content whatever it says; a
    /// mismatch is a warning.
    pub declared: StoreFormat,
    pub(crate) kind: StoreKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreKind {
    Trust(TrustStore),
    Identity(ClientIdentity),
}

/// One cluster's connection settings from the file.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The alias (from `clusters`).
    pub alias: String,
    /// `bootstrap.servers`, one `host:port` per entry (empty when the
    /// cluster is declared but not configured).
    pub bootstrap_servers: Vec<String>,
    /// Security protocol, TLS, SASL, client id and timeouts.
    pub connection: ConnectionConfig,
    /// `replicator.address.overrides`: advertised → reachable addresses.
    pub address_overrides: AddressOverrides,
    /// `metadata.max.age.ms`, when set.
    pub metadata_max_age: Option<Duration>,
    /// `retry.backoff.ms`, when set (the least time between two metadata
    /// refreshes).
    pub metadata_refresh_backoff: Option<Duration>,
    /// Files named by `ssl.*` settings, for
    /// [`Mm2Config::check_files`](super::Mm2Config::check_files).
    pub store_files: Vec<StoreFile>,
}

impl ClusterSettings {
    /// The [`ClusterConfig`] to connect with: defaults, overridden by what
    /// the file sets.
    pub fn cluster_config(&self) -> ClusterConfig {
        let mut c = ClusterConfig::new(String::new());
        c.bootstrap_servers = self.bootstrap_servers.clone();
        c.connection = self.connection.clone();
        c.address_overrides = self.address_overrides.clone();
        if let Some(d) = self.metadata_max_age {
            c.metadata_max_age = d;
        }
        if let Some(d) = self.metadata_refresh_backoff {
            c.metadata_refresh_backoff = d;
        }
        c
    }
}

/// Kafka client keys mapped to the connection layer.
pub(crate) const CLIENT_KEYS: &[&str] = &[
    "bootstrap.servers",
    "security.protocol",
    "sasl.mechanism",
    "sasl.jaas.config",
    "ssl.truststore.location",
    "ssl.truststore.type",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.keystore.location",
    "ssl.keystore.type",
    "ssl.keystore.password",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "client.id",
    "request.timeout.ms",
    "socket.connection.setup.timeout.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "metadata.max.age.ms",
    "retry.backoff.ms",
    "max.in.flight.requests.per.connection",
];

/// This project's per-cluster keys, under `<alias>.replicator.`.
pub(crate) const REPLICATOR_CLUSTER_KEYS: &[&str] = &[
    "address.overrides",
    "tls.server.name",
    "tls.insecure.skip.verification",
];

/// Whether a client key is about the connection itself (where it goes,
/// and its security): such keys cannot differ between clients here.
pub(crate) fn is_connection_key(k: &str) -> bool {
    k == "bootstrap.servers"
        || k == "security.protocol"
        || k.starts_with("ssl.")
        || k.starts_with("sasl.")
}

struct View<'a> {
    own: &'a BTreeMap<String, Raw>,
    defaults: &'a BTreeMap<String, Raw>,
}

impl<'a> View<'a> {
    /// The setting, from the cluster or else the top level. Empty values
    /// count as unset, as Kafka treats most of these.
    fn get(&self, k: &str) -> Option<&'a Raw> {
        self.own
            .get(k)
            .or_else(|| self.defaults.get(k))
            .filter(|r| !r.value.trim().is_empty() || k == "ssl.endpoint.identification.algorithm")
    }
}

fn millis(ctx: &Ctx<'_>, raw: &Raw) -> Result<Duration, Mm2Error> {
    raw.value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| {
            ctx.value_err(
                raw,
                "is not a whole number of milliseconds",
                "a whole number of milliseconds, e.g. 30000",
            )
        })
}

/// Builds one cluster's settings from its own keys (prefix stripped) and
/// the top-level client keys.
pub(crate) fn build(
    ctx: &mut Ctx<'_>,
    alias: &str,
    own: &BTreeMap<String, Raw>,
    defaults: &BTreeMap<String, Raw>,
) -> Result<ClusterSettings, Mm2Error> {
    let v = View { own, defaults };
    let mut connection = ConnectionConfig::default();
    let mut store_files = Vec::new();

    let bootstrap_servers = match v.get("bootstrap.servers") {
        None => Vec::new(),
        Some(raw) => {
            let mut out = Vec::new();
            for (text, parsed) in parse_bootstrap(std::slice::from_ref(&raw.value)) {
                if parsed.is_err() {
                    return Err(ctx.value_err(
                        raw,
                        &format!("{text:?} is not a broker address"),
                        "a comma-separated list of host:port, e.g. kafka-1.example.com:9092, 10.0.0.5:9093 or [::1]:9092",
                    ));
                }
                out.push(text);
            }
            out
        }
    };

    if let Some(raw) = v.get("security.protocol") {
        connection.security_protocol = raw.value.parse().map_err(|_| {
            ctx.value_err(
                raw,
                &format!("{:?} is not a security protocol", raw.value.trim()),
                "PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
            )
        })?;
    }
    let protocol = connection.security_protocol;

    // TLS.
    let ssl_keys: Vec<&Raw> = own
        .iter()
        .filter(|(k, _)| k.starts_with("ssl.") && CLIENT_KEYS.contains(&k.as_str()))
        .map(|(_, r)| r)
        .collect();
    if protocol.uses_tls() {
        connection.tls = tls(ctx, alias, &v, &mut store_files)?;
    } else {
        for raw in ssl_keys {
            ctx.warn(
                WarningKind::NoEffect,
                raw,
                &format!("has no effect: security.protocol is {protocol}, which does not use TLS (Kafka ignores it too)"),
            );
        }
    }

    // SASL.
    if protocol.uses_sasl() {
        connection.sasl = Some(sasl(ctx, alias, &v, protocol)?);
    } else {
        for (k, raw) in own {
            if k.starts_with("sasl.") && CLIENT_KEYS.contains(&k.as_str()) {
                ctx.warn(
                    WarningKind::NoEffect,
                    raw,
                    &format!("has no effect: security.protocol is {protocol}, which does not use SASL (Kafka ignores it too)"),
                );
            }
        }
    }

    // Client id, timeouts, limits.
    if let Some(raw) = v.get("client.id") {
        connection.client_id = raw.value.trim().to_owned();
    }
    for (key, field) in [
        ("request.timeout.ms", &mut connection.request_timeout),
        (
            "socket.connection.setup.timeout.ms",
            &mut connection.connect_timeout,
        ),
    ] {
        if let Some(raw) = v.get(key) {
            *field = millis(ctx, raw)?;
            if field.is_zero() {
                return Err(ctx.value_err(raw, "is zero", "a positive number of milliseconds"));
            }
        }
    }
    if let Some(raw) = v.get("reconnect.backoff.ms") {
        connection.reconnect_backoff = millis(ctx, raw)?;
    }
    if let Some(raw) = v.get("reconnect.backoff.max.ms") {
        connection.reconnect_backoff_max = millis(ctx, raw)?;
    }
    if connection.reconnect_backoff_max < connection.reconnect_backoff {
        let raw = v
            .get("reconnect.backoff.max.ms")
            .or_else(|| v.get("reconnect.backoff.ms"));
        if let Some(raw) = raw {
            return Err(ctx.value_err(
                raw,
                "makes reconnect.backoff.max.ms smaller than reconnect.backoff.ms",
                "a reconnect.backoff.max.ms at least as large as reconnect.backoff.ms (defaults 1000 and 50)",
            ));
        }
    }
    if let Some(raw) = v.get("max.in.flight.requests.per.connection") {
        connection.max_in_flight = raw
            .value
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                ctx.value_err(
                    raw,
                    "is not a positive whole number",
                    "a whole number of at least 1 (Kafka's default is 5)",
                )
            })?;
    }
    let metadata_max_age = v
        .get("metadata.max.age.ms")
        .map(|r| millis(ctx, r))
        .transpose()?;
    let metadata_refresh_backoff = v
        .get("retry.backoff.ms")
        .map(|r| millis(ctx, r))
        .transpose()?;

    let mut address_overrides = AddressOverrides::default();
    if let Some(raw) = own.get("replicator.address.overrides") {
        address_overrides = raw.value.parse().map_err(|e: replicator_core::Error| {
            ctx.value_err(
                raw,
                &e.to_string(),
                "advertised-host:port=reachable-host:port pairs separated by commas",
            )
        })?;
    }

    if let Err(e) = connection.validate() {
        // Every field was checked above; what is left is a combination
        // (e.g. a backoff maximum below the initial backoff).
        return Err(Mm2Error::Missing {
            origin: ctx.origin.to_owned(),
            key: format!("{alias}.*"),
            reason: format!("the settings of cluster {alias} do not fit together: {e}"),
        });
    }
    if protocol == SecurityProtocol::SaslPlaintext
        && connection.sasl.as_ref().map(|s| s.mechanism) == Some(SaslMechanism::Plain)
    {
        if let Some(raw) = v.get("security.protocol") {
            ctx.warn(
                WarningKind::Insecure,
                raw,
                "SASL PLAIN over SASL_PLAINTEXT sends the password unencrypted; use SASL_SSL outside tests",
            );
        }
    }

    Ok(ClusterSettings {
        alias: alias.to_owned(),
        bootstrap_servers,
        connection,
        address_overrides,
        metadata_max_age,
        metadata_refresh_backoff,
        store_files,
    })
}

fn store_type(ctx: &Ctx<'_>, raw: Option<&Raw>, what: &str) -> Result<StoreFormat, Mm2Error> {
    match raw {
        None => Ok(StoreFormat::Jks),
        Some(raw) => {
            let t = raw.value.trim().to_ascii_uppercase();
            match t.as_str() {
                "JKS" => Ok(StoreFormat::Jks),
                "PKCS12" => Ok(StoreFormat::Pkcs12),
                "PEM" => Ok(StoreFormat::Pem),
                _ => Err(ctx.value_err(
                    raw,
                    &format!(
                        "{:?} is not a {what} type this project can read",
                        raw.value.trim()
                    ),
                    "JKS, PKCS12 or PEM",
                )),
            }
        }
    }
}

fn password(raw: Option<&Raw>) -> Option<Password> {
    raw.map(|r| Password::new(r.value.trim()))
}

fn tls(
    ctx: &mut Ctx<'_>,
    alias: &str,
    v: &View<'_>,
    store_files: &mut Vec<StoreFile>,
) -> Result<TlsConfig, Mm2Error> {
    let mut tls = TlsConfig::default();

    // Trust.
    let ts_type = store_type(ctx, v.get("ssl.truststore.type"), "truststore")?;
    let ts_password = v.get("ssl.truststore.password");
    match (
        v.get("ssl.truststore.location"),
        v.get("ssl.truststore.certificates"),
    ) {
        (Some(loc), Some(_)) => {
            return Err(ctx.value_err(
                loc,
                "is set together with ssl.truststore.certificates",
                "one of ssl.truststore.location (a file) or ssl.truststore.certificates (PEM text)",
            ))
        }
        (Some(loc), None) => {
            let path = PathBuf::from(loc.value.trim());
            tls.trust = match ts_type {
                StoreFormat::Pkcs12 => TrustStore::Pkcs12 {
                    path: path.clone(),
                    password: password(ts_password),
                },
                StoreFormat::Pem => {
                    if let Some(p) = ts_password {
                        ctx.warn(
                            WarningKind::NoEffect,
                            p,
                            "has no effect: a PEM truststore has no password",
                        );
                    }
                    TrustStore::PemFile(path.clone())
                }
                _ => TrustStore::Jks {
                    path: path.clone(),
                    password: password(ts_password),
                },
            };
            store_files.push(StoreFile {
                key: loc.key.clone(),
                line: loc.line,
                path,
                declared: ts_type,
                kind: StoreKind::Trust(tls.trust.clone()),
            });
        }
        (None, Some(certs)) => {
            if ts_type != StoreFormat::Pem {
                return Err(ctx.value_err(
                    certs,
                    "needs ssl.truststore.type=PEM",
                    "PEM certificates with ssl.truststore.type=PEM",
                ));
            }
            tls.trust = TrustStore::Pem(certs.value.trim().to_owned());
        }
        (None, None) => {
            if let Some(p) = ts_password {
                ctx.warn(
                    WarningKind::NoEffect,
                    p,
                    "has no effect without ssl.truststore.location",
                );
            }
        }
    }

    // Client identity (mutual TLS).
    let ks_type = store_type(ctx, v.get("ssl.keystore.type"), "keystore")?;
    let ks_password = v.get("ssl.keystore.password");
    let key_password = v.get("ssl.key.password");
    let chain = v.get("ssl.keystore.certificate.chain");
    let inline_key = v.get("ssl.keystore.key");
    if let Some(loc) = v.get("ssl.keystore.location") {
        if chain.is_some() || inline_key.is_some() {
            return Err(ctx.value_err(
                loc,
                "is set together with ssl.keystore.certificate.chain/ssl.keystore.key",
                "either a keystore file (ssl.keystore.location) or PEM text (ssl.keystore.certificate.chain and ssl.keystore.key)",
            ));
        }
        let path = PathBuf::from(loc.value.trim());
        let identity = if ks_type == StoreFormat::Pem {
            if let Some(kp) = key_password {
                return Err(ctx.value_err(
                    kp,
                    "encrypted PEM private keys are not supported",
                    &format!("an unencrypted key: decrypt it with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem` and remove {alias}.ssl.key.password, or use a PKCS12 or JKS keystore"),
                ));
            }
            if let Some(p) = ks_password {
                ctx.warn(WarningKind::NoEffect, p, "has no effect: a PEM keystore file has no store password (Kafka refuses it too)");
            }
            ClientIdentity::PemFiles {
                cert_chain: path.clone(),
                key: path.clone(),
            }
        } else {
            // JKS or PKCS#12, told apart by content when loaded; the key
            // password defaults to the store password, as in Kafka.
            ClientIdentity::KeyStore {
                path: path.clone(),
                password: password(ks_password),
                key_password: password(key_password),
            }
        };
        store_files.push(StoreFile {
            key: loc.key.clone(),
            line: loc.line,
            path,
            declared: ks_type,
            kind: StoreKind::Identity(identity.clone()),
        });
        tls.identity = Some(identity);
    } else if let (Some(chain), Some(key)) = (chain, inline_key) {
        if ks_type != StoreFormat::Pem {
            return Err(ctx.value_err(
                chain,
                "needs ssl.keystore.type=PEM",
                "PEM text with ssl.keystore.type=PEM",
            ));
        }
        if let Some(kp) = key_password {
            return Err(ctx.value_err(
                kp,
                "encrypted PEM private keys are not supported",
                "an unencrypted PEM key in ssl.keystore.key, without ssl.key.password",
            ));
        }
        tls.identity = Some(ClientIdentity::Pem {
            cert_chain: chain.value.trim().to_owned(),
            key: Password::new(key.value.trim()),
        });
    } else if let Some(one) = chain.or(inline_key) {
        return Err(ctx.value_err(
            one,
            "is set without its partner",
            "both ssl.keystore.certificate.chain and ssl.keystore.key",
        ));
    } else {
        for raw in [ks_password, key_password].into_iter().flatten() {
            ctx.warn(
                WarningKind::NoEffect,
                raw,
                "has no effect without ssl.keystore.location",
            );
        }
    }

    // Our own TLS keys.
    let own_key = |k: &str| v.own.get(&format!("replicator.{k}"));
    if let Some(raw) = own_key("tls.server.name") {
        let name = raw.value.trim();
        if rustls_pki_types::ServerName::try_from(name).is_err() {
            return Err(ctx.value_err(
                raw,
                &format!("{name:?} is not a DNS name or IP address"),
                "the host name in the broker certificate",
            ));
        }
        tls.server_name = Some(name.to_owned());
    }
    if let Some(raw) = own_key("tls.insecure.skip.verification") {
        tls.insecure_skip_verification = ctx.boolean(raw)?;
        if tls.insecure_skip_verification {
            ctx.warn(
                WarningKind::Insecure,
                raw,
                &format!("TLS certificate verification is OFF for cluster {alias}: the broker's identity is not checked and anyone on the network path can read and change the traffic. Only for tests"),
            );
        }
    }

    // Hostname verification.
    if let Some(raw) = v.get("ssl.endpoint.identification.algorithm") {
        match raw.value.trim().to_ascii_lowercase().as_str() {
            "https" => {}
            "" if tls.insecure_skip_verification || tls.server_name.is_some() => {
                ctx.warn(
                    WarningKind::Note,
                    raw,
                    "empty: host name verification is replaced by the replicator.tls.* setting of this cluster",
                );
            }
            "" => {
                return Err(ctx.value_err(
                    raw,
                    "is empty, which in Kafka turns off only the host name check; the TLS layer here has no host-name-only switch, and silently turning off all certificate checks would be weaker than what the file asks for",
                    &format!("https (the default). To reach brokers by a name or IP their certificate does not list, set {alias}.replicator.tls.server.name to a name the certificate does list; only for tests, {alias}.replicator.tls.insecure.skip.verification=true turns off all certificate checks"),
                ))
            }
            other => {
                return Err(ctx.value_err(
                    raw,
                    &format!("{other:?} is not an endpoint identification algorithm"),
                    "https, or an empty value together with a replicator.tls.* setting",
                ))
            }
        }
    }
    Ok(tls)
}

fn sasl(
    ctx: &mut Ctx<'_>,
    alias: &str,
    v: &View<'_>,
    protocol: SecurityProtocol,
) -> Result<SaslConfig, Mm2Error> {
    let mechanism_raw = v.get("sasl.mechanism");
    let mechanism = match mechanism_raw {
        None => None,
        Some(raw) => Some(raw.value.parse::<SaslMechanism>().map_err(|_| {
            ctx.value_err(
                raw,
                &format!("{:?} is not a supported SASL mechanism", raw.value.trim()),
                "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (GSSAPI, OAUTHBEARER and AWS_MSK_IAM are not supported)",
            )
        })?),
    };
    let Some(jaas_raw) = v.get("sasl.jaas.config") else {
        return Err(Mm2Error::Missing {
            origin: ctx.origin.to_owned(),
            key: format!("{alias}.sasl.jaas.config"),
            reason: format!(
                "security.protocol is {protocol}, so cluster {alias} needs credentials: {alias}.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username=\"...\" password=\"...\"; (or ScramLoginModule)"
            ),
        });
    };
    let accepted_jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"...\" password=\"...\"; or the same with org.apache.kafka.common.security.scram.ScramLoginModule";
    let jaas = jaas::parse(&jaas_raw.value)
        .map_err(|reason| ctx.value_err(jaas_raw, &reason, accepted_jaas))?;
    let mechanism = match (jaas.module(), mechanism) {
        (LoginModule::Other, _) => {
            return Err(ctx.value_err(
                jaas_raw,
                &if jaas.login_module.ends_with("LoginModule")
                    && jaas
                        .login_module
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '$'))
                {
                    format!("login module {} is not supported", jaas.login_module)
                } else {
                    "the login module class is not supported (or the value is not a JAAS login module configuration)".to_owned()
                },
                accepted_jaas,
            ))
        }
        (LoginModule::Plain, Some(SaslMechanism::Plain)) => SaslMechanism::Plain,
        (LoginModule::Scram, Some(m @ (SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512))) => m,
        (LoginModule::Plain, None) => {
            ctx.warn(
                WarningKind::Note,
                jaas_raw,
                "sasl.mechanism is not set (Kafka's default is GSSAPI, which would not work with this login module); using PLAIN, as the PlainLoginModule implies",
            );
            SaslMechanism::Plain
        }
        (LoginModule::Scram, None) => {
            return Err(Mm2Error::Missing {
                origin: ctx.origin.to_owned(),
                key: format!("{alias}.sasl.mechanism"),
                reason: "the ScramLoginModule needs sasl.mechanism = SCRAM-SHA-256 or SCRAM-SHA-512 to say which hash the broker uses".into(),
            })
        }
        (module, Some(m)) => {
            let raw = mechanism_raw.unwrap_or(jaas_raw);
            return Err(ctx.value_err(
                raw,
                &format!(
                    "sasl.mechanism {m} does not match the login module in sasl.jaas.config ({})",
                    if module == LoginModule::Plain { "PlainLoginModule" } else { "ScramLoginModule" }
                ),
                "PLAIN with PlainLoginModule; SCRAM-SHA-256 or SCRAM-SHA-512 with ScramLoginModule",
            ));
        }
    };
    for name in jaas.option_names() {
        match name {
            "username" | "password" => {}
            "tokenauth" => {
                if jaas
                    .option(name)
                    .map(|p| p.expose().eq_ignore_ascii_case("true"))
                    == Some(true)
                {
                    return Err(ctx.value_err(
                        jaas_raw,
                        "delegation-token authentication (tokenauth=true) is not supported",
                        "username and password options only",
                    ));
                }
            }
            other => ctx.warn(
                WarningKind::NoEffect,
                jaas_raw,
                &format!(
                    "JAAS option {other} has no effect here (only username and password are used)"
                ),
            ),
        }
    }
    let username = jaas
        .option("username")
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    if username.is_empty() {
        return Err(ctx.value_err(jaas_raw, "has no username option", accepted_jaas));
    }
    let Some(pw) = jaas.option("password") else {
        return Err(ctx.value_err(jaas_raw, "has no password option", accepted_jaas));
    };
    Ok(SaslConfig::new(mechanism, username, pw.clone()))
}

/// Checks that a store file can be read and loaded (with its passwords);
/// returns what it holds when that differs from the declared type.
pub(crate) fn check_store(file: &StoreFile) -> Result<Option<StoreFormat>, String> {
    // Stores are small; the first MiB tells a PEM preamble from a store.
    let mut head = Vec::new();
    std::fs::File::open(&file.path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut head))
        .map_err(|e| format!("{e}. Check the path and that this process may read it"))?;
    let found = StoreFormat::detect(&head);
    match &file.kind {
        StoreKind::Trust(trust) => trust.check(),
        StoreKind::Identity(identity) => identity.check(),
    }
    .map_err(|e| e.to_string())?;
    Ok(found.filter(|&f| f != file.declared))
}
