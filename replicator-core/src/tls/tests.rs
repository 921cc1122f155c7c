use std::io::Write;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

use super::*;
use crate::config::StoreFormat;
use crate::secret::Password;

struct Pki {
    ca_pem: String,
    ca_der: Vec<u8>,
    leaf_pem: String,
    leaf_der: Vec<u8>,
    leaf_key_pem: String,
    leaf_key_der: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["client".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().to_vec(),
        leaf_pem: leaf.pem(),
        leaf_der: leaf.der().to_vec(),
        leaf_key_pem: leaf_key.serialize_pem(),
        leaf_key_der: leaf_key.serialize_der(),
    }
}

fn temp_file(name: &str, data: &[u8]) -> (std::path::PathBuf, TempDir) {
    let dir = TempDir::new();
    let path = dir.0.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(data)
        .unwrap();
    (path, dir)
}

/// A throw-away directory (std only, to keep dev-dependencies small).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "replicator-core-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pem_ca_bundle_loads() {
    let p = pki();
    let store = root_store(&TrustStore::Pem(p.ca_pem.clone())).unwrap();
    assert_eq!(store.len(), 1);
    let (path, _dir) = temp_file("ca.pem", p.ca_pem.as_bytes());
    assert_eq!(root_store(&TrustStore::PemFile(path)).unwrap().len(), 1);
}

#[test]
fn missing_and_empty_ca_files_say_which_file() {
    let err = root_store(&TrustStore::PemFile("/nonexistent/ca.pem".into()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/nonexistent/ca.pem") && err.contains("CA bundle"),
        "{err}"
    );
    let (path, _dir) = temp_file("empty.pem", b"not a certificate\n");
    let err = root_store(&TrustStore::PemFile(path.clone()))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("no certificate found"), "{err}");
}

#[test]
fn mozilla_roots_are_available() {
    assert!(root_store(&TrustStore::Mozilla).unwrap().len() > 50);
}

#[test]
fn pem_identity_loads_and_key_must_match() {
    let p = pki();
    let id = ClientIdentity::Pem {
        cert_chain: p.leaf_pem.clone(),
        key: Password::new(p.leaf_key_pem.clone()),
    };
    let (chain, _key) = client_identity(&id).unwrap();
    assert_eq!(chain.len(), 1);
    let cfg = TlsConfig {
        trust: TrustStore::Pem(p.ca_pem.clone()),
        identity: Some(id),
        ..TlsConfig::default()
    };
    TlsConnector::new(&cfg).unwrap();

    // A key that does not belong to the certificate.
    let other = KeyPair::generate().unwrap();
    let cfg = TlsConfig {
        trust: TrustStore::Pem(p.ca_pem),
        identity: Some(ClientIdentity::Pem {
            cert_chain: p.leaf_pem,
            key: Password::new(other.serialize_pem()),
        }),
        ..TlsConfig::default()
    };
    let err = TlsConnector::new(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("must belong to the first certificate"),
        "{err}"
    );
}

#[test]
fn encrypted_pem_keys_get_a_conversion_hint() {
    let err = pem_key(
        "key.pem",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("openssl pkcs8"), "{err}");
    assert!(!err.contains("AAAA"), "{err}");
}

fn p12(p: &Pki, with_key: bool, password: &str) -> Vec<u8> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let mut ks = KeyStore::new();
    if with_key {
        let chain = PrivateKeyChain::new(
            vec![1u8, 2, 3, 4],
            PrivateKey::from_der(&p.leaf_key_der).unwrap(),
            [Certificate::from_der(&p.leaf_der).unwrap()],
        );
        ks.add_entry("client", KeyStoreEntry::PrivateKeyChain(chain));
    } else {
        ks.add_entry(
            "ca",
            KeyStoreEntry::Certificate(Certificate::from_der(&p.ca_der).unwrap()),
        );
    }
    ks.writer(password).write().unwrap()
}

#[test]
fn pkcs12_keystore_and_truststore() {
    let p = pki();
    let (ks, _d1) = temp_file("client.p12", &p12(&p, true, "kspass"));
    let (ts, _d2) = temp_file("trust.p12", &p12(&p, false, "tspass"));
    let cfg = TlsConfig {
        trust: TrustStore::Pkcs12 {
            path: ts.clone(),
            password: Some("tspass".into()),
        },
        identity: Some(ClientIdentity::Pkcs12 {
            path: ks.clone(),
            password: Some("kspass".into()),
        }),
        ..TlsConfig::default()
    };
    TlsConnector::new(&cfg).unwrap();

    let err = root_store(&TrustStore::Pkcs12 {
        path: ts,
        password: Some("nope".into()),
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("wrong password"), "{err}");
    assert!(!err.contains("nope"), "{err}");

    let err = client_identity(&ClientIdentity::Pkcs12 {
        path: ks,
        password: Some("bad".into()),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("PKCS#12 keystore") && err.contains("wrong password"),
        "{err}"
    );
}

#[test]
fn pkcs12_keystore_without_a_key_is_refused() {
    let p = pki();
    let (ts, _d) = temp_file("trust.p12", &p12(&p, false, "pw"));
    let err = client_identity(&ClientIdentity::Pkcs12 {
        path: ts,
        password: Some("pw".into()),
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("no private key"), "{err}");
}

/// Stores made by `keytool` (OpenJDK 17), see `jks.rs`'s tests.
const KEYTOOL_TRUSTSTORE: &[u8] = include_bytes!("testdata/truststore.jks");
const KEYTOOL_KEYSTORE: &[u8] = include_bytes!("testdata/keystore.jks");

#[test]
fn jks_truststore_loads_and_pkcs12_under_jks_type_too() {
    let p = pki();
    let (path, _d) = temp_file("trust.jks", KEYTOOL_TRUSTSTORE);
    let store = root_store(&TrustStore::Jks {
        path: path.clone(),
        password: Some("changeit".into()),
    })
    .unwrap();
    assert_eq!(store.len(), 1);
    let err = root_store(&TrustStore::Jks {
        path: path.clone(),
        password: Some("wrong".into()),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("JKS truststore")
            && err.contains("wrong password")
            && err.contains("ssl.truststore.password")
            && err.contains(&path.display().to_string()),
        "{err}"
    );
    assert!(!err.contains("wrong\""), "{err}");

    let (p12_path, _d2) = temp_file("trust.p12", &p12(&p, false, "changeit"));
    let store = root_store(&TrustStore::Jks {
        path: p12_path,
        password: Some("changeit".into()),
    })
    .unwrap();
    assert_eq!(store.len(), 1);
    // Declared PKCS#12 or PEM, the JKS file is still read as JKS.
    for declared in [
        TrustStore::Pkcs12 {
            path: path.clone(),
            password: Some("changeit".into()),
        },
        TrustStore::PemFile(path.clone()),
    ] {
        assert_eq!(root_store(&declared).unwrap().len(), 1, "{declared:?}");
    }
}

#[test]
fn jks_keystore_key_and_store_passwords() {
    let (path, _d) = temp_file("client.jks", KEYTOOL_KEYSTORE);
    let id = |store: &str, key: Option<&str>| ClientIdentity::KeyStore {
        path: path.clone(),
        password: Some(store.into()),
        key_password: key.map(Password::from),
    };
    let (chain, _key) = client_identity(&id("store-secret", Some("key-secret"))).unwrap();
    assert_eq!(chain.len(), 1);
    let err = client_identity(&id("nope", Some("key-secret")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("JKS keystore")
            && err.contains("store password")
            && err.contains("ssl.keystore.password")
            && err.contains("client.jks"),
        "{err}"
    );
    // Without a key password the store password is tried, as in Kafka.
    for key in [Some("nope"), None] {
        let err = client_identity(&id("store-secret", key))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("key password") && err.contains("ssl.key.password"),
            "{err}"
        );
        assert!(!err.contains("nope"), "{err}");
    }
    // Declared PKCS#12: read as JKS, the key with the store password.
    let err = client_identity(&ClientIdentity::Pkcs12 {
        path: path.clone(),
        password: Some("store-secret".into()),
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("key password"), "{err}");
    // A truststore is not a keystore.
    let (trust, _d2) = temp_file("trust.jks", KEYTOOL_TRUSTSTORE);
    let err = client_identity(&ClientIdentity::KeyStore {
        path: trust,
        password: Some("changeit".into()),
        key_password: None,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("no private key entry"), "{err}");
}

#[test]
fn store_formats_are_told_by_content() {
    assert_eq!(
        StoreFormat::detect(KEYTOOL_KEYSTORE),
        Some(StoreFormat::Jks)
    );
    let p = pki();
    assert_eq!(
        StoreFormat::detect(&p12(&p, false, "pw")),
        Some(StoreFormat::Pkcs12)
    );
    assert_eq!(
        StoreFormat::detect(p.ca_pem.as_bytes()),
        Some(StoreFormat::Pem)
    );
    assert_eq!(
        StoreFormat::detect(&[0xCE, 0xCE, 0xCE, 0xCE, 0]),
        Some(StoreFormat::Jceks)
    );
    assert_eq!(StoreFormat::detect(b"hello"), None);
    let (path, _d) = temp_file("x.jceks", &[0xCE, 0xCE, 0xCE, 0xCE, 0, 0, 0, 2]);
    let err = root_store(&TrustStore::Jks {
        path,
        password: None,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("JCEKS"), "{err}");
}

#[test]
fn invalid_server_name_override_is_a_config_error() {
    let cfg = TlsConfig {
        trust: TrustStore::Mozilla,
        server_name: Some("not a name!".into()),
        ..TlsConfig::default()
    };
    let err = TlsConnector::new(&cfg).unwrap_err().to_string();
    assert!(err.contains("not a name!"), "{err}");
}

#[test]
fn classify_explains_common_failures() {
    let wrap = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
    let (r, h) = classify(
        &wrap(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        )),
        "h",
        false,
    );
    assert!(
        r.contains("not signed by a trusted CA") && h.contains("CA bundle"),
        "{r} {h}"
    );
    let (r, h) = classify(
        &wrap(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName,
        )),
        "kafka.example",
        false,
    );
    assert!(
        r.contains("kafka.example") && h.contains("subjectAltName"),
        "{r} {h}"
    );
    let (r, _) = classify(
        &wrap(rustls::Error::InvalidCertificate(CertificateError::Expired)),
        "h",
        false,
    );
    assert!(r.contains("expired"), "{r}");
    let (r, h) = classify(
        &wrap(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired,
        )),
        "h",
        false,
    );
    assert!(
        r.contains("requires a client certificate") && h.contains("client certificate"),
        "{r} {h}"
    );
    let (_, h) = classify(&io::Error::from(io::ErrorKind::UnexpectedEof), "h", false);
    assert!(h.contains("client certificate"), "{h}");
}
