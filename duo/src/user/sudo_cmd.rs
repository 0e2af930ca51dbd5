//! The command a `sudo` push shows (docs/BEHAVIOUR.md §0a D18, §6 step 7): the command sudo
//! will run, read from sudo's own arguments, or none.
//!
//! The C version shows the `SUDO_COMMAND` environment variable, which inside sudo's PAM
//! conversation is whatever the caller put in its own environment, so a push could name a
//! harmless command while sudo runs another. Here the module reads the argument vector of the
//! process it runs in (`/proc/self/cmdline`, which the caller cannot change in a setuid
//! program) and parses it the way sudo does, conservatively: whenever the arguments are not
//! understood for certain, or sudo is not about to run a command, no command is shown.

use std::io::Read;

/// Largest argument vector looked at, in bytes. A longer one shows no command.
pub const MAX_CMDLINE: usize = 65_536;

/// Options of sudo that take no argument and leave the mode "run a command": `-A` (askpass),
/// `-B` (bell), `-b` (background), `-E` (keep the environment), `-H` (set HOME), `-N` (no
/// credential update), `-n` (non-interactive), `-P` (keep the groups), `-S` (password on stdin).
const FLAGS: &[u8] = b"ABbEHNnPS";

/// Options of sudo that take an argument (attached, `-uroot`, or the next word, `-u root`)
/// and leave the mode "run a command": user, group, prompt, close-from, directory, SELinux
/// role and type, timeout, other user.
const WITH_ARG: &[u8] = b"ugpCDrtTU";

/// The command sudo will run, as display text, from its NUL-separated argument vector
/// `cmdline` (the bytes of `/proc/<pid>/cmdline`). `None` unless the program is `sudo`, every
/// option is one of a short known set, and sudo's mode is "run a command": sudoedit, `-e`,
/// `-l`, `-v`, `-k`, `-K`, `-s`, `-i`, `-V`, `-h`, any long option, any other option letter,
/// a `VAR=value` word before the command, a missing command or an over-long vector all give
/// `None`. The words are joined by spaces; bytes that are not UTF-8 are shown as U+FFFD.
pub fn command(cmdline: &[u8]) -> Option<String> {
    if cmdline.len() > MAX_CMDLINE {
        return None;
    }
    // Each word ends in a NUL; a vector that does not was cut or rewritten.
    let body = cmdline.strip_suffix(b"\0")?;
    let argv: Vec<&[u8]> = body.split(|&b| b == 0).collect();
    let prog = argv.first()?;
    let base = prog.rsplit(|&b| b == b'/').next().unwrap_or(prog);
    if base != b"sudo" {
        return None;
    }
    let mut i = 1;
    while let Some(word) = argv.get(i) {
        if *word == b"--" {
            i += 1;
            break;
        }
        let Some(letters) = word.strip_prefix(b"-") else {
            break;
        };
        if letters.is_empty() || letters.starts_with(b"-") {
            // "-" alone, or a long option: not understood for certain.
            return None;
        }
        let mut j = 0;
        while j < letters.len() {
            let c = letters[j];
            if FLAGS.contains(&c) {
                j += 1;
            } else if WITH_ARG.contains(&c) {
                if j + 1 == letters.len() {
                    // The value is the next word, whatever it looks like.
                    argv.get(i + 1)?;
                    i += 1;
                }
                break;
            } else {
                // A mode other than "run a command", or an option not known here.
                return None;
            }
        }
        i += 1;
    }
    let words = argv.get(i..)?;
    let first = words.first()?;
    if first.is_empty() || first.contains(&b'=') {
        // An empty command, or environment assignments in front of it.
        return None;
    }
    let text: Vec<String> = words
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    Some(text.join(" "))
}

/// [`command`] for the process this code runs in: its `/proc/self/cmdline`, read with the
/// [`MAX_CMDLINE`] cap. `None` when it cannot be read.
pub fn of_this_process() -> Option<String> {
    let f = std::fs::File::open("/proc/self/cmdline").ok()?;
    let mut buf = Vec::new();
    f.take(MAX_CMDLINE as u64 + 1).read_to_end(&mut buf).ok()?;
    command(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in words {
            v.extend_from_slice(w);
            v.push(0);
        }
        v
    }

    fn cmd(words: &[&str]) -> Option<String> {
        let w: Vec<&[u8]> = words.iter().map(|s| s.as_bytes()).collect();
        command(&argv(&w))
    }

    #[test]
    fn plain_commands_are_shown() {
        assert_eq!(cmd(&["sudo", "id", "-u"]).as_deref(), Some("id -u"));
        assert_eq!(cmd(&["/usr/bin/sudo", "ls"]).as_deref(), Some("ls"));
        assert_eq!(
            cmd(&["sudo", "/bin/sh", "-c", "echo hi"]).as_deref(),
            Some("/bin/sh -c echo hi")
        );
        // The command's own options are not sudo's.
        assert_eq!(
            cmd(&["sudo", "ls", "-l", "--all", "-e"]).as_deref(),
            Some("ls -l --all -e")
        );
    }

    #[test]
    fn known_options_are_skipped() {
        for (words, shown) in [
            (&["sudo", "-u", "bob", "id"][..], "id"),
            (&["sudo", "-ubob", "id"], "id"),
            (&["sudo", "-n", "-u", "bob", "-g", "wheel", "id"], "id"),
            (&["sudo", "-nEu", "bob", "id"], "id"),
            (&["sudo", "-nEubob", "id"], "id"),
            (&["sudo", "-p", "-x-", "id"], "id"),
            (&["sudo", "-u", "--", "id"], "id"),
            (&["sudo", "-C", "5", "-D", "/tmp", "-T", "60", "id"], "id"),
            (&["sudo", "-r", "role", "-t", "type", "id"], "id"),
            (&["sudo", "-AbHNPSB", "id"], "id"),
            (&["sudo", "--", "-weird-name", "x"], "-weird-name x"),
            (&["sudo", "-n", "--", "id", "--", "-l"], "id -- -l"),
        ] {
            assert_eq!(cmd(words).as_deref(), Some(shown), "{words:?}");
        }
    }

    #[test]
    fn other_modes_and_unknown_options_show_nothing() {
        for words in [
            &["sudo"][..],
            &["sudo", "-n"],
            &["sudo", "-u", "bob"],
            &["sudo", "-e", "/etc/passwd"],
            &["sudo", "-l"],
            &["sudo", "-l", "id"],
            &["sudo", "-U", "bob", "-l"],
            &["sudo", "-v"],
            &["sudo", "-k"],
            &["sudo", "-k", "id"],
            &["sudo", "-K"],
            &["sudo", "-s"],
            &["sudo", "-s", "id"],
            &["sudo", "-i"],
            &["sudo", "-i", "id"],
            &["sudo", "-V"],
            &["sudo", "-h"],
            &["sudo", "-h", "host", "id"],
            &["sudo", "-hhost", "id"],
            &["sudo", "-ns", "id"],
            &["sudo", "-R", "/srv/root", "id"],
            &["sudo", "-c", "class", "id"],
            &["sudo", "-a", "type", "id"],
            &["sudo", "-x", "id"],
            &["sudo", "--user=bob", "id"],
            &["sudo", "--login"],
            &["sudo", "--", ""],
            &["sudo", "-", "id"],
            &["sudo", "FOO=bar", "id"],
            &["sudo", "-u", "bob", "LD_PRELOAD=/x.so", "id"],
            &["sudoedit", "/etc/passwd"],
            &["/usr/bin/sudoedit", "/etc/hosts"],
            &["pamclient", "--service", "sudo"],
            &["su", "-c", "id"],
            &["xsudo", "id"],
            &["sudo-rs", "id"],
            &[""],
        ] {
            assert_eq!(cmd(words), None, "{words:?}");
        }
    }

    #[test]
    fn bytes_are_not_assumed_to_be_text() {
        let v = argv(&[b"sudo", b"printf", b"\xff\xfe", b"caf\xc3\xa9"]);
        assert_eq!(command(&v).as_deref(), Some("printf \u{fffd}\u{fffd} café"));
        // A newline or an escape stays inside its word; the pushinfo encoding carries it.
        let v = argv(&[b"sudo", b"echo", b"a\nb\x1b[2J"]);
        assert_eq!(command(&v).as_deref(), Some("echo a\nb\x1b[2J"));
        // A value option cut off at the end, or a vector that does not end in NUL.
        assert_eq!(command(&argv(&[b"sudo", b"-u"])), None);
        assert_eq!(command(b"sudo\0id"), None);
        assert_eq!(command(b""), None);
        assert_eq!(command(b"\0"), None);
        assert_eq!(command(b"sudo\0\0"), None);
    }

    #[test]
    fn long_vectors_are_capped() {
        let word = vec![b'a'; 1000];
        let mut words: Vec<&[u8]> = vec![b"sudo", b"echo"];
        for _ in 0..60 {
            words.push(&word);
        }
        let v = argv(&words);
        assert!(v.len() < MAX_CMDLINE);
        assert_eq!(command(&v).map(|c| c.len()), Some(4 + 60 * 1001));
        for _ in 0..10 {
            words.push(&word);
        }
        let v = argv(&words);
        assert!(v.len() > MAX_CMDLINE);
        assert_eq!(command(&v), None);
        // Many tiny options are looked at one by one, without trouble.
        let mut many = vec![b"sudo".to_vec()];
        many.extend(std::iter::repeat_n(b"-n".to_vec(), 20_000));
        many.push(b"id".to_vec());
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        assert_eq!(command(&argv(&refs)).as_deref(), Some("id"));
    }

    #[test]
    fn this_test_process_is_not_sudo() {
        assert_eq!(of_this_process(), None);
    }
}
