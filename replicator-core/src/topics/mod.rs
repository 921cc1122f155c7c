//! Topics: which are mirrored ([`TopicSelection`]), what they are called on
//! the target ([`RenamePolicy`]), and target topic creation, growth and
//! config sync ([`target`]).

mod naming;
pub(crate) mod selection;
pub mod target;

pub use naming::RenamePolicy;
pub use selection::TopicSelection;
pub use target::SYNCED_CONFIGS;
