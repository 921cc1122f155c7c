//! PKCS#12 keystores and truststores (`.p12`, `.pfx`), as Java and
//! `openssl pkcs12 -export` write them.

use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12Archive, Pkcs12ImportPolicy};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::Error;
use crate::secret::Password;

fn p12_error(what: &'static str, source: &str, e: p12_keystore::error::Error) -> Error {
    let (reason, hint) = match e {
        p12_keystore::error::Error::MacError(_) => (
            "wrong password: the store password does not open it (its integrity check failed)"
                .to_owned(),
            if what.contains("truststore") {
                "check the truststore password (ssl.truststore.password)"
            } else {
                "check the keystore password (ssl.keystore.password)"
            },
        ),
        other => (
            other.to_string(),
            "check the password, and that the file is PKCS#12 (`openssl pkcs12 -info -in FILE` shows it)",
        ),
    };
    Error::TlsMaterial {
        what,
        source_name: source.to_owned(),
        reason,
        hint: hint.into(),
    }
}

/// Every certificate in a PKCS#12 truststore. Java marks trusted entries
/// with its own attribute and OpenSSL does not, so all certificate bags
/// count; a truststore has no keys.
pub(super) fn trusted_certs(
    source: &str,
    data: &[u8],
    password: Option<&Password>,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    const WHAT: &str = "the PKCS#12 truststore";
    let archive = Pkcs12Archive::from_pkcs12(data, password.map_or("", |p| p.expose()))
        .map_err(|e| p12_error(WHAT, source, e))?;
    let certs: Vec<_> = archive
        .certs
        .iter()
        .map(|bag| CertificateDer::from(bag.cert.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(Error::TlsMaterial {
            what: WHAT,
            source_name: source.to_owned(),
            reason: "it holds no certificate".into(),
            hint: "import the CA certificate into it (keytool -importcert, or openssl pkcs12 -export -nokeys)".into(),
        });
    }
    Ok(certs)
}

/// The one private key and its chain in a PKCS#12 keystore.
pub(super) fn identity(
    source: &str,
    data: &[u8],
    password: Option<&Password>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    const WHAT: &str = "the PKCS#12 keystore";
    let store = KeyStore::from_pkcs12(
        data,
        password.map_or("", |p| p.expose()),
        Pkcs12ImportPolicy::Strict,
    )
    .map_err(|e| p12_error(WHAT, source, e))?;
    let chains: Vec<_> = store
        .entries()
        .filter_map(|(alias, e)| match e {
            KeyStoreEntry::PrivateKeyChain(chain) => Some((alias.clone(), chain)),
            _ => None,
        })
        .collect();
    let (_, chain) = match chains.as_slice() {
        [one] => one,
        [] => {
            return Err(Error::TlsMaterial {
                what: WHAT,
                source_name: source.to_owned(),
                reason: "it holds no private key with a certificate".into(),
                hint: "export the client key and certificate together (openssl pkcs12 -export -inkey KEY -in CERT)".into(),
            })
        }
        many => {
            let aliases: Vec<&str> = many.iter().map(|(a, _)| a.as_str()).collect();
            return Err(Error::TlsMaterial {
                what: WHAT,
                source_name: source.to_owned(),
                reason: format!("it holds {} private keys ({})", many.len(), aliases.join(", ")),
                hint: "keep only the client key in the keystore".into(),
            });
        }
    };
    if chain.certs().is_empty() {
        return Err(Error::TlsMaterial {
            what: WHAT,
            source_name: source.to_owned(),
            reason: "the private key has no certificate".into(),
            hint: "export the client key and certificate together".into(),
        });
    }
    let certs = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    Ok((certs, key))
}
