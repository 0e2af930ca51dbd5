//! The only way the authentication flow reaches the user.
//!
//! PAM conversations, a terminal and tests each implement [`Conversation`].

use zeroize::Zeroizing;

/// A channel to the person logging in.
pub trait Conversation {
    /// Whether [`Conversation::prompt`] may be called at all. A headless session returns false,
    /// and the flow then never asks (SPEC §5.2 "No prompt function set").
    fn can_prompt(&self) -> bool {
        true
    }

    /// Show `text` (already sanitised) and read one answer. `None` means no answer could be
    /// read (end of input, conversation error).
    fn prompt(&mut self, text: &str) -> Option<Zeroizing<String>>;

    /// Show a status line (already sanitised). May be a no-op.
    fn status(&mut self, text: &str);
}

/// A conversation that never prompts and shows nothing (headless `login_duo`).
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
}
