//! Fuzz target: see `dkim_key` in fuzz/targets.rs.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::dkim_key(data));
