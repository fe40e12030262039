//! libFuzzer entry point; the property lives in `shardcache_fuzz::inline_parser`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shardcache_fuzz::inline_parser(data));
