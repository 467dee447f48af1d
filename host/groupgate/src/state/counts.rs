//! The counts one policy read for a request, as decisions report them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The counts one policy read for a request: for each of its counters and
/// windows, the count, or `None` where the store could not be read or the
/// request has nobody the counter counts. In JSON (records, the server's
/// answers) a map of counter to window to count, `null` for `None`.
///
/// The names are the policy's own table, shared by every decision (a
/// decision's counts cost one small allocation, not one per name).
#[derive(Clone)]
pub struct PolicyCounts {
    names: Names,
    counts: Vec<Option<u64>>,
}

/// `(counter, window)` pairs, shared.
pub(crate) type Names = Arc<[(Arc<str>, Arc<str>)]>;

/// The table of a policy that reads no counts, shared: a decision's empty
/// counts allocate nothing.
fn no_names() -> Names {
    static EMPTY: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Arc::from(Vec::new())).clone()
}

impl Default for PolicyCounts {
    fn default() -> Self {
        PolicyCounts { names: no_names(), counts: Vec::new() }
    }
}

impl PolicyCounts {
    /// No counts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts for the `(counter, window)` pairs of `names`, in order.
    pub(crate) fn of(names: Names, counts: Vec<Option<u64>>) -> Self {
        debug_assert_eq!(names.len(), counts.len());
        PolicyCounts { names, counts }
    }

    /// Sets the count of `counter` over `window`.
    pub fn insert(&mut self, counter: &str, window: &str, count: Option<u64>) {
        if let Some(i) = self.position(counter, window) {
            self.counts[i] = count;
            return;
        }
        let mut names = self.names.to_vec();
        names.push((counter.into(), window.into()));
        self.names = names.into();
        self.counts.push(count);
    }

    fn position(&self, counter: &str, window: &str) -> Option<usize> {
        self.names.iter().position(|(c, w)| &**c == counter && &**w == window)
    }

    /// The count of `counter` over `window`: `None` if it was not read,
    /// `Some(None)` if it could not be.
    pub fn get(&self, counter: &str, window: &str) -> Option<Option<u64>> {
        self.position(counter, window).map(|i| self.counts[i])
    }

    /// Every count: counter, window, count.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str, Option<u64>)> {
        self.names.iter().zip(&self.counts).map(|((c, w), n)| (&**c, &**w, *n))
    }

    /// Whether the policy read no counts.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The counts, in the order of the names.
    pub(crate) fn counts(&self) -> &[Option<u64>] {
        &self.counts
    }

    /// The counts, to fill in.
    pub(crate) fn counts_mut(&mut self) -> &mut [Option<u64>] {
        &mut self.counts
    }

    fn nested(&self) -> BTreeMap<&str, BTreeMap<&str, Option<u64>>> {
        let mut map: BTreeMap<&str, BTreeMap<&str, Option<u64>>> = BTreeMap::new();
        for (counter, window, count) in self.iter() {
            map.entry(counter).or_default().insert(window, count);
        }
        map
    }
}

impl PartialEq for PolicyCounts {
    fn eq(&self, other: &Self) -> bool {
        self.nested() == other.nested()
    }
}

impl Eq for PolicyCounts {}

impl fmt::Debug for PolicyCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.nested().fmt(f)
    }
}

impl Serialize for PolicyCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.nested().serialize(s)
    }
}

impl<'de> Deserialize<'de> for PolicyCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let nested = BTreeMap::<String, BTreeMap<String, Option<u64>>>::deserialize(d)?;
        let mut counts = PolicyCounts::new();
        let mut names = Vec::new();
        for (counter, windows) in nested {
            let counter: Arc<str> = counter.into();
            for (window, count) in windows {
                names.push((counter.clone(), window.into()));
                counts.counts.push(count);
            }
        }
        counts.names = names.into();
        Ok(counts)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for PolicyCounts {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PolicyCounts".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = generator.subschema_for::<BTreeMap<String, BTreeMap<String, Option<u64>>>>();
        schema.insert(
            "description".into(),
            "Counter → window → count, null where the store could not be read or the request has nobody the counter counts.".into(),
        );
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_json_a_map_of_counter_to_window_and_back() {
        let mut counts = PolicyCounts::new();
        counts.insert("messages", "60s", Some(3));
        counts.insert("denials", "24h", None);
        counts.insert("denials", "30d", Some(1));
        let json = serde_json::to_value(&counts).unwrap();
        assert_eq!(json, serde_json::json!({"denials": {"24h": null, "30d": 1}, "messages": {"60s": 3}}));
        let back: PolicyCounts = serde_json::from_value(json).unwrap();
        assert_eq!(back, counts);
        assert_eq!(back.get("denials", "24h"), Some(None));
        assert_eq!(back.get("messages", "60s"), Some(Some(3)));
        assert_eq!(back.get("messages", "24h"), None);
    }
}
