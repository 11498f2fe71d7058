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
        let n = s.read(&mut buf).await.unwrap();
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

/// Option negotiation as Postfix offers it.
pub async fn optneg<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) {
    let mut data = Vec::new();
    for v in [6u32, 0x1ff, 0x1f_ffff] {
        data.extend_from_slice(&v.to_be_bytes());
    }
    send(s, b'O', &data).await;
    assert_eq!(read_until_final(s).await[0].0, b'O');
}

/// CONNECT data for an IPv4 client.
pub fn connect_data(ip: &str) -> Vec<u8> {
    let mut connect = b"client.example\0".to_vec();
    connect.push(b'4');
    connect.extend_from_slice(&25u16.to_be_bytes());
    connect.extend_from_slice(ip.as_bytes());
    connect.push(0);
    connect
}

/// Sends a whole transaction from CONNECT to the end of the message and returns the
/// end-of-message responses.
pub async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
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
        send(s, code, &data).await;
        assert_eq!(read_until_final(s).await, vec![(b'c', Vec::new())]);
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
