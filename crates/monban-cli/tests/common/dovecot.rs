//! A real IMAP server for the tests: Debian's Dovecot, started in a temporary folder
//! with its own configuration, a self-signed certificate for 127.0.0.1 (made with the
//! openssl tool), one test user with a password, Maildir storage, STARTTLS on one
//! loopback port and TLS on another. Stopped when dropped.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "dmarc";
pub const PASSWORD: &str = "s3cret \"quoted\"";

pub struct Dovecot {
    pub dir: PathBuf,
    pub port: u16,
    pub tls_port: u16,
    child: Child,
    config: PathBuf,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn id(flag: &str, user: Option<&str>) -> String {
    let mut c = Command::new("id");
    c.arg(flag);
    if let Some(u) = user {
        c.arg(u);
    }
    String::from_utf8_lossy(&c.output().expect("id").stdout)
        .trim()
        .to_string()
}

impl Dovecot {
    pub fn start(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("monban-dovecot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::create_dir_all(dir.join("home")).unwrap();
        // A test CA and a server certificate it signs (webpki refuses a self-signed
        // CA certificate used as the server's own).
        let openssl = |args: &[&str]| {
            let ok = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl")
                .success();
            assert!(ok, "openssl {args:?} failed");
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=monban test CA"];
        ca.extend_from_slice(&ec);
        ca.extend_from_slice(&["-keyout", "ca.key", "-out", "ca.pem"]);
        openssl(&ca);
        let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
        csr.extend_from_slice(&ec);
        csr.extend_from_slice(&["-keyout", "key.pem", "-out", "server.csr"]);
        openssl(&csr);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "cert.pem",
        ]);
        std::fs::write(
            dir.join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .unwrap();
        let root = is_root();
        // Mail is owned by an unprivileged user: `nobody` when the tests run as root.
        let (uid, gid, login_user, internal_user) = if root {
            (
                id("-u", Some("nobody")),
                id("-g", Some("nobody")),
                "dovenull".to_string(),
                "dovecot".to_string(),
            )
        } else {
            let me = id("-un", None);
            (id("-u", None), id("-g", None), me.clone(), me)
        };
        let home = dir.join("home").join(USER);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(home.join("Maildir").join(sub)).unwrap();
        }
        if root {
            let _ = Command::new("chown")
                .args(["-R", &format!("{uid}:{gid}")])
                .arg(dir.join("home"))
                .status();
            // The login process reads nothing here; the key is read by the master.
        }
        // Ports are picked free, then bound by Dovecot a moment later: another test
        // may take one meanwhile. Dovecot's greeting carries a token of this start, and
        // a start that lost a port (Dovecot exits, or another server answers) is
        // retried with new ports.
        for attempt in 0..5 {
            let port = super::free_port();
            let tls_port = super::free_port();
            let greeting = format!(
                "monban-test-{}-{attempt}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos())
            );
            let d = dir.display();
            let config = dir.join("dovecot.conf");
            std::fs::write(
                &config,
                format!(
                    "base_dir = {d}/run
    login_greeting = {greeting}
    state_dir = {d}/run
    log_path = {d}/dovecot.log
    protocols = imap
    listen = 127.0.0.1
    ssl = required
    ssl_cert = <{d}/cert.pem
    ssl_key = <{d}/key.pem
    disable_plaintext_auth = yes
    auth_mechanisms = plain
    default_login_user = {login_user}
    default_internal_user = {internal_user}
    first_valid_uid = 1
    mail_location = maildir:~/Maildir
    mail_plugins =
    namespace inbox {{
      inbox = yes
      separator = /
      mailbox Imported {{
        auto = create
      }}
    }}
    passdb {{
      driver = passwd-file
      args = scheme=PLAIN username_format=%u {d}/passwd
    }}
    userdb {{
      driver = static
      args = uid={uid} gid={gid} home={d}/home/%u
    }}
    service imap-login {{
      inet_listener imap {{
        address = 127.0.0.1
        port = {port}
      }}
      inet_listener imaps {{
        address = 127.0.0.1
        port = {tls_port}
        ssl = yes
      }}
    }}
    service anvil {{
      chroot =
    }}
    service imap-login {{
      chroot =
    }}
    "
                ),
            )
            .unwrap();
            let _ = std::fs::remove_file(dir.join("dovecot.log"));
            let child = Command::new("dovecot")
                .arg("-F")
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dovecot (apt-get install dovecot-imapd)");
            let mut server = Self {
                dir: dir.clone(),
                port,
                tls_port,
                child,
                config: config.clone(),
            };
            if server.wait_ready(&greeting) {
                return server;
            }
            let log = server.log();
            server.stop();
            // Keep the folder for the next attempt.
            std::mem::forget(server);
            if attempt == 4 {
                panic!("dovecot did not start: {log}");
            }
        }
        unreachable!()
    }

    /// Whether this start's Dovecot answers on both ports (its own greeting on the
    /// plain one) and is still running.
    fn wait_ready(&mut self, greeting: &str) -> bool {
        use std::io::Read as _;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 512];
                let n = s.read(&mut buf).unwrap_or(0);
                let line = String::from_utf8_lossy(&buf[..n]);
                if !line.contains(greeting) {
                    return false;
                }
                if TcpStream::connect(("127.0.0.1", self.tls_port)).is_ok() {
                    std::thread::sleep(Duration::from_millis(100));
                    return matches!(self.child.try_wait(), Ok(None))
                        && !self.log().contains("bind(");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    /// The test CA's certificate (for MONBAN_IMAP_CA).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The user's Maildir (INBOX), and `Imported` below it.
    pub fn maildir(&self) -> PathBuf {
        self.dir.join("home").join(USER).join("Maildir")
    }

    /// Puts a message into INBOX (Dovecot sees new files in `new`).
    pub fn deliver(&self, name: &str, message: &[u8]) {
        let tmp = self.maildir().join("tmp").join(name);
        std::fs::write(&tmp, message).unwrap();
        let dest = self.maildir().join("new").join(name);
        std::fs::rename(&tmp, &dest).unwrap();
        if is_root() {
            let _ = Command::new("chown")
                .args([&format!(
                    "{}:{}",
                    id("-u", Some("nobody")),
                    id("-g", Some("nobody"))
                )])
                .arg(&dest)
                .status();
        }
    }

    /// Messages in a folder of the user's Maildir (`""` = INBOX), new and cur.
    pub fn count(&self, folder: &str) -> usize {
        let base: PathBuf = if folder.is_empty() {
            self.maildir()
        } else {
            self.maildir().join(format!(".{folder}"))
        };
        ["new", "cur"]
            .iter()
            .map(|s| {
                std::fs::read_dir(base.join(s))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    fn stop(&mut self) {
        let _ = Command::new("dovecot")
            .arg("-c")
            .arg(&self.config)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
