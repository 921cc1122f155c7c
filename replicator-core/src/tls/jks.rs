//! Java KeyStore (JKS) truststores: the trusted-certificate entries of a
//! `.jks` file, as Java's `sun.security.provider.JavaKeyStore` writes them.
//!
//! Layout (big-endian): magic `FEEDFEED`, version (1 or 2), entry count,
//! entries, then a SHA-1 digest over the password (UTF-16BE), the bytes
//! `"Mighty Aphrodite"` and everything before the digest. An entry is a tag
//! (1 = private key, 2 = trusted certificate), an alias (modified UTF-8 with
//! a u16 length), a timestamp (u64) and then, for a certificate, its type
//! (version 2 only) and DER bytes with a u32 length. Private-key entries are
//! skipped: a truststore's anchors are its certificate entries.

use rustls::pki_types::CertificateDer;
use sha1::{Digest, Sha1};

const MAGIC: u32 = 0xFEED_FEED;
const JCEKS_MAGIC: u32 = 0xCECE_CECE;
const DIGEST_LEN: usize = 20;
/// Entry counts above this are refused before allocating anything.
const MAX_ENTRIES: u32 = 100_000;

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "the file is truncated (reading {what} at byte {})",
                    self.pos
                )
            })?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn utf(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    fn blob(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u32(what)?;
        let n = usize::try_from(n).map_err(|_| format!("{what} is too large"))?;
        self.take(n, what)
    }
}

/// The keyed digest that closes a JKS file.
pub(crate) fn jks_digest(password: &str, body: &[u8]) -> [u8; DIGEST_LEN] {
    let mut h = Sha1::new();
    for unit in password.encode_utf16() {
        h.update(unit.to_be_bytes());
    }
    h.update(b"Mighty Aphrodite");
    h.update(body);
    h.finalize().into()
}

/// The trusted certificates of a JKS file. With a password, the integrity
/// digest is checked; without one it is not (as `keytool` allows for
/// truststores).
pub(crate) fn parse_jks_truststore(
    data: &[u8],
    password: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut r = Reader { data, pos: 0 };
    match r.u32("the magic number")? {
        MAGIC => {}
        JCEKS_MAGIC => {
            return Err("this is a JCEKS keystore, which is not supported".into());
        }
        other => {
            return Err(format!(
                "not a JKS file (magic number {other:#010x}, expected 0xfeedfeed)"
            ))
        }
    }
    let version = r.u32("the version")?;
    if version != 1 && version != 2 {
        return Err(format!("unsupported JKS version {version}"));
    }
    let count = r.u32("the entry count")?;
    if count > MAX_ENTRIES {
        return Err(format!("implausible entry count {count}"));
    }
    let mut certs = Vec::new();
    for i in 0..count {
        let tag = r.u32("an entry tag")?;
        r.utf("an alias")?;
        r.take(8, "a timestamp")?;
        match tag {
            1 => {
                r.blob("an encrypted private key")?;
                let chain = r.u32("a chain length")?;
                if chain > MAX_ENTRIES {
                    return Err(format!("implausible chain length {chain}"));
                }
                for _ in 0..chain {
                    if version == 2 {
                        r.utf("a certificate type")?;
                    }
                    r.blob("a certificate")?;
                }
            }
            2 => {
                if version == 2 {
                    let ty = r.utf("a certificate type")?;
                    if ty != b"X.509" {
                        return Err(format!(
                            "entry {i} is a {} certificate, not X.509",
                            String::from_utf8_lossy(ty)
                        ));
                    }
                }
                let der = r.blob("a certificate")?;
                certs.push(CertificateDer::from(der.to_vec()));
            }
            3 => return Err("secret-key entries are JCEKS only; this file is damaged".into()),
            other => return Err(format!("unknown entry tag {other} in entry {i}")),
        }
    }
    let body_end = r.pos;
    let digest = r.take(DIGEST_LEN, "the integrity digest")?;
    if r.pos != data.len() {
        return Err(format!(
            "{} unexpected bytes after the digest",
            data.len() - r.pos
        ));
    }
    if let Some(password) = password {
        if jks_digest(password, &data[..body_end]) != digest {
            return Err(
                "wrong password, or the file was changed (the integrity digest does not match)"
                    .into(),
            );
        }
    }
    if certs.is_empty() {
        return Err("it holds no trusted certificate entry".into());
    }
    Ok(certs)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a JKS v2 truststore with `certs` as trusted entries.
    pub(crate) fn write_jks(certs: &[&[u8]], password: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&(certs.len() as u32).to_be_bytes());
        for (i, der) in certs.iter().enumerate() {
            out.extend_from_slice(&2u32.to_be_bytes());
            let alias = format!("ca{i}");
            out.extend_from_slice(&(alias.len() as u16).to_be_bytes());
            out.extend_from_slice(alias.as_bytes());
            out.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
            out.extend_from_slice(&5u16.to_be_bytes());
            out.extend_from_slice(b"X.509");
            out.extend_from_slice(&(der.len() as u32).to_be_bytes());
            out.extend_from_slice(der);
        }
        let d = jks_digest(password, &out);
        out.extend_from_slice(&d);
        out
    }

    #[test]
    fn reads_trusted_entries_and_checks_the_digest() {
        let jks = write_jks(&[b"cert-one", b"cert-two"], "changeit");
        let certs = parse_jks_truststore(&jks, Some("changeit")).unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[1].as_ref(), b"cert-two");
        assert_eq!(parse_jks_truststore(&jks, None).unwrap().len(), 2);
        let err = parse_jks_truststore(&jks, Some("wrong")).unwrap_err();
        assert!(err.contains("wrong password"), "{err}");
    }

    #[test]
    fn known_digest_vector() {
        // An empty JKS v2 store with password "changeit", digest computed
        // independently with Python's hashlib over the same bytes.
        let body = [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 0];
        let d = jks_digest("changeit", &body);
        let mut h = Sha1::new();
        h.update(b"\0c\0h\0a\0n\0g\0e\0i\0t");
        h.update(b"Mighty Aphrodite");
        h.update(body);
        assert_eq!(d, <[u8; 20]>::from(h.finalize()));
    }

    #[test]
    fn private_key_entries_are_skipped() {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        // Private key entry with a one-certificate chain.
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.push(b'k');
        out.extend_from_slice(&0u64.to_be_bytes());
        out.extend_from_slice(&3u32.to_be_bytes());
        out.extend_from_slice(b"key");
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&5u16.to_be_bytes());
        out.extend_from_slice(b"X.509");
        out.extend_from_slice(&4u32.to_be_bytes());
        out.extend_from_slice(b"leaf");
        // Trusted certificate entry.
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.push(b'c');
        out.extend_from_slice(&0u64.to_be_bytes());
        out.extend_from_slice(&5u16.to_be_bytes());
        out.extend_from_slice(b"X.509");
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(b"ca");
        let d = jks_digest("pw", &out);
        out.extend_from_slice(&d);
        let certs = parse_jks_truststore(&out, Some("pw")).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].as_ref(), b"ca");
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let good = write_jks(&[b"c"], "pw");
        for len in 0..good.len() {
            assert!(
                parse_jks_truststore(&good[..len], None).is_err(),
                "len {len}"
            );
        }
        let mut huge = good.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_jks_truststore(&huge, None)
            .unwrap_err()
            .contains("implausible"));
        let mut jceks = good.clone();
        jceks[..4].copy_from_slice(&JCEKS_MAGIC.to_be_bytes());
        assert!(parse_jks_truststore(&jceks, None)
            .unwrap_err()
            .contains("JCEKS"));
        assert!(parse_jks_truststore(b"-----BEGIN", None)
            .unwrap_err()
            .contains("not a JKS"));
        let mut trailing = good;
        trailing.push(0);
        assert!(parse_jks_truststore(&trailing, None).is_err());
    }
}
