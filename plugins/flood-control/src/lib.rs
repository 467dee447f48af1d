//! Art. 7 flood control: a sender who has published `max_messages` messages
//! in the last `window_secs` seconds may publish no more until the window
//! has room again. The next message is denied `flood`, naming the limit,
//! and the sender's publication is suspended for `suspend_secs`.
//!
//! Config: `max_messages` (20), `window_secs` (60), `suspend_secs` (300).
//!
//! The policy reads the counter `messages`, of the sender, which its
//! manifest declares as one the host keeps of every message decision
//! (`host = { hook = "message" }`, no `outcome`), with the window
//! `"{window_secs}s"` written exactly so (`window_secs = 60` reads `"60s"`;
//! `"1m"` is another window, and `count` on an undeclared one fails the
//! call). `call_from` lets the host leave the policy uncalled while the
//! count is below `max_messages`, where it would allow anyway:
//!
//! ```toml
//! hooks = ["message"]
//! reasons = ["flood", "counts-unavailable"]
//!
//! [counters.messages]
//! of = "sender"
//! host = { hook = "message" }
//! windows = ["60s"]
//! call_from = "max_messages"
//!
//! [config]
//! max_messages = 20
//! window_secs = 60
//! ```
//!
//! Every attempt counts, a denied one too: the host counts each message it
//! decides, whatever the decision, so a sender who keeps trying stays over
//! the limit, and the policy itself adds nothing. When the counter cannot be
//! read (`on_state_error = "no_counts"`, the default) the message is allowed
//! with the reason `counts-unavailable`, so that a moderator sees that flood
//! control was skipped; with `on_state_error = "error"` the policy fails
//! instead and its `on_error` decides.

use groupgate_sdk::{DataFile, Measure, MeasureKind, Message, Policy, Reason, Verdict, allow, deny, parse_config};
use serde::Deserialize;

/// The host's counter of messages, of the sender.
const COUNTER: &str = "messages";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    max_messages: u64,
    window_secs: u64,
    suspend_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config { max_messages: 20, window_secs: 60, suspend_secs: 300 }
    }
}

struct FloodControl {
    max_messages: u64,
    window_secs: u64,
    suspend_secs: u64,
    /// The window as the manifest writes it, e.g. `60s`.
    window: String,
}

impl Policy for FloodControl {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        let Config { max_messages, window_secs, suspend_secs } = parse_config(config)?;
        if window_secs == 0 {
            return Err("config key `window_secs`: must be at least 1".into());
        }
        if max_messages == 0 {
            return Err("config key `max_messages`: must be at least 1".into());
        }
        Ok(FloodControl { max_messages, window_secs, suspend_secs, window: format!("{window_secs}s") })
    }

    fn message(&self, m: &Message) -> Verdict {
        match m.count(COUNTER, &self.window) {
            None => allow().with_reason(
                Reason::new(
                    "counts-unavailable",
                    "flood control could not read its message counter, so the message was not checked against it",
                )
                .article("Art. 7"),
            ),
            Some(sent) if sent >= self.max_messages => {
                let sender = m.sender().id();
                deny("flood")
                    .message(format!(
                        "user `{sender}` has sent {sent} messages in the last {} seconds; at most {} are allowed",
                        self.window_secs, self.max_messages
                    ))
                    .article("Art. 7")
                    .evidence(format!("{sent} messages in {}", self.window))
                    .measure(Measure::on_user(MeasureKind::SuspendPublication, sender).for_secs(self.suspend_secs))
            }
            Some(_) => allow(),
        }
    }
}

groupgate_sdk::policy!(FloodControl);
