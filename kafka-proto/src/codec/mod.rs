//! Primitive encodings shared by every message: fixed-width integers,
//! varints, strings, bytes, arrays and tagged fields, classic and compact.

mod reader;
pub mod varint;
mod writer;

pub use reader::Reader;
pub use writer::Writer;
