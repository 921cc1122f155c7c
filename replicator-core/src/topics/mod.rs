//! Target topics: created when missing with the source's partition count
//! and synced configs, grown when the source grows, and checked
//! ([`target`]). Which topics are mirrored and their names on the target
//! are configuration, in [`crate::model`].

pub mod target;

pub use target::SYNCED_CONFIGS;
