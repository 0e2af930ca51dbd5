//! The PAM conversation as a [`duo::flow::conv::Conversation`]: the menu as an echo-on prompt,
//! status lines as text info (docs/BEHAVIOUR.md §6 step 12).

use duo::flow::conv::Conversation;
use pam::constants::{PAM_ERROR_MSG, PAM_PROMPT_ECHO_ON, PAM_TEXT_INFO};
use pam::conv::Conv;
use zeroize::Zeroizing;

/// Longest answer kept, in bytes.
const MAX_ANSWER: usize = 255;

/// Talks to the user through the application's conversation function.
pub struct PamConversation<'a> {
    conv: Option<Conv<'a>>,
}

impl<'a> PamConversation<'a> {
    /// Wrap the conversation item, if the application set one.
    pub fn new(conv: Option<Conv<'a>>) -> Self {
        PamConversation { conv }
    }
}

impl Conversation for PamConversation<'_> {
    fn can_prompt(&self) -> bool {
        self.conv.is_some()
    }

    fn prompt(&mut self, text: &str) -> Option<Zeroizing<String>> {
        let reply = self.conv.as_ref()?.send(PAM_PROMPT_ECHO_ON, text).ok()??;
        let bytes = reply.as_bytes();
        let cut = &bytes[..bytes.len().min(MAX_ANSWER)];
        Some(Zeroizing::new(String::from_utf8_lossy(cut).into_owned()))
    }

    fn status(&mut self, text: &str) {
        if let Some(c) = &self.conv {
            let _ = c.send(PAM_TEXT_INFO, text);
        }
    }

    fn notice(&mut self, text: &str, denied: bool) {
        if let Some(c) = &self.conv {
            let _ = c.send(if denied { PAM_ERROR_MSG } else { PAM_TEXT_INFO }, text);
        }
    }
}
