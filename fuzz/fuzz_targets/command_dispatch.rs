//! libFuzzer entry point; the property lives in `shardcache_fuzz::command_dispatch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shardcache_fuzz::command_dispatch(data));
