//! Runnable examples of embedding `replicator-core` live next to this
//! crate's manifest (`cargo run --example NAME`):
//!
//! - `mirror`: a mirror in 30 lines, until Ctrl-C;
//! - `status_polling`: a mirror whose status is polled and printed;
//! - `custom_rename`: target topic names from a function of your own;
//! - `decode_frame`: one Kafka frame decoded with `kafka-proto`.
//!
//! The command line that runs MirrorMaker 2 files is `kafka-mirror`, in
//! `mirror-cli/`.
