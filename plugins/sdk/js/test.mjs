// Tests groupgate.js under node, outside any component: `node test.mjs`
// (node 20.6 or later) exits 0 when every check passes.
//
// It reads the buffers in ../testdata, written by the Rust reference
// (plugins/encoding's `Writer` and `set_counts`), and compares every field
// with ../testdata/expected.json, which that crate's own reader read back
// from them. The imports `groupgate:policy/abort@0.2.0`,
// `groupgate:policy/text@0.2.0` and `groupgate:policy/verdict@0.2.0`, which a
// component gets from the host, are stubs here: `abort` records its message,
// `fold` what it was asked, `pinyin` answers one text (the folding itself is
// the host's, tested there) and `explain` records what it was given.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { register } from "node:module";

// Resolve the host's imports to stubs that record what they were asked.
const stubs = {
  "groupgate:policy/abort@0.2.0": "export function abort(message) { globalThis.aborted.push(message); }",
  "groupgate:policy/verdict@0.2.0":
    "export function explain(reasons, measures, increments) { globalThis.explained.push([reasons, measures, increments]); }",
  // As the bindings lift a `folded`: `offsets` a Uint32Array, one per character.
  "groupgate:policy/text@0.2.0": `
    export function fold(text, steps) {
      globalThis.folds.push([text, steps]);
      const chars = Array.from(text).map((c, i) => [c.toLowerCase(), i]).filter(([c]) => c.trim() !== "");
      return { text: chars.map(([c]) => c).join(""), offsets: Uint32Array.from(chars, ([, i]) => i) };
    }
    export function pinyin(text) { return text === "黑雲券" ? "hei yun quan" : undefined; }`,
};
const hooks = `
const stubs = ${JSON.stringify(stubs)};
export async function resolve(specifier, context, next) {
  if (Object.hasOwn(stubs, specifier)) {
    return { url: "data:text/javascript," + encodeURIComponent(stubs[specifier]), shortCircuit: true };
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
globalThis.aborted = [];
globalThis.folds = [];
globalThis.explained = [];

const groupgate = await import("./groupgate.js");
const testdata = new URL("../testdata/", import.meta.url);
const expected = JSON.parse(readFileSync(new URL("expected.json", testdata), "utf8"));
const fixture = (name) => new Uint8Array(readFileSync(new URL(name, testdata)));

let checks = 0;
const eq = (actual, want, what) => {
  assert.deepEqual(actual, want, what);
  checks++;
};

/** Calls `f`, which must abort with `message`, and throw. */
function aborts(f, message) {
  globalThis.aborted.length = 0;
  assert.throws(f, (e) => e.message === message, `throws: ${message}`);
  eq(globalThis.aborted, [message], `aborts: ${message}`);
}

function checkUser(user, want, what) {
  eq(user instanceof groupgate.User, true, what);
  eq(user.id, want.id, `${what}.id`);
  eq(user.identityVerified, want.identity_verified, `${what}.identityVerified`);
  eq(user.creditLevel, want.credit_level, `${what}.creditLevel`);
  eq(user.region, want.region, `${what}.region`);
  eq(user.groupsCreated, want.groups_created, `${what}.groupsCreated`);
  eq(user.groupsJoined, want.groups_joined, `${what}.groupsJoined`);
  eq(user.labels, want.labels, `${what}.labels`);
  for (const label of want.labels) {
    eq(user.hasLabel(label), true, `${what}.hasLabel(${label})`);
  }
  eq(user.hasLabel("no-such-label"), false, `${what}.hasLabel`);
}

function checkGroup(group, want, what) {
  eq(group.id, want.id, `${what}.id`);
  eq(group.name, want.name, `${what}.name`);
  eq(group.category, want.category, `${what}.category`);
  eq(group.region, want.region, `${what}.region`);
  eq(group.memberCount, want.member_count, `${what}.memberCount`);
  eq(group.memberLimit, want.member_limit, `${what}.memberLimit`);
  eq(group.founderId, want.founder_id, `${what}.founderId`);
}

function checkAttachments(attachments, want, what) {
  eq(attachments.length, want.length, `${what} attachments`);
  want.forEach((a, i) => {
    eq(attachments[i] instanceof groupgate.Attachment, true, `${what} attachment ${i}`);
    eq(attachments[i].name, a.name, `${what} attachment ${i} name`);
    eq(attachments[i].mediaType, a.media_type, `${what} attachment ${i} mediaType`);
    eq(attachments[i].size, BigInt(a.size), `${what} attachment ${i} size`);
    eq(attachments[i].sha256, a.sha256, `${what} attachment ${i} sha256`);
  });
}

/** A message's fields, on a `Message` or a `ReportedMessage`. */
function checkMessage(m, want, what) {
  eq(m.id(), want.id, `${what} id`);
  checkGroup(m.group(), want.group, `${what} group`);
  checkUser(m.sender(), want.sender, `${what} sender`);
  eq(m.senderRole(), want.sender_role, `${what} senderRole`);
  eq(m.text(), want.text, `${what} text`);
  checkAttachments(m.attachments(), want.attachments, what);
  eq(m.sentAt(), BigInt(want.sent_at), `${what} sentAt`);
}

function checkCounts(request, want, what) {
  const value = (v) => (v === null ? undefined : BigInt(v));
  eq(
    request.counts(),
    want.map(([counter, window, v]) => ({ counter, window, value: value(v) })),
    `${what}.counts()`,
  );
  for (const [counter, window, v] of want) {
    eq(request.count(counter, window), value(v), `${what}.count(${counter}, ${window})`);
  }
  const declared = want.length === 0 ? "none" : want.map(([c, w]) => `${c} over ${w}`).join(", ");
  const counter = want.length === 0 ? "links" : want[0][0];
  aborts(
    () => request.count(counter, "60m"),
    `counter \`${counter}\` over \`60m\` is not declared under \`[counters]\` in the policy's manifest ` +
      `(declared: ${declared})`,
  );
}

for (const [name, want] of Object.entries(expected)) {
  const bytes = fixture(name);
  if (want.hook === "message") {
    const m = groupgate.message(bytes);
    checkMessage(m, want, name);
    checkCounts(m, want.counts, name);
  } else if (want.hook === "report") {
    const r = groupgate.report(bytes);
    eq(r instanceof groupgate.Report, true, `${name} is a Report`);
    eq(r.id(), want.id, `${name} id`);
    checkUser(r.reporter(), want.reporter, `${name} reporter`);
    const target = r.target();
    eq(target instanceof groupgate.ReportTarget, true, `${name} target`);
    eq(target.kind, want.target.kind, `${name} target.kind`);
    eq(target.id, want.target_id, `${name} target.id`);
    // The getter of the target's kind gives it, the other two nothing.
    for (const kind of ["message", "user", "group"]) {
      if (kind !== want.target.kind) {
        eq(target[kind], undefined, `${name} target.${kind}`);
      }
    }
    if (want.target.kind === "message") {
      const m = target.message;
      eq(m instanceof groupgate.ReportedMessage, true, `${name} target.message`);
      checkMessage(m, want.target.message, `${name} target.message`);
      eq(m.count, undefined, `${name} a reported message has no counts`);
    } else if (want.target.kind === "user") {
      checkUser(target.user, want.target.user, `${name} target.user`);
    } else {
      checkGroup(target.group, want.target.group, `${name} target.group`);
    }
    eq(r.category(), want.category, `${name} category`);
    eq(r.text(), want.text, `${name} text`);
    eq(r.reportedAt(), BigInt(want.reported_at), `${name} reportedAt`);
    checkCounts(r, want.counts, name);
  } else if (want.hook === "group-creation") {
    const c = groupgate.groupCreation(bytes);
    eq(c.id(), want.id, `${name} id`);
    checkUser(c.founder(), want.founder, `${name} founder`);
    eq(c.name(), want.name, `${name} name`);
    eq(c.description(), want.description, `${name} description`);
    eq(c.category(), want.category, `${name} category`);
    eq(c.region(), want.region, `${name} region`);
    eq(c.memberLimit(), want.member_limit, `${name} memberLimit`);
    eq(c.requestedAt(), BigInt(want.requested_at), `${name} requestedAt`);
    checkCounts(c, want.counts, name);
  } else {
    const m = groupgate.membership(bytes);
    eq(m.id(), want.id, `${name} id`);
    eq(m.kind(), want.kind, `${name} kind`);
    checkGroup(m.group(), want.group, `${name} group`);
    checkUser(m.subject(), want.subject, `${name} subject`);
    if (want.inviter === null) {
      eq(m.inviter(), undefined, `${name} inviter`);
    } else {
      checkUser(m.inviter(), want.inviter, `${name} inviter`);
    }
    eq(m.requestedAt(), BigInt(want.requested_at), `${name} requestedAt`);
    checkCounts(m, want.counts, name);
  }
}

// A buffer of another hook, version or length, or not a request, is refused
// with the Rust SDK's words.
const membershipBytes = fixture("membership-join.bin");
aborts(() => groupgate.message(membershipBytes), "the request is of hook 2 where hook 0 was expected");
aborts(() => groupgate.message(new Uint8Array(0)), "the request is 0 bytes, shorter than the 168 its slots take");
aborts(() => groupgate.report(membershipBytes), "the request is of hook 2 where hook 3 was expected");
aborts(
  () => groupgate.report(fixture("report-group.bin").slice(0, 119)),
  "the request is 119 bytes, shorter than the 120 its slots take",
);
aborts(() => groupgate.membership(fixture("report-user.bin")), "the request is of hook 3 where hook 2 was expected");
aborts(
  () => groupgate.membership(membershipBytes.slice(0, 100)),
  "the request is 100 bytes, shorter than the 160 its slots take",
);
const badMagic = membershipBytes.slice();
badMagic[0] = "X".charCodeAt(0);
aborts(() => groupgate.membership(badMagic), "the request does not begin with `GGRQ`");
const badVersion = membershipBytes.slice();
badVersion[4] = 9;
aborts(() => groupgate.membership(badVersion), "the request is in encoding version 9; this SDK reads 1");

// Fields are read when asked for, not before: a message whose text points
// outside the buffer reads its id, and fails only on its text.
const broken = fixture("message.bin");
new DataView(broken.buffer).setUint32(18 * 8, 0xffff, true);
const m = groupgate.message(broken);
eq(m.id(), "msg-1", "a broken text leaves the id readable");
const MALFORMED = "the request buffer is malformed: it points outside itself or holds invalid UTF-8 (a host bug)";
aborts(() => m.text(), MALFORMED);
// The sender's id is not UTF-8: its region still reads.
const notUtf8 = fixture("message.bin");
notUtf8[new DataView(notUtf8.buffer).getUint32(10 * 8, true)] = 0xff;
const n = groupgate.message(notUtf8);
eq(n.sender().region, "CN-44", "a broken id leaves the region readable");
aborts(() => n.sender().id, MALFORMED);

// A target or category beyond those the contract lists (never written) reads
// as the reader in plugins/encoding reads it: a group, and "other".
const future = fixture("report-group.bin");
new DataView(future.buffer).setUint32(10 * 8, 7, true);
new DataView(future.buffer).setUint32(12 * 8, 9, true);
const f = groupgate.report(future);
eq([f.target().kind, f.target().group.id, f.category()], ["group", "grp-t", "other"], "an unknown case");

// A view over part of a larger buffer (a nonzero byteOffset) reads the same.
const whole = fixture("message.bin");
const padded = new Uint8Array(whole.length + 16);
padded.set(whole, 16);
eq(groupgate.message(padded.subarray(16)).sender().id, "usr-42", "a request at an offset in its ArrayBuffer");

// Text folding: the steps given as true reach the host as its flags, the
// others as false; the host's text and offsets come back as they are.
const NO_STEPS = { traditional: false, confusable: false, leet: false, repeat: false };
const folded = groupgate.fold("Ａ b𝐂", { confusable: true, leet: true });
eq(folded.text, "ａb𝐂", "fold's text");
eq(Array.from(folded.offsets), [0, 2, 3], "fold's offsets count characters, not UTF-16 units");
eq(globalThis.folds.pop(), ["Ａ b𝐂", { ...NO_STEPS, confusable: true, leet: true }], "fold's steps");
groupgate.fold("x");
eq(globalThis.folds.pop(), ["x", NO_STEPS], "fold without steps asks for the skeleton");
groupgate.fold("x", { traditional: true, repeat: 1 });
eq(globalThis.folds.pop(), ["x", { ...NO_STEPS, traditional: true }], "only `true` asks for a step");
assert.throws(
  () => groupgate.fold("x", { repeats: true }),
  (e) =>
    e instanceof TypeError &&
    e.message === "unknown folding step `repeats` (known: traditional, confusable, leet, repeat)",
);
checks++;
eq(globalThis.folds.length, 0, "an unknown step reaches no host");
eq(groupgate.pinyin("黑雲券"), "hei yun quan", "pinyin");
eq(groupgate.pinyin("zorblax"), undefined, "pinyin of no Han");

// A verdict's outcome is returned; its lists reach the host only when one
// has something, all three at once, and lists left out are empty.
eq(groupgate.answer({ outcome: "allow" }), "allow", "an allow's outcome");
eq(groupgate.answer({ outcome: "allow", reasons: [], measures: [], increments: [] }), "allow", "empty lists");
eq(globalThis.explained.length, 0, "an allow with nothing to say explains nothing");
const reason = { code: "blocked-term", message: "m", article: "Art. 10", evidence: undefined };
eq(groupgate.answer({ outcome: "deny", reasons: [reason] }), "deny", "a deny's outcome");
eq(globalThis.explained.pop(), [[reason], [], []], "a deny's reasons, with the lists left out empty");
const increment = { counter: "links", amount: 2 };
eq(groupgate.answer({ outcome: "allow", increments: [increment] }), "allow", "an allow that counts");
eq(globalThis.explained.pop(), [[], [], [increment]], "an allow's increments");

console.log(`groupgate.js: ${checks} checks on ${Object.keys(expected).length} fixtures passed`);
