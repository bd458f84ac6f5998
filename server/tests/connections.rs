//! The connection limits of `monban serve` (AB-5), against the real binary over raw TCP: a
//! client that sends nothing, half a header, or stays idle after a response is disconnected
//! after the header deadline; a body that does not arrive in time is answered 408; and no more
//! than `--max-connections` connections are served at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod server;

use server::*;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

fn connect(port: u16, read_timeout: Duration) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(read_timeout)).unwrap();
    c
}

/// Reads until the server closes the connection; panics if it is still open after the read
/// timeout. Returns what arrived.
fn read_until_closed(c: &mut TcpStream) -> String {
    let mut got = Vec::new();
    match c.read_to_end(&mut got) {
        Ok(_) => String::from_utf8_lossy(&got).into_owned(),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {
            String::from_utf8_lossy(&got).into_owned()
        }
        Err(e) => panic!(
            "the connection was still open ({e}); received so far: {:?}",
            String::from_utf8_lossy(&got)
        ),
    }
}

/// Reads one response (headers and a `content-length` body) without waiting for the close.
fn read_response(c: &mut TcpStream) -> std::io::Result<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                return Ok(text);
            }
        }
        let n = c.read(&mut buf)?;
        if n == 0 {
            return Ok(String::from_utf8_lossy(&got).into_owned());
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn slow_or_idle_clients_are_disconnected_and_a_slow_body_is_answered_408() {
    // SPEC: AB-5
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(
        dir,
        &[
            "--preset",
            "nist",
            "--header-timeout",
            "1",
            "--body-timeout",
            "1",
        ],
        1,
    );
    let wait = Duration::from_secs(15);

    // A connection that never sends a byte is closed.
    let mut silent = connect(server.port, wait);
    let _ = read_until_closed(&mut silent);

    // Half a header, then nothing: closed without a request reaching the routes.
    let mut half = connect(server.port, wait);
    half.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        .unwrap();
    let answer = read_until_closed(&mut half);
    assert!(!answer.contains("200 OK"), "{answer}");

    // A kept-alive connection is answered, then closed once it idles past the deadline.
    let mut idle = connect(server.port, wait);
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let first = read_response(&mut idle).unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    let rest = read_until_closed(&mut idle);
    assert!(!rest.contains("HTTP/1.1 200"), "{rest}");

    // Headers in time, the body never completes: 408 request_timeout, in JSON.
    let mut slow = connect(server.port, wait);
    slow.write_all(
        b"POST /reset HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
          content-length: 100\r\n\r\n{\"tenant\":",
    )
    .unwrap();
    let answer = read_response(&mut slow).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");

    // The server still serves others.
    let mut fresh = connect(server.port, wait);
    fresh
        .write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .unwrap();
    assert!(read_until_closed(&mut fresh).starts_with("HTTP/1.1 200"));
    server.stop();
}

#[test]
fn no_more_connections_than_the_cap_are_served() {
    // SPEC: AB-5
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(
        dir,
        &[
            "--preset",
            "nist",
            "--max-connections",
            "2",
            "--header-timeout",
            "120",
        ],
        1,
    );
    // Two clients hold connections open (each answered once, then idle).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect(server.port, Duration::from_secs(15));
        c.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            .unwrap();
        assert!(read_response(&mut c).unwrap().starts_with("HTTP/1.1 200"));
        held.push(c);
    }
    // A third is not served while they are open...
    let mut third = connect(server.port, Duration::from_millis(800));
    third
        .write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    match third.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a third connection was served beyond the cap: {other:?}"),
    }
    // ...and is served as soon as one of them closes.
    drop(held.pop());
    third
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let answer = read_until_closed(&mut third);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(held);
    server.stop();
}
