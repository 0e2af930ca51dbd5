//! Reading one HTTP/1.1 response (docs/BEHAVIOUR.md §1.8) from any byte source, with every wait bounded by a
//! [`Deadline`] and every size from the server capped.
//!
//! The real TLS connection (`http::Conn`) and the in-memory [`Scripted`] source of the unit
//! tests and the fuzz targets go through the same code: [`read`].
//!
//! Rules (RFC 9112 unless noted):
//! - Lines end with CRLF. A bare LF anywhere in the status line, header block, chunk-size line or
//!   trailers is an error, and so is a bare CR (we never guess where a line ends).
//! - Status line `HTTP/1.<digit> <3 digits>[ <reason>]`. A status below 100 is an error. 1xx, 204
//!   and 304 responses have no body; a 1xx is returned as it is (docs/BEHAVIOUR.md §1.9 classes it) and marks
//!   the connection for closing, since what follows it is unknown.
//! - Header fields are `token ":" OWS value OWS`: no whitespace before the colon, no obsolete
//!   line folding (a line that starts with SP or HTAB), no control character in a value other
//!   than HTAB. At most [`MAX_HEAD`] bytes and [`MAX_FIELDS`] fields.
//! - Framing: `Transfer-Encoding` present means chunked, and it must be exactly `chunked` (no
//!   other coding was asked for). A response with both `Transfer-Encoding` and
//!   `Content-Length` is **rejected** (RFC 9112 §6.3 lets chunked win, but also calls it a
//!   likely smuggling attempt "that ought to be handled as an error"; we never need it), and so is
//!   `Transfer-Encoding` in an HTTP/1.0 response. Several `Content-Length` values (fields or
//!   list members) must all be equal (RFC 9110 §8.6), else the response is rejected. No length
//!   and no chunking is an error: a body delimited by the end of the connection is not accepted
//!   (docs/BEHAVIOUR.md §1.8).
//! - Every number from the server is parsed with checked arithmetic: a length or chunk size that
//!   does not fit, or that takes the body past [`MAX_BODY`], is "response body too large".
//! - Chunked: chunk extensions are allowed and ignored; the CRLF after each chunk's data is
//!   checked; trailers are read, checked like header fields and dropped, at most
//!   [`MAX_TRAILERS`] fields in [`MAX_TRAILER_BYTES`]; all the framing around the data (size
//!   lines, CRLFs, trailers) is at most [`MAX_FRAMING`] bytes, so a flood of tiny chunks or
//!   trailers ends with an error, not at the deadline.
//! - The connection closing before the response is complete, in any state, is "Connection
//!   closed".
//!
//! Waiting (§0a D4, D11): each read waits at most one slice of the budget (a
//! `deadline::Wait`, charged with the time the read took);
//! `per_wait` (`https_timeout`) bounds each wait for more data as a nested budget. When a budget
//! is spent the reader makes one last look that does not wait before it declares a timeout, so
//! data that has already arrived is always read: a process that was stopped while the reply sat
//! in the socket gets the reply, not a timeout. Looks made after a budget was spent that do find
//! data are counted, at most [`MAX_LATE_LOOKS`] per response, so a server dripping bytes just in
//! time for each look cannot stretch the bound.

use std::io::ErrorKind;
use std::time::Duration;

use crate::api::deadline::Deadline;

/// Largest response body accepted, in every framing.
pub const MAX_BODY: usize = 1 << 20;
/// Largest status line plus header block, CRLFs included.
pub const MAX_HEAD: usize = 64 << 10;
/// Most header fields in one response.
pub const MAX_FIELDS: usize = 100;
/// Longest chunk-size line (size and extensions), CRLF excluded.
pub const MAX_CHUNK_LINE: usize = 4096;
/// Most trailer fields after the last chunk.
pub const MAX_TRAILERS: usize = 32;
/// Largest trailer section, CRLFs included.
pub const MAX_TRAILER_BYTES: usize = 16 << 10;
/// Largest framing overhead of a chunked body: size lines, the CRLF after each chunk, trailers.
pub const MAX_FRAMING: usize = 64 << 10;
/// Most reads per response made after a budget was spent (see the module text).
pub const MAX_LATE_LOOKS: u32 = 256;
/// Bytes asked for per read.
const READ_SIZE: usize = 16 << 10;

/// A source of response bytes: the TLS connection, or an in-memory script.
pub(crate) trait Source {
    /// Read some bytes into `buf`, waiting at most `wait` for the first of them. `Ok(0)` or an
    /// error of kind `UnexpectedEof` means the peer closed the connection; `TimedOut`,
    /// `WouldBlock` or `Interrupted` means nothing arrived in time (the reader looks again while
    /// its budget lasts); any other error is final. Must not block much longer than `wait`.
    fn read_within(&mut self, buf: &mut [u8], wait: Duration) -> std::io::Result<usize>;
}

/// Why no response could be read. Every one leaves the connection unusable.
#[derive(Debug)]
pub enum ReadError {
    /// The budget was spent and nothing more had arrived.
    TimedOut,
    /// The peer closed the connection before the response was complete.
    Closed,
    /// The bytes are not a well-formed HTTP/1.1 response; says what is wrong.
    Malformed(&'static str),
    /// A size from the server is over one of our caps; says which.
    TooLarge(&'static str),
    /// Any other I/O or TLS error.
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TimedOut => f.write_str("Connection timed out"),
            ReadError::Closed => f.write_str("Connection closed"),
            ReadError::Malformed(what) | ReadError::TooLarge(what) => f.write_str(what),
            ReadError::Io(e) => f.write_str(&crate::sys::strerror(e)),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<std::io::Error> for ReadError {
    /// Closing and timing out get their own variants; the rest is `Io`.
    fn from(e: std::io::Error) -> ReadError {
        match e.kind() {
            ErrorKind::UnexpectedEof => ReadError::Closed,
            ErrorKind::TimedOut | ErrorKind::WouldBlock => ReadError::TimedOut,
            _ => ReadError::Io(e),
        }
    }
}

/// A response.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code (100–999).
    pub status: u16,
    /// Header names (lowercased) and values (surrounding whitespace removed).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The connection must not be reused (`Connection: close`, HTTP/1.0 without keep-alive, or
    /// a 1xx response).
    pub close: bool,
}

impl Response {
    /// First header of that (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

const TOO_LARGE: ReadError = ReadError::TooLarge("response body too large");
const BAD_CHUNK: ReadError = ReadError::Malformed("malformed chunk");
const BAD_HEADER: ReadError = ReadError::Malformed("malformed HTTP header");

/// Read one response from `src`. `buf` holds bytes already received and not yet used; it keeps
/// what follows the response for the next one (keep-alive). The whole read is bounded by
/// `deadline`; each wait for more data also by `per_wait`, if given.
pub(crate) fn read<S: Source + ?Sized>(
    src: &mut S,
    buf: &mut Vec<u8>,
    deadline: &Deadline<'_>,
    per_wait: Option<Duration>,
) -> Result<Response, ReadError> {
    Reader {
        src,
        buf,
        deadline,
        per_wait,
        late_looks: 0,
        scratch: Vec::new(),
    }
    .response()
}

struct Reader<'r, 'd, S: Source + ?Sized> {
    src: &'r mut S,
    buf: &'r mut Vec<u8>,
    deadline: &'r Deadline<'d>,
    per_wait: Option<Duration>,
    late_looks: u32,
    scratch: Vec<u8>,
}

impl<S: Source + ?Sized> Reader<'_, '_, S> {
    fn response(&mut self) -> Result<Response, ReadError> {
        let too_big = || ReadError::TooLarge("response headers too large");
        // Each line may use what is left of MAX_HEAD after its own CRLF and the final one.
        let n = self.line(MAX_HEAD - 4, too_big())?;
        let (minor, status) = status_line(&self.buf[..n])?;
        let mut used = n + 2;
        self.consume(n + 2);
        let mut headers = Vec::new();
        loop {
            let n = self.line(MAX_HEAD.saturating_sub(used + 2), too_big())?;
            used += n + 2;
            if used > MAX_HEAD {
                return Err(too_big());
            }
            if n == 0 {
                self.consume(2);
                break;
            }
            if headers.len() >= MAX_FIELDS {
                return Err(ReadError::TooLarge("too many response headers"));
            }
            headers.push(field(&self.buf[..n])?);
            self.consume(n + 2);
        }
        let connection = |token: &str| {
            values(&headers, "connection")
                .flat_map(|v| v.split(','))
                .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
        };
        let interim = (100..200).contains(&status);
        let close = interim || connection("close") || (minor == 0 && !connection("keep-alive"));
        let te: Vec<&str> = values(&headers, "transfer-encoding").collect();
        let cl: Vec<&str> = values(&headers, "content-length").collect();
        let body = if interim || status == 204 || status == 304 {
            Vec::new()
        } else if !te.is_empty() {
            if minor == 0 {
                return Err(ReadError::Malformed(
                    "Transfer-Encoding in an HTTP/1.0 response",
                ));
            }
            if !cl.is_empty() {
                return Err(ReadError::Malformed(
                    "both Transfer-Encoding and Content-Length",
                ));
            }
            let mut codings = te
                .iter()
                .flat_map(|v| v.split(','))
                .map(|c| c.trim_matches([' ', '\t']))
                .filter(|c| !c.is_empty());
            match (codings.next(), codings.next()) {
                (Some(c), None) if c.eq_ignore_ascii_case("chunked") => {}
                _ => return Err(ReadError::Malformed("unsupported Transfer-Encoding")),
            }
            self.chunked()?
        } else if !cl.is_empty() {
            let len = content_length(&cl)?;
            self.exact(len)?
        } else {
            return Err(ReadError::Malformed("response without Content-Length"));
        };
        Ok(Response {
            status,
            headers,
            body,
            close,
        })
    }

    fn chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let too_much = || ReadError::TooLarge("chunked framing too large");
        let mut body = Vec::new();
        let mut framing = 0usize;
        loop {
            let n = self.line(MAX_CHUNK_LINE, ReadError::TooLarge("chunk line too long"))?;
            framing += n + 2;
            if framing > MAX_FRAMING {
                return Err(too_much());
            }
            let size = chunk_size(&self.buf[..n])?;
            self.consume(n + 2);
            if size == 0 {
                self.trailers(&mut framing)?;
                return Ok(body);
            }
            match body.len().checked_add(size) {
                Some(total) if total <= MAX_BODY => {}
                _ => return Err(TOO_LARGE),
            }
            self.want(size)?;
            body.extend_from_slice(&self.buf[..size]);
            self.consume(size);
            self.want(2)?;
            if self.buf[..2] != *b"\r\n" {
                return Err(BAD_CHUNK);
            }
            self.consume(2);
            framing += 2;
            if framing > MAX_FRAMING {
                return Err(too_much());
            }
        }
    }

    /// The trailer section after the last chunk, up to its empty line: checked and dropped.
    fn trailers(&mut self, framing: &mut usize) -> Result<(), ReadError> {
        let mut used = 0usize;
        let mut count = 0usize;
        let too_big = || ReadError::TooLarge("chunked trailers too large");
        loop {
            let left = MAX_TRAILER_BYTES.min(MAX_FRAMING.saturating_sub(*framing));
            let n = self.line(left.saturating_sub(used + 2), too_big())?;
            used += n + 2;
            *framing += n + 2;
            if used > MAX_TRAILER_BYTES || *framing > MAX_FRAMING {
                return Err(too_big());
            }
            if n == 0 {
                self.consume(2);
                return Ok(());
            }
            count += 1;
            if count > MAX_TRAILERS {
                return Err(ReadError::TooLarge("too many chunked trailers"));
            }
            field(&self.buf[..n])?;
            self.consume(n + 2);
        }
    }

    /// A body of exactly `len` bytes.
    fn exact(&mut self, len: usize) -> Result<Vec<u8>, ReadError> {
        self.want(len)?;
        Ok(self.buf.drain(..len).collect())
    }

    /// Wait until `buf` starts with a CRLF-terminated line of at most `max` bytes; return its
    /// length without the CRLF. `too_long` is the error for a longer line.
    fn line(&mut self, max: usize, too_long: ReadError) -> Result<usize, ReadError> {
        let mut from = 0;
        loop {
            if let Some(i) = self.buf[from..].iter().position(|&b| b == b'\n') {
                let lf = from + i;
                // Judged as if the bytes had come one at a time: too long first.
                if lf > max.saturating_add(1) {
                    return Err(too_long);
                }
                if lf == 0 || self.buf[lf - 1] != b'\r' {
                    return Err(ReadError::Malformed("bare LF in HTTP response"));
                }
                let n = lf - 1;
                if self.buf[..n].contains(&b'\r') {
                    return Err(ReadError::Malformed("bare CR in HTTP response"));
                }
                return Ok(n);
            }
            // No LF yet: the line has at least `len - 1` bytes (the last may be its CR).
            if self.buf.len() > max.saturating_add(1) {
                return Err(too_long);
            }
            from = self.buf.len();
            self.fill()?;
        }
    }

    /// Wait until `buf` holds at least `n` bytes.
    fn want(&mut self, n: usize) -> Result<(), ReadError> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
    }

    /// Read some more: each wait is one slice of the budget (`per_wait` nested in the
    /// deadline); a spent budget gets one last look that does not wait.
    fn fill(&mut self) -> Result<(), ReadError> {
        let wait = self.deadline.within(self.per_wait);
        let mut looked = false;
        if self.scratch.is_empty() {
            self.scratch = vec![0; READ_SIZE];
        }
        while let Some(t) = wait.wait_or_last_look(&mut looked) {
            if looked {
                if self.late_looks >= MAX_LATE_LOOKS {
                    break;
                }
                self.late_looks += 1;
            }
            match self.src.read_within(&mut self.scratch, t.slice) {
                Ok(0) => return Err(ReadError::Closed),
                Ok(n) => {
                    // A source that claims more than it was given is a bug; never trust it.
                    let n = n.min(self.scratch.len());
                    self.buf.extend_from_slice(&self.scratch[..n]);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(ReadError::from(e)),
            }
        }
        Err(ReadError::TimedOut)
    }
}

/// The values of every field called `name` (lowercase).
fn values<'h>(
    headers: &'h [(String, String)],
    name: &'static str,
) -> impl Iterator<Item = &'h str> {
    headers
        .iter()
        .filter(move |(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `HTTP/1.<d> <ddd>[ <reason>]`: the minor version and the status.
fn status_line(line: &[u8]) -> Result<(u8, u16), ReadError> {
    let bad = ReadError::Malformed("malformed HTTP status line");
    let rest = line.strip_prefix(b"HTTP/1.").ok_or(bad)?;
    let bad = || ReadError::Malformed("malformed HTTP status line");
    let (&minor, rest) = rest.split_first().ok_or_else(bad)?;
    let rest = rest.strip_prefix(b" ").ok_or_else(bad)?;
    if !minor.is_ascii_digit() || rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let status = rest[..3]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let reason = &rest[3..];
    let reason_ok = match reason.split_first() {
        None => true,
        Some((b' ', text)) => text.iter().all(|&b| field_byte(b)),
        Some(_) => false,
    };
    if status < 100 || !reason_ok {
        return Err(bad());
    }
    Ok((minor - b'0', status))
}

/// A byte allowed in a field value or reason phrase: HTAB, SP, visible ASCII, obs-text.
fn field_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// A `token` character (RFC 9110 §5.6.2).
fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// One header or trailer field line: lowercase name and trimmed value.
fn field(line: &[u8]) -> Result<(String, String), ReadError> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(ReadError::Malformed("obsolete line folding in HTTP header"));
    }
    let colon = line.iter().position(|&b| b == b':').ok_or(BAD_HEADER)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| tchar(b)) || !value.iter().all(|&b| field_byte(b)) {
        return Err(BAD_HEADER);
    }
    let start = value
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    Ok((
        String::from_utf8_lossy(name).to_ascii_lowercase(),
        String::from_utf8_lossy(&value[start..end]).into_owned(),
    ))
}

/// The body length from every `Content-Length` value: all equal, digits only, at most
/// [`MAX_BODY`].
fn content_length(values: &[&str]) -> Result<usize, ReadError> {
    let mut len = None;
    for v in values.iter().flat_map(|v| v.split(',')) {
        let v = v.trim_matches([' ', '\t']);
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReadError::Malformed("bad Content-Length"));
        }
        let n = v
            .bytes()
            .try_fold(0usize, |acc, d| {
                acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
            })
            .ok_or(TOO_LARGE)?;
        match len {
            Some(l) if l != n => return Err(ReadError::Malformed("conflicting Content-Length")),
            _ => len = Some(n),
        }
    }
    match len {
        Some(n) if n <= MAX_BODY => Ok(n),
        Some(_) => Err(TOO_LARGE),
        None => Err(ReadError::Malformed("bad Content-Length")),
    }
}

/// `1*HEXDIG [ BWS ";" extensions ]`: the chunk size. Extensions are ignored but may hold no
/// control character other than HTAB.
fn chunk_size(line: &[u8]) -> Result<usize, ReadError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(BAD_CHUNK);
    }
    let size = line[..digits]
        .iter()
        .try_fold(0usize, |acc, &d| {
            let v = (d as char).to_digit(16)? as usize;
            acc.checked_mul(16)?.checked_add(v)
        })
        .ok_or(TOO_LARGE)?;
    let rest = &line[digits..];
    let ext = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map(|i| &rest[i..]);
    match ext {
        None if rest.is_empty() => Ok(size),
        Some(e) if e[0] == b';' && e.iter().all(|&b| field_byte(b)) => Ok(size),
        _ => Err(BAD_CHUNK),
    }
}

/// One event of a [`Scripted`] source.
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// These bytes arrive (a read gets as many as fit, the rest stays for the next read).
    Data(Vec<u8>),
    /// Nothing arrives within the wait (`WouldBlock`).
    Stall,
    /// The wait is interrupted by a signal (`Interrupted`).
    Interrupted,
    /// The read fails with this error kind.
    Fail(ErrorKind),
    /// The peer closes the connection (and it stays closed). Used by the fuzz targets; the
    /// unit tests close by running out of steps.
    #[cfg_attr(not(feature = "fuzzing"), allow(dead_code))]
    Close,
}

/// An in-memory [`Source`] that plays a script of [`Step`]s without waiting; after the last
/// step the connection is closed. For unit tests and the fuzz targets.
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Clone, Debug, Default)]
pub struct Scripted {
    steps: std::collections::VecDeque<Step>,
    /// Bytes of the first step (when it is `Data`) already handed out.
    offset: usize,
    /// How many reads were made.
    pub reads: usize,
}

#[cfg(any(test, feature = "fuzzing"))]
impl Scripted {
    /// A source that plays `steps` in order.
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Scripted {
        Scripted {
            steps: steps.into_iter().collect(),
            offset: 0,
            reads: 0,
        }
    }

    /// A source that delivers `bytes` in one piece, then closes.
    pub fn bytes(bytes: &[u8]) -> Scripted {
        Scripted::new([Step::Data(bytes.to_vec())])
    }
}

#[cfg(any(test, feature = "fuzzing"))]
impl Source for Scripted {
    fn read_within(&mut self, buf: &mut [u8], _wait: Duration) -> std::io::Result<usize> {
        self.reads += 1;
        let step = match self.steps.front() {
            None | Some(Step::Close) => return Ok(0),
            Some(Step::Data(d)) => {
                let rest = &d[self.offset.min(d.len())..];
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                self.offset += n;
                if self.offset >= d.len() {
                    self.offset = 0;
                    self.steps.pop_front();
                }
                // An empty piece is no data yet, not a close.
                return if n == 0 {
                    Err(ErrorKind::WouldBlock.into())
                } else {
                    Ok(n)
                };
            }
            Some(_) => self.steps.pop_front(),
        };
        match step {
            Some(Step::Interrupted) => Err(ErrorKind::Interrupted.into()),
            Some(Step::Fail(k)) => Err(k.into()),
            _ => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

#[cfg(test)]
mod tests;
