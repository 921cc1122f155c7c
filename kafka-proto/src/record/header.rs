//! A record header: a key and an optional value (KIP-82).

use bytes::Bytes;

/// One header of a record.
///
/// The key is kept as bytes: Kafka writes UTF-8, but a forwarder should not
/// reject or alter a key that is not. Use [`Header::key_str`] to read it as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// Header name; never null on the wire.
    pub key: Bytes,
    /// Header value; `None` when null.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header from a name and an optional value.
    pub fn new(key: impl Into<Bytes>, value: Option<Bytes>) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }

    /// The key as UTF-8 text.
    pub fn key_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_str_checks_utf8() {
        assert_eq!(Header::new("trace", None).key_str(), Ok("trace"));
        assert!(Header::new(&b"\xff"[..], None).key_str().is_err());
    }
}
