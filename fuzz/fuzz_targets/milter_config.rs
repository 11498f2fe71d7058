//! Fuzz target: see `milter_config` in fuzz/targets.rs.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::milter_config(data));
