//! An MTA-side milter client for the tests: the exact bytes Postfix would send.

#![allow(dead_code)]

use monban_milter::protocol::encode_command;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Reads responses until one of the final ones (accept, reject, tempfail, reply code,
/// continue, option negotiation).
pub async fn read_until_final<S: AsyncRead + Unpin>(s: &mut S) -> Vec<(u8, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut pending = Vec::new();
    loop {
        // A reply that never comes fails the test instead of hanging it (past the
        // longest wait a test makes in virtual time: the 120 s message timeout).
        let n = tokio::time::timeout(std::time::Duration::from_secs(300), s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no reply within 300 s (so far {got:?})"))
            .unwrap();
        assert!(n > 0, "connection closed early: {got:?}");
        pending.extend_from_slice(&buf[..n]);
        while pending.len() >= 4 {
            let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
            if pending.len() < 4 + len {
                break;
            }
            let code = pending[4];
            let data = pending[5..4 + len].to_vec();
            pending.drain(..4 + len);
            let last = matches!(code, b'a' | b'r' | b't' | b'y' | b'c' | b'O');
            got.push((code, data));
            if last {
                return got;
            }
        }
    }
}

/// Sends one command.
pub async fn send<S: AsyncWrite + Unpin>(s: &mut S, code: u8, data: &[u8]) {
    s.write_all(&encode_command(code, data)).await.unwrap();
}

/// What Postfix offers: milter protocol 6, every action, every step option up to
/// SMFIP_HDR_LEADSPC (among them every SMFIP_NR_*: steps whose reply it need not wait
/// for).
pub const POSTFIX_OFFER: [u32; 3] = [6, 0x1ff, 0x1f_ffff];

/// Option negotiation as Postfix offers it; the step options the filter chose.
pub async fn optneg<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> u32 {
    let mut data = Vec::new();
    for v in POSTFIX_OFFER {
        data.extend_from_slice(&v.to_be_bytes());
    }
    send(s, b'O', &data).await;
    let reply = read_until_final(s).await;
    let (code, data) = &reply[0];
    assert_eq!(*code, b'O');
    u32::from_be_bytes(data[8..12].try_into().unwrap())
}

/// Whether the filter replies to a command, under the step options it chose
/// (SMFIP_NR_*), as an MTA decides whether to wait for a reply.
pub fn answered(code: u8, protocol: u32) -> bool {
    let no_reply = match code {
        b'C' => 0x1000,
        b'H' => 0x2000,
        b'M' => 0x4000,
        b'R' => 0x8000,
        b'T' => 0x1_0000,
        b'U' => 0x2_0000,
        b'N' => 0x4_0000,
        b'L' => 0x80,
        b'B' => 0x8_0000,
        // Macros, abort and quit are never answered.
        b'D' | b'A' | b'Q' | b'K' => return false,
        _ => 0,
    };
    protocol & no_reply == 0
}

/// Sends one command and reads the reply, when the filter gives one.
pub async fn step<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    protocol: u32,
    code: u8,
    data: &[u8],
) -> Option<Vec<(u8, Vec<u8>)>> {
    send(s, code, data).await;
    if answered(code, protocol) {
        Some(read_until_final(s).await)
    } else {
        None
    }
}

/// CONNECT data for a client (IPv6 when the address has a colon, else IPv4).
pub fn connect_data(ip: &str) -> Vec<u8> {
    let mut connect = b"client.example\0".to_vec();
    connect.push(if ip.contains(':') { b'6' } else { b'4' });
    connect.extend_from_slice(&25u16.to_be_bytes());
    connect.extend_from_slice(ip.as_bytes());
    connect.push(0);
    connect
}

/// Sends a whole transaction from CONNECT to the end of the message and returns the
/// end-of-message responses.
pub async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    protocol: u32,
    ip: &str,
    mail_from: &str,
    fields: &[(&str, &str)],
) -> Vec<(u8, Vec<u8>)> {
    let mut cmds = vec![
        (b'C', connect_data(ip)),
        (b'H', b"client.example\0".to_vec()),
        (b'M', format!("<{mail_from}>\0").into_bytes()),
        (b'R', b"<bob@example.net>\0".to_vec()),
    ];
    for (n, v) in fields {
        cmds.push((b'L', format!("{n}\0{v}\0").into_bytes()));
    }
    cmds.push((b'N', Vec::new()));
    cmds.push((b'B', b"Hello.\r\n".to_vec()));
    for (code, data) in cmds {
        if let Some(reply) = step(s, protocol, code, &data).await {
            assert_eq!(reply, vec![(b'c', Vec::new())], "after {}", code as char);
        }
    }
    send(s, b'E', b"").await;
    read_until_final(s).await
}

/// Whether the server closes the connection (a read gives end of file) within 30 s.
pub async fn closed_by_server<S: AsyncRead + Unpin>(s: &mut S) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(30), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}
