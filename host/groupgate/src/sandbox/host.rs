//! The host-capability seam: what a runtime offers policies beyond the
//! contract's exports. Each interface is a value given to
//! [`RuntimeBuilder::host_interface`](super::RuntimeBuilder::host_interface)
//! that defines its functions in the linker every policy is linked with.
//! `log` is the first; `text` (contract 0.2.0) folds text for policies of
//! every language.

use wasmtime::component::{HasSelf, Linker};

use groupgate_text::Disguises;

use super::state::PolicyState;
use crate::bindings::{v1, v2};

/// A host interface offered to policies.
///
/// An implementation defines the functions of one WIT interface of the
/// contract in `linker`; each call reaches the [`PolicyState`] of the
/// instance that made it. A second interface, say one that tells a policy
/// how many calls its instance has answered, looks like this (its WIT,
/// `interface calls { count: func() -> u64; }`, added to `wit/policy.wit`):
///
/// ```
/// use groupgate::wasmtime::component::Linker;
/// use groupgate::{HostInterface, PolicyState, Runtime};
///
/// struct Calls;
///
/// impl HostInterface for Calls {
///     fn name(&self) -> &str {
///         "groupgate:policy/calls"
///     }
///
///     fn add_to_linker(&self, linker: &mut Linker<PolicyState>) -> groupgate::wasmtime::Result<()> {
///         let mut calls = linker.instance("groupgate:policy/calls@0.1.0")?;
///         calls.func_wrap("count", |cx, (): ()| Ok((cx.data().calls(),)))?;
///         Ok(())
///     }
/// }
///
/// let runtime = Runtime::builder().host_interface(Calls).build()?;
/// assert_eq!(
///     runtime.host_interfaces().collect::<Vec<_>>(),
///     ["groupgate:policy/log", "groupgate:policy/text", "groupgate:policy/calls"]
/// );
/// # Ok::<(), groupgate::RuntimeError>(())
/// ```
pub trait HostInterface: Send + Sync + 'static {
    /// The WIT interface, without its version: `groupgate:policy/log`.
    fn name(&self) -> &str;

    /// Defines the interface's functions in `linker`.
    fn add_to_linker(&self, linker: &mut Linker<PolicyState>) -> wasmtime::Result<()>;
}

/// `groupgate:policy/log`: a structured log line, written to the host's log
/// (target `groupgate::guest`) tagged with the policy's name. One call's
/// first 100 lines are kept, later ones counted and dropped; past 10,000 the
/// call is stopped as a flood and the policy gives its `on_error` verdict.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Log;

impl HostInterface for Log {
    fn name(&self) -> &str {
        "groupgate:policy/log"
    }

    fn add_to_linker(&self, linker: &mut Linker<PolicyState>) -> wasmtime::Result<()> {
        // One per contract version: the interface is the same in each.
        v1::log::add_to_linker::<PolicyState, HasSelf<PolicyState>>(linker, |state| state)?;
        v2::log::add_to_linker::<PolicyState, HasSelf<PolicyState>>(linker, |state| state)
    }
}

impl v1::log::Host for PolicyState {
    fn log(&mut self, level: v1::log::Level, message: String, fields: Vec<(String, String)>) -> wasmtime::Result<()> {
        PolicyState::log(self, level, &message, &fields)
    }
}

impl v2::log::Host for PolicyState {
    fn log(&mut self, level: v2::log::Level, message: String, fields: Vec<(String, String)>) -> wasmtime::Result<()> {
        use v1::log::Level as L;
        let level = match level {
            v2::log::Level::Trace => L::Trace,
            v2::log::Level::Debug => L::Debug,
            v2::log::Level::Info => L::Info,
            v2::log::Level::Warn => L::Warn,
            v2::log::Level::Error => L::Error,
        };
        PolicyState::log(self, level, &message, &fields)
    }
}

/// `groupgate:policy/text` (contract 0.2.0): the text folding of
/// `groupgate-text`, the normalisation the standard `prohibited-content`
/// policy matches on, offered to policies of every language so that a
/// JavaScript or Python policy sees a disguised word as the standard policies
/// do without carrying Unicode tables of its own. `fold` gives the skeleton
/// and the steps asked for, with each folded character's place in the
/// original text; `pinyin` the toneless pinyin of Han text.
///
/// The work is bounded by the input. The text is copied out of the policy
/// under wasmtime's hostcall fuel (1 MiB a crossing, the same budget as a
/// verdict or a log line), but the host's own work does not stop at the
/// call's deadline, which is checked in the policy's code, and folding can
/// multiply a text (NFKC writes U+FDFA as 18 letters): 1 MiB of it takes
/// 1.4 s. So one call takes at most [`TEXT_MAX_BYTES`] (the default
/// `max_text_bytes` of a set, so any text field as a set takes it by
/// default): the worst such fold takes about 100 ms and ordinary text a few,
/// and a longer text traps the call (a policy folds a longer text in parts).
/// Between two calls the deadline stops a policy that calls again and again.
/// What the host returns is copied into the policy's memory, within its
/// `memory_mb`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Text;

/// The most bytes of text one call to `text.fold` or `text.pinyin` takes.
pub const TEXT_MAX_BYTES: usize = 64 * 1024;

/// Refuses a text over [`TEXT_MAX_BYTES`], naming the function: the error
/// traps the policy, which fails with it.
fn within_limit(function: &str, text: &str) -> wasmtime::Result<()> {
    if text.len() > TEXT_MAX_BYTES {
        wasmtime::bail!(
            "text.{function} was given {} bytes of text, more than the {} KiB one call takes",
            text.len(),
            TEXT_MAX_BYTES / 1024
        );
    }
    Ok(())
}

impl HostInterface for Text {
    fn name(&self) -> &str {
        "groupgate:policy/text"
    }

    fn add_to_linker(&self, linker: &mut Linker<PolicyState>) -> wasmtime::Result<()> {
        // Since 0.2.0: contract 0.1.0 has no such interface.
        v2::text::add_to_linker::<PolicyState, HasSelf<PolicyState>>(linker, |state| state)
    }
}

impl v2::text::Host for PolicyState {
    fn fold(&mut self, text: String, steps: v2::text::FoldSteps) -> wasmtime::Result<v2::text::Folded> {
        // `text` arrived within the hostcall fuel (1 MiB); the fold's own
        // work is bounded here (see `Text`).
        within_limit("fold", &text)?;
        Ok(fold(&text, steps))
    }

    fn pinyin(&mut self, text: String) -> wasmtime::Result<Option<String>> {
        within_limit("pinyin", &text)?;
        Ok(groupgate_text::pinyin(&text))
    }
}

/// The folding steps of the contract, as `groupgate-text` names them.
fn disguises(steps: v2::text::FoldSteps) -> Disguises {
    use v2::text::FoldSteps as S;
    [
        (S::TRADITIONAL, Disguises::TRADITIONAL),
        (S::CONFUSABLE, Disguises::CONFUSABLE),
        (S::LEET, Disguises::LEET),
        (S::REPEAT, Disguises::REPEAT),
    ]
    .into_iter()
    .filter(|&(step, _)| steps.contains(step))
    .fold(Disguises::NONE, |all, (_, d)| all | d)
}

/// Folds `text` by `steps`, with one offset per character of the result:
/// `groupgate-text` gives each byte the character it comes from, and a
/// policy counts characters.
fn fold(text: &str, steps: v2::text::FoldSteps) -> v2::text::Folded {
    let folded = groupgate_text::fold(text, disguises(steps));
    let offsets = folded.text.char_indices().map(|(at, _)| folded.source[at]).collect();
    v2::text::Folded { text: folded.text, offsets }
}

#[cfg(test)]
mod tests {
    use super::*;
    use v2::text::FoldSteps as S;

    #[test]
    fn offsets_count_characters_of_both_texts() {
        // `Ｚ` is three bytes and `о` (Cyrillic) two: offsets count neither.
        let original = "Ｚ.\u{43e}r b\u{200b}l4x 黑雲";
        let folded = fold(original, S::CONFUSABLE | S::LEET | S::TRADITIONAL);
        assert_eq!(folded.text, "zorbiax黑云");
        assert_eq!(folded.offsets, [0, 2, 3, 5, 7, 8, 9, 11, 12]);
        let chars: Vec<char> = original.chars().collect();
        assert_eq!(chars[folded.offsets[1] as usize], '\u{43e}', "the `o` comes from the Cyrillic letter");
        assert_eq!(chars[folded.offsets[8] as usize], '雲');
        assert_eq!(folded.offsets.len(), folded.text.chars().count());
    }

    #[test]
    fn no_step_is_the_skeleton_and_each_flag_is_its_step() {
        let text = "Ｚ0RRBL@X 黑雲";
        assert_eq!(fold(text, S::empty()).text, groupgate_text::skeleton(text));
        assert_eq!(fold(text, S::all()).text, groupgate_text::fold(text, Disguises::STEPS).text);
        assert_eq!(fold("zzoo", S::REPEAT).text, "zo");
        assert_eq!(fold("z0", S::LEET).text, "zo");
        assert_eq!(fold("z\u{43e}", S::CONFUSABLE).text, "zo");
        assert_eq!(fold("雲", S::TRADITIONAL).text, "云");
        // A composed character keeps the place of the letter it starts at.
        let folded = fold("xe\u{301}y", S::empty());
        assert_eq!((folded.text.as_str(), folded.offsets.as_slice()), ("xey", &[0, 1, 3][..]));
    }
}
