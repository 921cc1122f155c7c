//! The compression codec named in the low three bits of batch attributes.

/// Compression codec of a record batch or legacy entry.
///
/// Batches are forwarded without touching their records; [`super::compress`]
/// and [`super::decompress`] are there for the batches that cannot go whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Records are stored as-is.
    #[default]
    None,
    /// gzip.
    Gzip,
    /// Snappy, in the Java client's framed format.
    Snappy,
    /// LZ4 frame format.
    Lz4,
    /// Zstandard (magic 2 only).
    Zstd,
    /// A codec id this crate does not know (5–7).
    Unknown(u8),
}

impl Compression {
    /// The attribute bits that carry the codec.
    pub const MASK: i16 = 0x07;

    /// Decodes the codec from batch or entry attributes.
    pub fn from_attributes(attributes: i16) -> Self {
        Self::from_id((attributes & Self::MASK) as u8)
    }

    /// Decodes a codec id (0–7).
    pub fn from_id(id: u8) -> Self {
        match id {
            0 => Self::None,
            1 => Self::Gzip,
            2 => Self::Snappy,
            3 => Self::Lz4,
            4 => Self::Zstd,
            other => Self::Unknown(other),
        }
    }

    /// The codec id as written in the attributes.
    pub fn id(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
            Self::Unknown(id) => id,
        }
    }

    /// Whether the records section is stored without compression.
    pub fn is_none(self) -> bool {
        self == Self::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for id in 0..8u8 {
            assert_eq!(Compression::from_id(id).id(), id);
        }
        assert_eq!(Compression::from_attributes(0x7ff4), Compression::Zstd);
        assert_eq!(
            Compression::from_attributes(0x0006),
            Compression::Unknown(6)
        );
    }
}
