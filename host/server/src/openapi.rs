//! `GET /openapi.json`: the API as an OpenAPI 3.1 document, built from the
//! server's own types so that it cannot drift from them. Every body's
//! schema is derived (`schemars`) from the type that reads or writes it:
//! the requests from the contract's records as JSON reads them, the
//! answers from the types the handlers serialise. The routes of the hooks
//! come from [`HOOKS`]. The records' and enums' descriptions are then
//! replaced with the contract's own docs in `wit/policy.wit`, which policy
//! authors read too, so both sides are told the same thing.
//!
//! `docs/openapi.json` is this document, checked in; a test fails when the
//! two differ (`groupgate openapi > docs/openapi.json` writes it anew).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use groupgate::{HOOKS, Request};
use schemars::generate::{Contract, SchemaSettings};
use schemars::{Schema, SchemaGenerator};
use serde_json::{Value, json};

use crate::app::{Health, Ready, ReloadRefused};
use crate::evaluate::{Answer, Batch, BatchAnswer, MAX_BATCH};
use crate::json::ErrorBody;
use crate::policies::PoliciesAnswer;
use crate::state::ReloadReport;

/// The contract whose docs describe the requests' fields.
const WIT: &str = include_str!("../../../wit/policy.wit");

/// A request of each hook, as `examples/` holds them: the request bodies'
/// examples, which a client generator shows and a tester sends first.
const EXAMPLES: [(&str, &str); 4] = [
    ("message", include_str!("../../../examples/message.json")),
    ("group-creation", include_str!("../../../examples/group-creation.json")),
    ("membership", include_str!("../../../examples/membership.json")),
    ("report", include_str!("../../../examples/report.json")),
];

/// The example of hook `name`'s request.
fn example(name: &str) -> Value {
    let (_, text) = EXAMPLES.iter().find(|(hook, _)| *hook == name).expect("every hook has an example in `examples/`");
    serde_json::from_str(text).expect("the examples are JSON")
}

/// The document, as pretty JSON ending in a newline: built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&build()).expect("the document serialises");
        text.push('\n');
        text
    })
}

/// A generator of schemas into `#/components/schemas`, for what the server
/// reads (`Deserialize`: fields with defaults are optional) or writes
/// (`Serialize`: fields it may skip are optional).
fn generator(contract: Contract) -> SchemaGenerator {
    SchemaGenerator::new(SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
        s.contract = contract;
    }))
}

fn build() -> Value {
    let mut reads = generator(Contract::Deserialize);
    let mut writes = generator(Contract::Serialize);
    let error = writes.subschema_for::<ErrorBody>();
    let answer = writes.subschema_for::<Answer<'static>>();

    let mut paths = BTreeMap::new();
    for spec in &HOOKS {
        let request = Request::json_schema(spec.hook, &mut reads);
        paths.insert(
            format!("/v1/evaluate/{}", spec.name),
            json!({ "post": {
                "operationId": format!("evaluate-{}", spec.name),
                "summary": format!("Decide a `{}` request", spec.request_type),
                "description": "Decides the request on the active policy set: every policy the set runs on this hook \
                    gives its verdict, and the most severe of the enforcing ones wins (deny, review, allow). When the \
                    set keeps records (`[audit]`), the decision is recorded before it is answered.",
                "requestBody": body(request, example(spec.name)),
                "responses": responses(&[
                    (200, "The decision", answer.clone()),
                    (400, "The body is not JSON, or not a valid request: the error names the field", error.clone()),
                    (408, "The body was not sent within the read timeout", error.clone()),
                    (413, "The body is over the server's limit, or a text over the set's `max_text_bytes`", error.clone()),
                    (503, "No policy set is active yet, or the decision could not be recorded", error.clone()),
                ]),
            }}),
        );
    }
    paths.insert(
        "/v1/evaluate/batch".into(),
        json!({ "post": {
            "operationId": "evaluate-batch",
            "summary": "Decide several requests of any hooks, in order, on one set generation",
            "description": format!("At most {MAX_BATCH} requests. Each is decided, recorded and counted as if it came \
                alone; an item that is not a valid request for its hook (or not an item at all: not an object, no \
                known hook) is answered with an error and the status it would have had, in its place, and the others \
                are still decided. A decision that cannot be recorded \
                stops the batch: the items after it are answered 503, undecided."),
            "requestBody": body(reads.subschema_for::<Batch>(), json!({ "requests":
                HOOKS.iter().map(|h| json!({ "hook": h.name, "request": example(h.name) })).collect::<Vec<_>>() })),
            "responses": responses(&[
                (200, "One result per item, in order", writes.subschema_for::<BatchAnswer<'static>>()),
                (400, "The body is not `{\"requests\": [...]}`", error.clone()),
                (408, "The body was not sent within the read timeout", error.clone()),
                (413, "The body is over the server's limit, or the batch has too many items", error.clone()),
                (503, "No policy set is active yet", error.clone()),
            ]),
        }}),
    );
    paths.insert(
        "/v1/counters/{policy}/{counter}".into(),
        json!({ "post": {
            "operationId": "add-to-counter",
            "summary": "Add the platform's events to a policy's counter",
            "description": "For what the platform knows and groupgate does not, such as a moderator rejecting a \
                user's report (Art. 12): adds `amount` events at `at` for `id` to counter `counter` of policy \
                `policy` in the active set's store. Only a counter its manifest declares with `platform = true` \
                takes them.",
            "parameters": [
                { "name": "policy", "in": "path", "required": true, "schema": { "type": "string" },
                  "description": "The policy's name in the active set" },
                { "name": "counter", "in": "path", "required": true, "schema": { "type": "string" },
                  "description": "The counter's name under `[counters]` in its manifest" },
            ],
            "requestBody": body(reads.subschema_for::<crate::counters::Addition>(),
                json!({ "id": "usr-77", "amount": 1, "at": 1_764_316_800_000_u64 })),
            "responses": responses(&[
                (200, "Added", writes.subschema_for::<crate::counters::Added>()),
                (400, "The body is not a valid addition", error.clone()),
                (404, "The set has no such policy, or the policy no such counter open to the platform", error.clone()),
                (503, "No policy set is active yet, or its store could not be written", error.clone()),
            ]),
        }}),
    );
    paths.insert(
        "/v1/policies".into(),
        json!({ "get": {
            "operationId": "policies",
            "summary": "The active policy set and the last reload attempt",
            "responses": responses(&[(200, "The set, or null before the first loads", writes.subschema_for::<PoliciesAnswer<'static>>())]),
        }}),
    );
    paths.insert(
        "/v1/reload".into(),
        json!({ "post": {
            "operationId": "reload",
            "summary": "Load the policy set again now, test it, and activate it if every case passes",
            "responses": responses(&[
                (200, "The new set is active", writes.subschema_for::<ReloadReport>()),
                (422, "The new set was refused; the previous one still serves", writes.subschema_for::<ReloadRefused>()),
                (500, "The reload did not finish", error.clone()),
            ]),
        }}),
    );
    paths.insert(
        "/healthz".into(),
        json!({ "get": {
            "operationId": "healthz",
            "summary": "The process answers",
            "responses": responses(&[(200, "Up", writes.subschema_for::<Health>())]),
        }}),
    );
    paths.insert(
        "/readyz".into(),
        json!({ "get": {
            "operationId": "readyz",
            "summary": "A policy set is active and decisions can be served",
            "responses": responses(&[
                (200, "Ready", writes.subschema_for::<Ready<'static>>()),
                (503, "No set is active: why", error.clone()),
            ]),
        }}),
    );
    paths.insert(
        "/metrics".into(),
        json!({ "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics: decisions by hook and outcome, per policy, reloads, batches",
            "responses": { "200": { "description": "Prometheus text format 0.0.4",
                "content": { "text/plain": { "schema": { "type": "string" } } } } },
        }}),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({ "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": { "200": { "description": "OpenAPI 3.1",
                "content": { "application/json": { "schema": { "type": "object" } } } } },
        }}),
    );

    let mut schemas = reads.take_definitions(true);
    for (name, schema) in writes.take_definitions(true) {
        match schemas.get(&name) {
            Some(read) => assert_eq!(read, &schema, "`{name}` is read and written with different schemas"),
            None => {
                schemas.insert(name, schema);
            }
        }
    }
    let docs = ContractDocs::read();
    for (name, schema) in &mut schemas {
        docs.describe(name, schema);
        bound_integers(schema);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "groupgate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Decisions for a group-chat platform: may this message be published, this group created, \
                this person admitted? Each request is decided by the active policy set's WebAssembly policies. Every \
                error is JSON, `{\"error\": \"...\"}`; an unknown route is answered 404 and a known route called \
                with another method 405, both as JSON errors.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" },
        },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

/// States each unsigned integer's range as `minimum` and `maximum`, and
/// its width as a standard OpenAPI format: `schemars` writes `uint8` …
/// `uint64`, which validators ignore and client generators read as a
/// 32-bit integer, too narrow for a timestamp in milliseconds. A 64-bit
/// field ends where `int64` does, as the server reads it (`wire::whole`).
fn bound_integers(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            let bounds = match object.get("format").and_then(Value::as_str) {
                Some("uint8") => Some(("int32", u64::from(u8::MAX))),
                Some("uint16") => Some(("int32", u64::from(u16::MAX))),
                Some("uint32") => Some(("int64", u64::from(u32::MAX))),
                Some("uint64" | "uint") => Some(("int64", i64::MAX.unsigned_abs())),
                _ => None,
            };
            if let Some((format, max)) = bounds {
                object.insert("format".into(), format.into());
                object.insert("minimum".into(), 0.into());
                object.insert("maximum".into(), max.into());
            }
            object.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// A required JSON request body of `schema`, with an example.
fn body(schema: Schema, example: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema, "example": example } } })
}

/// JSON responses by status.
fn responses(answers: &[(u16, &str, Schema)]) -> Value {
    let map: BTreeMap<String, Value> = answers
        .iter()
        .map(|(status, description, schema)| {
            (
                status.to_string(),
                json!({ "description": description, "content": { "application/json": { "schema": schema } } }),
            )
        })
        .collect();
    json!(map)
}

/// The docs of `wit/policy.wit`'s `types`: each record's, enum's and
/// variant's own, and its fields' or cases'.
struct ContractDocs {
    /// Type name (kebab-case, as in WIT) → (its docs, member → docs).
    types: BTreeMap<String, (Option<String>, BTreeMap<String, String>)>,
}

impl ContractDocs {
    fn read() -> ContractDocs {
        use wit_parser::TypeDefKind;
        let mut resolve = wit_parser::Resolve::default();
        resolve.push_str("wit/policy.wit", WIT).expect("the contract parses");
        let mut types = BTreeMap::new();
        for (_, ty) in resolve.types.iter() {
            let wit_parser::TypeOwner::Interface(owner) = ty.owner else { continue };
            if resolve.interfaces[owner].name.as_deref() != Some("types") {
                continue;
            }
            let Some(name) = &ty.name else { continue };
            let members: BTreeMap<String, String> = match &ty.kind {
                TypeDefKind::Record(r) => {
                    r.fields.iter().filter_map(|f| doc(&f.docs).map(|d| (f.name.clone(), d))).collect()
                }
                TypeDefKind::Enum(e) => {
                    e.cases.iter().filter_map(|c| doc(&c.docs).map(|d| (c.name.clone(), d))).collect()
                }
                TypeDefKind::Variant(v) => {
                    v.cases.iter().filter_map(|c| doc(&c.docs).map(|d| (c.name.clone(), d))).collect()
                }
                _ => continue,
            };
            types.insert(name.clone(), (doc(&ty.docs), members));
        }
        ContractDocs { types }
    }

    /// Replaces the descriptions of `schema` (named `name`, CamelCase) with
    /// the contract's, if it is one of the contract's types: its own, its
    /// properties' (snake_case in JSON) and its cases' (`const` strings, or
    /// one-property objects for a variant).
    fn describe(&self, name: &str, schema: &mut Value) {
        let Some((own, members)) = self.types.get(&kebab(name)) else { return };
        let Some(object) = schema.as_object_mut() else { return };
        if let Some(own) = own {
            object.insert("description".into(), own.clone().into());
        }
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            for (property, schema) in properties.iter_mut() {
                if let (Some(doc), Some(schema)) = (members.get(&property.replace('_', "-")), schema.as_object_mut()) {
                    schema.insert("description".into(), doc.clone().into());
                }
            }
        }
        if let Some(Value::Array(cases)) = object.get_mut("oneOf") {
            for case in cases.iter_mut().filter_map(Value::as_object_mut) {
                let member = match (case.get("const"), case.get("properties")) {
                    (Some(Value::String(name)), _) => name.replace('_', "-"),
                    (None, Some(Value::Object(p))) if p.len() == 1 => p.keys().next().unwrap().replace('_', "-"),
                    _ => continue,
                };
                if let Some(doc) = members.get(&member) {
                    case.insert("description".into(), doc.clone().into());
                }
            }
        }
    }
}

/// A doc comment's text, if it has any.
fn doc(docs: &wit_parser::Docs) -> Option<String> {
    docs.contents.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned)
}

/// `GroupCreation` → `group-creation`.
fn kebab(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requests_fields_are_described_by_the_contract() {
        let document: Value = serde_json::from_str(document()).unwrap();
        let schemas = &document["components"]["schemas"];
        let user = &schemas["User"]["properties"]["identity_verified"]["description"];
        assert_eq!(user, "Whether the platform has verified this user's real identity (Art. 6).");
        // Every field of every record the requests carry has the contract's docs.
        let docs = ContractDocs::read();
        for name in ["User", "Group", "Attachment", "Message", "GroupCreation", "Membership"] {
            let (_, members) = &docs.types[&kebab(name)];
            let properties = schemas[name]["properties"].as_object().unwrap_or_else(|| panic!("{name}"));
            for (property, schema) in properties {
                let wit = property.replace('_', "-");
                assert_eq!(schema["description"].as_str(), members.get(&wit).map(String::as_str), "{name}.{property}");
            }
        }
        assert_eq!(kebab("MembershipKind"), "membership-kind");
    }

    #[test]
    fn every_hook_has_its_route_and_the_batch_names_them_all() {
        let document: Value = serde_json::from_str(document()).unwrap();
        for spec in &HOOKS {
            assert!(document["paths"][format!("/v1/evaluate/{}", spec.name)]["post"].is_object(), "{}", spec.name);
        }
        let hooks = &document["components"]["schemas"]["Hook"]["enum"];
        assert_eq!(hooks.as_array().map(Vec::len), Some(HOOKS.len()));
    }
}
