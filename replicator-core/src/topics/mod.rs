//! Target topics: created when missing with the source's partition count
//! and synced configs, grown when the source grows, and checked
//! ([`target`]). Which topics are mirrored and their names on the target
//! are configuration, in [`crate::model`].

pub mod target;

// The MirrorMaker 2 reader reaches these through this module.
pub(crate) use crate::model::came_from;
pub(crate) use crate::model::selection;
pub use crate::model::TopicSelection;
pub use target::SYNCED_CONFIGS;
