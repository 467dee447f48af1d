//! The standard plugins from `plugins/`, compiled by the build and embedded,
//! which manifests name as `module = "builtin:NAME"`.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The component bytes of the standard plugin `name`.
pub fn component(name: &str) -> Option<&'static [u8]> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes)
}

/// The names of every standard plugin.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}
