//! The embedding API: [`Mirror::builder`] configures a mirror from a source
//! to a target cluster, [`Mirror::start`] runs it and returns a
//! [`MirrorHandle`].
//!
//! A running mirror also reports through the `metrics` facade: see
//! [`crate::metric_names`].

mod builder;
mod handle;

pub use builder::{Mirror, MirrorBuilder};
pub use handle::{MirrorControl, MirrorHandle};
