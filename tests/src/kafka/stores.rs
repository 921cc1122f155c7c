//! TLS material for Apache Kafka, made by the JDK's `keytool` as Kafka's
//! operators make it: a CA, the broker's key and certificate in a JKS and a
//! PKCS#12 keystore, truststores of both types, and a client keystore for
//! mutual TLS; the CA also as PEM for clients that take PEM.

use std::path::{Path, PathBuf};

use crate::keytool::run as keytool;
use crate::Result;

/// The password of every store made here.
pub const STORE_PASSWORD: &str = "changeit-kafka";

/// The stores of one test cluster, in one folder.
#[derive(Debug, Clone)]
pub struct KafkaStores {
    /// The CA certificate (PEM).
    pub ca_pem: PathBuf,
    /// The broker's key and certificate chain, JKS.
    pub broker_jks: PathBuf,
    /// The same, PKCS#12.
    pub broker_p12: PathBuf,
    /// A truststore holding the CA, JKS.
    pub truststore_jks: PathBuf,
    /// The same, PKCS#12.
    pub truststore_p12: PathBuf,
    /// A client key (RSA) and certificate (CN=mirror-client) for mutual
    /// TLS, PKCS#12.
    pub client_p12: PathBuf,
    /// The same, JKS.
    pub client_jks: PathBuf,
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

impl KafkaStores {
    /// Makes the stores in `dir`; the broker's certificate is for
    /// `localhost` and `127.0.0.1`.
    pub fn create(dir: &Path) -> Result<Self> {
        let pw = STORE_PASSWORD;
        let f = |name: &str| dir.join(name);
        let s = Self {
            ca_pem: f("ca.pem"),
            broker_jks: f("broker.keystore.jks"),
            broker_p12: f("broker.keystore.p12"),
            truststore_jks: f("truststore.jks"),
            truststore_p12: f("truststore.p12"),
            client_p12: f("client.keystore.p12"),
            client_jks: f("client.keystore.jks"),
        };
        let ca = f("ca.p12");
        let ec = ["-keyalg", "EC", "-groupname", "secp256r1"];
        // `key`: -keyalg arguments (EC P-256 when empty).
        let gen = |store: &Path, alias: &str, dname: &str, key: &[&str], ext: &[&str]| {
            let mut args = vec![
                "-genkeypair",
                "-alias",
                alias,
                "-dname",
                dname,
                "-validity",
                "30",
                "-keystore",
                path(store),
                "-storetype",
                "PKCS12",
                "-storepass",
                pw,
            ];
            args.extend_from_slice(if key.is_empty() { &ec } else { key });
            args.extend_from_slice(ext);
            keytool(&args)
        };
        gen(&ca, "ca", "CN=kafka-test-ca", &[], &["-ext", "bc:c"])?;
        keytool(&[
            "-exportcert",
            "-rfc",
            "-alias",
            "ca",
            "-keystore",
            path(&ca),
            "-storepass",
            pw,
            "-file",
            path(&s.ca_pem),
        ])?;
        for (store, alias, dname, ext) in [
            (
                &s.broker_p12,
                "broker",
                "CN=localhost",
                "SAN=dns:localhost,ip:127.0.0.1",
            ),
            (
                &s.client_p12,
                "client",
                "CN=mirror-client",
                "EKU=clientAuth",
            ),
        ] {
            // The client key is RSA: keytool writes EC private keys without
            // the public key inside, which ring (rustls's provider here)
            // refuses, so an EC client keystore made by keytool cannot be
            // used today.
            let rsa = ["-keyalg", "RSA", "-keysize", "2048"];
            let key: &[&str] = if alias == "client" { &rsa } else { &[] };
            gen(store, alias, dname, key, &[])?;
            let csr = f(&format!("{alias}.csr"));
            let crt = f(&format!("{alias}.crt"));
            keytool(&[
                "-certreq",
                "-alias",
                alias,
                "-keystore",
                path(store),
                "-storepass",
                pw,
                "-file",
                path(&csr),
            ])?;
            keytool(&[
                "-gencert",
                "-rfc",
                "-alias",
                "ca",
                "-keystore",
                path(&ca),
                "-storepass",
                pw,
                "-infile",
                path(&csr),
                "-outfile",
                path(&crt),
                "-validity",
                "30",
                "-ext",
                ext,
            ])?;
            // The chain: the CA first, so the signed certificate links to it.
            for (a, file) in [("ca", &s.ca_pem), (alias, &crt)] {
                keytool(&[
                    "-importcert",
                    "-noprompt",
                    "-alias",
                    a,
                    "-file",
                    path(file),
                    "-keystore",
                    path(store),
                    "-storepass",
                    pw,
                ])?;
            }
        }
        for (p12, jks) in [
            (&s.broker_p12, &s.broker_jks),
            (&s.client_p12, &s.client_jks),
        ] {
            keytool(&[
                "-importkeystore",
                "-noprompt",
                "-srckeystore",
                path(p12),
                "-srcstoretype",
                "PKCS12",
                "-srcstorepass",
                pw,
                "-destkeystore",
                path(jks),
                "-deststoretype",
                "JKS",
                "-deststorepass",
                pw,
                "-destkeypass",
                pw,
            ])?;
        }
        for (store, kind) in [(&s.truststore_jks, "JKS"), (&s.truststore_p12, "PKCS12")] {
            keytool(&[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                path(&s.ca_pem),
                "-keystore",
                path(store),
                "-storetype",
                kind,
                "-storepass",
                pw,
            ])?;
        }
        Ok(s)
    }
}
