//! Trust and key store files read by what they hold, not by their name or
//! declared type: JKS, PKCS#12 or PEM, told apart by their first bytes
//! ([`StoreFormat::detect`]), as Java 9+ reads a PKCS#12 file declared
//! JKS.

use std::path::Path;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{jks, material_err, pem_certs, pem_key, pkcs12, read_file};
use crate::config::StoreFormat;
use crate::error::Error;
use crate::secret::Password;

impl StoreFormat {
    /// The format `data` is in, from its first bytes: JKS and JCEKS by
    /// their magic numbers, PKCS#12 by its DER `SEQUENCE`, PEM by a
    /// `-----BEGIN` line. `None` for anything else.
    pub fn detect(data: &[u8]) -> Option<Self> {
        if data.starts_with(&jks::MAGIC) {
            Some(Self::Jks)
        } else if data.starts_with(&jks::JCEKS_MAGIC) {
            Some(Self::Jceks)
        } else if data.first() == Some(&0x30) {
            Some(Self::Pkcs12)
        } else if data.windows(10).any(|w| w == b"-----BEGIN") {
            Some(Self::Pem)
        } else {
            None
        }
    }

    /// The name Kafka's `ssl.*.type` uses: `JKS`, `PKCS12`, `PEM`, `JCEKS`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jks => "JKS",
            Self::Jceks => "JCEKS",
            Self::Pkcs12 => "PKCS12",
            Self::Pem => "PEM",
        }
    }
}

fn format_of(what: &'static str, source: &str, data: &[u8]) -> Result<StoreFormat, Error> {
    match StoreFormat::detect(data) {
        Some(StoreFormat::Jceks) => Err(material_err(
            what,
            source,
            "it is a JCEKS store, which is not supported",
            "convert it with `keytool -importkeystore -srcstoretype JCEKS -deststoretype PKCS12`",
        )),
        Some(f) => Ok(f),
        // A file configured as PEM gets the PEM reader's own error.
        None if what == "the CA bundle" => Ok(StoreFormat::Pem),
        None => Err(material_err(
            what,
            source,
            "it is neither a JKS store, a PKCS#12 file nor PEM text",
            "give a JKS or PKCS#12 store as keytool writes them, or PEM certificates",
        )),
    }
}

/// The trust anchors of a truststore file: the trusted-certificate entries
/// of a JKS store (its digest checked when a password is given), every
/// certificate of a PKCS#12 file, or the certificates of a PEM bundle.
///
/// `declared` names the store as configured, for errors before its content
/// is known.
pub(super) fn trust_anchors(
    declared: &'static str,
    path: &Path,
    password: Option<&Password>,
) -> Result<(&'static str, Vec<CertificateDer<'static>>), Error> {
    let data = read_file(declared, path)?;
    let source = path.display().to_string();
    match format_of(declared, &source, &data)? {
        StoreFormat::Jks => {
            const WHAT: &str = "the JKS truststore";
            let store = jks::parse(&data, password.map(Password::expose))
                .map_err(|e| jks_err(WHAT, &source, e))?;
            if store.trusted.is_empty() {
                return Err(material_err(
                    WHAT,
                    &source,
                    "it holds no trusted certificate entry",
                    "import the CA certificate with `keytool -importcert -alias ca -file ca.pem`",
                ));
            }
            Ok((WHAT, store.trusted))
        }
        StoreFormat::Pkcs12 => Ok((
            "the PKCS#12 truststore",
            pkcs12::trusted_certs(&source, &data, password)?,
        )),
        _ => Ok(("the CA bundle", pem_certs("the CA bundle", &source, &data)?)),
    }
}

/// The one private key and its chain in a key store file: JKS (the store
/// password checks the file, the key password, else the store password,
/// decrypts the key, as Kafka's `ssl.key.password` does), PKCS#12, or PEM
/// with the chain and an unencrypted key.
pub(super) fn identity(
    declared: &'static str,
    path: &Path,
    password: Option<&Password>,
    key_password: Option<&Password>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let data = read_file(declared, path)?;
    let source = path.display().to_string();
    match format_of(declared, &source, &data)? {
        StoreFormat::Jks => jks_identity(&source, &data, password, key_password),
        StoreFormat::Pkcs12 => {
            if let (Some(k), Some(s)) = (key_password, password) {
                if k.expose() != s.expose() {
                    return Err(material_err(
                        "the PKCS#12 keystore",
                        &source,
                        "wrong password: the key password differs from the store password, which protects the keys of PKCS#12 files written by keytool and openssl",
                        "set ssl.key.password to the store password, or leave it out",
                    ));
                }
            }
            pkcs12::identity(&source, &data, password.or(key_password))
        }
        _ => Ok((
            pem_certs("the client certificate", &source, &data)?,
            pem_key(&source, &data)?,
        )),
    }
}

fn jks_err(what: &'static str, source: &str, e: jks::JksError) -> Error {
    let hint = match e {
        jks::JksError::WrongStorePassword if what.contains("truststore") => {
            "check the truststore password (ssl.truststore.password)"
        }
        jks::JksError::WrongStorePassword => "check the keystore password (ssl.keystore.password)",
        jks::JksError::WrongKeyPassword { .. } => {
            "check the key password (ssl.key.password; when it is not set, the keystore password is used)"
        }
        jks::JksError::Malformed(_) => {
            "check the file, or convert it with `keytool -importkeystore -deststoretype PKCS12`"
        }
    };
    material_err(what, source, e, hint)
}

fn jks_identity(
    source: &str,
    data: &[u8],
    password: Option<&Password>,
    key_password: Option<&Password>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    const WHAT: &str = "the JKS keystore";
    let store =
        jks::parse(data, password.map(Password::expose)).map_err(|e| jks_err(WHAT, source, e))?;
    let entry = match store.keys.as_slice() {
        [one] => one,
        [] => {
            return Err(material_err(
                WHAT,
                source,
                "it holds no private key entry",
                "import the client key and certificate: `keytool -importkeystore -srckeystore client.p12 -srcstoretype PKCS12 -destkeystore FILE -deststoretype JKS`",
            ))
        }
        many => {
            let aliases: Vec<&str> = many.iter().map(|k| k.alias.as_str()).collect();
            return Err(material_err(
                WHAT,
                source,
                format!("it holds {} private keys ({})", many.len(), aliases.join(", ")),
                "keep only the client key in the keystore (`keytool -delete -alias NAME`)",
            ));
        }
    };
    if entry.chain.is_empty() {
        return Err(material_err(
            WHAT,
            source,
            format!("the private key entry {:?} has no certificate", entry.alias),
            "import the key together with its certificate chain",
        ));
    }
    let Some(key_password) = key_password.or(password) else {
        return Err(material_err(
            WHAT,
            source,
            "no password is given, and the private key is encrypted",
            "set ssl.keystore.password (and ssl.key.password if the key has its own)",
        ));
    };
    let key = entry
        .decrypt(key_password.expose())
        .map_err(|e| jks_err(WHAT, source, e))?;
    Ok((
        entry.chain.clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    ))
}
