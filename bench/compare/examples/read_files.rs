//! Reading files the way `monban verify` reads them, and nothing else, for
//! `benches/compare.sh`: each file opened and read with read(2) into one reused buffer
//! of 256 KiB (the CLI's read size), the bytes counted. Its process CPU time per file,
//! added to the crypto + hash bound's time per message, gives the bound of a program
//! that reads its messages from files (the kernel's copy out of the page cache is part
//! of it: no reading program avoids it but one that maps the files).
//!
//! ```text
//! cargo run --release --ignore-rust-version --example read_files -- FILE...
//! ```
//!
//! Prints the number of files and of bytes read, tab-separated.

use std::io::Read;

fn main() {
    let mut buf = vec![0u8; 256 * 1024];
    let (mut files, mut bytes) = (0u64, 0u64);
    for path in std::env::args().skip(1) {
        let mut f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => bytes += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("{path}: {e}"),
            }
        }
        files += 1;
    }
    println!("{files}\t{bytes}");
}
