//! How a request or response names a topic: by name before topic IDs
//! (KIP-516), by ID after.

use crate::uuid::Uuid;

/// A topic named by name or by ID.
///
/// Fetch v13+, Produce v13+, OffsetCommit and OffsetFetch v10+ and
/// TxnOffsetCommit v6+ carry topic IDs where older versions carry names.
/// The generated messages hold one `TopicRef` where the schema has the two
/// alternatives, so a message can never carry both or neither, and encoding
/// one kind in a version that needs the other is an
/// [`EncodeError::TopicRef`](crate::EncodeError::TopicRef), not a zero UUID
/// or an empty name on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TopicRef {
    /// The topic name (versions before topic IDs).
    Name(String),
    /// The topic ID (versions with topic IDs).
    Id(Uuid),
}

impl TopicRef {
    /// The name, if this is a name.
    pub fn name(&self) -> Option<&str> {
        match self {
            TopicRef::Name(n) => Some(n),
            TopicRef::Id(_) => None,
        }
    }

    /// The ID, if this is an ID.
    pub fn id(&self) -> Option<Uuid> {
        match self {
            TopicRef::Name(_) => None,
            TopicRef::Id(id) => Some(*id),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            TopicRef::Name(_) => "name",
            TopicRef::Id(_) => "ID",
        }
    }
}

impl Default for TopicRef {
    fn default() -> Self {
        TopicRef::Name(String::new())
    }
}

impl std::fmt::Display for TopicRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TopicRef::Name(n) => f.write_str(n),
            TopicRef::Id(id) => write!(f, "topic id {id}"),
        }
    }
}
