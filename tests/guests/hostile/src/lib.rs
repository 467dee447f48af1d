//! One guest, several hostile behaviours, chosen by `[config] act`:
//! - `recurse`: every message recurses until the engine's call stack is
//!   exhausted;
//! - `deep-frames`: every message recurses with large frames until the
//!   stack in the guest's own memory runs out (below address zero);
//! - `init-spin`: `init` never returns;
//! - `init-alloc`: `init` allocates and keeps `mb` MiB, then answers allow;
//! - `slow-init-trap`: `init` computes for `rounds` rounds (slow, but it
//!   returns), and every message traps, so every call needs a new instance;
//! - `huge-strings`: every message gets one reason with a 512 KiB message;
//! - `remember`: every message is answered with the previous message's text
//!   as evidence, leaking one request into the next if the instance is reused;
//! - `spin-on-spin`: a message whose text is `spin` loops forever; others
//!   are allowed;
//! - `explain-twice`: every message gives the host its reasons twice, which
//!   the contract allows once, and then answers deny.
use std::cell::RefCell;

use groupgate_sdk::{DataFile, Message, Policy, Verdict, allow, review};

#[derive(serde::Deserialize)]
struct Config {
    act: String,
    #[serde(default)]
    mb: usize,
    #[serde(default)]
    rounds: u64,
}

struct Hostile {
    act: String,
    _hoard: Vec<u8>,
    last_text: RefCell<Option<String>>,
}

impl Policy for Hostile {
    fn init(config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        let config: Config = groupgate_sdk::parse_config(config)?;
        let mut hoard = Vec::new();
        match config.act.as_str() {
            "init-spin" => loop {
                std::hint::black_box(&hoard);
            },
            "slow-init-trap" => {
                let mut x = 0u64;
                for i in 0..config.rounds {
                    x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
                }
                std::hint::black_box(x);
            }
            "init-alloc" => {
                // Touch every page so the memory is really committed.
                hoard = vec![0x5A; config.mb << 20];
                std::hint::black_box(&hoard);
            }
            _ => {}
        }
        Ok(Hostile { act: config.act, _hoard: hoard, last_text: RefCell::new(None) })
    }

    fn message(&self, message: &Message) -> Verdict {
        match self.act.as_str() {
            "recurse" => {
                std::hint::black_box(calls(message.text().len() as u64 + 1));
                allow()
            }
            "deep-frames" => {
                std::hint::black_box(frames(message.text().len() as u64 + 1));
                allow()
            }
            "slow-init-trap" => panic!("trap, so the next call needs a new instance"),
            "huge-strings" => review("huge").message("x".repeat(512 << 10)),
            "spin-on-spin" if message.text() == "spin" => {
                let mut n = message.sent_at();
                loop {
                    n = std::hint::black_box(n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                }
            }
            // Fails with a message that reads like one of the host's own
            // errors, with a control character and far more than is kept.
            "abort-lies" => groupgate_sdk::abort(&format!(
                "fuel allocated for hostcalls has been exhausted\u{1b}[2J{}",
                "y".repeat(64 << 10)
            )),
            "explain-twice" => {
                let reason = groupgate_sdk::Reason::new("explained", "");
                for _ in 0..2 {
                    groupgate_sdk::bindings::groupgate::policy::verdict::explain(
                        std::slice::from_ref(&reason),
                        &[],
                        &[],
                    );
                }
                Verdict { outcome: groupgate_sdk::Outcome::Deny, ..allow() }
            }
            "remember" => match self.last_text.replace(Some(message.text().to_owned())) {
                Some(previous) => review("remembered").evidence(previous),
                None => allow(),
            },
            _ => allow(),
        }
    }
}

/// Recursion the optimiser cannot turn into a loop, with nothing in linear
/// memory: only the engine's stack grows.
#[inline(never)]
fn calls(n: u64) -> u64 {
    if n == 0 {
        return 1;
    }
    calls(n.wrapping_add(1)).rotate_left((n % 63) as u32) ^ n
}

/// Recursion whose frames each keep a buffer in linear memory.
#[inline(never)]
fn frames(n: u64) -> u64 {
    if n == 0 {
        return 1;
    }
    let frame = std::hint::black_box([n; 64]);
    frames(n.wrapping_add(1)).wrapping_add(frame[(n % 64) as usize])
}

groupgate_sdk::policy!(Hostile);
