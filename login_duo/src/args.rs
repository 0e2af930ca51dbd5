//! Command line of `login_duo` (docs/BEHAVIOUR.md §7.1): `vc:df:h:?` with GNU getopt's permutation, so an
//! option after the command is still an option unless `--` came first.
//!
//! Arguments are bytes (`OsString`): a command that is not UTF-8 is run exactly as given.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Usage text printed after a bad option.
pub const USAGE: &str =
    "Usage: login_duo [-v] [-c config] [-d] [-f duouser] [-h host] [prog [args...]]";

/// Parsed arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// `-v`: print the version and exit 1.
    pub version: bool,
    /// `-c`: configuration file.
    pub config: Option<OsString>,
    /// `-d`: log to stderr.
    pub debug: bool,
    /// `-f`: Duo username.
    pub duo_user: Option<String>,
    /// `-h`: client address when `SSH_CONNECTION` is absent.
    pub host: Option<OsString>,
    /// The command, if any.
    pub command: Vec<OsString>,
}

/// Parse `argv` (without the program name). The error is getopt's diagnostic, to be followed
/// by [`USAGE`]; `prog` is the name used in it.
pub fn parse(prog: &str, argv: &[OsString]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut i = 0;
    while i < argv.len() {
        let arg = argv[i].as_bytes();
        i += 1;
        if arg == b"--" {
            a.command.extend(argv[i..].iter().cloned());
            break;
        }
        if !arg.starts_with(b"-") || arg.len() == 1 {
            a.command.push(argv[i - 1].clone());
            continue;
        }
        let opts = &arg[1..];
        let mut j = 0;
        while j < opts.len() {
            let c = opts[j];
            j += 1;
            match c {
                b'v' => a.version = true,
                b'd' => a.debug = true,
                b'c' | b'f' | b'h' => {
                    let value: OsString = if j < opts.len() {
                        let v = OsStr::from_bytes(&opts[j..]).to_os_string();
                        j = opts.len();
                        v
                    } else if i < argv.len() {
                        i += 1;
                        argv[i - 1].clone()
                    } else {
                        return Err(format!(
                            "{prog}: option requires an argument -- '{}'",
                            char::from(c)
                        ));
                    };
                    match c {
                        b'c' => a.config = Some(value),
                        b'f' => {
                            a.duo_user = Some(value.into_string().map_err(|_| {
                                format!("{prog}: the -f user name must be valid UTF-8")
                            })?)
                        }
                        _ => a.host = Some(value),
                    }
                }
                other => {
                    return Err(format!(
                        "{prog}: invalid option -- '{}'",
                        shown_option(other, &opts[j - 1..])
                    ))
                }
            }
        }
    }
    Ok(a)
}

/// The option character as getopt shows it: the byte itself when it is printable ASCII, the
/// whole (lossily decoded, sanitised) character otherwise.
fn shown_option(byte: u8, rest: &[u8]) -> String {
    if byte.is_ascii_graphic() {
        return char::from(byte).to_string();
    }
    let text = String::from_utf8_lossy(rest);
    duo::sanitize::sanitize_line(&text.chars().next().unwrap_or('?').to_string())
}

/// The command as one string of bytes: the arguments joined with single spaces, as the shell
/// will get it after `-c`.
pub fn joined(command: &[OsString]) -> OsString {
    let mut out = Vec::new();
    for (i, part) in command.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(part.as_bytes());
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, String> {
        let v: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse("login_duo", &v)
    }

    #[test]
    fn bytes_stay_bytes() {
        let v = vec![
            OsString::from("-h"),
            OsString::from_vec(b"10.0.0.1\xff".to_vec()),
            OsString::from("--"),
            OsString::from_vec(b"printf".to_vec()),
            OsString::from_vec(b"\xe9\xff\n".to_vec()),
        ];
        let a = parse("login_duo", &v).unwrap();
        assert_eq!(a.host.unwrap().as_bytes(), b"10.0.0.1\xff");
        assert_eq!(joined(&a.command).as_bytes(), b"printf \xe9\xff\n");
        let bad_f = vec![OsString::from("-f"), OsString::from_vec(vec![0xff])];
        assert!(parse("login_duo", &bad_f).unwrap_err().contains("UTF-8"));
        let bad_opt = vec![OsString::from_vec(b"-\xff".to_vec())];
        assert_eq!(
            parse("login_duo", &bad_opt).unwrap_err(),
            "login_duo: invalid option -- '\u{fffd}'"
        );
    }

    #[test]
    fn options_and_command() {
        let a = p(&[
            "-d",
            "-c",
            "/tmp/x.conf",
            "-fbob",
            "-h",
            "10.0.0.1",
            "ls",
            "/tmp",
        ])
        .unwrap();
        assert!(a.debug && !a.version);
        assert_eq!(a.config.as_deref(), Some(OsStr::new("/tmp/x.conf")));
        assert_eq!(a.duo_user.as_deref(), Some("bob"));
        assert_eq!(a.host.as_deref(), Some(OsStr::new("10.0.0.1")));
        assert_eq!(a.command, vec!["ls", "/tmp"]);
    }

    #[test]
    fn permutation_parses_options_after_the_command() {
        assert_eq!(
            p(&["ls", "-l"]).unwrap_err(),
            "login_duo: invalid option -- 'l'"
        );
        assert_eq!(
            p(&["", "-h"]).unwrap_err(),
            "login_duo: option requires an argument -- 'h'"
        );
        let a = p(&["ls", "-d"]).unwrap();
        assert!(a.debug);
        assert_eq!(a.command, vec!["ls"]);
    }

    #[test]
    fn double_dash_ends_options() {
        let a = p(&["-d", "--", "ls", "-l", "/tmp/a b"]).unwrap();
        assert_eq!(a.command, vec!["ls", "-l", "/tmp/a b"]);
        assert_eq!(p(&["-?"]).unwrap_err(), "login_duo: invalid option -- '?'");
        assert!(p(&["-vd"]).unwrap().version);
    }
}
