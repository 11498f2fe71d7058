//! Reading local files named on the command line or in a configuration (zone files,
//! key files, the Public Suffix List, the milter configuration) with a size limit.
//!
//! The limit is applied while reading, not by asking for the size first: `/dev/zero`,
//! a FIFO or a file that grows reports no useful size, and must still stop at the limit.

use std::io::Read;
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Opening or reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The path names a folder.
    #[error("is a directory, not a file")]
    Directory,
    /// More than the limit.
    #[error("is larger than {0} bytes; refused")]
    TooLarge(u64),
}

/// Reads a whole file of at most `max` bytes; one byte more is an error, whatever kind
/// of file it is.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(ReadError::Directory);
    }
    let mut out = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(out)
}

/// [`read_limited`] for a text file that must be UTF-8.
pub fn read_text_limited(path: &Path, max: u64) -> Result<String, ReadError> {
    String::from_utf8(read_limited(path, max)?).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not valid UTF-8",
        ))
    })
}

/// What is wrong with the permissions of a file that holds a secret (a private key):
/// `None` when only its owner and its group can read it and only its owner can write
/// it (0600, 0640, as `monban keygen` writes them); else a sentence for a warning, with
/// the mode. A key any user of the host can read is no longer the domain's alone; one
/// its group can write can be replaced (OpenDKIM's `RequireSafeKeys` checks the same).
pub fn secret_exposure(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    let what = match (mode & 0o004 != 0, mode & 0o022 != 0) {
        (true, true) => "any user of this host can read it, and others can replace it",
        (true, false) => "any user of this host can read it",
        (false, true) => "users other than its owner can replace it",
        (false, false) if mode & 0o001 != 0 => "any user of this host can reach it",
        (false, false) => return None,
    };
    Some(format!(
        "{} is mode {mode:04o}: {what}; chmod 600 (or 640 with the group that runs monban)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9: `--zone /dev/zero` read 2.2 GB before anything stopped it.
    #[test]
    fn regression_issue9_endless_files_stop_at_the_limit() {
        match read_limited(Path::new("/dev/zero"), 1000) {
            Err(ReadError::TooLarge(1000)) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_limited(Path::new("/"), 1000),
            Err(ReadError::Directory)
        ));
        assert_eq!(read_limited(Path::new("/dev/null"), 0).unwrap(), b"");
    }

    #[test]
    fn exactly_the_limit_is_read_one_more_is_refused() {
        let dir = std::env::temp_dir().join(format!("monban-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        std::fs::write(&p, vec![b'a'; 100]).unwrap();
        assert_eq!(read_limited(&p, 100).unwrap().len(), 100);
        assert!(matches!(read_limited(&p, 99), Err(ReadError::TooLarge(99))));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn secrets_readable_or_writable_by_others_are_named() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("monban-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("key.pem");
        std::fs::write(&p, b"k").unwrap();
        for (mode, said) in [
            (0o600, None),
            (0o640, None),
            (0o400, None),
            (0o644, Some("any user of this host can read it")),
            (0o604, Some("any user of this host can read it")),
            (0o660, Some("users other than its owner can replace it")),
            (0o602, Some("users other than its owner can replace it")),
            (0o666, Some("and others can replace it")),
            (0o601, Some("can reach it")),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let got = secret_exposure(&p);
            match said {
                None => assert_eq!(got, None, "{mode:o}"),
                Some(s) => {
                    let got = got.unwrap_or_else(|| panic!("{mode:o} not named"));
                    assert!(
                        got.contains(s) && got.contains(&format!("{mode:04o}")),
                        "{got}"
                    );
                }
            }
        }
        assert_eq!(secret_exposure(&dir.join("missing")), None);
        std::fs::remove_dir_all(&dir).ok();
    }
}
