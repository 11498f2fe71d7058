//! Who may see the reports (issue 13): everyone (the default, for a server on
//! 127.0.0.1), users of a password file with argon2 hashes (HTTP Basic, RFC 7617), or
//! whoever a reverse proxy in front has authenticated (a header it sets). The analyzer
//! and the checker need no login.

use std::path::Path;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;

/// The largest password file read.
const MAX_FILE: u64 = 1024 * 1024;
/// The most users in a password file.
const MAX_USERS: usize = 10_000;

/// The access rule of the dashboard and its API.
#[derive(Debug, Clone, Default)]
pub enum Access {
    /// Anyone who reaches the server.
    #[default]
    Open,
    /// HTTP Basic against `user:$argon2id$...` lines.
    Passwords(Vec<(String, String)>),
    /// A header the reverse proxy sets once it has authenticated the user (its value is
    /// the user). Only safe when the server is reachable through that proxy alone.
    ProxyHeader(header::HeaderName),
}

/// Why a request was refused.
#[derive(Debug)]
pub struct Refusal {
    basic: bool,
    /// Too many failed logins from this address lately (429).
    limited: bool,
}

impl Refusal {
    /// As JSON (the API).
    pub fn json(&self) -> Response {
        if self.limited {
            let mut r = crate::error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins from this address: try again later",
            );
            self.challenge(&mut r);
            return r;
        }
        let mut r = crate::error(StatusCode::UNAUTHORIZED, "the reports need a login");
        self.challenge(&mut r);
        r
    }

    /// As a page.
    pub fn page(&self, ctx: &crate::pages::Ctx) -> Response {
        let (status, why) = if self.limited {
            (StatusCode::TOO_MANY_REQUESTS, "login-limited")
        } else {
            (StatusCode::UNAUTHORIZED, "login-needed")
        };
        let mut r =
            crate::pages::error_page(ctx, crate::pages::Page::Reports, status, &ctx.t().get(why));
        self.challenge(&mut r);
        r
    }

    fn challenge(&self, r: &mut Response) {
        if self.limited {
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(FAILURE_WINDOW.as_secs()),
            );
        } else if self.basic {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"monban reports\", charset=\"UTF-8\""),
            );
        }
    }
}

impl Access {
    /// Reads a password file: one `user:hash` per line (`#` comments and empty lines
    /// allowed), each hash a PHC string (`$argon2id$v=19$...`). The error names the
    /// file and line.
    pub fn password_file(path: &Path) -> Result<Access, String> {
        let text = monban_dns::file::read_text_limited(path, MAX_FILE)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut users = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("{}:{}", path.display(), n + 1);
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("{}: expected user:hash", at()))?;
            if user.is_empty() {
                return Err(format!("{}: no user name", at()));
            }
            let parsed = PasswordHash::new(hash)
                .map_err(|e| format!("{}: not a password hash ({e})", at()))?;
            if !parsed.algorithm.as_str().starts_with("argon2") {
                return Err(format!(
                    "{}: {} is not an argon2 hash (make one with monban serve --hash-password)",
                    at(),
                    parsed.algorithm
                ));
            }
            users.push((user.to_owned(), hash.to_owned()));
            if users.len() > MAX_USERS {
                return Err(format!("{}: more than {MAX_USERS} users", path.display()));
            }
        }
        if users.is_empty() {
            return Err(format!("{}: no user", path.display()));
        }
        Ok(Access::Passwords(users))
    }

    /// Lets the request through, or says why not.
    ///
    /// An argon2 check costs tens of milliseconds and about 19 MiB: it runs on the
    /// blocking pool, at most [`MAX_CHECKS`] at once (the others wait their turn, within
    /// the request's deadline), and a login that succeeded is remembered for
    /// [`REMEMBER`] (by a SHA-256 of the credentials, never the password itself).
    ///
    /// After [`MAX_FAILURES`] failed logins from one address (an IPv6 address's whole
    /// /64, which its host may draw fresh addresses from) within [`FAILURE_WINDOW`],
    /// that address is answered 429 until the window has passed (guessing passwords
    /// then costs the guesser, not the server).
    pub async fn check(&self, headers: &HeaderMap, peer: std::net::IpAddr) -> Result<(), Refusal> {
        match self {
            Access::Open => Ok(()),
            Access::ProxyHeader(name) => match headers.get(name) {
                Some(v) if !v.as_bytes().iter().all(u8::is_ascii_whitespace) => Ok(()),
                _ => Err(Refusal {
                    basic: false,
                    limited: false,
                }),
            },
            Access::Passwords(users) => {
                let refused = Refusal {
                    basic: true,
                    limited: false,
                };
                let Some((user, password)) = basic_credentials(headers) else {
                    return Err(refused);
                };
                let digest = aws_lc_rs::digest::digest(
                    &aws_lc_rs::digest::SHA256,
                    format!("{user}\u{0}{password}").as_bytes(),
                );
                let key: Vec<u8> = digest.as_ref().to_vec();
                if remembered(&key) {
                    return Ok(());
                }
                if too_many_failures(peer) {
                    return Err(Refusal {
                        basic: true,
                        limited: true,
                    });
                }
                // The same work for an unknown user, so that timing does not tell which
                // names exist.
                let (hash, known) = match users.iter().find(|(u, _)| *u == user) {
                    Some((_, h)) => (h.clone(), true),
                    None => (users[0].1.clone(), false),
                };
                let _turn = CHECKS.acquire().await.map_err(|_| Refusal {
                    basic: true,
                    limited: false,
                })?;
                let ok = tokio::task::spawn_blocking(move || verify(&hash, &password))
                    .await
                    .unwrap_or(false);
                if ok && known {
                    remember(key);
                    Ok(())
                } else {
                    failed(peer);
                    Err(refused)
                }
            }
        }
    }
}

/// Failed logins from one address within [`FAILURE_WINDOW`] before it is refused.
pub const MAX_FAILURES: u32 = 10;
/// See [`MAX_FAILURES`].
pub const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);
/// Addresses tracked at most (the oldest entries go first).
const MAX_TRACKED: usize = 4096;

type Failures = std::collections::HashMap<std::net::IpAddr, (u32, std::time::Instant)>;

fn failures() -> &'static std::sync::Mutex<Failures> {
    static F: std::sync::OnceLock<std::sync::Mutex<Failures>> = std::sync::OnceLock::new();
    F.get_or_init(Default::default)
}

fn too_many_failures(peer: std::net::IpAddr) -> bool {
    let map = failures().lock().unwrap_or_else(|p| p.into_inner());
    limited_in(&map, crate::network_of(peer), std::time::Instant::now())
}

fn failed(peer: std::net::IpAddr) {
    let mut map = failures().lock().unwrap_or_else(|p| p.into_inner());
    failed_in(&mut map, crate::network_of(peer), std::time::Instant::now());
}

/// Whether `peer` has failed [`MAX_FAILURES`] times within the window, at `now`.
fn limited_in(map: &Failures, peer: std::net::IpAddr, now: std::time::Instant) -> bool {
    map.get(&peer).is_some_and(|(n, since)| {
        *n >= MAX_FAILURES && now.saturating_duration_since(*since) < FAILURE_WINDOW
    })
}

/// Counts a failed login of `peer` at `now`. At [`MAX_TRACKED`] addresses, those whose
/// window has passed go first, then the oldest.
fn failed_in(map: &mut Failures, peer: std::net::IpAddr, now: std::time::Instant) {
    if map.len() >= MAX_TRACKED && !map.contains_key(&peer) {
        map.retain(|_, (_, since)| now.saturating_duration_since(*since) < FAILURE_WINDOW);
        if map.len() >= MAX_TRACKED
            && let Some(oldest) = map.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
    }
    let e = map.entry(peer).or_insert((0, now));
    if now.saturating_duration_since(e.1) >= FAILURE_WINDOW {
        *e = (0, now);
    }
    e.0 = e.0.saturating_add(1);
}

/// argon2 checks at once at most.
pub const MAX_CHECKS: usize = 2;
/// How long a successful login is remembered.
pub const REMEMBER: std::time::Duration = std::time::Duration::from_secs(300);
/// Logins remembered at most.
const MAX_REMEMBERED: usize = 256;

static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CHECKS);

type Remembered = std::collections::HashMap<Vec<u8>, std::time::Instant>;

fn logins() -> &'static std::sync::Mutex<Remembered> {
    static LOGINS: std::sync::OnceLock<std::sync::Mutex<Remembered>> = std::sync::OnceLock::new();
    LOGINS.get_or_init(Default::default)
}

fn remembered(key: &[u8]) -> bool {
    let map = logins().lock().unwrap_or_else(|p| p.into_inner());
    remembered_in(&map, key, std::time::Instant::now())
}

fn remember(key: Vec<u8>) {
    let mut map = logins().lock().unwrap_or_else(|p| p.into_inner());
    remember_in(&mut map, key, std::time::Instant::now());
}

fn remembered_in(map: &Remembered, key: &[u8], now: std::time::Instant) -> bool {
    map.get(key)
        .is_some_and(|at| now.saturating_duration_since(*at) < REMEMBER)
}

/// Remembers a login at `now` (the expired ones go first); at [`MAX_REMEMBERED`] it is
/// not remembered, and is checked again next time.
fn remember_in(map: &mut Remembered, key: Vec<u8>, now: std::time::Instant) {
    map.retain(|_, at| now.saturating_duration_since(*at) < REMEMBER);
    if map.len() < MAX_REMEMBERED || map.contains_key(&key) {
        map.insert(key, now);
    }
}

fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The user and password of an `Authorization: Basic` field (RFC 7617), UTF-8.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || token.len() > 4096 {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// An argon2id hash (PHC string) of `password` with a random salt, for a password file.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| "no random source".to_string())?;
    let salt = argon2::password_hash::SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn basic(user: &str, pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn passwords_are_checked_against_argon2_hashes() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let dir = std::env::temp_dir().join(format!("monban-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("passwords");
        std::fs::write(&file, format!("# reports\nalice:{hash}\n")).unwrap();
        let a = Access::password_file(&file).unwrap();
        assert!(
            a.check(&basic("alice", "correct horse"), LOCAL)
                .await
                .is_ok()
        );
        assert!(a.check(&basic("alice", "wrong"), LOCAL).await.is_err());
        assert!(
            a.check(&basic("bob", "correct horse"), LOCAL)
                .await
                .is_err()
        );
        assert!(a.check(&HeaderMap::new(), LOCAL).await.is_err());
        std::fs::write(&file, "alice:$1$md5$notargon\n").unwrap();
        let e = Access::password_file(&file).unwrap_err();
        assert!(e.contains(":1:"), "{e}");
        std::fs::write(&file, "alice\n").unwrap();
        assert!(
            Access::password_file(&file)
                .unwrap_err()
                .contains("user:hash")
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn failed_logins_are_limited_per_address() {
        let hash = hash_password("pw").unwrap();
        let a = Access::Passwords(vec![("u".into(), hash)]);
        let guesser: std::net::IpAddr = "192.0.2.77".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            let r = a.check(&basic("u", "guess"), guesser).await.unwrap_err();
            assert!(!r.limited);
        }
        // Now even the right password waits for the window (no oracle for the guesser).
        let r = a.check(&basic("u", "pw"), guesser).await.unwrap_err();
        assert!(r.limited);
        let other: std::net::IpAddr = "192.0.2.78".parse().unwrap();
        assert!(a.check(&basic("u", "pw"), other).await.is_ok());
        // An IPv6 guesser counts as its /64: a fresh address in it changes nothing.
        let in64 = |n: u16| std::net::IpAddr::V6([0x2001, 0xdb8, 7, 7, 0, 0, 0, n].into());
        for n in 0..MAX_FAILURES as u16 {
            let r = a.check(&basic("u", "guess"), in64(n)).await.unwrap_err();
            assert!(!r.limited);
        }
        let r = a.check(&basic("u", "guess"), in64(999)).await.unwrap_err();
        assert!(r.limited);
        let next64 = std::net::IpAddr::V6([0x2001, 0xdb8, 7, 8, 0, 0, 0, 1].into());
        assert!(a.check(&basic("u", "pw"), next64).await.is_ok());
    }

    #[tokio::test]
    async fn a_proxy_header_must_be_present_and_not_empty() {
        let a = Access::ProxyHeader(header::HeaderName::from_static("x-remote-user"));
        let mut h = HeaderMap::new();
        assert!(a.check(&h, LOCAL).await.is_err());
        h.insert("x-remote-user", HeaderValue::from_static(" "));
        assert!(a.check(&h, LOCAL).await.is_err());
        h.insert("x-remote-user", HeaderValue::from_static("alice"));
        assert!(a.check(&h, LOCAL).await.is_ok());
    }

    /// A password file of `users` users with short (parsable, not checkable) hashes,
    /// padded with a comment to `size` bytes exactly.
    fn password_file_of(path: &Path, users: usize, size: usize) {
        let mut text = String::new();
        for n in 0..users {
            text.push_str(&format!(
                "u{n}:$argon2id$v=19$m=8,t=1,p=1$c2FsdA$AAAAAAAAAAAAAA\n"
            ));
        }
        assert!(
            text.len() + 2 <= size,
            "{} users do not fit in {size} bytes",
            users
        );
        text.push('#');
        text.push_str(&" ".repeat(size - text.len() - 1));
        text.push('\n');
        assert_eq!(text.len(), size);
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn password_file_size_and_users_are_bounded() {
        let dir = std::env::temp_dir().join(format!("monban-access-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("passwords");
        // 1 MiB exactly is read; one byte more is refused, naming the limit.
        password_file_of(&file, 1, MAX_FILE as usize);
        assert!(Access::password_file(&file).is_ok());
        password_file_of(&file, 1, MAX_FILE as usize + 1);
        let e = Access::password_file(&file).unwrap_err();
        assert!(e.contains("larger than 1048576 bytes"), "{e}");
        // 10,000 users are taken; one more is refused.
        password_file_of(&file, MAX_USERS, 600_000);
        match Access::password_file(&file).unwrap() {
            Access::Passwords(users) => assert_eq!(users.len(), 10_000),
            other => panic!("{other:?}"),
        }
        password_file_of(&file, MAX_USERS + 1, 600_000);
        let e = Access::password_file(&file).unwrap_err();
        assert!(e.contains("more than 10000 users"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn failed_logins_track_at_most_max_tracked_addresses() {
        assert_eq!(MAX_TRACKED, 4096);
        let t0 = std::time::Instant::now();
        let ip = |n: usize| std::net::IpAddr::V6(std::net::Ipv6Addr::from(n as u128 + 1));
        let mut map = Failures::new();
        // The first address fails MAX_FAILURES times, then 4,095 others once each, each
        // a millisecond later than the one before.
        for _ in 0..MAX_FAILURES {
            failed_in(&mut map, ip(0), t0);
        }
        for n in 1..MAX_TRACKED {
            failed_in(
                &mut map,
                ip(n),
                t0 + std::time::Duration::from_millis(n as u64),
            );
        }
        assert_eq!(map.len(), MAX_TRACKED);
        let now = t0 + std::time::Duration::from_secs(10);
        assert!(limited_in(&map, ip(0), now));
        // A tracked address failing again is counted, nobody goes.
        failed_in(&mut map, ip(1), now);
        assert_eq!(map.len(), MAX_TRACKED);
        assert_eq!(map[&ip(1)].0, 2);
        assert!(limited_in(&map, ip(0), now));
        // One more address: the oldest entry goes (none has expired), the map stays at
        // the bound.
        failed_in(&mut map, ip(MAX_TRACKED), now);
        assert_eq!(map.len(), MAX_TRACKED);
        assert!(!map.contains_key(&ip(0)), "the oldest went");
        assert!(!limited_in(&map, ip(0), now));
        assert!(map.contains_key(&ip(MAX_TRACKED)));
        // Once their window has passed, expired entries go before anyone else.
        let later = t0 + FAILURE_WINDOW + std::time::Duration::from_millis(2_000);
        for _ in 0..MAX_FAILURES {
            failed_in(&mut map, ip(MAX_TRACKED + 1), later);
        }
        // Those whose window began before t0 + 2 s had expired (ip(1) to ip(2000): a
        // failure within the window does not move its start): they went, the newer
        // ones stay.
        assert_eq!(map.len(), MAX_TRACKED - 2000 + 1);
        assert!(!map.contains_key(&ip(1)));
        assert!(!map.contains_key(&ip(2_000)));
        assert!(map.contains_key(&ip(2_001)));
        assert!(map.contains_key(&ip(MAX_TRACKED)));
        assert!(limited_in(&map, ip(MAX_TRACKED + 1), later));
    }

    #[test]
    fn at_most_max_remembered_logins_are_remembered() {
        assert_eq!(MAX_REMEMBERED, 256);
        let t0 = std::time::Instant::now();
        let mut map = Remembered::new();
        for n in 0..MAX_REMEMBERED {
            remember_in(&mut map, format!("k{n}").into_bytes(), t0);
        }
        assert_eq!(map.len(), MAX_REMEMBERED);
        assert!(remembered_in(&map, b"k255", t0));
        // One more is not remembered (it is checked again next time), the others stay.
        remember_in(&mut map, b"one more".to_vec(), t0);
        assert!(!remembered_in(&map, b"one more", t0));
        assert!(remembered_in(&map, b"k0", t0));
        assert_eq!(map.len(), MAX_REMEMBERED);
        // Once they expire, there is room again.
        let later = t0 + REMEMBER;
        assert!(!remembered_in(&map, b"k0", later));
        remember_in(&mut map, b"one more".to_vec(), later);
        assert!(remembered_in(&map, b"one more", later));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn an_authorization_token_over_4096_bytes_is_no_credentials() {
        let token_len = |h: &HeaderMap| h[header::AUTHORIZATION].len() - "Basic ".len();
        // "u:" and 3,070 bytes of password: 4,096 base64 characters, read.
        let pass = "p".repeat(3070);
        let h = basic("u", &pass);
        assert_eq!(token_len(&h), 4096);
        assert_eq!(basic_credentials(&h), Some(("u".into(), pass)));
        // Three bytes more (the next base64 length, 4,100 characters): refused unread.
        let h = basic("u", &"p".repeat(3073));
        assert_eq!(token_len(&h), 4100);
        assert_eq!(basic_credentials(&h), None);
    }

    #[tokio::test]
    async fn an_authorization_token_over_4096_bytes_gets_a_login_request() {
        // The right password both times: only the token's length differs.
        let peer: std::net::IpAddr = "192.0.2.90".parse().unwrap();
        for (len, read) in [(3070, true), (3073, false)] {
            let pass = "p".repeat(len);
            let a = Access::Passwords(vec![("u".into(), hash_password(&pass).unwrap())]);
            match a.check(&basic("u", &pass), peer).await {
                Ok(()) => assert!(read, "{len}"),
                Err(r) => {
                    assert!(!read, "{len}");
                    assert!(r.basic && !r.limited);
                    assert_eq!(r.json().status(), StatusCode::UNAUTHORIZED);
                }
            }
        }
    }

    /// MAX_CHECKS argon2 checks at once: with every turn taken, a check waits (virtual
    /// time runs on while it does), and goes on once a turn is free.
    #[tokio::test(start_paused = true)]
    async fn password_checks_wait_for_a_turn() {
        assert_eq!(MAX_CHECKS, 2);
        let hash = hash_password("turns").unwrap();
        let a = Access::Passwords(vec![("waiting".into(), hash)]);
        let peer: std::net::IpAddr = "192.0.2.91".parse().unwrap();
        let turns = CHECKS.acquire_many(MAX_CHECKS as u32).await.unwrap();
        let mut check =
            tokio::spawn(async move { a.check(&basic("waiting", "turns"), peer).await });
        let waited = tokio::time::timeout(std::time::Duration::from_secs(3600), &mut check).await;
        assert!(waited.is_err(), "checked without a turn");
        drop(turns);
        assert!(check.await.unwrap().is_ok());
    }
}
