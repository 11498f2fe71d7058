//! Where the external conformance data lives (`../shared/suites/`, beside the checkout)
//! and how a test reads it.

use std::path::{Path, PathBuf};

/// The suites folder; a missing folder is a setup error named as such.
pub fn suites() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/suites");
    assert!(
        dir.is_dir(),
        "missing {} (clone the project beside shared/)",
        dir.display()
    );
    dir
}

/// A file of the suites, by path relative to the suites folder.
pub fn read(rel: &str) -> Vec<u8> {
    let p = suites().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
