//! Fuzz target: see `arc_dkim2_fields` in fuzz/targets.rs.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::arc_dkim2_fields(data));
