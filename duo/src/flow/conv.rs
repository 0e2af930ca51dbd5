//! The only way the authentication flow reaches the user.
//!
//! PAM conversations, a terminal and tests each implement [`Conversation`].

use zeroize::Zeroizing;

/// A channel to the person logging in.
pub trait Conversation {
    /// Whether [`Conversation::prompt`] may be called at all. A headless session returns false,
    /// and the flow then never asks (docs/BEHAVIOUR.md §5.2 "No prompt function set").
    fn can_prompt(&self) -> bool {
        true
    }

    /// Show `text` (already sanitised) and read one answer. `None` means no answer could be
    /// read (end of input, conversation error).
    fn prompt(&mut self, text: &str) -> Option<Zeroizing<String>>;

    /// Show a status line (already sanitised). May be a no-op.
    fn status(&mut self, text: &str);

    /// Duo's first status of a pending push or call (already sanitised): for example "Pushed a
    /// login request to your device..." or the Verified Push code the user must type into the
    /// phone. Called once per `/auth`, before the polls that wait for the answer. By default a
    /// status line; a channel that would hold status lines back until the login is over (sshd,
    /// docs/BEHAVIOUR.md §0a D17) asks a prompt instead, and the answer is only a go-ahead.
    fn awaiting(&mut self, text: &str) {
        self.status(text);
    }

    /// Tell the user what a failmode verdict did (docs/BEHAVIOUR.md §0a D13); `denied` says
    /// whether the login was refused (shown as an error) or let through (shown as
    /// information). By default a status line.
    fn notice(&mut self, text: &str, denied: bool) {
        let _ = denied;
        self.status(text);
    }
}

/// The line shown to the user after a failmode verdict (§0a D13). It says what happened and
/// what the policy did, and nothing an attacker could use (no host, no reason).
pub fn failmode_notice(denied: bool) -> &'static str {
    if denied {
        "Duo two-factor service unreachable: login denied (failmode secure)"
    } else {
        "Duo two-factor service unreachable: continuing without two-factor (failmode safe)"
    }
}

/// A conversation that never prompts and shows no status (headless `login_duo`); a failmode
/// notice still goes to stderr, where the SSH client shows it.
#[derive(Debug, Default)]
pub struct Silent;

impl Conversation for Silent {
    fn can_prompt(&self) -> bool {
        false
    }
    fn prompt(&mut self, _text: &str) -> Option<Zeroizing<String>> {
        None
    }
    fn status(&mut self, _text: &str) {}
    fn notice(&mut self, text: &str, _denied: bool) {
        crate::log::raw_stderr(text);
    }
}
