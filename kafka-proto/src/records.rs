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
    chunks: Vec<Bytes>,
    len: usize,
}

impl Records {
    /// No records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a chunk.
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push(chunk);
        }
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
        &self.chunks
    }

    /// The content as one buffer: free for a single chunk, a copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match self.chunks.as_slice() {
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
        self.chunks.iter().flat_map(|c| c.iter().copied())
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
            .field("chunks", &self.chunks.len())
            .finish()
    }
}
