//! libFuzzer entry point; the property lives in `shardcache_fuzz::resp_decoder`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shardcache_fuzz::resp_decoder(data));
