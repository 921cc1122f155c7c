#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mirror_cli::fuzz::mm2_properties(data));
