//! Command line of `login_duo` (SPEC §7.1): `vc:df:h:?` with GNU getopt's permutation, so an
//! option after the command is still an option unless `--` came first.

/// Usage text printed after a bad option.
pub const USAGE: &str =
    "Usage: login_duo [-v] [-c config] [-d] [-f duouser] [-h host] [prog [args...]]";

/// Parsed arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// `-v`: print the version and exit 1.
    pub version: bool,
    /// `-c`: configuration file.
    pub config: Option<String>,
    /// `-d`: log to stderr.
    pub debug: bool,
    /// `-f`: Duo username.
    pub duo_user: Option<String>,
    /// `-h`: client address when `SSH_CONNECTION` is absent.
    pub host: Option<String>,
    /// The command, if any.
    pub command: Vec<String>,
}

/// Parse `argv` (without the program name). The error is getopt's diagnostic, to be followed
/// by [`USAGE`]; `prog` is the name used in it.
pub fn parse(prog: &str, argv: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if arg == "--" {
            a.command.extend(argv[i..].iter().cloned());
            break;
        }
        if !arg.starts_with('-') || arg.len() == 1 {
            a.command.push(arg.clone());
            continue;
        }
        let opts: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < opts.len() {
            let c = opts[j];
            j += 1;
            match c {
                'v' => a.version = true,
                'd' => a.debug = true,
                'c' | 'f' | 'h' => {
                    let value: String = if j < opts.len() {
                        let v = opts[j..].iter().collect();
                        j = opts.len();
                        v
                    } else if i < argv.len() {
                        i += 1;
                        argv[i - 1].clone()
                    } else {
                        return Err(format!("{prog}: option requires an argument -- '{c}'"));
                    };
                    match c {
                        'c' => a.config = Some(value),
                        'f' => a.duo_user = Some(value),
                        _ => a.host = Some(value),
                    }
                }
                _ => return Err(format!("{prog}: invalid option -- '{c}'")),
            }
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, String> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse("login_duo", &v)
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
        assert_eq!(a.config.as_deref(), Some("/tmp/x.conf"));
        assert_eq!(a.duo_user.as_deref(), Some("bob"));
        assert_eq!(a.host.as_deref(), Some("10.0.0.1"));
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
