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
