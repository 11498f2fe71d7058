//! What unit tests share.

/// A small deterministic pseudo-random generator (xorshift64) for tests that compare
/// an implementation with its definition on many generated inputs: the same inputs on
/// every run, so a failure can be replayed.
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A zone for tests: `records` (names relative to `example.`) under an SOA, so that a
/// name it lacks is NXDOMAIN and a type it lacks is NODATA.
pub(crate) fn example_zone(records: &str) -> monban_dns::ZoneResolver {
    let text = format!("$ORIGIN example.\n$TTL 3600\n@ SOA ns hostmaster 1 2 3 4 300\n{records}");
    monban_dns::ZoneResolver::parse(&text, "test", None).expect("the test zone parses")
}
