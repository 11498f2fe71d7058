//! Running the `monban` binary from the tests, one way for all of them.

#![allow(dead_code)]

pub mod dovecot;
pub mod reports;
pub mod sink;
pub mod web;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs `monban` with `args`, `stdin` on its standard input (written from a thread; a
/// closed pipe is not an error: a child that exits early, on a usage error, closes its
/// stdin and its output says why), the output collected as it comes. `env` is set,
/// `NO_COLOR` removed. A child still running after 120 s is killed and the test fails
/// (a regression to endless reading fails instead of hanging CI).
pub fn run(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_monban"));
    cmd.args(args)
        .env_remove("NO_COLOR")
        // English, whatever the machine's locale (the tests read the words).
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run monban");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("monban {args:?} did not end");
        }
    };
    writer.join().unwrap();
    out
}

/// A temporary folder of the test, removed when dropped.
pub struct Dir(pub PathBuf);

impl Dir {
    /// `$TMPDIR/monban-<name>-<pid>`, empty.
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("monban-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    /// Writes a file in the folder; its path.
    pub fn file(&self, name: &str, content: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback TCP port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether process `pid` itself holds a listening TCP socket on loopback `port`.
///
/// A port picked free by [`free_port`] can be taken by another server before the
/// process under test binds it (another test's PostgreSQL, once in CI): a successful
/// `connect` then reaches the wrong server. This asks the kernel who listens: the
/// socket's inode from `/proc/net/tcp` among the process's descriptors.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let local_port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    })
}

/// Waits until `child` listens on `port` itself (see [`listens_on`]). `Err` with its
/// exit status when it ended first (it could not bind, for one); panics after
/// `timeout`, with `log()` in the message.
pub fn wait_listening(
    child: &mut std::process::Child,
    port: u16,
    timeout: std::time::Duration,
    log: &dyn Fn() -> String,
) -> Result<(), std::process::ExitStatus> {
    let start = std::time::Instant::now();
    loop {
        if listens_on(child.id(), port) {
            return Ok(());
        }
        if let Some(status) = child.try_wait().unwrap() {
            return Err(status);
        }
        assert!(
            start.elapsed() < timeout,
            "the process did not listen on port {port}:\n{}",
            log()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A group of this machine other than root's, as (name, gid), from /etc/group.
#[allow(dead_code)]
pub fn other_group() -> (String, u32) {
    std::fs::read_to_string("/etc/group")
        .expect("/etc/group")
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?.to_owned();
            let gid = f.nth(1)?.parse::<u32>().ok()?;
            (gid != 0).then_some((name, gid))
        })
        .expect("a group in /etc/group")
}
