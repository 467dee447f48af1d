//! The integration tests that run through the library, the router and
//! native code, one module per area (see `tests/README.md`). They are one
//! test binary, as wasmtime's `tests/all` is, so that `cargo test` links
//! wasmtime once for all of them rather than once per area.

mod contract_versions;
mod hostile_guests;
mod normalisation;
mod policy_sets;
mod prohibited_content;
mod request_encoding;
mod server;
mod state_redis;
mod test_runner;
mod text_folding;
