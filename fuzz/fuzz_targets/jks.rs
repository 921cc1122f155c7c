#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| replicator_core::fuzz::jks(data));
