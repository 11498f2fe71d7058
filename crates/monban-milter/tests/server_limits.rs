//! Issue 9: what one MTA connection can make the milter hold or wait for. The server
//! runs on 127.0.0.1:0; an MTA-side client pushes each limit. No assertion is on
//! elapsed time: a limit either closes the connection (seen as end of file) or it does
//! not, and the order of events is checked with signals, not clocks.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{closed_by_server, optneg, read_until_final, send, step, transaction};
use monban_dns::{Lookup, Record, RecordType, Resolver, Txt, ZoneResolver};
use monban_milter::metrics::Metrics;
use monban_milter::protocol::encode_command;
use monban_milter::server::{Limits, Listener, serve};
use monban_milter::session::FilterConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

fn zone() -> ZoneResolver {
    let mut z = ZoneResolver::new();
    let mut txt =
        |n: &str, v: &str| z.insert(n, Record::Txt(Txt::new([v.as_bytes().to_vec()])), 300);
    txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
    txt("_dmarc.example.com", "v=DMARC1; p=reject");
    z
}

struct Server {
    addr: std::net::SocketAddr,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start<R: Resolver + Send + Sync + 'static>(resolver: R, limits: Limits) -> Self {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let (_cfg_tx, cfg_rx) = watch::channel(Arc::new(FilterConfig::new("mx.example.net")));
        let (stop, stop_rx) = watch::channel(false);
        let metrics = Arc::new(Metrics::default());
        let task = tokio::spawn(serve(
            Listener::Tcp(tcp),
            cfg_rx,
            Arc::new(resolver),
            metrics.clone(),
            limits,
            stop_rx,
        ));
        Self {
            addr,
            metrics,
            stop,
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// A connection inside a message: negotiated, CONNECT, MAIL FROM answered.
    async fn in_a_message(&self) -> (TcpStream, u32) {
        let mut conn = self.connect().await;
        let protocol = optneg(&mut conn).await;
        let connect = common::connect_data("192.0.2.25");
        if let Some(reply) = step(&mut conn, protocol, b'C', &connect).await {
            assert_eq!(reply[0].0, b'c');
        }
        send(&mut conn, b'M', b"<alice@example.com>\0").await;
        assert_eq!(read_until_final(&mut conn).await[0].0, b'c');
        (conn, protocol)
    }

    fn metric(&self, line: &str) -> bool {
        self.metrics.render().lines().any(|l| l == line)
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// A resolver whose answer for the key `slow._domainkey.example.com` blocks the thread
/// that asks (as CPU-heavy work would) until the test releases it.
struct Gate {
    zone: ZoneResolver,
    entered: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    release: Mutex<std::sync::mpsc::Receiver<()>>,
    /// The blocked lookup has returned (released or timed out).
    returned: AtomicBool,
    released_by_test: AtomicBool,
}

impl Resolver for Gate {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        if name.starts_with("slow._domainkey.") {
            if let Some(tx) = self.entered.lock().unwrap().take() {
                let _ = tx.send(());
            }
            // Blocks this thread; a worker blocked here would stall every connection.
            let released = self
                .release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(30))
                .is_ok();
            self.released_by_test.store(released, Ordering::SeqCst);
            self.returned.store(true, Ordering::SeqCst);
        }
        self.zone.lookup_now(name, rtype)
    }
}

/// Issue 9: a slow message (here one whose key lookup blocks its thread) held one of
/// the runtime's workers, and a concurrent well-formed session waited for it (8.8 s
/// measured). With one worker only, the second session must finish while the first is
/// still blocked: its work runs off the workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn regression_issue9_a_slow_message_does_not_delay_another_session() {
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let gate = Gate {
        zone: zone(),
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(release_rx),
        returned: AtomicBool::new(false),
        released_by_test: AtomicBool::new(false),
    };
    let gate = Arc::new(gate);
    struct Shared(Arc<Gate>);
    impl Resolver for Shared {
        async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
            self.0.lookup(name, rtype).await
        }
    }
    let server = Server::start(Shared(gate.clone()), Limits::default()).await;

    let mut slow = server.connect().await;
    let protocol = optneg(&mut slow).await;
    let slow_task = tokio::spawn(async move {
        let out = transaction(
            &mut slow,
            protocol,
            "203.0.113.5",
            "ceo@example.com",
            &[
                (
                    "DKIM-Signature",
                    " v=1; a=rsa-sha256; d=example.com; s=slow; h=from; bh=AAAA; b=AAAA",
                ),
                ("From", " ceo@example.com"),
            ],
        )
        .await;
        (slow, out)
    });
    // The slow message is now blocking a thread inside its key lookup.
    tokio::time::timeout(Duration::from_secs(30), entered_rx)
        .await
        .expect("the slow message reached its key lookup")
        .unwrap();

    let mut fast = server.connect().await;
    let protocol = optneg(&mut fast).await;
    let out = transaction(
        &mut fast,
        protocol,
        "192.0.2.25",
        "alice@example.com",
        &[("From", " alice@example.com")],
    )
    .await;
    assert_eq!(out.last().unwrap().0, b'a', "{out:?}");
    // Finished while the slow one was still blocked.
    assert!(
        !gate.returned.load(Ordering::SeqCst),
        "the fast session waited for the slow one"
    );
    release_tx.send(()).unwrap();
    let (mut slow, out) = slow_task.await.unwrap();
    assert!(gate.released_by_test.load(Ordering::SeqCst));
    let (code, text) = out.last().unwrap();
    assert_eq!(*code, b'y', "{out:?}");
    assert!(
        text.starts_with(b"550 5.7.1"),
        "{}",
        String::from_utf8_lossy(text)
    );
    // Shutdown waits for open sessions: end them.
    send(&mut slow, b'Q', b"").await;
    send(&mut fast, b'Q', b"").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_issue9_idle_connections_are_closed() {
    // The command timeout is long: only the idle timeout can close these.
    let server = Server::start(
        zone(),
        Limits {
            idle_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(60),
            ..Limits::default()
        },
    )
    .await;
    // Idle after connecting.
    let mut idle = server.connect().await;
    assert!(closed_by_server(&mut idle).await);
    // Idle between commands.
    let mut between = server.connect().await;
    optneg(&mut between).await;
    assert!(closed_by_server(&mut between).await);
    assert!(server.metric("monban_milter_limits_total{limit=\"idle_timeout\"} 2"));
    server.stop().await;
}

/// Part of a packet, then nothing; or the packet a byte at a time, each byte within
/// the old per-read timeout: the packet as a whole must arrive within the command
/// timeout, or the connection is closed (a slow sender cannot hold a buffer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_issue9_half_sent_and_dripped_packets_are_closed() {
    // The idle timeout is long: only the command timeout can close these.
    let server = Server::start(
        zone(),
        Limits {
            idle_timeout: Duration::from_secs(60),
            command_timeout: Duration::from_secs(1),
            ..Limits::default()
        },
    )
    .await;
    let packet = encode_command(b'L', b"Subject\0 a subject of some length\0");
    let mut partial = server.connect().await;
    partial
        .write_all(&packet[..packet.len() - 3])
        .await
        .unwrap();
    assert!(closed_by_server(&mut partial).await);
    let mut drip = server.connect().await;
    let mut closed = false;
    for byte in &packet {
        if drip.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(closed || closed_by_server(&mut drip).await);
    assert!(server.metric("monban_milter_limits_total{limit=\"command_timeout\"} 2"));
    // Nothing at all after connecting: option negotiation is waited for no longer than
    // the command timeout (not the idle timeout of 60 s here).
    let mut silent = server.connect().await;
    assert!(closed_by_server(&mut silent).await);
    assert!(server.metric("monban_milter_limits_total{limit=\"idle_timeout\"} 1"));
    server.stop().await;
}

/// A stopping server closes connections that sit between messages at once, instead
/// of waiting up to the idle timeout, and lets a message under way finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_idle_connections_and_lets_messages_finish() {
    let server = Server::start(zone(), Limits::default()).await;
    let mut idle = server.connect().await;
    optneg(&mut idle).await;
    let (mut busy, protocol) = server.in_a_message().await;
    server.stop.send(true).unwrap();
    assert!(closed_by_server(&mut idle).await);
    // The message under way goes on to its end.
    if let Some(reply) = step(&mut busy, protocol, b'L', b"From\0 alice@example.com\0").await {
        assert_eq!(reply[0].0, b'c');
    }
    send(&mut busy, b'N', b"").await;
    assert_eq!(read_until_final(&mut busy).await[0].0, b'c');
    send(&mut busy, b'E', b"").await;
    assert_eq!(read_until_final(&mut busy).await.last().unwrap().0, b'a');
    // Now between messages: closed.
    assert!(closed_by_server(&mut busy).await);
    tokio::time::timeout(Duration::from_secs(30), server.task)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
}

/// A message the MTA never finishes does not hold a stopping server for the idle
/// timeout (10 minutes a command): past the shutdown grace its connection is closed
/// (the MTA tempfails the message) and the server ends. The grace here is 1 s, the idle
/// timeout an hour; the test waits up to 60 s for the end, so only a server that waits
/// out the idle timeout fails it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_a_stalled_message_after_the_grace_period() {
    let server = Server::start(
        zone(),
        Limits {
            idle_timeout: Duration::from_secs(3_600),
            shutdown_grace: Duration::from_secs(1),
            ..Limits::default()
        },
    )
    .await;
    let (mut stalled, _) = server.in_a_message().await;
    // The MTA's client stalls here, inside the message.
    server.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(60), server.task)
        .await
        .expect("the server stopped within the grace period")
        .unwrap()
        .unwrap();
    assert!(closed_by_server(&mut stalled).await);
    let metrics = server.metrics.render();
    for line in [
        "monban_milter_limits_total{limit=\"shutdown_grace\"} 1",
        "monban_milter_sessions_active 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}: {metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_issue9_connections_over_the_cap_are_closed() {
    let server = Server::start(
        zone(),
        Limits {
            max_connections: 2,
            ..Limits::default()
        },
    )
    .await;
    let mut a = server.connect().await;
    optneg(&mut a).await;
    let mut b = server.connect().await;
    optneg(&mut b).await;
    let mut c = server.connect().await;
    assert!(closed_by_server(&mut c).await);
    assert!(server.metric("monban_milter_limits_total{limit=\"connections\"} 1"));
    // A slot freed is a slot served again.
    send(&mut a, b'Q', b"").await;
    assert!(closed_by_server(&mut a).await);
    let mut d = loop {
        // The closed session releases its slot when its task ends.
        let mut d = server.connect().await;
        send(
            &mut d,
            b'O',
            &[0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff],
        )
        .await;
        let mut buf = [0u8; 64];
        match tokio::io::AsyncReadExt::read(&mut d, &mut buf).await {
            Ok(n) if n > 0 => break d,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    send(&mut d, b'Q', b"").await;
    send(&mut b, b'Q', b"").await;
    server.stop().await;
}

/// A header packet exactly at the limit is read; one byte more is read past without
/// being kept and the message is refused at the end of the header (552), the connection
/// going on. Any other packet over the limit closes the connection before it is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_issue9_packet_limit_exact_and_over() {
    let max = 65_536;
    let server = Server::start(
        zone(),
        Limits {
            max_packet: max,
            ..Limits::default()
        },
    )
    .await;
    let header = |len: usize| {
        // 'L' + "X-Big\0" + value + "\0" is the packet's length.
        let value = vec![b'a'; len - 1 - 6 - 1];
        let mut data = b"X-Big\0".to_vec();
        data.extend_from_slice(&value);
        data.push(0);
        data
    };
    let mut s = server.connect().await;
    let protocol = optneg(&mut s).await;
    for (code, data) in [
        (b'C', common::connect_data("192.0.2.25")),
        (b'M', b"<alice@example.com>\0".to_vec()),
        (b'L', header(max)),
        (b'L', header(max + 1)),
        (b'L', b"From\0 alice@example.com\0".to_vec()),
    ] {
        if let Some(reply) = step(&mut s, protocol, code, &data).await {
            assert_eq!(reply[0].0, b'c');
        }
    }
    send(&mut s, b'N', b"").await;
    let (code, text) = read_until_final(&mut s).await.pop().unwrap();
    assert_eq!(code, b'y');
    assert!(
        text.starts_with(b"552 5.3.4 ")
            && String::from_utf8_lossy(&text)
                .contains("a header field is larger than the milter packet limit"),
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert!(server.metric("monban_milter_limits_total{limit=\"packet_size\"} 1"));
    assert!(server.metric("monban_milter_limits_total{limit=\"header_size\"} 1"));
    // The connection goes on: a new message is judged.
    send(&mut s, b'M', b"<alice@example.com>\0").await;
    assert_eq!(read_until_final(&mut s).await[0].0, b'c');
    send(&mut s, b'Q', b"").await;

    // HELO over the limit: the connection is closed. The write may fail once the
    // server has closed: that is not an error here.
    let mut t = server.connect().await;
    optneg(&mut t).await;
    let _ = t
        .write_all(&encode_command(b'H', &vec![b'h'; max + 10]))
        .await;
    assert!(closed_by_server(&mut t).await);
    assert!(server.metric("monban_milter_limits_total{limit=\"packet_size\"} 2"));
    server.stop().await;
}

/// One connection handled in this task's runtime over an in-memory pipe (the
/// clock can then be paused): the MTA's end, and the server's task.
fn pipe<R: Resolver + Send + Sync + 'static>(
    shared: &Arc<monban_milter::server::Shared<R>>,
) -> (
    tokio::io::DuplexStream,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let (mta, milter) = tokio::io::duplex(1 << 20);
    let shared = shared.clone();
    let config = Arc::new(FilterConfig::new("mx.example.net"));
    let task =
        tokio::spawn(async move { monban_milter::server::handle(milter, config, &shared).await });
    (mta, task)
}

/// Everything of a transaction up to the end of the message.
async fn up_to_the_end<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    fields: &[(&str, &str)],
) {
    let protocol = optneg(s).await;
    let mut cmds = vec![
        (b'C', common::connect_data("192.0.2.25")),
        (b'H', b"client.example\0".to_vec()),
        (b'M', b"<alice@example.com>\0".to_vec()),
        (b'R', b"<bob@example.net>\0".to_vec()),
    ];
    for (n, v) in fields {
        cmds.push((b'L', format!("{n}\0{v}\0").into_bytes()));
    }
    cmds.push((b'N', Vec::new()));
    cmds.push((b'B', b"Hello.\r\n".to_vec()));
    for (code, data) in cmds {
        if let Some(reply) = step(s, protocol, code, &data).await {
            assert_eq!(reply, vec![(b'c', Vec::new())]);
        }
    }
}

fn shared_with<R: Resolver + Send + Sync + 'static>(
    resolver: R,
) -> (Arc<monban_milter::server::Shared<R>>, watch::Sender<bool>) {
    let (stop, stop_rx) = watch::channel(false);
    let shared = monban_milter::server::Shared::new(
        Arc::new(resolver),
        Arc::new(Metrics::default()),
        Limits::default(),
        stop_rx,
    );
    (Arc::new(shared), stop)
}

/// Costly steps run 256 at once (`BLOCKING_PERMITS`); the end of a message waits for
/// its turn within the message time (120 s): with one turn free the message is judged;
/// with none, a turn given at 119 s is in time, and without one the answer at 120 s is
/// `451 4.4.3` (`limit="message_timeout"`). In virtual time: the waits are exact.
#[tokio::test(start_paused = true)]
async fn the_end_of_a_message_waits_for_a_turn_within_the_message_time() {
    use monban_milter::server::BLOCKING_PERMITS;
    assert_eq!(BLOCKING_PERMITS, 256);
    assert_eq!(Limits::default().message_timeout, Duration::from_secs(120));
    let (shared, _stop) = shared_with(zone());
    let fields = [("From", " alice@example.com")];
    // One turn free: judged.
    let others = shared
        .permits
        .acquire_many(BLOCKING_PERMITS as u32 - 1)
        .await
        .unwrap();
    let (mut mta, task) = pipe(&shared);
    up_to_the_end(&mut mta, &fields).await;
    send(&mut mta, b'E', b"").await;
    assert_eq!(read_until_final(&mut mta).await.last().unwrap().0, b'a');
    send(&mut mta, b'Q', b"").await;
    task.await.unwrap().unwrap();

    // No turn free at the end of the message; one given at 119 s: judged.
    let (mut mta, task) = pipe(&shared);
    up_to_the_end(&mut mta, &fields).await;
    let last = shared.permits.acquire().await.unwrap();
    send(&mut mta, b'E', b"").await;
    let start = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(119)).await;
    drop(last);
    assert_eq!(read_until_final(&mut mta).await.last().unwrap().0, b'a');
    assert_eq!(start.elapsed(), Duration::from_secs(119));
    send(&mut mta, b'Q', b"").await;
    task.await.unwrap().unwrap();

    // None given: 451 4.4.3 at 120 s, and the connection ends.
    let (mut mta, task) = pipe(&shared);
    up_to_the_end(&mut mta, &fields).await;
    let last = shared.permits.acquire().await.unwrap();
    send(&mut mta, b'E', b"").await;
    let start = tokio::time::Instant::now();
    let (code, text) = read_until_final(&mut mta).await.pop().unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(120));
    assert_eq!(code, b'y');
    assert!(
        text.starts_with(b"451 4.4.3 "),
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert!(task.await.unwrap().is_err());
    assert!(
        shared
            .metrics
            .render()
            .lines()
            .any(|l| l == "monban_milter_limits_total{limit=\"message_timeout\"} 1")
    );
    drop((last, others));
}

/// A DNS whose answer for `slow._domainkey.example.com` never comes; it says when
/// that lookup has begun.
struct Stalled {
    zone: ZoneResolver,
    entered: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Resolver for Stalled {
    async fn lookup(&self, name: &str, rtype: RecordType) -> Lookup {
        if name.starts_with("slow._domainkey.") {
            if let Some(tx) = self.entered.lock().unwrap().take() {
                let _ = tx.send(());
            }
            std::future::pending::<()>().await;
        }
        self.zone.lookup_now(name, rtype)
    }
}

/// The end of a message whose key lookup never ends: nothing at 119 s, `451 4.4.3` at
/// 120 s (`limit="message_timeout"`), and the connection goes on. In virtual time,
/// moved by hand (the end of a message runs on the blocking pool, which holds the
/// paused clock).
#[tokio::test(start_paused = true)]
async fn the_end_of_a_message_is_answered_451_at_the_message_timeout() {
    let (entered, entered_rx) = tokio::sync::oneshot::channel();
    let (shared, _stop) = shared_with(Stalled {
        zone: zone(),
        entered: Mutex::new(Some(entered)),
    });
    let (mut mta, task) = pipe(&shared);
    up_to_the_end(
        &mut mta,
        &[
            (
                "DKIM-Signature",
                " v=1; a=rsa-sha256; d=example.com; s=slow; h=from; bh=AAAA; b=AAAA",
            ),
            ("From", " alice@example.com"),
        ],
    )
    .await;
    send(&mut mta, b'E', b"").await;
    entered_rx.await.unwrap();
    tokio::time::advance(Duration::from_secs(119)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(
            Duration::ZERO,
            tokio::io::AsyncReadExt::read(&mut mta, &mut byte)
        )
        .await
        .is_err(),
        "answered before the message timeout"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    let (code, text) = read_until_final(&mut mta).await.pop().unwrap();
    assert_eq!(code, b'y');
    assert!(
        text.starts_with(b"451 4.4.3 "),
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert!(
        shared
            .metrics
            .render()
            .lines()
            .any(|l| l == "monban_milter_limits_total{limit=\"message_timeout\"} 1")
    );
    // The connection goes on.
    send(&mut mta, b'Q', b"").await;
    task.await.unwrap().unwrap();
}
