//! Postfix's `smtp-sink` on a loopback port, keeping each message it receives in a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `smtp-sink` on a loopback port, one file per message in `dir` (`extra`: its
/// options, e.g. `-f RCPT` to refuse recipients).
pub struct Sink {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    dir: PathBuf,
}

impl Sink {
    /// Starts it; `extra` are its options (e.g. `-f RCPT` to refuse recipients).
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        // smtp-sink drops root privileges to nobody, who must write the dumps.
        let _ = Command::new("chmod").arg("0777").arg(dir).status();
        let port = super::free_port();
        let sink = ["/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("smtp-sink ships with Postfix (scripts/test.sh installs it)");
        let child = Command::new(sink)
            .args(["-u", "nobody"])
            .args(extra)
            .arg("-d")
            .arg(dir.join("msg."))
            .arg(format!("127.0.0.1:{port}"))
            .arg("10")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "smtp-sink did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    /// `n` whole messages: smtp-sink writes a message as it arrives, so a file can be
    /// half written; report messages are MIME and end with their closing boundary.
    /// Waits up to 30 s for them.
    pub fn whole_messages(&self, n: usize) -> Vec<String> {
        let whole = |m: &String| m.trim_end().ends_with("--");
        let start = Instant::now();
        loop {
            let got = self.messages();
            if got.len() >= n && got.iter().all(whole) {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{} whole message(s) expected, got {:?}",
                n,
                got
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The messages received so far, as text.
    pub fn messages(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("msg."))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
