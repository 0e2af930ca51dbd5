//! The HTTP/1.1 response reader, through the same code as the TLS connection, from an
//! in-memory source. Input: two control bytes, then the byte stream, in which `\xff K N`
//! repeats the K bytes before it N×64 more times (so caps of 64 KiB to 1 MiB are reachable
//! from small inputs).
//!
//! Properties: reading up to two responses (keep-alive) gives the same results whether the
//! stream arrives in one piece or in pieces of any size with stalls and signals between them;
//! with a spent deadline (a stopped process) the results are the same or end early with a
//! timeout; every response accepted has a status of 100–999, at most MAX_FIELDS well-formed
//! fields, a body of at most MAX_BODY bytes, no body for 1xx/204/304, and a body exactly as
//! long as its Content-Length.
#![no_main]

use duo::fuzzing::{read_response, Response, Scripted, Step, MAX_BODY, MAX_FIELDS};
use libfuzzer_sys::fuzz_target;

/// Largest stream built from one input: room for a body at the cap, a head at its cap, and
/// some more.
const MAX_STREAM: usize = MAX_BODY + (256 << 10);
/// Most pieces a stream is cut into; the rest comes in one piece.
const MAX_PIECES: usize = 4096;

fn expand(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() && out.len() < MAX_STREAM {
        if input[i] == 0xff && i + 2 < input.len() {
            let k = usize::from(input[i + 1]).min(out.len());
            let n = usize::from(input[i + 2]) * 64;
            if k > 0 {
                let unit = out[out.len() - k..].to_vec();
                for _ in 0..n {
                    if out.len() >= MAX_STREAM {
                        break;
                    }
                    out.extend_from_slice(&unit);
                }
            }
            i += 3;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// Cut `stream` into pieces with a small PRNG seeded by the control bytes, with stalls and
/// interrupted waits between some of them.
fn pieces(stream: &[u8], ctl: [u8; 2]) -> Vec<Step> {
    let mut x = u32::from(ctl[0]) << 8 | u32::from(ctl[1]) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let max = [1usize, 2, 3, 5, 8, 64, 1000, 20_000][usize::from(ctl[0] >> 5)];
    let mut steps = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        if steps.len() >= MAX_PIECES {
            steps.push(Step::Data(rest.to_vec()));
            break;
        }
        let n = (next() as usize % max + 1).min(rest.len());
        steps.push(Step::Data(rest[..n].to_vec()));
        rest = &rest[n..];
        match next() % 8 {
            0 if ctl[0] & 1 != 0 => steps.push(Step::Stall),
            1 if ctl[0] & 2 != 0 => steps.push(Step::Interrupted),
            _ => {}
        }
    }
    steps
}

type Run = Vec<Result<Response, String>>;

fn run(steps: Vec<Step>, spent: bool) -> Run {
    let mut src = Scripted::new(steps);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for _ in 0..2 {
        let r = read_response(&mut src, &mut buf, spent);
        let stop = r.is_err();
        out.push(r.map_err(|e| e.to_string()));
        if stop {
            break;
        }
    }
    out
}

fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check(r: &Response) {
    assert!((100..=999).contains(&r.status));
    assert!(r.body.len() <= MAX_BODY);
    assert!(r.headers.len() <= MAX_FIELDS);
    for (n, v) in &r.headers {
        assert!(!n.is_empty() && n.bytes().all(|b| tchar(b) && !b.is_ascii_uppercase()));
        assert!(!v.chars().any(|c| c.is_ascii_control() && c != '\t'));
        assert_eq!(v.trim_matches([' ', '\t']), v);
    }
    let no_body = (100..200).contains(&r.status) || r.status == 204 || r.status == 304;
    if no_body {
        assert!(r.body.is_empty());
    } else if r.header("transfer-encoding").is_none() {
        let cl = r
            .header("content-length")
            .expect("framed by Content-Length");
        let n: usize = cl.split(',').next().unwrap().trim().parse().unwrap();
        assert_eq!(r.body.len(), n);
    } else {
        assert!(r.header("content-length").is_none());
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let ctl = [data[0], data[1]];
    let stream = expand(&data[2..]);
    let steps = pieces(&stream, ctl);
    let whole = run(vec![Step::Data(stream)], false);
    for r in whole.iter().flatten() {
        check(r);
    }
    let cut = run(steps.clone(), false);
    assert_eq!(whole, cut, "same result in pieces");
    if ctl[1] & 1 != 0 {
        let late = run(steps, true);
        assert!(late.len() <= whole.len());
        for (i, r) in late.iter().enumerate() {
            if r != &whole[i] {
                assert_eq!(
                    r.as_ref().err().map(String::as_str),
                    Some("Connection timed out")
                );
                assert_eq!(i + 1, late.len());
            }
        }
    }
});
