//! Case files: `tests/*.toml` next to a policy's `policy.toml` (cases for
//! that policy alone) or next to a set's `groupgate.toml` (cases for the
//! whole set). Every error names the file, and the case and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use groupgate::source::resolve_inside;
use groupgate::state::{PolicyCounts, Recorded};
use groupgate::{ConfigError, Hook, MeasureKind, Outcome, PolicySet, Request, Target};

/// A case file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// Hook for every case that does not name its own.
    hook: Option<Hook>,
    /// A JSON request file every case starts from.
    input: Option<String>,
    /// Request fields every case starts from, merged over `input`.
    request: Option<toml::Table>,
    #[serde(default)]
    case: Vec<RawCase>,
}

/// One `[[case]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    hook: Option<Hook>,
    input: Option<String>,
    request: Option<toml::Table>,
    #[serde(default)]
    unset: Vec<String>,
    config: Option<toml::Table>,
    counts: Option<toml::Table>,
    state: Option<String>,
    #[serde(default)]
    before: Vec<toml::Table>,
    outcome: Outcome,
    #[serde(default)]
    reasons: Vec<ExpectedReason>,
    #[serde(default)]
    absent_reasons: Vec<String>,
    #[serde(default)]
    measures: Vec<ExpectedMeasure>,
    evidence: Option<String>,
    #[serde(default)]
    policy_outcomes: BTreeMap<String, Outcome>,
    #[serde(default)]
    skipped: Vec<String>,
    #[serde(default)]
    errors: Vec<String>,
}

/// One case: a request and what its decision must satisfy.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case file it comes from.
    pub file: PathBuf,
    /// Its name, unique within the file.
    pub name: String,
    /// The policy it tests alone, or `None` for a case of the whole set.
    pub policy: Option<String>,
    /// The request to decide.
    pub request: Request,
    /// `[config]` keys this case sets for its policy, as JSON.
    pub config: Option<Value>,
    /// The counts its policies read: given by the case (`counts`), zero
    /// where not given, or none at all (`state = "unavailable"`).
    pub counts: Recorded,
    /// Requests decided first, in order, by the whole set on an empty
    /// store of its own, which the case's request is then decided on
    /// (`before`): how a case shows what counters make of a sequence, such
    /// as one reporter reporting three times. Empty for most cases.
    pub before: Vec<Request>,
    /// What must hold of the decision.
    pub expect: Expect,
}

/// What a case's decision must satisfy. Only `outcome` is required; every
/// other check applies only when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// The decision's outcome.
    pub outcome: Outcome,
    /// Reasons the decision must carry.
    pub reasons: Vec<ExpectedReason>,
    /// Reason codes the decision must not carry.
    pub absent_reasons: Vec<String>,
    /// Measures the decision must carry.
    pub measures: Vec<ExpectedMeasure>,
    /// A substring of some reason's evidence.
    pub evidence: Option<String>,
    /// Policies that must have run, with their own outcome.
    pub policy_outcomes: BTreeMap<String, Outcome>,
    /// Policies that must not have run (their hooks or scope did not match).
    pub skipped: Vec<String>,
    /// Policies that must fail (trap, time out, hit a limit). Any other
    /// policy that fails fails the case.
    pub errors: Vec<String>,
}

/// A reason a case expects: a code, as `"code"`, or a table naming also the
/// policy that gives it and the article it cites, as
/// `{ code = "credit-too-low", policy = "credit-levels", article = "Art. 7" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedReason {
    /// The reason code.
    pub code: String,
    /// The policy that must give it, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The article it must cite, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article: Option<String>,
}

impl<'de> Deserialize<'de> for ExpectedReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            code: String,
            policy: Option<String>,
            article: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a reason code, or a table with `code` and optionally `policy` and `article`")]
        enum Form {
            Code(String),
            Full(Full),
        }
        Ok(match Form::deserialize(d)? {
            Form::Code(code) => ExpectedReason { code, policy: None, article: None },
            Form::Full(f) => ExpectedReason { code: f.code, policy: f.policy, article: f.article },
        })
    }
}

impl std::fmt::Display for ExpectedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`", self.code)?;
        match (&self.policy, &self.article) {
            (Some(p), Some(a)) => write!(f, " from policy `{p}` citing {a}"),
            (Some(p), None) => write!(f, " from policy `{p}`"),
            (None, Some(a)) => write!(f, " citing {a}"),
            (None, None) => Ok(()),
        }
    }
}

/// A measure a case expects: kind and target, and `duration_secs` or
/// `amount` when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedMeasure {
    /// What to do.
    pub kind: MeasureKind,
    /// To whom: `{ user = "id" }` or `{ group = "id" }`.
    pub target: Target,
    /// How long, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// How much, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<u32>,
}

/// Reads the cases of `file`, a case file in `set_root`, for `policy` (or
/// the whole set). Returns every problem found, each naming file and case.
pub(crate) fn read(set_root: &Path, file: &Path, policy: Option<&str>) -> Result<Vec<Case>, Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| vec![format!("cannot read `{}`: {e}", file.display())])?;
    let raw: RawFile = groupgate::parse_toml(file, &text).map_err(|e| vec![e.to_string()])?;
    let at = |what: String| format!("`{}`: {what}", file.display());
    if raw.case.is_empty() {
        return Err(vec![at("no cases: add at least one `[[case]]`".into())]);
    }
    let dir = file.parent().unwrap_or(Path::new("."));

    let mut errors = Vec::new();
    let mut base = Value::Null;
    if let Some(input) = &raw.input {
        match read_input(set_root, dir, input) {
            Ok(v) => base = v,
            Err(e) => errors.push(at(format!("key `input`: {e}"))),
        }
    }
    if let Some(table) = raw.request {
        match table_to_json(table, "request") {
            Ok(v) => merge(&mut base, v),
            Err(e) => errors.push(at(e)),
        }
    }
    // Every case builds on the top of the file: a broken top is said once.
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut cases = Vec::with_capacity(raw.case.len());
    for (i, rc) in raw.case.into_iter().enumerate() {
        let label = if rc.name.is_empty() { format!("case {}", i + 1) } else { format!("case `{}`", rc.name) };
        let mut fail = |e: String| errors.push(at(format!("{label}: {e}")));
        if rc.name.trim().is_empty() {
            fail("key `name`: must not be empty".into());
            continue;
        }
        if cases.iter().any(|c: &Case| c.name == rc.name) {
            fail("key `name`: another case in this file has the same name".into());
            continue;
        }
        let Some(hook) = rc.hook.or(raw.hook) else {
            fail("no `hook`: set `hook` in the case or at the top of the file".into());
            continue;
        };
        let mut request = base.clone();
        if let Some(input) = &rc.input {
            match read_input(set_root, dir, input) {
                Ok(v) => request = v,
                Err(e) => {
                    fail(format!("key `input`: {e}"));
                    continue;
                }
            }
        }
        if let Some(table) = rc.request {
            match table_to_json(table, "request") {
                Ok(v) => merge(&mut request, v),
                Err(e) => {
                    fail(e);
                    continue;
                }
            }
        }
        for path in &rc.unset {
            if let Err(e) = unset(&mut request, path) {
                fail(format!("key `unset`: {e}"));
            }
        }
        if request.is_null() {
            fail("no request: give `request` or `input`, in the case or at the top of the file".into());
            continue;
        }
        let config = match rc.config {
            None => None,
            Some(_) if policy.is_none() => {
                fail("key `config`: only a policy's own cases may set its config".into());
                continue;
            }
            Some(table) => match table_to_json(table, "config") {
                Ok(v) => Some(v),
                Err(e) => {
                    fail(e);
                    continue;
                }
            },
        };
        let given_counts = rc.counts.is_some() || rc.state.is_some();
        let counts = match counts_of(rc.counts, rc.state.as_deref(), policy) {
            Ok(counts) => counts,
            Err(e) => {
                fail(e);
                continue;
            }
        };
        if !rc.before.is_empty() && (policy.is_some() || given_counts) {
            fail(
                "key `before`: only a set's own cases may decide earlier requests, and their counts come from \
                 those, not from `counts` or `state`"
                    .into(),
            );
            continue;
        }
        // Each earlier request is the case's with the fields it gives (after
        // removing those its `unset` lists); or, with `hook` or `input`, the
        // file `input` (nothing without it) of that hook, with them.
        let wanted = rc.before.len();
        let mut before = Vec::with_capacity(wanted);
        for (i, mut table) in rc.before.into_iter().enumerate() {
            let key = |k: &str| format!("key `before[{i}].{k}`");
            let of_hook = match table.remove("hook") {
                None => None,
                Some(toml::Value::String(name)) => match name.parse::<Hook>() {
                    Ok(h) => Some(h),
                    Err(e) => {
                        fail(format!("{}: {e}", key("hook")));
                        continue;
                    }
                },
                Some(_) => {
                    fail(format!("{}: must be a hook's name", key("hook")));
                    continue;
                }
            };
            let input = match table.remove("input") {
                None => None,
                Some(toml::Value::String(input)) => Some(input),
                Some(_) => {
                    fail(format!("{}: must be a file name", key("input")));
                    continue;
                }
            };
            let mut earlier = match (&input, of_hook) {
                (Some(input), _) => match read_input(set_root, dir, input) {
                    Ok(v) => v,
                    Err(e) => {
                        fail(format!("{}: {e}", key("input")));
                        continue;
                    }
                },
                (None, Some(_)) => Value::Object(Default::default()),
                (None, None) => request.clone(),
            };
            let unsets = match table.remove("unset") {
                None => Vec::new(),
                Some(toml::Value::Array(paths)) if paths.iter().all(toml::Value::is_str) => {
                    paths.into_iter().filter_map(|p| p.as_str().map(str::to_owned)).collect()
                }
                Some(_) => {
                    fail(format!("{}: must be a list of field paths", key("unset")));
                    continue;
                }
            };
            for path in &unsets {
                if let Err(e) = unset(&mut earlier, path) {
                    fail(format!("{}: {e}", key("unset")));
                }
            }
            match table_to_json(table, &format!("before[{i}]")) {
                Ok(v) => merge(&mut earlier, v),
                Err(e) => fail(e),
            }
            match Request::from_value(of_hook.unwrap_or(hook), earlier) {
                Ok(r) => before.push(r),
                Err(e) => fail(format!("key `before[{i}]`: {e}")),
            }
        }
        if before.len() != wanted {
            continue;
        }
        let request = match Request::from_value(hook, request) {
            Ok(r) => r,
            Err(e) => {
                fail(e.to_string());
                continue;
            }
        };
        cases.push(Case {
            file: file.to_path_buf(),
            name: rc.name,
            policy: policy.map(str::to_owned),
            request,
            config,
            counts,
            before,
            expect: Expect {
                outcome: rc.outcome,
                reasons: rc.reasons,
                absent_reasons: rc.absent_reasons,
                measures: rc.measures,
                evidence: rc.evidence,
                policy_outcomes: rc.policy_outcomes,
                skipped: rc.skipped,
                errors: rc.errors,
            },
        });
    }
    if errors.is_empty() { Ok(cases) } else { Err(errors) }
}

/// Reads a JSON request file named relative to the case file's folder; like
/// every file a set uses, it must lie inside the set.
fn read_input(set_root: &Path, dir: &Path, input: &str) -> Result<Value, String> {
    let path = resolve_inside(set_root, dir, input).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read `{input}`: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("`{input}` is not valid JSON: {e}"))
}

/// A TOML table as the JSON wire format. TOML dates have no JSON form, so
/// they are refused by key rather than passed on as something odd.
fn table_to_json(table: toml::Table, key: &str) -> Result<Value, String> {
    fn find_date(value: &toml::Value, path: &str) -> Option<String> {
        match value {
            toml::Value::Datetime(_) => Some(path.to_owned()),
            toml::Value::Table(t) => t.iter().find_map(|(k, v)| find_date(v, &format!("{path}.{k}"))),
            toml::Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| find_date(v, &format!("{path}[{i}]"))),
            _ => None,
        }
    }
    let value = toml::Value::Table(table);
    if let Some(path) = find_date(&value, key) {
        return Err(format!(
            "key `{path}`: a TOML date is not part of the wire format; write unix milliseconds as a number"
        ));
    }
    serde_json::to_value(&value).map_err(|e| format!("key `{key}`: {e}"))
}

/// Removes the field at dotted `path` (e.g. `inviter`, `sender.labels`), so a
/// case can drop an optional field that the top of its file sets.
fn unset(request: &mut Value, path: &str) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().filter(|p| !p.is_empty()).ok_or_else(|| format!("`{path}` is not a field path"))?;
    let mut at = request;
    for part in parts {
        at = at.get_mut(part).ok_or_else(|| format!("`{path}`: the request has no field `{part}`"))?;
    }
    match at.as_object_mut().and_then(|o| o.remove(last)) {
        Some(_) => Ok(()),
        None => Err(format!("`{path}`: the request has no field `{last}`")),
    }
}

/// The config a case's policy runs with: its manifest's `[config]` with the
/// case's `config` merged in, key by key.
pub(crate) fn config_with(set: &PolicySet, policy: &str, overrides: &Value) -> Result<Value, ConfigError> {
    let manifest = set.policies().find(|m| m.name == policy).ok_or_else(|| ConfigError::NoPolicy(policy.into()))?;
    let mut config: Value = serde_json::from_str(&manifest.config_json).expect("a manifest's config is JSON");
    merge(&mut config, overrides.clone());
    Ok(config)
}

/// `over` merged into `base`: objects key by key, anything else replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// A case's prior counts. A policy's own case writes `counts = { COUNTER =
/// { WINDOW = N } }`; a case of the whole set names the policy first,
/// `counts = { POLICY = { COUNTER = { WINDOW = N } } }`. `state =
/// "unavailable"` reads as a store that could not be read.
fn counts_of(counts: Option<toml::Table>, state: Option<&str>, policy: Option<&str>) -> Result<Recorded, String> {
    match state {
        None => {}
        Some("unavailable") if counts.is_none() => return Ok(Recorded::unavailable()),
        Some("unavailable") => {
            return Err("key `state`: a case with `state = \"unavailable\"` gives no `counts`".into());
        }
        Some(other) => return Err(format!("key `state`: `{other}` is not a state; the one there is is `unavailable`")),
    }
    let Some(table) = counts else { return Ok(Recorded::default()) };
    let value = table_to_json(table, "counts")?;
    let parse = |v: Value, key: &str| -> Result<PolicyCounts, String> {
        let counts: BTreeMap<String, BTreeMap<String, u64>> = serde_json::from_value(v).map_err(|e| {
            format!(
                "key `{key}`: {e}: expected {{ COUNTER = {{ WINDOW = N }} }}, e.g. {{ messages = {{ \"60s\" = 20 }} }}"
            )
        })?;
        let mut out = PolicyCounts::new();
        for (counter, windows) in counts {
            for (window, n) in windows {
                out.insert(&counter, &window, Some(n));
            }
        }
        Ok(out)
    };
    let per_policy = match policy {
        Some(name) => BTreeMap::from([(name.to_owned(), parse(value, "counts")?)]),
        None => {
            let Value::Object(by_policy) = value else { unreachable!("a TOML table is a JSON object") };
            by_policy
                .into_iter()
                .map(|(name, v)| parse(v, &format!("counts.{name}")).map(|c| (name, c)))
                .collect::<Result<_, _>>()?
        }
    };
    Ok(Recorded::new(per_policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_replaces_leaves_and_merges_objects() {
        let mut base = serde_json::json!({"a": 1, "b": {"c": 2, "d": [1, 2]}});
        merge(&mut base, serde_json::json!({"b": {"c": 3, "d": [9]}, "e": true}));
        assert_eq!(base, serde_json::json!({"a": 1, "b": {"c": 3, "d": [9]}, "e": true}));
    }

    #[test]
    fn dates_are_refused_by_key() {
        let table: toml::Table = toml::from_str("sent_at = 2026-01-01T00:00:00Z").unwrap();
        let err = table_to_json(table, "request").unwrap_err();
        assert!(err.contains("key `request.sent_at`"), "{err}");
    }
}
