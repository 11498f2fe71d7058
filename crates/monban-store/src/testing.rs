//! Test support (feature `testing`): a real PostgreSQL server of its own for a test,
//! in a temporary data directory on a loopback port, started with Debian's initdb and
//! pg_ctl (as the `postgres` user when the test runs as root). Never a mock.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

/// A temporary folder, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh folder named after `name` and this process.
    pub fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("monban-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create a temporary folder");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A PostgreSQL server of its own, in a temporary data directory, on a loopback port.
#[derive(Debug)]
pub struct PgServer {
    dir: TempDir,
    bin: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
    as_postgres: bool,
}

/// Where the newest installed PostgreSQL server programs are.
pub fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().unwrap_or_else(|| {
        panic!("PostgreSQL's server is not installed (initdb not found under /usr/lib/postgresql); scripts/test.sh installs it")
    })
}

impl PgServer {
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).output().unwrap()
    }

    /// Starts a server (initdb + pg_ctl); panics with the server log on failure.
    pub fn start(name: &str) -> Self {
        let dir = TempDir::new(&format!("pg-{name}"));
        let as_postgres = running_as_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir.0)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown the data directory to postgres");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            bin: pg_bin(),
            dir,
            port,
            as_postgres,
        };
        let data = server.dir.0.join("data");
        let data_s = data.to_str().unwrap();
        let out = server.run(
            "initdb",
            &[
                "-D",
                data_s,
                "-A",
                "trust",
                "-U",
                "monban",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The port was free when picked; another test's server may have taken it
        // since. Then another port, a few times.
        for _ in 0..4 {
            match server.try_start() {
                Ok(()) => return server,
                Err(log) if log.contains("could not bind") || log.contains("in use") => {
                    server.port = TcpListener::bind("127.0.0.1:0")
                        .unwrap()
                        .local_addr()
                        .unwrap()
                        .port();
                }
                Err(log) => panic!("pg_ctl start: {log}"),
            }
        }
        server.pg_ctl_start();
        server
    }

    /// The URL of its `postgres` database, user `monban`.
    pub fn url(&self) -> String {
        format!("postgres://monban@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts it again after [`PgServer::stop`], on the same port and data.
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    fn pg_ctl_start(&self) {
        if let Err(log) = self.try_start() {
            panic!("pg_ctl start: {log}");
        }
    }

    /// `pg_ctl start`; on failure, what it and the server's log said.
    fn try_start(&self) -> Result<(), String> {
        let data = self.dir.0.join("data");
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.0.display()
        );
        let log = self.dir.0.join("log");
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        ))
    }

    /// Stops it at once (`-m immediate`, as a crash would).
    pub fn stop(&self) {
        let data = self.dir.0.join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether this process runs as root (PostgreSQL refuses to run as root).
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
