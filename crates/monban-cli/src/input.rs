//! Message input for `verify` and `sign`: files, stdin, Maildir folders and mbox files,
//! read in chunks so that no message is ever held whole.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// The chunk size used to read messages.
pub const CHUNK: usize = 64 * 1024;
/// The size of the reads of [`Reader`]: most messages arrive in one read, and one
/// buffer of this size per worker is all the memory a message of any size needs.
pub const READ_CHUNK: usize = 256 * 1024;
/// Lines longer than this are passed on in pieces (mbox splitting looks at line starts).
const MAX_LINE: u64 = 1024 * 1024;

/// One place messages come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Standard input (one message, or an mbox).
    Stdin,
    /// A file: one message, or an mbox when it starts with "From ". With the length a
    /// regular file had when [`expand`] looked at it: reading stops there, without one
    /// more read to find the end (see [`Reader`]).
    File(PathBuf, Option<u64>),
    /// A folder that could not be listed: its label and why, reported in its place
    /// among the inputs (the others are still read).
    Unlisted(String, String),
}

impl Source {
    /// The source a command-line argument names: none or `-` is standard input.
    pub fn from_arg(arg: Option<&str>) -> Self {
        match arg {
            None | Some("-") => Self::Stdin,
            Some(p) => Self::File(p.into(), None),
        }
    }

    /// A label for output (`-` for stdin).
    pub fn label(&self) -> String {
        match self {
            Self::Stdin => "-".into(),
            Self::File(p, _) => p.display().to_string(),
            Self::Unlisted(label, _) => label.clone(),
        }
    }
}

/// The inputs the command-line arguments name, and notes for stderr about what was
/// left out of folders.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The inputs, in order.
    pub sources: Vec<Source>,
    /// One sentence per folder that held entries that are not message files.
    pub notes: Vec<String>,
    /// The arguments that are Maildirs holding no message: an empty mailbox, which is
    /// nothing to verify rather than a mistake (a plain folder holding no files is
    /// reported as one).
    pub empty_maildirs: Vec<String>,
}

/// Expands the command-line arguments: `-` is stdin, a Maildir (or any folder) gives
/// its files (`cur/` and `new/` of a Maildir, sorted), a file is itself.
///
/// Nothing here stops the run: a name that does not exist (or cannot be looked at)
/// stays an input, whose opening then fails in its place with the system's reason,
/// and a folder that cannot be listed becomes [`Source::Unlisted`]. In a folder, a
/// symbolic link to a file is a message like the file; subfolders (a folder is not
/// read recursively), broken links and special files (FIFOs, sockets, devices: reading
/// one may never end) are left out and counted in a note; so are, in a Maildir, names
/// starting with a dot, which the Maildir format reserves (they are not messages).
pub fn expand(args: &[String]) -> Expanded {
    if args.is_empty() {
        return Expanded {
            sources: vec![Source::Stdin],
            ..Expanded::default()
        };
    }
    let mut out = Expanded::default();
    for a in args {
        if a == "-" {
            out.sources.push(Source::Stdin);
            continue;
        }
        let p = Path::new(a);
        let meta = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(_) => {
                // Opening it says why, in its place among the results.
                out.sources.push(Source::File(p.to_path_buf(), None));
                continue;
            }
        };
        if meta.is_dir() {
            list_folder(a, p, &mut out);
        } else {
            // Only a regular file's length is its content's: a pipe or a device says 0
            // (`/dev/stdin`, `<(...)`), as do some special files that have content.
            let len = (meta.is_file() && meta.len() > 0).then_some(meta.len());
            out.sources.push(Source::File(p.to_path_buf(), len));
        }
    }
    out
}

/// The message files of folder `p` (named `arg` on the command line), sorted, into
/// `out`, with a note on what was left out ([`expand`]).
fn list_folder(arg: &str, p: &Path, out: &mut Expanded) {
    let maildir = p.join("cur").is_dir() || p.join("new").is_dir();
    let dirs: Vec<PathBuf> = if maildir {
        vec![p.join("cur"), p.join("new")]
    } else {
        vec![p.to_path_buf()]
    };
    let mut files = Vec::new();
    let mut left_out = LeftOut::default();
    for d in dirs.into_iter().filter(|d| d.is_dir()) {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) => {
                let label = d.display().to_string();
                out.sources
                    .push(Source::Unlisted(label.clone(), format!("{label}: {e}")));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let label = d.display().to_string();
                    out.sources.push(Source::Unlisted(
                        label.clone(),
                        format!("{label}: listing stopped: {e}"),
                    ));
                    break;
                }
            };
            if maildir && entry.file_name().as_encoded_bytes().starts_with(b".") {
                left_out.dot += 1;
                continue;
            }
            let path = entry.path();
            // A symbolic link counts as what it leads to.
            let kind = match entry.file_type() {
                Ok(t) if t.is_symlink() => std::fs::metadata(&path).map(|m| m.file_type()),
                other => other,
            };
            match kind {
                Ok(t) if t.is_file() => files.push(path),
                Ok(t) if t.is_dir() => left_out.folders += 1,
                Ok(_) => left_out.special += 1,
                Err(_) => left_out.broken += 1,
            }
        }
    }
    files.sort();
    let listed = out.sources.len();
    out.sources
        .extend(files.into_iter().map(|f| Source::File(f, None)));
    if maildir && out.sources.len() == listed {
        out.empty_maildirs.push(arg.to_owned());
    }
    if let Some(note) = left_out.note(arg) {
        out.notes.push(note);
    }
}

/// What a folder held besides message files.
#[derive(Debug, Default)]
struct LeftOut {
    folders: usize,
    special: usize,
    broken: usize,
    dot: usize,
}

impl LeftOut {
    /// One sentence naming the folder and each kind left out, if any was.
    fn note(&self, folder: &str) -> Option<String> {
        let kinds = [
            (
                self.folders,
                "subfolder(s) (folders are not read recursively)",
            ),
            (self.special, "special file(s) (FIFOs, sockets, devices)"),
            (self.broken, "link(s) that lead nowhere"),
            (self.dot, "Maildir name(s) starting with a dot"),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        (!parts.is_empty()).then(|| format!("{folder}: left out {}", parts.join(", ")))
    }
}

/// Opens a message file of a Maildir that a mail client may have renamed since the
/// folder was listed: a flag change renames `cur/NAME:2,FLAGS`, and a message seen
/// moves from `new/NAME` to `cur/NAME:2,FLAGS` (the part before `:` stays). When `p`
/// is gone and lies in a Maildir's `cur/` or `new/`, the file of the same unique name
/// is looked for in `cur/`, then `new/`; otherwise (or when there is none: the message
/// was deleted) the error is the first one.
pub(crate) fn open_file(p: &Path) -> io::Result<File> {
    let first = match File::open(p) {
        Ok(f) => return Ok(f),
        Err(e) => e,
    };
    let renamed = (first.kind() == io::ErrorKind::NotFound)
        .then(|| maildir_renamed(p))
        .flatten();
    match renamed {
        Some(now) => File::open(now),
        None => Err(first),
    }
}

/// Where a Maildir message named `p` is now ([`open_file`]), from a listing of the
/// Maildir's `cur/` and `new/` by unique name (the part before `:`). One listing per
/// Maildir serves every message that vanished within [`RELIST_EVERY`] of it: a mass
/// expunge during a run costs a listing per interval, not one per message (which over
/// a large Maildir would be quadratic).
fn maildir_renamed(p: &Path) -> Option<PathBuf> {
    let sub = p.parent()?;
    if !matches!(sub.file_name()?.to_str()?, "cur" | "new") {
        return None;
    }
    let root = sub.parent()?;
    // A Maildir has both (a plain folder that happens to be named `cur` is not one).
    if !(root.join("cur").is_dir() && root.join("new").is_dir()) {
        return None;
    }
    let name = p.file_name()?.as_encoded_bytes();
    let unique = unique_name(name);
    let mut listings = RELISTINGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let listings = listings.get_or_insert_with(Default::default);
    let stale = listings
        .get(root)
        .is_none_or(|l| l.at.elapsed() >= RELIST_EVERY);
    let found = |l: &Relisting| {
        l.by_unique
            .get(unique)
            .filter(|now| now.as_path() != p)
            .cloned()
    };
    if let Some(now) = listings.get(root).and_then(found) {
        return Some(now);
    }
    if !stale {
        return None;
    }
    let mut listing = Relisting::of(root);
    listing.made += listings.get(root).map_or(0, |l| l.made);
    let now = found(&listing);
    listings.insert(root.to_path_buf(), listing);
    // The listings of the Maildirs seen last are kept, not every one of a long run.
    while listings.len() > RELISTINGS_KEPT {
        let oldest = listings
            .iter()
            .min_by_key(|(_, l)| l.at)
            .map(|(root, _)| root.clone());
        match oldest {
            Some(root) => listings.remove(&root),
            None => break,
        };
    }
    now
}

/// How many Maildirs' listings [`maildir_renamed`] keeps at most.
const RELISTINGS_KEPT: usize = 16;

/// The unique part of a Maildir message name: up to its `:` (the info, flags).
fn unique_name(name: &[u8]) -> &[u8] {
    name.split(|&b| b == b':').next().unwrap_or(name)
}

/// How long a listing made to find renamed Maildir messages is used before another
/// is made for a message it does not know.
const RELIST_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The listings of [`maildir_renamed`], by Maildir.
static RELISTINGS: std::sync::Mutex<Option<std::collections::HashMap<PathBuf, Relisting>>> =
    std::sync::Mutex::new(None);

/// A Maildir's messages by unique name, and when they were listed.
struct Relisting {
    at: std::time::Instant,
    by_unique: std::collections::HashMap<Vec<u8>, PathBuf>,
    /// How many listings of this Maildir were made, this one included.
    made: usize,
}

impl Relisting {
    /// Lists `root`'s `cur/`, then `new/` (a name in both counts as the one in `cur/`,
    /// where a message moves to).
    fn of(root: &Path) -> Self {
        let mut by_unique = std::collections::HashMap::new();
        for folder in ["cur", "new"] {
            let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let unique = unique_name(entry.file_name().as_encoded_bytes()).to_vec();
                by_unique.entry(unique).or_insert_with(|| entry.path());
            }
        }
        Self {
            at: std::time::Instant::now(),
            by_unique,
            made: 1,
        }
    }
}

/// Opens a source for reading.
pub fn open(source: &Source) -> io::Result<Box<dyn BufRead>> {
    Ok(match source {
        Source::Stdin => Box::new(BufReader::with_capacity(CHUNK, io::stdin())),
        Source::File(p, _) => {
            let f = open_file(p)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            Box::new(BufReader::with_capacity(CHUNK, f))
        }
        Source::Unlisted(_, why) => return Err(io::Error::other(why.clone())),
    })
}

/// Opens a source for reading into `buf`, a buffer the caller reuses from one input to
/// the next (no allocation per input; reads of [`READ_CHUNK`]).
pub fn open_in<'b>(source: &Source, buf: &'b mut Vec<u8>) -> io::Result<Reader<'b>> {
    Ok(match source {
        Source::Stdin => Reader::new(Box::new(io::stdin()), buf),
        Source::File(p, len) => {
            let f = open_file(p)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
            let mut reader = Reader::new(Box::new(f), buf);
            reader.expected = *len;
            reader
        }
        Source::Unlisted(_, why) => return Err(io::Error::other(why.clone())),
    })
}

/// A buffered reader over a borrowed buffer: [`BufReader`] without its allocation per
/// input. The buffer is kept at its full length (zeroed once, when it is first sized),
/// so that a read goes straight into it.
///
/// With an expected length (a regular file's, from [`expand`]), the input ends when a
/// read returns less than asked for and reaches that length: the read that would return
/// 0 to say so is not made (one system call of four per message, most messages being
/// one read). A file that grew meanwhile fills the buffer or passes the length and is
/// read on to its end, as without one; one that shrank ends where it ends.
pub struct Reader<'b> {
    inner: Box<dyn Read + 'b>,
    buf: &'b mut Vec<u8>,
    pos: usize,
    end: usize,
    /// The length the input is expected to have.
    expected: Option<u64>,
    /// How much was read so far.
    read: u64,
    /// Whether the last read ended the input at its expected length.
    at_end: bool,
}

impl<'b> Reader<'b> {
    /// Reads `inner` through `buf`.
    pub fn new(inner: Box<dyn Read + 'b>, buf: &'b mut Vec<u8>) -> Self {
        if buf.len() < READ_CHUNK {
            buf.resize(READ_CHUNK, 0);
        }
        Self {
            inner,
            buf,
            pos: 0,
            end: 0,
            expected: None,
            read: 0,
            at_end: false,
        }
    }
}

impl Read for Reader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(out.len());
            out[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Reader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.end {
            self.pos = 0;
            self.end = 0;
            if self.at_end {
                return Ok(&[]);
            }
            loop {
                match self.inner.read(&mut self.buf[..]) {
                    Ok(n) => {
                        self.end = n;
                        self.read += n as u64;
                        // A read that stopped short, at the expected length: the end.
                        // (A full buffer may have more behind it, even at that length:
                        // the file may have grown.)
                        self.at_end = n < self.buf.len() && self.expected == Some(self.read);
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }
}

/// Reads messages one after another from a reader: a single message, or the messages
/// of an mbox (RFC 4155: each starts with a "From " line, which is not part of it).
///
/// An mbox writer quotes a message's own lines that start with "From " as ">From "
/// (mboxo), and mboxrd writers add one more ">" to lines that already start with
/// ">"s then "From ". Each line of '>'s then "From " loses one '>' here (the mboxrd
/// reading, RFC 4155 §2 and Appendix A), so that what is verified or signed is the
/// message as it was sent: its DKIM body hash holds again. (An mboxo file whose
/// message had a line starting ">From " gives that line back one '>' short.)
pub struct Messages<R> {
    reader: R,
    mbox: Option<bool>,
    /// A "From " separator line already read, belonging to the next message.
    started_next: bool,
    done: bool,
    line: Vec<u8>,
    /// After a sink stops, end the input instead of skipping to the next message.
    first_only: bool,
}

impl<R: BufRead> Messages<R> {
    /// Wraps a reader.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            mbox: None,
            started_next: false,
            done: false,
            line: Vec::new(),
            first_only: false,
        }
    }

    /// For a caller that needs one message only: when its sink stops, nothing more of
    /// the input is read, even in an mbox (whose rest may never end).
    pub fn first_only(mut self) -> Self {
        self.first_only = true;
        self
    }

    /// Whether the input turned out to be an mbox (known after the first message).
    pub fn is_mbox(&self) -> bool {
        self.mbox == Some(true)
    }

    fn read_piece(&mut self) -> io::Result<usize> {
        self.line.clear();
        (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut self.line)
    }

    /// Reads past the rest of the current line (a "From " separator, not part of any
    /// message).
    fn consume_line(&mut self) -> io::Result<()> {
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            if let Some(p) = memchr::memchr(b'\n', buf) {
                self.reader.consume(p + 1);
                return Ok(());
            }
            let n = buf.len();
            self.reader.consume(n);
        }
    }

    /// Whether another message of the mbox follows the one just read.
    pub fn has_next(&self) -> bool {
        self.is_mbox() && self.started_next && !self.done
    }

    /// Feeds the next message to `sink` in pieces; returns false when there is none.
    ///
    /// When `sink` answers [`ControlFlow::Break`] (it has seen enough, e.g. the header
    /// is over a limit), reading that message stops: a single message is not read any
    /// further (endless input ends there), and in an mbox the rest of the message is
    /// skipped up to the next "From " line.
    pub fn next_message(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        let mut stopped = false;
        let first = self.mbox.is_none();
        if first {
            // Decide on the first bytes, in the reader's buffer when they are there:
            // a plain message then goes to the sink without a copy of its first line.
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                self.done = true;
                return Ok(false);
            }
            if buf.len() >= 5 || memchr::memchr(b'\n', buf).is_some() {
                let is_mbox = buf.starts_with(b"From ");
                self.mbox = Some(is_mbox);
                if is_mbox {
                    // The separator is not part of the message.
                    self.consume_line()?;
                }
            } else {
                // Too little in the buffer to decide: the first line, read whole.
                let n = self.read_piece()?;
                if n == 0 {
                    self.done = true;
                    return Ok(false);
                }
                let is_mbox = self.line.starts_with(b"From ");
                self.mbox = Some(is_mbox);
                if !is_mbox {
                    stopped = sink(&self.line).is_break();
                }
            }
        } else if !self.started_next {
            self.done = true;
            return Ok(false);
        }
        if self.mbox == Some(false) {
            // A plain message: everything, unless the sink has seen enough, handed over
            // straight from the reader's buffer.
            while !stopped {
                let buf = self.reader.fill_buf()?;
                if buf.is_empty() {
                    break;
                }
                let n = buf.len();
                stopped = sink(buf).is_break();
                self.reader.consume(n);
            }
            self.done = true;
            return Ok(true);
        }
        self.started_next = false;
        let mut at_line_start = true;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                self.done = true;
                break;
            }
            // At a line start, the line must be seen up to its fifth byte after any
            // '>'s (or to its end) to know whether it is a "From " separator or a
            // quoted one; when the buffer holds less, the line is read whole (bounded
            // by MAX_LINE) instead.
            let decidable = !at_line_start || line_start_decidable(buf);
            if at_line_start && !decidable {
                if self.read_piece()? == 0 {
                    self.done = true;
                    break;
                }
                if self.line.starts_with(b"From ") {
                    self.started_next = true;
                    break;
                }
                at_line_start = self.line.ends_with(b"\n");
                if !stopped {
                    let line = if is_quoted_from(&self.line) {
                        &self.line[1..]
                    } else {
                        &self.line[..]
                    };
                    stopped = sink(line).is_break();
                    if stopped && self.first_only {
                        self.done = true;
                        break;
                    }
                }
                continue;
            }
            if at_line_start && buf.starts_with(b"From ") {
                self.started_next = true;
                self.consume_line()?;
                break;
            }
            // Whole lines up to the next separator, or up to the last line end in the
            // buffer; a buffer without a line end is the middle of a long line.
            let (run, next_is_separator) = match memchr::memmem::find(buf, b"\nFrom ") {
                Some(p) => (p + 1, true),
                None => match memchr::memrchr(b'\n', buf) {
                    Some(p) => (p + 1, false),
                    None => (buf.len(), false),
                },
            };
            let run_starts_line = at_line_start;
            at_line_start = buf[run - 1] == b'\n';
            if !stopped {
                stopped = unquoted(&buf[..run], run_starts_line, &mut sink);
            }
            self.reader.consume(run);
            if stopped && self.first_only {
                self.done = true;
                break;
            }
            if next_is_separator {
                self.started_next = true;
                self.consume_line()?;
                break;
            }
        }
        Ok(true)
    }
}

/// Whether a line of '>'s then "From " starts `line`: an mbox's quoting of a line of
/// the message (one '>' of it is the quoting).
fn is_quoted_from(line: &[u8]) -> bool {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    quotes > 0 && line[quotes..].starts_with(b"From ")
}

/// Whether `buf`, at a line start, holds enough of the line to tell a separator or a
/// quoted "From " line from others: the line's end, or five bytes past its '>'s.
fn line_start_decidable(buf: &[u8]) -> bool {
    let quotes = buf.iter().take_while(|&&b| b == b'>').count();
    buf.len() >= quotes + 5 || memchr::memchr(b'\n', buf).is_some()
}

/// Hands `run`, whole lines of an mbox message (the first one from its start when
/// `starts_line`; only the last may be cut short), to `sink`, each quoted "From " line
/// ([`is_quoted_from`]) without its first '>': the run goes in the pieces between those
/// bytes. Whether the sink stopped.
fn unquoted(
    run: &[u8],
    starts_line: bool,
    sink: &mut impl FnMut(&[u8]) -> ControlFlow<()>,
) -> bool {
    let mut from = 0;
    let first = starts_line.then_some(0);
    let others = memchr::memmem::find_iter(run, b"\n>").map(|p| p + 1);
    for start in first.into_iter().chain(others) {
        if is_quoted_from(&run[start..]) {
            if start > from && sink(&run[from..start]).is_break() {
                return true;
            }
            from = start + 1;
        }
    }
    from < run.len() && sink(&run[from..]).is_break()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<Vec<u8>> {
        let mut m = Messages::new(input);
        let mut out = Vec::new();
        loop {
            let mut msg = Vec::new();
            if !m
                .next_message(|c| {
                    msg.extend_from_slice(c);
                    ControlFlow::Continue(())
                })
                .unwrap()
            {
                break;
            }
            out.push(msg);
        }
        out
    }

    #[test]
    fn plain_message() {
        assert_eq!(
            all(b"From: a\r\n\r\nhi\r\n"),
            vec![b"From: a\r\n\r\nhi\r\n".to_vec()]
        );
        assert!(all(b"").is_empty());
    }

    #[test]
    fn rfc4155_mbox() {
        let mbox = b"From a@b Mon Jan 1 00:00:00 2024\nFrom: a\n\none\n\nFrom c@d Mon Jan 1 00:00:00 2024\nFrom: c\n\ntwo\n";
        let msgs = all(mbox);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0], b"From: a\n\none\n\n");
        assert_eq!(msgs[1], b"From: c\n\ntwo\n");
    }

    /// The mbox reader hands over runs of whole lines straight from the reader's
    /// buffer; whatever the buffer size, the messages are those of a line-by-line
    /// reference split (RFC 4155: a line starting "From " starts the next message).
    #[test]
    fn rfc4155_mbox_splits_alike_for_any_buffer_size() {
        fn reference(input: &[u8]) -> Vec<Vec<u8>> {
            let mut out: Vec<Vec<u8>> = Vec::new();
            for line in input.split_inclusive(|&b| b == b'\n') {
                if line.starts_with(b"From ") {
                    out.push(Vec::new());
                } else if let Some(m) = out.last_mut() {
                    // mboxrd: '>'s then "From " lose one '>'.
                    let quotes = line.iter().take_while(|&&b| b == b'>').count();
                    if quotes > 0 && line[quotes..].starts_with(b"From ") {
                        m.extend_from_slice(&line[1..]);
                    } else {
                        m.extend_from_slice(line);
                    }
                }
            }
            out
        }
        let inputs: [&[u8]; 8] = [
            b"From a\nFrom: x\n\nbody\n>From here\nFrom b\n\nFrom c\nFrom d\nFrom:\n",
            b"From a\n>From x\n>>From y\n> From z\n>>>>>From\n>>>From \n>\n>>\n>Fro\n>>Fromage",
            b"From a\r\n>From x\r\nbody >From\r\n\r\nFrom b\r\n>>>From c\r\n",
            b"From a\n>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>From long quoting\n>>>>>>>>>>>>>>>>>>>>",
            b"From a\r\nX: 1\r\n\r\nFrom\r\nFromage\nFrom b x\nlast line, no end",
            b"From a\n\n\n\nFrom b\n",
            b"From a\nFro",
            b"From a\nlong line From here and From there\nFrom  b\nFrom\n",
        ];
        for input in inputs {
            for cap in 1..=48 {
                let mut m = Messages::new(BufReader::with_capacity(cap, input));
                let mut got = Vec::new();
                loop {
                    let mut msg = Vec::new();
                    let more = m
                        .next_message(|c| {
                            msg.extend_from_slice(c);
                            ControlFlow::Continue(())
                        })
                        .unwrap();
                    if !more {
                        break;
                    }
                    got.push(msg);
                }
                assert_eq!(got, reference(input), "{input:?}, buffer of {cap}");
            }
        }
    }

    /// A sink that stops ends a plain message there (endless input is not read on) and
    /// skips to the next message of an mbox.
    #[test]
    fn a_stopping_sink_ends_the_message() {
        let mut m = Messages::new(BufReader::new(std::io::repeat(b'a')));
        let mut seen = 0usize;
        assert!(
            m.next_message(|c| {
                seen += c.len();
                if seen > 3 * CHUNK {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap()
        );
        assert!(seen < 3 * CHUNK + 2 * MAX_LINE as usize);
        assert!(!m.next_message(|_| ControlFlow::Continue(())).unwrap());

        // (A small buffer: the sink is given one line at a time.)
        let mbox = b"From a\nX: 1\nY: 2\nZ: 3\n\nFrom b\nFrom: c\n\ntwo\n";
        let mut m = Messages::new(BufReader::with_capacity(4, &mbox[..]));
        let mut first = Vec::new();
        assert!(
            m.next_message(|c| {
                first.extend_from_slice(c);
                ControlFlow::Break(())
            })
            .unwrap()
        );
        assert_eq!(first, b"X: 1\n");
        assert!(m.has_next());
        let mut second = Vec::new();
        assert!(
            m.next_message(|c| {
                second.extend_from_slice(c);
                ControlFlow::Continue(())
            })
            .unwrap()
        );
        assert_eq!(second, b"From: c\n\ntwo\n");
        assert!(!m.has_next());
    }

    /// A reader that hands out `data` in reads of at most `step` bytes and counts the
    /// reads, the one that returns 0 included.
    struct Counted<'a> {
        data: &'a [u8],
        step: usize,
        reads: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl Read for Counted<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.reads.set(self.reads.get() + 1);
            let n = self.data.len().min(self.step).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Everything a reader with an expected length gives, and how many reads it made.
    fn read_all(data: &[u8], step: usize, expected: Option<u64>) -> (Vec<u8>, usize) {
        let reads = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut buf = Vec::new();
        let mut r = Reader::new(
            Box::new(Counted {
                data,
                step,
                reads: reads.clone(),
            }),
            &mut buf,
        );
        r.expected = expected;
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let n = reads.get();
        // Asked again after the end: still the end.
        assert!(r.fill_buf().unwrap().is_empty());
        (out, n)
    }

    #[test]
    fn an_expected_length_saves_the_read_that_finds_the_end() {
        let data: Vec<u8> = (0..READ_CHUNK * 2 + 100).map(|i| i as u8).collect();
        // Without a length: each piece, then a read of 0.
        assert_eq!(
            read_all(&data[..3000], usize::MAX, None),
            (data[..3000].to_vec(), 2)
        );
        // With the right one: the piece alone; in several reads, no read after them.
        assert_eq!(
            read_all(&data[..3000], usize::MAX, Some(3000)),
            (data[..3000].to_vec(), 1)
        );
        assert_eq!(
            read_all(&data, usize::MAX, Some(data.len() as u64)),
            (data.clone(), 3)
        );
        assert_eq!(
            read_all(&data[..3000], 1000, Some(3000)),
            (data[..3000].to_vec(), 3)
        );
        // A file that grew after it was looked at is read to its end, also when a full
        // buffer ends at the length it had.
        assert_eq!(read_all(&data, usize::MAX, Some(3000)), (data.clone(), 4));
        assert_eq!(
            read_all(&data[..3000], usize::MAX, Some(2000)),
            (data[..3000].to_vec(), 2)
        );
        let chunk = READ_CHUNK as u64;
        assert_eq!(read_all(&data, usize::MAX, Some(chunk)), (data.clone(), 4));
        assert_eq!(
            read_all(&data, usize::MAX, Some(2 * chunk)),
            (data.clone(), 4)
        );
        // One that shrank ends where it ends.
        assert_eq!(
            read_all(&data[..3000], usize::MAX, Some(5000)),
            (data[..3000].to_vec(), 2)
        );
        assert_eq!(read_all(b"", usize::MAX, Some(10)), (Vec::new(), 1));
    }

    #[test]
    fn only_a_regular_file_gives_its_length() {
        let dir = std::env::temp_dir().join(format!("monban-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("m.eml");
        std::fs::write(&file, b"From: a\r\n\r\nhi\r\n").unwrap();
        let empty = dir.join("empty.eml");
        std::fs::write(&empty, b"").unwrap();
        let names =
            [file.clone(), empty, "/dev/null".into()].map(|p| p.to_string_lossy().into_owned());
        let lens: Vec<Option<u64>> = expand(&names)
            .sources
            .into_iter()
            .map(|s| match s {
                Source::File(_, len) => len,
                other => panic!("a file: {other:?}"),
            })
            .collect();
        assert_eq!(lens, [Some(15), None, None]);
        // The whole file is read through the length.
        let mut buf = Vec::new();
        let mut out = Vec::new();
        open_in(&expand(&names[..1]).sources[0], &mut buf)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"From: a\r\n\r\nhi\r\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A temporary folder, removed when dropped.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("monban-input-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self, name: &str, content: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
            path
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn names(sources: &[Source]) -> Vec<String> {
        sources
            .iter()
            .map(|s| {
                let label = s.label();
                label.rsplit('/').next().unwrap_or_default().to_owned()
            })
            .collect()
    }

    /// A name that does not exist, or a link loop, does not stop the expansion: it
    /// stays an input in its place, whose opening fails naming it.
    #[test]
    fn a_missing_input_fails_in_its_place() {
        let t = Temp::new("missing");
        let a = t.file("a.eml", b"From: a\r\n\r\nhi\r\n");
        let missing = t.0.join("missing.eml");
        let (l1, l2) = (t.0.join("loop1"), t.0.join("loop2"));
        std::os::unix::fs::symlink(&l2, &l1).unwrap();
        std::os::unix::fs::symlink(&l1, &l2).unwrap();
        let args = [&a, &missing, &l1, &a].map(|p| p.to_string_lossy().into_owned());
        let e = expand(&args);
        assert_eq!(
            names(&e.sources),
            ["a.eml", "missing.eml", "loop1", "a.eml"]
        );
        let mut buf = Vec::new();
        for (source, fails) in e.sources.iter().zip([false, true, true, false]) {
            match open_in(source, &mut buf) {
                Ok(_) => assert!(!fails, "{source:?}"),
                Err(err) => {
                    assert!(fails, "{source:?}: {err}");
                    assert!(err.to_string().contains(&source.label()), "{err}");
                }
            }
        }
    }

    /// In a folder, a link to a file is a message; subfolders, broken links, FIFOs and
    /// (in a Maildir) dot-names are left out, and the note counts each kind.
    #[test]
    fn folders_follow_links_to_files_and_say_what_they_leave_out() {
        let t = Temp::new("links");
        let target = t.file("elsewhere/real.eml", b"From: a\r\n\r\nhi\r\n");
        let md = t.0.join("md");
        t.file("md/cur/b:2,S", b"From: b\r\n\r\nhi\r\n");
        t.file("md/cur/.hidden", b"not a message");
        t.file("md/new/c", b"From: c\r\n\r\nhi\r\n");
        std::fs::create_dir_all(md.join("tmp")).unwrap();
        std::fs::create_dir_all(md.join(".Sent/cur")).unwrap();
        std::os::unix::fs::symlink(&target, md.join("cur/a")).unwrap();
        std::os::unix::fs::symlink(t.0.join("nowhere"), md.join("cur/d")).unwrap();
        let fifo = md.join("cur/e");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let with_fifo = made.is_ok_and(|s| s.success());
        let plain = t.0.join("plain");
        t.file("plain/x.eml", b"From: x\r\n\r\nhi\r\n");
        t.file("plain/sub/y.eml", b"From: y\r\n\r\nhi\r\n");
        let args = [&md, &plain].map(|p| p.to_string_lossy().into_owned());
        let e = expand(&args);
        assert_eq!(names(&e.sources), ["a", "b:2,S", "c", "x.eml"]);
        let special = if with_fifo {
            "1 special file(s) (FIFOs, sockets, devices), "
        } else {
            ""
        };
        assert_eq!(
            e.notes,
            [
                format!(
                    "{}: left out {special}1 link(s) that lead nowhere, 1 Maildir name(s) starting with a dot",
                    args[0]
                ),
                format!(
                    "{}: left out 1 subfolder(s) (folders are not read recursively)",
                    args[1]
                ),
            ]
        );
        // The link is read as the file it leads to.
        let mut buf = Vec::new();
        let mut out = Vec::new();
        open_in(&e.sources[0], &mut buf)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"From: a\r\n\r\nhi\r\n");
    }

    /// A Maildir message renamed after the listing (a flag change in `cur/`, a move
    /// from `new/` to `cur/`) is read under its new name; one deleted fails, named.
    #[test]
    fn a_maildir_message_renamed_after_the_listing_is_still_read() {
        let t = Temp::new("renamed");
        let md = t.0.join("md");
        t.file("md/cur/1.host:2,", b"one");
        t.file("md/new/2.host", b"two");
        t.file("md/cur/3.host:2,S", b"three");
        t.file("md/cur/10.host:2,S", b"ten");
        let e = expand(&[md.to_string_lossy().into_owned()]);
        assert_eq!(
            names(&e.sources),
            ["1.host:2,", "10.host:2,S", "3.host:2,S", "2.host"]
        );
        std::fs::rename(md.join("cur/1.host:2,"), md.join("cur/1.host:2,RS")).unwrap();
        std::fs::rename(md.join("new/2.host"), md.join("cur/2.host:2,S")).unwrap();
        std::fs::remove_file(md.join("cur/3.host:2,S")).unwrap();
        let mut buf = Vec::new();
        let mut read = |s: &Source| -> io::Result<Vec<u8>> {
            let mut out = Vec::new();
            open_in(s, &mut buf)?.read_to_end(&mut out)?;
            Ok(out)
        };
        assert_eq!(read(&e.sources[0]).unwrap(), b"one");
        assert_eq!(read(&e.sources[1]).unwrap(), b"ten");
        let gone = read(&e.sources[2]).unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
        assert!(gone.to_string().contains("3.host:2,S"), "{gone}");
        assert_eq!(read(&e.sources[3]).unwrap(), b"two");
        // Outside a Maildir nothing is looked for.
        let plain = t.file("plain/4.host:2,", b"four");
        std::fs::rename(&plain, t.0.join("plain/4.host:2,S")).unwrap();
        assert!(read(&Source::File(plain, None)).is_err());
    }

    /// Messages vanishing from a Maildir during a run (a mass expunge) do not list the
    /// Maildir once each: 400 deleted messages, each opened after the deletion, are
    /// looked for in one listing (one more per second the loop takes: a few at most
    /// on a loaded machine, against 400 if each listed it).
    #[test]
    fn vanished_maildir_messages_share_a_listing() {
        let t = Temp::new("expunged");
        let md = t.0.join("md");
        for i in 0..400 {
            t.file(&format!("md/cur/{i}.host:2,S"), b"x");
        }
        let e = expand(&[md.to_string_lossy().into_owned()]);
        assert_eq!(e.sources.len(), 400);
        std::fs::remove_dir_all(md.join("cur")).unwrap();
        std::fs::create_dir_all(md.join("cur")).unwrap();
        std::fs::create_dir_all(md.join("new")).unwrap();
        let mut buf = Vec::new();
        for source in &e.sources {
            let err = open_in(source, &mut buf).err().expect("deleted");
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
        }
        let listings = RELISTINGS.lock().unwrap();
        let made = listings.as_ref().and_then(|l| l.get(&md)).map(|l| l.made);
        assert!(made.is_some_and(|n| (1..=5).contains(&n)), "{made:?}");
    }
}
