//! Runnable examples live next to this crate manifest; the code they share
//! (the `mirror` command line) lives here so that tests can run it
//! in-process.

pub mod cli;
