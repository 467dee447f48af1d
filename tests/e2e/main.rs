//! The `groupgate` binary with the tools around it, end to end: a real
//! Matrix Synapse moderated through it (`synapse`), and the JavaScript and
//! Python policies built from source with their pinned toolchains
//! (`polyglot`); replicas counting in one Redis (`state`); and replicas
//! serving one signed set from an OCI registry (`fleet`). A binary of
//! its own, apart from `cli`: these start whole
//! toolchains and servers that keep both cores busy, and the command tests
//! hold policies to 100 ms deadlines that such a neighbour could break.
//! The HTTP API is held to its OpenAPI document by schemathesis (`api`).
//! A filter picks a module: `cargo test -p groupgate-cli --test e2e polyglot::`.

mod api;
mod authoring;
mod fleet;
mod polyglot;
mod state;
mod synapse;
