//! The `groupgate` binary as a user runs it: the commands (`cli`), Synapse
//! moderated through it (`synapse`) and the JavaScript and Python policies
//! built from source (`polyglot`). One test binary, run from the
//! `groupgate-cli` package so that Cargo builds `groupgate` for it; a filter
//! picks a module, e.g. `cargo test -p groupgate-cli --test cli cli::`.

mod cli;
mod polyglot;
mod synapse;
