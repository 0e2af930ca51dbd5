//! The PAM conversation as a [`duo::flow::conv::Conversation`]: the menu as an echo-on prompt,
//! status lines as text info (docs/BEHAVIOUR.md §6 step 12), or, under sshd with
//! `sshd_messages = prompt`, status lines carried by prompts (§0a D17).

use duo::flow::conv::Conversation;
use pam::constants::{PAM_ERROR_MSG, PAM_PROMPT_ECHO_ON, PAM_TEXT_INFO};
use pam::conv::Conv;
use zeroize::Zeroizing;

/// Longest answer kept, in bytes.
const MAX_ANSWER: usize = 255;

/// What follows Duo's first status of a pending push or call in the prompt that shows it.
pub const AWAIT_PROMPT: &str = "Approve it on your phone, then press Enter: ";

/// How status lines reach the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// As text info messages, shown by the application at once.
    Immediate,
    /// Through prompts: the application (sshd before the fix of OpenSSH bug 2876) holds text
    /// info back until the next prompt or the end of the stack, so status lines wait for the
    /// next prompt and go in front of it; a pending push is shown in a prompt of its own. Lines
    /// no prompt carried are sent only when the login is refused (sshd shows them then), never
    /// after a success (they would follow the login, or be printed twice).
    Prompted,
}

/// Talks to the user through the application's conversation function.
pub struct PamConversation<'a> {
    conv: Option<Conv<'a>>,
    delivery: Delivery,
    /// Status lines waiting for a prompt ([`Delivery::Prompted`]).
    held: Vec<String>,
}

impl<'a> PamConversation<'a> {
    /// Wrap the conversation item, if the application set one.
    pub fn new(conv: Option<Conv<'a>>, delivery: Delivery) -> Self {
        PamConversation {
            conv,
            delivery,
            held: Vec::new(),
        }
    }

    /// The login is over: status lines still held are sent when it was refused, and dropped
    /// when it was allowed.
    pub fn finish(&mut self, allowed: bool) {
        let held = std::mem::take(&mut self.held);
        if allowed {
            return;
        }
        if let Some(c) = &self.conv {
            for line in held {
                let _ = c.send(PAM_TEXT_INFO, &line);
            }
        }
    }

    /// Ask `text` with the held status lines in front of it.
    fn ask(&mut self, text: &str) -> Option<Zeroizing<String>> {
        let mut full = std::mem::take(&mut self.held).join("\n");
        if !full.is_empty() {
            full.push('\n');
        }
        full.push_str(text);
        let reply = self.conv.as_ref()?.send(PAM_PROMPT_ECHO_ON, &full).ok()??;
        let bytes = reply.as_bytes();
        let cut = &bytes[..bytes.len().min(MAX_ANSWER)];
        Some(Zeroizing::new(String::from_utf8_lossy(cut).into_owned()))
    }
}

impl Conversation for PamConversation<'_> {
    fn can_prompt(&self) -> bool {
        self.conv.is_some()
    }

    fn prompt(&mut self, text: &str) -> Option<Zeroizing<String>> {
        self.ask(text)
    }

    fn status(&mut self, text: &str) {
        match self.delivery {
            Delivery::Immediate => {
                if let Some(c) = &self.conv {
                    let _ = c.send(PAM_TEXT_INFO, text);
                }
            }
            // Empty lines only space out a terminal's output; a prompt needs none.
            Delivery::Prompted if text.is_empty() => {}
            Delivery::Prompted => self.held.push(text.to_string()),
        }
    }

    fn awaiting(&mut self, text: &str) {
        if self.delivery == Delivery::Immediate {
            return self.status(text);
        }
        if !text.is_empty() {
            self.held.push(text.to_string());
        }
        // The answer is only a go-ahead: an early Enter makes the flow wait for the phone. A
        // conversation that cannot prompt (sshd's password method) leaves the lines unshown,
        // and the flow waits for the phone all the same.
        if self.ask(AWAIT_PROMPT).is_none() {
            self.held.clear();
        }
    }

    fn notice(&mut self, text: &str, denied: bool) {
        if let Some(c) = &self.conv {
            let _ = c.send(if denied { PAM_ERROR_MSG } else { PAM_TEXT_INFO }, text);
        }
    }
}
