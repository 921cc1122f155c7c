//! Tagged fields (KIP-482) that this crate does not know, kept so that a
//! decoded message re-encodes to the same bytes.

use bytes::Bytes;

/// Unknown tagged fields of one struct, in wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnknownTaggedFields(Vec<(u32, Bytes)>);

impl UnknownTaggedFields {
    /// Keeps one field.
    pub fn push(&mut self, tag: u32, payload: Bytes) {
        self.0.push((tag, payload));
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The fields as `(tag, payload)`.
    pub fn iter(&self) -> impl Iterator<Item = &(u32, Bytes)> {
        self.0.iter()
    }
}

impl UnknownTaggedFields {
    /// Writes the kept fields from index `*next` on whose tag is below
    /// `below` (all remaining ones for `None`), so that unknown and known
    /// tags interleave in ascending order as the format requires.
    pub fn write_until(&self, w: &mut crate::codec::Writer, next: &mut usize, below: Option<u32>) {
        while let Some((tag, payload)) = self.0.get(*next) {
            if below.is_some_and(|b| *tag >= b) {
                break;
            }
            w.unsigned_varint(*tag);
            w.unsigned_varint(payload.len() as u32);
            w.put_slice(payload);
            *next += 1;
        }
    }
}
