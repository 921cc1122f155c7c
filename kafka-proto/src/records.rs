//! The value of a `records` field: record batches as one or more shared chunks.

use bytes::{BufMut, Bytes, BytesMut};

/// The bytes of a `records` field, held as chunks whose concatenation is the
/// value.
///
/// Decoding yields one chunk sliced from the frame. When forwarding, a
/// rewritten 61-byte batch header and the untouched rest of the batch can sit
/// side by side as two chunks, so the record data is never copied.
/// Equality compares content, not chunking.
#[derive(Clone, Default)]
pub struct Records {
    chunks: Chunks,
    len: usize,
}

/// The chunk list, inline while there is one: a decoded `records` field is
/// one chunk, and this spares an allocation per fetched partition.
#[derive(Clone, Default)]
enum Chunks {
    #[default]
    None,
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Records {
    /// No records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a chunk.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        self.chunks = match std::mem::take(&mut self.chunks) {
            Chunks::None => Chunks::One(chunk),
            Chunks::One(first) => Chunks::Many(vec![first, chunk]),
            Chunks::Many(mut all) => {
                all.push(chunk);
                Chunks::Many(all)
            }
        };
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks in order.
    pub fn chunks(&self) -> &[Bytes] {
        match &self.chunks {
            Chunks::None => &[],
            Chunks::One(one) => std::slice::from_ref(one),
            Chunks::Many(all) => all,
        }
    }

    /// The content as one buffer: free for a single chunk, a copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut out = BytesMut::with_capacity(self.len);
                for c in many {
                    out.put_slice(c);
                }
                out.freeze()
            }
        }
    }

    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.chunks().iter().flat_map(|c| c.iter().copied())
    }
}

impl From<Bytes> for Records {
    fn from(b: Bytes) -> Self {
        let mut r = Records::new();
        r.push(b);
        r
    }
}

impl PartialEq for Records {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.bytes().eq(other.bytes())
    }
}

impl Eq for Records {}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("len", &self.len)
            .field("chunks", &self.chunks().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_in_order_and_empty_ones_are_dropped() {
        let mut r = Records::new();
        assert!(r.chunks().is_empty());
        r.push(Bytes::new());
        assert!(r.chunks().is_empty() && r.is_empty());
        r.push(Bytes::from_static(b"ab"));
        assert_eq!(r.chunks().len(), 1);
        r.push(Bytes::from_static(b"c"));
        r.push(Bytes::new());
        r.push(Bytes::from_static(b"de"));
        assert_eq!(r.chunks().len(), 3);
        assert_eq!(r.len(), 5);
        assert_eq!(r.to_bytes(), Bytes::from_static(b"abcde"));
        assert_eq!(r, Records::from(Bytes::from_static(b"abcde")));
    }
}
