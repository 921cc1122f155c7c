//! The vocabulary the engine, the topic setup and the embedding API share:
//! what a mirror is told to do ([`MirrorConfig`], [`StartFrom`], [`Mode`],
//! which topics: [`TopicSelection`], and their names on the target:
//! [`RenamePolicy`]),
//! what it reports ([`Status`], [`Summary`]) and how it fails
//! ([`MirrorError`], [`PartitionError`]). It depends on nothing above it.

mod mirror_config;
mod mirror_error;
mod naming;
pub(crate) mod selection;
mod status;
mod summary;

pub use mirror_config::{MirrorConfig, Mode, StartFrom};
pub use mirror_error::{MirrorError, PartitionError};
pub use naming::RenamePolicy;
pub use selection::TopicSelection;
pub use status::{PartitionState, PartitionStatus, Status, ThrottleStatus, Totals};
pub use summary::Summary;
