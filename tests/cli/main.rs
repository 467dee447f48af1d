//! The `groupgate` binary as a user runs it: every command, exit codes,
//! JSON shapes, signals, hostile input. Run from the `groupgate-cli` package
//! so that Cargo builds `groupgate` for it.

mod cli;
