//! Hand-written tests of the response reader, one group per rule of the module text.

use super::*;
use std::time::Instant;

fn budget() -> Deadline<'static> {
    Deadline::new(Duration::from_secs(30))
}

/// Read one response from `bytes` delivered in one piece.
fn one(bytes: &[u8]) -> Result<Response, ReadError> {
    read(
        &mut Scripted::bytes(bytes),
        &mut Vec::new(),
        &budget(),
        None,
    )
}

/// Read one response from `bytes` delivered one byte at a time, with stalls and signals in
/// between: the result must be the same as from one piece.
fn dripped(bytes: &[u8]) -> Result<Response, ReadError> {
    let mut steps = Vec::new();
    for (i, b) in bytes.iter().enumerate() {
        steps.push(Step::Data(vec![*b]));
        match i % 7 {
            3 => steps.push(Step::Stall),
            5 => steps.push(Step::Interrupted),
            _ => {}
        }
    }
    read(&mut Scripted::new(steps), &mut Vec::new(), &budget(), None)
}

/// Both deliveries give this result; returns it.
fn both(bytes: &[u8]) -> Result<Response, ReadError> {
    let a = one(bytes);
    let b = dripped(bytes);
    assert_eq!(
        format!("{a:?}"),
        format!("{b:?}"),
        "{:?}",
        String::from_utf8_lossy(bytes)
    );
    a
}

fn ok(bytes: &[u8]) -> Response {
    both(bytes).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)))
}

fn err(bytes: &[u8]) -> String {
    match both(bytes) {
        Ok(r) => panic!("accepted {r:?} from {:?}", String::from_utf8_lossy(bytes)),
        Err(e) => e.to_string(),
    }
}

fn with_body(head: &str, body: &str) -> Vec<u8> {
    format!("{head}\r\n\r\n{body}").into_bytes()
}

#[test]
fn status_line_forms() {
    let r = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(
        (r.status, r.body.as_slice(), r.close),
        (200, &b"hi"[..], false)
    );
    // No reason phrase, with or without the space; reasons with spaces, tabs and obs-text.
    assert_eq!(ok(b"HTTP/1.1 204\r\n\r\n").status, 204);
    assert_eq!(ok(b"HTTP/1.1 204 \r\n\r\n").status, 204);
    assert_eq!(
        ok(b"HTTP/1.1 503 Service\tUn avail\xe9\r\nContent-Length: 0\r\n\r\n").status,
        503
    );
    // HTTP/1.0: closes unless keep-alive.
    assert!(ok(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").close);
    assert!(!ok(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").close);
    assert!(ok(b"HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 0\r\n\r\n").close);
    // 1xx, 204, 304 have no body; 1xx also ends the connection.
    let r = ok(b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!((r.status, r.body.len(), r.close), (100, 0, true));
    let r = ok(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
    assert_eq!((r.status, r.body.len(), r.close), (304, 0, false));
    for bad in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/1.x 200 OK\r\n\r\n",
        b"http/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 200 O\x01K\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
    ] {
        assert_eq!(err(bad), "malformed HTTP status line", "{bad:?}");
    }
}

#[test]
fn line_endings_are_crlf_only() {
    assert_eq!(
        err(b"HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
        "bare LF in HTTP response"
    );
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n"),
        "bare CR in HTTP response"
    );
}

#[test]
fn header_fields() {
    let r =
        ok(b"HTTP/1.1 429 Too Many\r\nRetry-After:  7 \t\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.header("x-empty"), Some(""));
    assert_eq!(r.headers.len(), 3);
    // Obsolete line folding is rejected, not joined.
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n"),
        "obsolete line folding in HTTP header"
    );
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\n\tX-A: one\r\nContent-Length: 0\r\n\r\n"),
        "obsolete line folding in HTTP header"
    );
    for bad in [
        &b"Content-Length : 0"[..],
        b"No colon here",
        b": no name",
        b"Bad[Name]: x",
        b"X-Nul: a\x00b",
        b"X-Esc: \x1b[31m",
        b"X-Del: \x7f",
    ] {
        let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
        bytes.extend_from_slice(bad);
        bytes.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(err(&bytes), "malformed HTTP header", "{bad:?}");
    }
}

#[test]
fn header_limits() {
    // Exactly MAX_FIELDS fields is fine; one more is not.
    let fields = |n: usize| {
        let mut s = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..n - 1 {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s.into_bytes()
    };
    assert_eq!(one(&fields(MAX_FIELDS)).unwrap().headers.len(), MAX_FIELDS);
    assert_eq!(
        one(&fields(MAX_FIELDS + 1)).unwrap_err().to_string(),
        "too many response headers"
    );
    // A head of exactly MAX_HEAD bytes is fine; one byte more is not, and the reader stops
    // there without waiting for the rest.
    let head = |total: usize| {
        let fixed = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: \r\n\r\n".len();
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: {}\r\n\r\n",
            "p".repeat(total - fixed)
        )
        .into_bytes()
    };
    assert_eq!(head(MAX_HEAD).len(), MAX_HEAD);
    assert!(one(&head(MAX_HEAD)).is_ok());
    assert!(matches!(
        one(&head(MAX_HEAD + 1)),
        Err(ReadError::TooLarge("response headers too large"))
    ));
    let mut endless = Scripted::new([
        Step::Data(b"HTTP/1.1 200 OK\r\nX: ".to_vec()),
        Step::Data(vec![b'x'; 2 * MAX_HEAD]),
        Step::Stall,
    ]);
    let e = read(&mut endless, &mut Vec::new(), &budget(), None).unwrap_err();
    assert_eq!(e.to_string(), "response headers too large");
}

#[test]
fn content_length_rules() {
    let r = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and the next reply");
    assert_eq!(r.body, b"hello");
    // Identical duplicates (as fields or as a list) are one length.
    let r = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3, 3\r\n\r\nabc");
    assert_eq!(r.body, b"abc");
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        "conflicting Content-Length"
    );
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 30\r\n\r\nabc"),
        "conflicting Content-Length"
    );
    for bad in ["+3", "-1", "3 3", "0x10", "", "3,", "1e3", "\u{0663}"] {
        let bytes = with_body(&format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}"), "abc");
        assert_eq!(err(&bytes), "bad Content-Length", "{bad:?}");
    }
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}"),
        "response without Content-Length"
    );
    // Leading zeros are digits like any other.
    assert_eq!(
        ok(b"HTTP/1.1 200 OK\r\nContent-Length: 0002\r\n\r\nok").body,
        b"ok"
    );
}

#[test]
fn sizes_that_overflow_are_errors() {
    for cl in [
        "18446744073709551616",
        "99999999999999999999999999999999",
        "18446744073709551615",
    ] {
        let bytes = with_body(&format!("HTTP/1.1 200 OK\r\nContent-Length: {cl}"), "");
        assert_eq!(err(&bytes), "response body too large", "{cl}");
    }
    // The panic issue 10 found: a chunk size near 2^64 after a small first chunk.
    let bytes =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\nffffffffffffffff\r\nx";
    assert_eq!(err(bytes), "response body too large");
    let bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx";
    assert_eq!(err(bytes), "response body too large");
    let bytes =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nfffffffffffffff0\r\n";
    assert_eq!(err(bytes), "response body too large");
}

fn chunked(chunks: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}").into_bytes()
}

#[test]
fn chunk_sizes_with_extensions() {
    let r = ok(&chunked(
        "5\r\nhello\r\n7;name=value\r\n, world\r\n0\r\n\r\n",
    ));
    assert_eq!(r.body, b"hello, world");
    let r = ok(&chunked(
        "A ; a=\"q;x\" ;b\r\n0123456789\r\n000;last\r\n\r\n",
    ));
    assert_eq!(r.body, b"0123456789");
    assert_eq!(ok(&chunked("0\r\n\r\n")).body, b"");
    assert_eq!(
        ok(&chunked("00000000000000000000001\r\nz\r\n0\r\n\r\n")).body,
        b"z"
    );
    // Upper- and lower-case hex digits.
    let r = ok(&chunked(&format!(
        "1a\r\n{}\r\n1A\r\n{}\r\n0\r\n\r\n",
        "x".repeat(26),
        "y".repeat(26)
    )));
    assert_eq!(r.body.len(), 52);
    for bad in [
        "x\r\n",
        "\r\n",
        ";ext\r\n",
        "5x\r\nhello\r\n0\r\n\r\n",
        "5 6\r\nhello\r\n0\r\n\r\n",
        "5 \r\nhello\r\n0\r\n\r\n",
        "-5\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "5;a\x01b\r\nhello\r\n0\r\n\r\n",
        // The CRLF after a chunk's data is checked.
        "5\r\nhelloXY0\r\n\r\n",
        "5\r\nhello\n0\r\n\r\n",
    ] {
        let e = err(&chunked(bad));
        assert!(
            e == "malformed chunk" || e == "bare LF in HTTP response",
            "{bad:?}: {e}"
        );
    }
    let long_ext = format!("5;{}\r\nhello\r\n0\r\n\r\n", "e".repeat(MAX_CHUNK_LINE));
    assert_eq!(err(&chunked(&long_ext)), "chunk line too long");
}

#[test]
fn transfer_encoding_rules() {
    assert_eq!(
        ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding:  Chunked \r\n\r\n1\r\nx\r\n0\r\n\r\n").body,
        b"x"
    );
    // Empty list members are ignored.
    assert_eq!(
        ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked,\r\n\r\n0\r\n\r\n").body,
        b""
    );
    // Both framings: rejected (see the module text).
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "both Transfer-Encoding and Content-Length"
    );
    assert_eq!(
        err(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "Transfer-Encoding in an HTTP/1.0 response"
    );
    for te in [
        "gzip",
        "gzip, chunked",
        "chunked, chunked",
        "chunked;q=1",
        "identity",
        "",
    ] {
        let bytes = with_body(
            &format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {te}"),
            "0\r\n\r\n",
        );
        assert_eq!(err(&bytes), "unsupported Transfer-Encoding", "{te:?}");
    }
    let two = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(err(two), "unsupported Transfer-Encoding");
}

#[test]
fn zero_chunk_with_trailers() {
    let r = ok(&chunked(
        "2\r\nok\r\n0\r\nX-Trailer: yes\r\nOther:\t1\r\n\r\nNEXT",
    ));
    assert_eq!(r.body, b"ok");
    assert_eq!(r.header("x-trailer"), None, "trailers are dropped");
    // Trailers are checked like header fields.
    assert_eq!(
        err(&chunked("0\r\nBad Trailer: x\r\n\r\n")),
        "malformed HTTP header"
    );
    assert_eq!(
        err(&chunked("0\r\nX: a\r\n folded\r\n\r\n")),
        "obsolete line folding in HTTP header"
    );
}

#[test]
fn trailer_flood_is_cut_off() {
    // Many small trailers: stopped at the count, long before the bytes run out.
    let many: String = (0..=MAX_TRAILERS).map(|i| format!("T{i}: v\r\n")).collect();
    assert_eq!(
        err(&chunked(&format!("0\r\n{many}\r\n"))),
        "too many chunked trailers"
    );
    let fits: String = (0..MAX_TRAILERS).map(|i| format!("T{i}: v\r\n")).collect();
    assert!(one(&chunked(&format!("0\r\n{fits}\r\n"))).is_ok());
    // One endless trailer line: stopped at the byte cap, without waiting for more.
    let mut src = Scripted::new([
        Step::Data(chunked("0\r\nX: ")),
        Step::Data(vec![b'a'; 4 * MAX_TRAILER_BYTES]),
        Step::Stall,
    ]);
    let e = read(&mut src, &mut Vec::new(), &budget(), None).unwrap_err();
    assert_eq!(e.to_string(), "chunked trailers too large");
    // An endless stream of trailers that never ends: an error, not a wait for the deadline.
    let steps = std::iter::once(Step::Data(chunked("0\r\n")))
        .chain((0..100_000).map(|i| Step::Data(format!("F{i}: x\r\n").into_bytes())));
    let t = Instant::now();
    let e = read(&mut Scripted::new(steps), &mut Vec::new(), &budget(), None).unwrap_err();
    assert!(matches!(e, ReadError::TooLarge(_)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn tiny_chunk_flood_is_cut_off() {
    let flood = "1\r\nx\r\n".repeat(MAX_FRAMING);
    assert_eq!(
        err(&chunked(&format!("{flood}0\r\n\r\n"))),
        "chunked framing too large"
    );
    // Ordinary chunking of a large body stays well inside the framing cap.
    let piece = "y".repeat(4096);
    let body: String = (0..200).map(|_| format!("1000\r\n{piece}\r\n")).collect();
    assert_eq!(
        one(&chunked(&format!("{body}0\r\n\r\n")))
            .unwrap()
            .body
            .len(),
        200 * 4096
    );
}

#[test]
fn body_over_the_cap_in_each_framing() {
    // Content-Length: the cap itself is fine, one more byte is not (and is refused before any
    // of the body is read).
    let at_cap = [
        format!("HTTP/1.1 200 OK\r\nContent-Length: {MAX_BODY}\r\n\r\n").into_bytes(),
        vec![b'b'; MAX_BODY],
    ]
    .concat();
    assert_eq!(one(&at_cap).unwrap().body.len(), MAX_BODY);
    let over = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    let mut src = Scripted::new([Step::Data(over.into_bytes()), Step::Stall]);
    assert_eq!(
        read(&mut src, &mut Vec::new(), &budget(), None)
            .unwrap_err()
            .to_string(),
        "response body too large"
    );
    // Chunked: one chunk over the cap, and several that add up to more than the cap.
    let one_big = format!("{:x}\r\n", MAX_BODY + 1);
    assert_eq!(err(&chunked(&one_big)), "response body too large");
    let half = format!("{:x}\r\n{}\r\n", MAX_BODY / 2, "h".repeat(MAX_BODY / 2));
    let exact = [
        chunked(&half),
        half.clone().into_bytes(),
        b"0\r\n\r\n".to_vec(),
    ]
    .concat();
    assert_eq!(one(&exact).unwrap().body.len(), MAX_BODY);
    let over = [
        chunked(&half),
        half.into_bytes(),
        b"1\r\nx\r\n0\r\n\r\n".to_vec(),
    ]
    .concat();
    assert_eq!(
        one(&over).unwrap_err().to_string(),
        "response body too large"
    );
    // No framing at all (a body up to the close) is not accepted, whatever its size.
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody"),
        "response without Content-Length"
    );
}

#[test]
fn early_close_in_each_state() {
    let full = chunked("3\r\nabc\r\n0\r\nT: 1\r\n\r\n");
    // Every proper prefix of a chunked reply, and of a Content-Length reply, is "closed".
    for cut in 0..full.len() {
        let e = both(&full[..cut]).unwrap_err();
        assert!(matches!(e, ReadError::Closed), "cut {cut}: {e}");
        assert_eq!(e.to_string(), "Connection closed");
    }
    assert!(one(&full).is_ok());
    let cl = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody";
    for cut in 0..cl.len() {
        assert!(
            matches!(both(&cl[..cut]), Err(ReadError::Closed)),
            "cut {cut}"
        );
    }
    // A reset or EOF error from the connection counts as closed too; other errors keep their
    // text.
    let mut src = Scripted::new([
        Step::Data(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Step::Fail(ErrorKind::UnexpectedEof),
    ]);
    let e = read(&mut src, &mut Vec::new(), &budget(), None).unwrap_err();
    assert_eq!(e.to_string(), "Connection closed");
    let mut src = Scripted::new([Step::Fail(ErrorKind::ConnectionReset)]);
    let e = read(&mut src, &mut Vec::new(), &budget(), None).unwrap_err();
    assert!(matches!(e, ReadError::Io(_)), "{e:?}");
}

#[test]
fn keep_alive_leaves_the_next_reply_in_the_buffer() {
    let two = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n";
    let mut src = Scripted::bytes(two);
    let mut buf = Vec::new();
    let a = read(&mut src, &mut buf, &budget(), None).unwrap();
    let b = read(&mut src, &mut buf, &budget(), None).unwrap();
    assert_eq!((a.status, a.body.as_slice()), (200, &b"a"[..]));
    assert_eq!((b.status, b.body.as_slice()), (201, &b"b"[..]));
    assert!(buf.is_empty());
    assert!(matches!(
        read(&mut src, &mut buf, &budget(), None),
        Err(ReadError::Closed)
    ));
}

#[test]
fn a_spent_budget_still_reads_what_has_arrived() {
    // "A stopped process is not a silent server": the budget ran out while the reply sat in
    // the socket; every part of it that is there is read, one look per wait.
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let spent = Deadline::new(Duration::ZERO);
    assert!(spent.expired());
    let steps = reply.chunks(5).map(|c| Step::Data(c.to_vec()));
    let r = read(&mut Scripted::new(steps), &mut Vec::new(), &spent, None).unwrap();
    assert_eq!(r.body, b"ok");
    // The same with a spent per-wait budget inside a live deadline.
    let steps = reply.chunks(3).map(|c| Step::Data(c.to_vec()));
    let r = read(
        &mut Scripted::new(steps),
        &mut Vec::new(),
        &budget(),
        Some(Duration::ZERO),
    )
    .unwrap();
    assert_eq!(r.body, b"ok");
    // But only what is there: one look that finds nothing ends the read, without waiting.
    let mut src = Scripted::new([
        Step::Data(reply[..10].to_vec()),
        Step::Stall,
        Step::Data(reply[10..].to_vec()),
    ]);
    let t = Instant::now();
    let e = read(&mut src, &mut Vec::new(), &spent, None).unwrap_err();
    assert!(matches!(e, ReadError::TimedOut), "{e}");
    assert_eq!(e.to_string(), "Connection timed out");
    assert_eq!(src.reads, 2, "one read for the data, one last look");
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn late_looks_are_bounded() {
    // After the budget is spent, a server that has one more byte ready for every look cannot
    // keep the reader going: at most MAX_LATE_LOOKS such reads per response.
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
    let steps =
        std::iter::once(Step::Data(head)).chain((0..100_000).map(|_| Step::Data(vec![b'd'])));
    let mut src = Scripted::new(steps);
    let e = read(
        &mut src,
        &mut Vec::new(),
        &Deadline::new(Duration::ZERO),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, ReadError::TimedOut), "{e}");
    assert_eq!(src.reads, MAX_LATE_LOOKS as usize);
}

/// A real-time source: one byte every `every`, forever (or silence when `every` is `None`).
struct Drip {
    every: Option<Duration>,
    next: Instant,
    bytes: Vec<u8>,
    sent: usize,
}

impl Drip {
    fn new(every: Option<Duration>, bytes: &[u8]) -> Drip {
        Drip {
            every,
            next: Instant::now() + every.unwrap_or_default(),
            bytes: bytes.to_vec(),
            sent: 0,
        }
    }
}

impl Source for Drip {
    fn read_within(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<usize> {
        let Some(every) = self.every else {
            std::thread::sleep(wait);
            return Err(ErrorKind::WouldBlock.into());
        };
        let now = Instant::now();
        if self.next > now + wait {
            std::thread::sleep(wait);
            return Err(ErrorKind::WouldBlock.into());
        }
        std::thread::sleep(self.next.saturating_duration_since(now));
        self.next += every;
        buf[0] = self.bytes[self.sent % self.bytes.len()];
        self.sent += 1;
        Ok(1)
    }
}

#[test]
fn a_slow_drip_still_ends_at_the_deadline() {
    // Each byte comes well within the per-wait bound, but the whole reply never ends: the
    // deadline ends it, within a loose bound.
    for (prefix, drip) in [
        (&b"HTTP/1.1 200 OK\r\nX-Slow: "[..], &b"x"[..]),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"d"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"1\r\na\r\n",
        ),
    ] {
        // The prefix has arrived; the rest drips.
        let mut buf = prefix.to_vec();
        let mut drip = Drip::new(Some(Duration::from_millis(20)), drip);
        let deadline = Deadline::new(Duration::from_millis(400));
        let t = Instant::now();
        let e = read(
            &mut drip,
            &mut buf,
            &deadline,
            Some(Duration::from_millis(300)),
        )
        .unwrap_err();
        let took = t.elapsed();
        assert!(matches!(e, ReadError::TimedOut), "{e}");
        assert!(took >= Duration::from_millis(350), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }
}

#[test]
fn silence_ends_at_the_per_wait_bound() {
    let mut silent = Drip::new(None, b"");
    let deadline = Deadline::new(Duration::from_secs(20));
    let t = Instant::now();
    let e = read(
        &mut silent,
        &mut Vec::new(),
        &deadline,
        Some(Duration::from_millis(200)),
    )
    .unwrap_err();
    assert!(matches!(e, ReadError::TimedOut), "{e}");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn limits_are_judged_the_same_in_any_piecing() {
    // A bare LF beyond the line cap: "too long" whether the LF is already there or not.
    let mut bytes = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    bytes.extend(std::iter::repeat_n(b'a', MAX_HEAD));
    bytes.push(b'\n');
    assert_eq!(err(&bytes), "response headers too large");
}
