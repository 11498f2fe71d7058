//! `monban keygen`: a DKIM key pair and the DNS record to publish (RFC 6376 §3.6.1,
//! RFC 8463 §4, RFC 8301 §3.2).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use monban::dkim::SigningKey;
use monban::dkim::key::zone_strings;

use crate::Failure;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyAlgorithm {
    /// RSA (rsa-sha256); what every verifier understands.
    Rsa,
    /// Ed25519 (ed25519-sha256, RFC 8463); small and fast, not yet verified everywhere.
    Ed25519,
}

/// Flags of `monban keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The signing domain (d=).
    #[arg(long, value_name = "D")]
    domain: String,
    /// The selector (s=): the key is published at <selector>._domainkey.<domain>.
    #[arg(long, value_name = "S")]
    selector: String,
    /// The key algorithm.
    #[arg(long, value_enum, default_value_t = KeyAlgorithm::Rsa)]
    algorithm: KeyAlgorithm,
    /// RSA key size: 2048 (default), 3072 or 4096.
    #[arg(long, value_name = "N")]
    bits: Option<usize>,
    /// Where to write <selector>.private and <selector>.txt (created when missing: mode
    /// 0700, or 0750 and the group's with --group).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Give the private key to this group, readable by it (mode 0640), e.g. `monban` when
    /// the milter runs as that user.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

fn label_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Writes a new file of `mode` (set on the open file: the umask does not widen or
/// narrow it). With `force`, an existing file is replaced by renaming a new one over
/// its name: a symbolic link there is replaced itself, never followed (a `--force`
/// into a folder others can write to overwrote the link's target with the private key).
fn write_file(path: &Path, contents: &str, mode: u32, force: bool) -> Result<(), Failure> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let cannot =
        |e: std::io::Error| Failure::other(format!("cannot write {}: {e}", path.display()));
    let create = |at: &Path| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(at)
    };
    let fill = |mut f: std::fs::File| -> std::io::Result<()> {
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()
    };
    if !force {
        let f = create(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Failure::other(format!(
                    "{} already exists; use --force to overwrite it",
                    path.display()
                ))
            } else {
                cannot(e)
            }
        })?;
        return fill(f).map_err(cannot);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.monban-{}", std::process::id()));
    let written = create(&temp)
        .and_then(fill)
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(cannot)
}

pub fn run(args: KeygenArgs) -> Result<(), Failure> {
    // An internationalized domain is published under its A-labels (RFC 8616 §4).
    let domain = monban::dkim::signature::ascii_domain(&args.domain).unwrap_or_default();
    let selector = args.selector.to_ascii_lowercase();
    if !label_ok(&domain) {
        return Err(Failure::usage(format!(
            "--domain {:?} is not a domain name",
            args.domain
        )));
    }
    if !label_ok(&selector) {
        return Err(Failure::usage(format!(
            "--selector {:?} is not a valid selector",
            args.selector
        )));
    }
    let key = match args.algorithm {
        KeyAlgorithm::Rsa => {
            let bits = args.bits.unwrap_or(2048);
            if bits < 2048 {
                return Err(Failure::usage(format!(
                    "--bits {bits}: RFC 8301 section 3.2 asks signers for RSA keys of at least 2048 bits (keys under 1024 are not verified at all)"
                )));
            }
            if ![2048, 3072, 4096].contains(&bits) {
                return Err(Failure::usage(format!("--bits {bits}: choose 2048, 3072 or 4096")));
            }
            SigningKey::generate_rsa(bits)
        }
        KeyAlgorithm::Ed25519 => {
            if args.bits.is_some() {
                return Err(Failure::usage("--bits applies to RSA keys only; Ed25519 keys are 256 bits"));
            }
            SigningKey::generate_ed25519()
        }
    }
    .map_err(|e| Failure::other(format!("key generation failed: {e}")))?;
    let pem = key
        .to_pkcs8_pem()
        .map_err(|e| Failure::other(format!("cannot encode the key: {e}")))?;
    let record = key
        .key_record()
        .map_err(|e| Failure::other(format!("cannot encode the public key: {e}")))?
        .to_string();
    let owner = format!("{selector}._domainkey.{domain}.");
    let zone_line = format!("{owner} 3600 IN TXT ( {} )\n", zone_strings(&record));

    let gid = args
        .group
        .as_deref()
        .map(|g| monban_milter::config::account_id(Path::new("/etc/group"), g))
        .transpose()
        .map_err(|e| Failure::usage(format!("--group: {e}")))?;
    if !args.out.exists() {
        use std::os::unix::fs::DirBuilderExt as _;
        // The folders made here (the last and any missing above it): with --group, the
        // group must be able to enter each of them to read the key.
        // A relative path's last ancestor is the empty path: not a folder to make.
        let made: Vec<&Path> = args
            .out
            .ancestors()
            .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
            .collect();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(if gid.is_some() { 0o750 } else { 0o700 })
            .create(&args.out)
            .map_err(|e| Failure::other(format!("cannot create {}: {e}", args.out.display())))?;
        for dir in made.iter().filter(|_| gid.is_some()) {
            std::os::unix::fs::chown(dir, None, gid).map_err(|e| {
                Failure::other(format!(
                    "cannot give {} to the group {}: {e}",
                    dir.display(),
                    args.group.as_deref().unwrap_or_default()
                ))
            })?;
        }
    }
    if !args.out.is_dir() {
        return Err(Failure::other(format!(
            "--out {} is not a directory",
            args.out.display()
        )));
    }
    if let Some(gid) = gid
        && !group_may_enter(&args.out, gid)
    {
        errln!(
            "monban keygen: warning: the group {} cannot enter {}, so it cannot read the key there: chgrp {} {} && chmod g+x {}",
            args.group.as_deref().unwrap_or_default(),
            args.out.display(),
            args.group.as_deref().unwrap_or_default(),
            args.out.display(),
            args.out.display()
        );
    }
    let private_path = args.out.join(format!("{selector}.private"));
    let txt_path = args.out.join(format!("{selector}.txt"));
    if !args.force {
        for p in [&private_path, &txt_path] {
            if p.exists() {
                return Err(Failure::other(format!(
                    "{} already exists; use --force to overwrite it",
                    p.display()
                )));
            }
        }
    }
    let key_mode = if gid.is_some() { 0o640 } else { 0o600 };
    write_file(&private_path, &pem, key_mode, args.force)?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(&private_path, None, Some(gid)).map_err(|e| {
            Failure::other(format!(
                "cannot give {} to the group {}: {e}",
                private_path.display(),
                args.group.as_deref().unwrap_or_default()
            ))
        })?;
    }
    write_file(&txt_path, &zone_line, 0o644, args.force)?;

    outln!("Publish this TXT record at {owner}");
    out!("{zone_line}");
    outln!("Or, in a DNS provider's web form:");
    outln!("  Type:  TXT");
    outln!("  Host:  {selector}._domainkey   (the full name: {selector}._domainkey.{domain})");
    outln!("  Value: {record}");
    outln!(
        "Private key: {} ({}, {} bits, mode {key_mode:04o}). Keep it secret; sign with:",
        private_path.display(),
        key.algorithm().as_str(),
        key.bits()
    );
    outln!(
        "  monban sign --domain {domain} --selector {selector} --key {} MESSAGE",
        private_path.display()
    );
    outln!(
        "Once published, check that the record matches the key:\n  monban check {domain} --selector {selector} --key {}",
        private_path.display()
    );
    // The milter usually runs as its own user: a root-only key would stop it signing.
    if gid.is_none()
        && monban_milter::config::account_id(Path::new("/etc/passwd"), "monban").is_ok()
    {
        errln!(
            "monban keygen: warning: {} is readable by its owner only; the milter running as user monban cannot read it: use --group monban (or chown it)",
            private_path.display()
        );
    }
    Ok(())
}

/// Whether members of the group `gid` may enter `dir` (search permission, as the group
/// that owns it or as anyone). Only the folder itself is looked at, not its parents.
fn group_may_enter(dir: &Path, gid: u32) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(m) = std::fs::metadata(dir) else {
        return true;
    };
    let mode = m.mode();
    mode & 0o001 != 0 || (m.gid() == gid && mode & 0o010 != 0)
}
