//! Java KeyStore (JKS) files, as `keytool` writes them: trusted
//! certificates for truststores, and private keys with their certificate
//! chains for mutual TLS.
//!
//! Layout (big-endian): magic `FEEDFEED`, version (1 or 2), entry count,
//! entries, then a SHA-1 digest over the store password (UTF-16BE), the
//! bytes `"Mighty Aphrodite"` and everything before the digest. An entry is
//! a tag (1 = private key, 2 = trusted certificate), an alias (modified
//! UTF-8 with a u16 length) and a timestamp (u64). A trusted certificate
//! follows with its type (version 2 only) and DER bytes (u32 length). A
//! private key follows with its protected key (u32 length) and a chain of
//! certificates (u32 count, each as above).
//!
//! The protected key is a DER `EncryptedPrivateKeyInfo` whose algorithm is
//! Sun's key protector (OID 1.3.6.1.4.1.42.2.17.1.1), under the key
//! password: a 20-byte salt, the PKCS#8 key XORed with a SHA-1 keystream
//! (each block the digest of the password and the previous block, the
//! first one chained from the salt), and a 20-byte SHA-1 of the password
//! and the plain key, which tells a wrong password.
//!
//! Every length is checked against the bytes present before anything is
//! allocated for it.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Sequence};
use rustls::pki_types::CertificateDer;
use sha1::{Digest, Sha1};

/// The first four bytes of a JKS file.
pub(crate) const MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];
/// The first four bytes of a JCEKS file (not supported).
pub(crate) const JCEKS_MAGIC: [u8; 4] = [0xCE, 0xCE, 0xCE, 0xCE];
const DIGEST_LEN: usize = 20;
/// Sun's JKS key protector.
const KEY_PROTECTOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.42.2.17.1.1");

/// Why a JKS file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JksError {
    /// The integrity digest does not match under the store password.
    #[error("wrong password: the store password does not open it (its integrity digest does not match, or the file was changed)")]
    WrongStorePassword,
    /// The private key's check digest does not match under the key password.
    #[error(
        "wrong password: the key password does not decrypt the private key of entry {alias:?}"
    )]
    WrongKeyPassword {
        /// The entry's alias.
        alias: String,
    },
    /// Not a JKS file, or a damaged one.
    #[error("{0}")]
    Malformed(String),
}

fn malformed(s: impl Into<String>) -> JksError {
    JksError::Malformed(s.into())
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], JksError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                malformed(format!(
                    "the file is truncated (reading {what} at byte {})",
                    self.pos
                ))
            })?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u16(&mut self, what: &str) -> Result<u16, JksError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, JksError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn utf(&mut self, what: &str) -> Result<&'a [u8], JksError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    fn blob(&mut self, what: &str) -> Result<&'a [u8], JksError> {
        let n = self.u32(what)?;
        let n = usize::try_from(n).map_err(|_| malformed(format!("{what} is too large")))?;
        self.take(n, what)
    }

    /// A count of items that each take at least `min_item` bytes, checked
    /// against the bytes left so nothing is sized by a claimed count.
    fn count(&mut self, what: &str, min_item: usize) -> Result<usize, JksError> {
        let n = self.u32(what)?;
        let left = self.data.len() - self.pos;
        usize::try_from(n)
            .ok()
            .filter(|&n| n.saturating_mul(min_item) <= left)
            .ok_or_else(|| malformed(format!("implausible {what} {n} for {left} bytes left")))
    }
}

/// The keyed digest that closes a JKS file.
fn store_digest(password: &str, body: &[u8]) -> [u8; DIGEST_LEN] {
    let mut h = Sha1::new();
    h.update(utf16be(password));
    h.update(b"Mighty Aphrodite");
    h.update(body);
    h.finalize().into()
}

/// Java's `char[]` password as bytes: each UTF-16 unit, big-endian.
fn utf16be(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// A private-key entry: the protected key and its chain, leaf first.
#[derive(Debug)]
pub(crate) struct KeyEntry<'a> {
    pub alias: String,
    protected: &'a [u8],
    pub chain: Vec<CertificateDer<'static>>,
}

/// The entries of a JKS file.
#[derive(Debug, Default)]
pub(crate) struct JksStore<'a> {
    /// Trusted-certificate entries.
    pub trusted: Vec<CertificateDer<'static>>,
    /// Private-key entries.
    pub keys: Vec<KeyEntry<'a>>,
}

fn certificate(r: &mut Reader<'_>, version: u32) -> Result<CertificateDer<'static>, JksError> {
    if version == 2 {
        let ty = r.utf("a certificate type")?;
        if ty != b"X.509" {
            return Err(malformed(format!(
                "a {} certificate, not X.509",
                String::from_utf8_lossy(ty)
            )));
        }
    }
    Ok(CertificateDer::from(r.blob("a certificate")?.to_vec()))
}

/// Reads a JKS file. With a store password, the integrity digest is
/// checked; without one it is not (as Java allows for truststores).
pub(crate) fn parse<'a>(
    data: &'a [u8],
    store_password: Option<&str>,
) -> Result<JksStore<'a>, JksError> {
    let mut r = Reader { data, pos: 0 };
    let magic = r.take(4, "the magic number")?;
    if magic == JCEKS_MAGIC {
        return Err(malformed(
            "this is a JCEKS keystore, which is not supported; convert it with `keytool -importkeystore -deststoretype PKCS12`",
        ));
    }
    if magic != MAGIC {
        return Err(malformed(format!(
            "not a JKS file (it starts with {magic:02x?}, not fe ed fe ed)"
        )));
    }
    let version = r.u32("the version")?;
    if version != 1 && version != 2 {
        return Err(malformed(format!("unsupported JKS version {version}")));
    }
    // Tag, alias length and timestamp: 14 bytes at least per entry.
    let count = r.count("entry count", 14)?;
    let mut store = JksStore::default();
    for i in 0..count {
        let tag = r.u32("an entry tag")?;
        let alias = String::from_utf8_lossy(r.utf("an alias")?).into_owned();
        r.take(8, "a timestamp")?;
        let in_entry = |e: JksError| match e {
            JksError::Malformed(s) => malformed(format!("entry {i} ({alias:?}): {s}")),
            other => other,
        };
        match tag {
            1 => {
                let protected = r.blob("a protected private key").map_err(in_entry)?;
                // A certificate takes its u32 length at least.
                let n = r.count("chain length", 4).map_err(in_entry)?;
                let mut chain = Vec::new();
                for _ in 0..n {
                    chain.push(certificate(&mut r, version).map_err(in_entry)?);
                }
                store.keys.push(KeyEntry {
                    alias,
                    protected,
                    chain,
                });
            }
            2 => store
                .trusted
                .push(certificate(&mut r, version).map_err(in_entry)?),
            3 => {
                return Err(malformed(
                    "a secret-key entry, which only JCEKS files have; this file is damaged",
                ))
            }
            other => return Err(malformed(format!("unknown entry tag {other} in entry {i}"))),
        }
    }
    let body_end = r.pos;
    let digest = r.take(DIGEST_LEN, "the integrity digest")?;
    if r.pos != data.len() {
        return Err(malformed(format!(
            "{} unexpected bytes after the integrity digest",
            data.len() - r.pos
        )));
    }
    if let Some(password) = store_password {
        if store_digest(password, &data[..body_end])[..] != *digest {
            return Err(JksError::WrongStorePassword);
        }
    }
    Ok(store)
}

#[derive(Sequence)]
struct AlgorithmId<'a> {
    oid: ObjectIdentifier,
    parameters: Option<AnyRef<'a>>,
}

#[derive(Sequence)]
struct EncryptedKeyInfo<'a> {
    algorithm: AlgorithmId<'a>,
    data: &'a OctetStringRef,
}

impl KeyEntry<'_> {
    /// The PKCS#8 private key, decrypted with `key_password`.
    pub(crate) fn decrypt(&self, key_password: &str) -> Result<Vec<u8>, JksError> {
        let bad = |s: String| malformed(format!("entry {:?}: {s}", self.alias));
        let info = EncryptedKeyInfo::from_der(self.protected).map_err(|e| {
            bad(format!(
                "the protected key is not DER EncryptedPrivateKeyInfo ({e})"
            ))
        })?;
        if info.algorithm.oid != KEY_PROTECTOR {
            return Err(bad(format!(
                "the key is protected with algorithm {}, not the JKS key protector",
                info.algorithm.oid
            )));
        }
        let data = info.data.as_bytes();
        if data.len() < 2 * DIGEST_LEN {
            return Err(bad("the protected key is too short".into()));
        }
        let (salt, rest) = data.split_at(DIGEST_LEN);
        let (encrypted, check) = rest.split_at(rest.len() - DIGEST_LEN);
        let password = utf16be(key_password);
        let mut plain = Vec::with_capacity(encrypted.len());
        let mut block: [u8; DIGEST_LEN] = salt.try_into().expect("split at DIGEST_LEN");
        for chunk in encrypted.chunks(DIGEST_LEN) {
            let mut h = Sha1::new();
            h.update(&password);
            h.update(block);
            block = h.finalize().into();
            plain.extend(chunk.iter().zip(block).map(|(c, k)| c ^ k));
        }
        let mut h = Sha1::new();
        h.update(&password);
        h.update(&plain);
        if h.finalize()[..] != *check {
            return Err(JksError::WrongKeyPassword {
                alias: self.alias.clone(),
            });
        }
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JKS truststore made by `keytool -importcert -storetype JKS
    /// -storepass changeit` (OpenJDK 17), with one certificate.
    const KEYTOOL_TRUSTSTORE: &[u8] = include_bytes!("testdata/truststore.jks");
    /// A JKS keystore made by `keytool -importkeystore -deststoretype JKS
    /// -deststorepass store-secret -destkeypass key-secret` from an
    /// `openssl pkcs12 -export` of an EC key and its certificate.
    const KEYTOOL_KEYSTORE: &[u8] = include_bytes!("testdata/keystore.jks");
    /// The PKCS#8 key inside it (`openssl pkcs8 -topk8 -nocrypt -outform DER`).
    const KEYSTORE_KEY: &[u8] = include_bytes!("testdata/keystore-key.pk8");

    #[test]
    fn keytool_truststore_reads_with_and_without_the_password() {
        let s = parse(KEYTOOL_TRUSTSTORE, Some("changeit")).unwrap();
        assert_eq!((s.trusted.len(), s.keys.len()), (1, 0));
        assert_eq!(parse(KEYTOOL_TRUSTSTORE, None).unwrap().trusted.len(), 1);
        assert_eq!(
            parse(KEYTOOL_TRUSTSTORE, Some("wrong")).unwrap_err(),
            JksError::WrongStorePassword
        );
    }

    #[test]
    fn keytool_keystore_key_decrypts_to_the_pkcs8_key() {
        let s = parse(KEYTOOL_KEYSTORE, Some("store-secret")).unwrap();
        assert_eq!(s.keys.len(), 1);
        let k = &s.keys[0];
        assert_eq!(k.chain.len(), 1);
        assert_eq!(k.decrypt("key-secret").unwrap(), KEYSTORE_KEY);
        assert!(matches!(
            k.decrypt("store-secret").unwrap_err(),
            JksError::WrongKeyPassword { .. }
        ));
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        for good in [KEYTOOL_TRUSTSTORE, KEYTOOL_KEYSTORE] {
            for len in 0..good.len() {
                assert!(parse(&good[..len], None).is_err(), "len {len}");
            }
            let mut huge = good.to_vec();
            huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
            let err = parse(&huge, None).unwrap_err().to_string();
            assert!(err.contains("implausible"), "{err}");
            let mut trailing = good.to_vec();
            trailing.push(0);
            assert!(parse(&trailing, None).is_err());
            // Every single-byte change is refused under the password, or
            // still parses; never a panic.
            for i in 0..good.len() {
                let mut m = good.to_vec();
                m[i] ^= 0x5a;
                if let Ok(s) = parse(&m, None) {
                    for k in &s.keys {
                        let _ = k.decrypt("key-secret");
                    }
                }
            }
        }
        let mut jceks = KEYTOOL_TRUSTSTORE.to_vec();
        jceks[..4].copy_from_slice(&JCEKS_MAGIC);
        assert!(parse(&jceks, None)
            .unwrap_err()
            .to_string()
            .contains("JCEKS"));
        assert!(parse(b"-----BEGIN", None)
            .unwrap_err()
            .to_string()
            .contains("not a JKS"));
    }
}
