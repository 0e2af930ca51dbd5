//! Just enough of X.509 to name a certificate and tell when it expires: a DER walker over
//! `tbsCertificate` (RFC 5280 §4.1) for `issuer`, `validity.notAfter` and `subject`. Nothing
//! here decides trust; rustls does that.

/// What duo-check shows about one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject, as `CN=…, O=…` (common name, organisation and unit only).
    pub subject: String,
    /// Issuer, in the same form.
    pub issuer: String,
    /// `notAfter`, in UNIX seconds.
    pub not_after: i64,
}

impl CertInfo {
    /// Whether subject and issuer are the same name (a root or a self-signed certificate).
    pub fn self_issued(&self) -> bool {
        self.subject == self.issuer
    }
}

/// One DER element: tag byte, contents, and what follows it.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated element")?;
    if tag & 0x1f == 0x1f {
        return Err("multi-byte tags are not used in certificates".into());
    }
    let (&first, rest) = rest.split_first().ok_or("truncated length")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("element longer than its container".into());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The element with `tag` at the start of `input`.
fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let (t, body, rest) = tlv(input)?;
    if t != tag {
        return Err(format!("expected {what}"));
    }
    Ok((body, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Read the parts of a DER certificate that duo-check reports.
pub fn parse(cert: &[u8]) -> Result<CertInfo, String> {
    let (body, _) = expect(cert, SEQUENCE, "Certificate")?;
    let (tbs, _) = expect(body, SEQUENCE, "tbsCertificate")?;
    let mut rest = tbs;
    // version [0] EXPLICIT, optional.
    if rest.first() == Some(&0xa0) {
        rest = tlv(rest)?.2;
    }
    let (_, rest) = expect(rest, 0x02, "serialNumber")?;
    let (_, rest) = expect(rest, SEQUENCE, "signature")?;
    let (issuer, rest) = expect(rest, SEQUENCE, "issuer")?;
    let (validity, rest) = expect(rest, SEQUENCE, "validity")?;
    let (subject, _) = expect(rest, SEQUENCE, "subject")?;
    let (_, _, after) = tlv(validity)?; // notBefore
    let (tag, time, _) = tlv(after)?;
    Ok(CertInfo {
        subject: name(subject)?,
        issuer: name(issuer)?,
        not_after: parse_time(tag, time)?,
    })
}

/// `CN=…, O=…, OU=…` of a Name, in the order they appear; `(empty name)` without any.
fn name(mut rdns: &[u8]) -> Result<String, String> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (set, rest) = expect(rdns, SET, "RelativeDistinguishedName")?;
        rdns = rest;
        let mut atvs = set;
        while !atvs.is_empty() {
            let (atv, rest) = expect(atvs, SEQUENCE, "AttributeTypeAndValue")?;
            atvs = rest;
            let (oid, value) = expect(atv, OID, "attribute type")?;
            let label = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                _ => continue,
            };
            let (tag, text, _) = tlv(value)?;
            let text = match tag {
                // BMPString: UTF-16 big-endian.
                0x1e => {
                    let units: Vec<u16> = text
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                        .collect();
                    String::from_utf16_lossy(&units)
                }
                _ => String::from_utf8_lossy(text).into_owned(),
            };
            parts.push(format!("{label}={}", crate::report::one_line(&text)));
        }
    }
    if parts.is_empty() {
        return Ok("(empty name)".into());
    }
    Ok(parts.join(", "))
}

/// A UTCTime (`YYMMDDHHMM[SS]Z`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, t: &[u8]) -> Result<i64, String> {
    let bad = || "bad time".to_string();
    let t = std::str::from_utf8(t).map_err(|_| bad())?;
    let t = t.strip_suffix('Z').ok_or_else(bad)?;
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let (year, rest) = match (tag, t.len()) {
        (UTC_TIME, 10 | 12) => {
            let yy = num(&t[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &t[2..])
        }
        (GENERALIZED_TIME, 14) => (num(&t[..4])?, &t[4..]),
        _ => return Err(bad()),
    };
    let (mo, d, h, mi) = (
        num(&rest[0..2])?,
        num(&rest[2..4])?,
        num(&rest[4..6])?,
        num(&rest[6..8])?,
    );
    let s = if rest.len() == 10 {
        num(&rest[8..10])?
    } else {
        0
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    Ok(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a UNIX time (UTC).
pub fn date(unix: i64) -> String {
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn cert(cn: &str, org: Option<&str>, y: i32, m: u8, d: u8) -> Vec<u8> {
        let mut p = CertificateParams::new(vec!["example.test".into()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        if let Some(o) = org {
            p.distinguished_name.push(DnType::OrganizationName, o);
        }
        p.not_after = rcgen::date_time_ymd(y, m, d);
        let key = KeyPair::generate().unwrap();
        p.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_names_and_expiry_of_real_certificates() {
        // UTCTime range, GeneralizedTime range (2050 and later), leap day.
        for (y, m, d) in [(2020, 1, 1), (2049, 12, 31), (2050, 1, 1), (2028, 2, 29)] {
            let info = parse(&cert("api-test.example", Some("Example Inc"), y, m, d)).unwrap();
            assert_eq!(date(info.not_after), format!("{y:04}-{m:02}-{d:02}"));
            assert_eq!(info.not_after % 86_400, 0);
            assert_eq!(info.subject, "CN=api-test.example, O=Example Inc");
            assert!(info.self_issued());
        }
        let signed = {
            let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
            ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            ca.distinguished_name
                .push(DnType::CommonName, "Intercepting Proxy CA");
            let ca_key = KeyPair::generate().unwrap();
            let ca_cert = ca.self_signed(&ca_key).unwrap();
            let mut leaf = CertificateParams::new(vec!["h.test".into()]).unwrap();
            leaf.distinguished_name.push(DnType::CommonName, "h.test");
            let key = KeyPair::generate().unwrap();
            leaf.signed_by(&key, &ca_cert, &ca_key)
                .unwrap()
                .der()
                .to_vec()
        };
        let info = parse(&signed).unwrap();
        assert_eq!(info.issuer, "CN=Intercepting Proxy CA");
        assert_eq!(info.subject, "CN=h.test");
        assert!(!info.self_issued());
    }

    #[test]
    fn the_pinned_roots_all_parse() {
        let roots = duo::check::parse_pem(duo::check::PINNED_ROOTS_PEM.as_bytes()).unwrap();
        for r in roots {
            let info = parse(r.as_ref()).unwrap();
            assert!(info.self_issued(), "{info:?}");
            assert!(info.not_after > 946_684_800, "{info:?}"); // after 2000
        }
    }

    #[test]
    fn times_and_dates() {
        assert_eq!(parse_time(UTC_TIME, b"200101000000Z"), Ok(1_577_836_800));
        assert_eq!(parse_time(UTC_TIME, b"991231235959Z"), Ok(946_684_799));
        assert_eq!(parse_time(UTC_TIME, b"0001010000Z"), Ok(946_684_800));
        assert_eq!(
            parse_time(GENERALIZED_TIME, b"40960101000000Z"),
            Ok(days_from_civil(4096, 1, 1) * 86_400)
        );
        for bad in [
            &b"200101000000"[..],
            b"2001010000000Z",
            b"201301000000Z",
            b"20010100000xZ",
            b"",
        ] {
            assert!(parse_time(UTC_TIME, bad).is_err(), "{bad:?}");
        }
        assert!(parse_time(0x04, b"200101000000Z").is_err());
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(-86_400), "1969-12-31");
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let good = cert("x", None, 2030, 1, 1);
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x30, 0x80]).is_err());
        assert!(parse(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(parse(&[0x30, 0x82, 0xff, 0xff, 0x30]).is_err());
        assert!(parse(&[0x31, 0x00]).is_err());
        let mut flipped = good.clone();
        flipped[1] ^= 0x01;
        let _ = parse(&flipped);
    }
}
