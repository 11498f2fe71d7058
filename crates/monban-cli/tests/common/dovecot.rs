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
        let port = super::free_port();
        let tls_port = super::free_port();
        let d = dir.display();
        let config = dir.join("dovecot.conf");
        std::fs::write(
            &config,
            format!(
                "base_dir = {d}/run
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
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dovecot (apt-get install dovecot-imapd)");
        let server = Self {
            dir,
            port,
            tls_port,
            child,
            config,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err()
            || TcpStream::connect(("127.0.0.1", tls_port)).is_err()
        {
            if start.elapsed() > Duration::from_secs(30) {
                panic!("dovecot did not start: {}", server.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server
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
