// groupgate.js: read a groupgate request (contract groupgate:policy@0.2.0)
// in a JavaScript policy.
//
// Each hook receives its request as one `Uint8Array` in the request encoding
// (the `request` interface of wit/policy.wit; plugins/encoding is the Rust
// reference). Wrap it and read the fields you need:
//
//   import * as groupgate from "./groupgate.js";
//
//   export function evaluateMessage(bytes) {
//     const message = groupgate.message(bytes);
//     message.text();                   // a string
//     message.sender().creditLevel;     // a number
//     message.count("links", "1h");     // a BigInt, or undefined
//     return groupgate.answer({ outcome: "allow" });
//   }
//
// A hook returns `groupgate.answer(verdict)`, where a verdict is
// `{ outcome, reasons, measures, increments }` (the lists may be left out):
// the contract has a hook return only its outcome and hand the rest to the
// host first, which `answer` does, so an allow with nothing to say crosses
// back as one number.
//
// Nothing is decoded until it is asked for, and then only that field, in
// place: `message.sender()` is a view, and `sender.id` decodes one string.
// Each call reads the buffer again, so keep what you use twice in a local.
//
// The names are those the bindings gave the records before 0.2.0: a request's
// fields are methods in camelCase (`text()`, `senderRole()`, `sentAt()`,
// `memberLimit()`, `inviter()`), those of a user, group or attachment are
// getters (`sender.creditLevel`, `group.memberCount`, `attachment.name`).
// `u8` and `u32` are numbers, `u64` a BigInt (`sentAt()`, `requestedAt()`,
// `reportedAt()`, `attachment.size`, counts), enums their WIT names as
// strings (`"manager"`, `"invite"`, `"prohibited-content"`), an absent
// `option` `undefined`.
//
// A report's target is a view whose `kind` is "message", "user" or "group"
// and whose getter of that name gives the reported thing (the others give
// `undefined`): a user or group as in any request, a reported message with
// the methods of a `Message` but no counts (the report has those):
//
//   export function evaluateReport(bytes) {
//     const report = groupgate.report(bytes);
//     const target = report.target();
//     if (target.kind === "message" && report.category() === "prohibited-content") {
//       target.message.text();          // a string
//     }
//     return groupgate.answer({ outcome: "allow" });
//   }
//
// The policy's module exports every hook of the world, `evaluateReport` too,
// even one its manifest's `hooks` leave out (the host never calls it):
// componentize-js refuses a module that lacks one, and this module cannot
// export it in the policy's name. Such a hook returns an allow:
//
//   export function evaluateReport(_bytes) {
//     return groupgate.answer({ outcome: "allow" });
//   }
//
// Text folding comes from the host (the contract's `text` interface), so a
// policy matches disguised words as the standard policies do without Unicode
// tables of its own (the engine has none):
//
//   const { text, offsets } = groupgate.fold("Ｚ0RBL@X", { leet: true });
//   // text "zorbiax"; offsets[i] is the index in Array.from(original) of
//   // the character text's i-th character (Array.from(text)[i]) came from
//   groupgate.pinyin("黑雲券");        // "hei yun quan", or undefined
//
// componentize-js resolves a relative import of a module in the policy's
// folder: copy this file next to the policy (`groupgate build` does).

import { abort } from "groupgate:policy/abort@0.2.0";
import { fold as hostFold, pinyin as hostPinyin } from "groupgate:policy/text@0.2.0";
import { explain } from "groupgate:policy/verdict@0.2.0";

/** The encoding's version this module reads. */
export const VERSION = 1;

const SLOT = 8;
const ROLES = ["founder", "manager", "member"];
const TARGET_KINDS = ["message", "user", "group"];
const REPORT_CATEGORIES = ["prohibited-content", "spam", "harassment", "fraud", "other"];
const utf8 = new TextDecoder("utf-8", { fatal: true });

// Slots, as in plugins/encoding/src/lib.rs: a user's, group's, attachment's
// and count's fields from where it starts; a request's from the buffer's start.
const USER = {
  id: 0, identityVerified: 1, creditLevel: 2, region: 3, groupsCreated: 4, groupsJoined: 5, labels: 6, slots: 7,
};
const GROUP = { id: 0, name: 1, category: 2, region: 3, memberCount: 4, memberLimit: 5, founderId: 6, slots: 7 };
const ATTACHMENT = { name: 0, mediaType: 1, size: 2, sha256: 3, slots: 4 };
const COUNT = { counter: 0, window: 1, known: 2, value: 3, slots: 4 };
const COUNTS = 1;
const MESSAGE = { id: 2, group: 3, sender: 10, senderRole: 17, text: 18, attachments: 19, sentAt: 20, slots: 21 };
const CREATION = {
  id: 2, founder: 3, name: 10, description: 11, category: 12, region: 13, memberLimit: 14, requestedAt: 15, slots: 16,
};
const MEMBERSHIP = { id: 2, kind: 3, group: 4, subject: 11, inviter: 18, requestedAt: 19, slots: 20 };
// `target` is the case (0 message, 1 user, 2 group), `targetPayload` a list
// of one element, the reported record; a reported message's fields follow
// its `id` as a message's follow slot 2 (`MESSAGE.x - MESSAGE.id` after it).
const REPORT = {
  id: 2, reporter: 3, target: 10, targetPayload: 11, category: 12, text: 13, reportedAt: 14, slots: 15,
};

/** Stops the call with `why` as the policy's error (the host never returns). */
function fail(why) {
  abort(why);
  throw new Error(why);
}

function malformed() {
  fail("the request buffer is malformed: it points outside itself or holds invalid UTF-8 (a host bug)");
}

/** A request buffer: slots by number, and the strings and lists they point to. */
class Reader {
  constructor(bytes, hook) {
    const needed = hook.slots * SLOT;
    // Not `instanceof`: the bindings make the array in another realm.
    if (!ArrayBuffer.isView(bytes)) {
      throw new TypeError("a groupgate request is a Uint8Array, as the hook receives it");
    }
    if (bytes.length < SLOT) {
      fail(`the request is ${bytes.length} bytes, shorter than the ${needed} its slots take`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, false) !== 0x47475251 /* GGRQ */) {
      fail("the request does not begin with `GGRQ`");
    }
    const version = view.getUint16(4, true);
    if (version !== VERSION) {
      fail(`the request is in encoding version ${version}; this SDK reads ${VERSION}`);
    }
    const found = view.getUint16(6, true);
    if (found !== hook.code) {
      fail(`the request is of hook ${found} where hook ${hook.code} was expected`);
    }
    if (bytes.length < needed) {
      fail(`the request is ${bytes.length} bytes, shorter than the ${needed} its slots take`);
    }
    this.bytes = bytes;
    this.view = view;
  }

  /** The byte offset of `slot`, checked. */
  at(slot) {
    const at = slot * SLOT;
    if (at + SLOT > this.bytes.length) {
      malformed();
    }
    return at;
  }

  /** A `u64` slot as a BigInt. */
  u64(slot) {
    return this.view.getBigUint64(this.at(slot), true);
  }

  /** A `u8` or `u32` slot as a number (its low 32 bits, as Rust's `as u32`). */
  u32(slot) {
    return this.view.getUint32(this.at(slot), true);
  }

  /** A `bool` or enum slot: the index, or -1 beyond 2^32 (never written). */
  small(slot) {
    const at = this.at(slot);
    return this.view.getUint32(at + 4, true) === 0 ? this.view.getUint32(at, true) : -1;
  }

  string(slot) {
    const at = this.at(slot);
    const from = this.view.getUint32(at, true);
    const to = from + this.view.getUint32(at + 4, true);
    if (to > this.bytes.length) {
      malformed();
    }
    try {
      return utf8.decode(this.bytes.subarray(from, to));
    } catch {
      return malformed();
    }
  }

  /** A list: the slot of its first element, and how many there are. */
  list(slot) {
    const at = this.at(slot);
    const from = this.view.getUint32(at, true);
    if (from % SLOT !== 0) {
      malformed();
    }
    return [from / SLOT, this.view.getUint32(at + 4, true)];
  }
}

/** A user, read in place: its fields are getters. */
export class User {
  constructor(r, at) {
    this.r = r;
    this.at = at;
  }
  /** The platform's opaque user id. */
  get id() { return this.r.string(this.at + USER.id); }
  /** Whether the platform has verified the user's real identity (Art. 6). */
  get identityVerified() { return this.r.small(this.at + USER.identityVerified) !== 0; }
  /** The user's credit level, 0 the lowest (Art. 7): a number. */
  get creditLevel() { return this.r.u32(this.at + USER.creditLevel) & 0xff; }
  /** The region the user is registered in. */
  get region() { return this.r.string(this.at + USER.region); }
  /** Groups the user has founded (Art. 8): a number. */
  get groupsCreated() { return this.r.u32(this.at + USER.groupsCreated); }
  /** Groups the user is a member of (Art. 8): a number. */
  get groupsJoined() { return this.r.u32(this.at + USER.groupsJoined); }
  /** The labels the platform attaches: an array of strings. */
  get labels() {
    const [first, count] = this.r.list(this.at + USER.labels);
    const labels = [];
    for (let i = 0; i < count; i++) {
      labels.push(this.r.string(first + i));
    }
    return labels;
  }
  /** Whether the user carries `label`. */
  hasLabel(label) {
    const [first, count] = this.r.list(this.at + USER.labels);
    for (let i = 0; i < count; i++) {
      if (this.r.string(first + i) === label) {
        return true;
      }
    }
    return false;
  }
}

/** A group as it exists now, read in place: its fields are getters. */
export class Group {
  constructor(r, at) {
    this.r = r;
    this.at = at;
  }
  get id() { return this.r.string(this.at + GROUP.id); }
  get name() { return this.r.string(this.at + GROUP.name); }
  get category() { return this.r.string(this.at + GROUP.category); }
  get region() { return this.r.string(this.at + GROUP.region); }
  get memberCount() { return this.r.u32(this.at + GROUP.memberCount); }
  get memberLimit() { return this.r.u32(this.at + GROUP.memberLimit); }
  get founderId() { return this.r.string(this.at + GROUP.founderId); }
}

/** A file attached to a message, read in place: its fields are getters. */
export class Attachment {
  constructor(r, at) {
    this.r = r;
    this.at = at;
  }
  /** The file name as the sender gave it. */
  get name() { return this.r.string(this.at + ATTACHMENT.name); }
  /** Its media type, e.g. `image/png`. */
  get mediaType() { return this.r.string(this.at + ATTACHMENT.mediaType); }
  /** Its size in bytes: a BigInt. */
  get size() { return this.r.u64(this.at + ATTACHMENT.size); }
  /** The hex SHA-256 of its contents. */
  get sha256() { return this.r.string(this.at + ATTACHMENT.sha256); }
}

/** What the requests share: the counts read for the call. */
class Request {
  constructor(bytes, hook) {
    this.r = new Reader(bytes, hook);
  }

  /**
   * Every count the host read for the call, as the manifest declares them:
   * `[{ counter, window, value }]`, `value` a BigInt or `undefined`.
   */
  counts() {
    const [first, len] = this.r.list(COUNTS);
    const counts = [];
    for (let i = 0; i < len; i++) {
      const at = first + i * COUNT.slots;
      counts.push({
        counter: this.r.string(at + COUNT.counter),
        window: this.r.string(at + COUNT.window),
        value: this.r.small(at + COUNT.known) !== 0 ? this.r.u64(at + COUNT.value) : undefined,
      });
    }
    return counts;
  }

  /**
   * How many events counter `counter` (a `[counters.NAME]` table of the
   * manifest) holds for whom it counts in this request over `window` (as the
   * manifest writes it), before this request: a BigInt, or `undefined` when
   * it could not be read. A counter or window the manifest does not declare
   * stops the call with an error naming those it does.
   */
  count(counter, window) {
    const [first, len] = this.r.list(COUNTS);
    for (let i = 0; i < len; i++) {
      const at = first + i * COUNT.slots;
      if (this.r.string(at + COUNT.counter) === counter && this.r.string(at + COUNT.window) === window) {
        return this.r.small(at + COUNT.known) !== 0 ? this.r.u64(at + COUNT.value) : undefined;
      }
    }
    const declared = this.counts().map((c) => `${c.counter} over ${c.window}`);
    return fail(
      `counter \`${counter}\` over \`${window}\` is not declared under \`[counters]\` in the policy's manifest ` +
        `(declared: ${declared.length === 0 ? "none" : declared.join(", ")})`,
    );
  }

  /** The buffer. */
  bytes() {
    return this.r.bytes;
  }
}

/** A message someone wants to publish in a group. */
export class Message extends Request {
  constructor(bytes) {
    super(bytes, { code: 0, slots: MESSAGE.slots });
  }
  /** The platform's message id. */
  id() { return this.r.string(MESSAGE.id); }
  /** The group it is sent to. */
  group() { return new Group(this.r, MESSAGE.group); }
  /** The user who sends it. */
  sender() { return new User(this.r, MESSAGE.sender); }
  /** The sender's role in that group: "founder", "manager" or "member". */
  senderRole() { return ROLES[this.r.small(MESSAGE.senderRole)] ?? "member"; }
  /** The message text. */
  text() { return this.r.string(MESSAGE.text); }
  /** Files attached to it: an array of attachments. */
  attachments() {
    const [first, count] = this.r.list(MESSAGE.attachments);
    const attachments = [];
    for (let i = 0; i < count; i++) {
      attachments.push(new Attachment(this.r, first + i * ATTACHMENT.slots));
    }
    return attachments;
  }
  /** When it was sent, in unix milliseconds: a BigInt. */
  sentAt() { return this.r.u64(MESSAGE.sentAt); }
}

/** A request to create a group. */
export class GroupCreation extends Request {
  constructor(bytes) {
    super(bytes, { code: 1, slots: CREATION.slots });
  }
  /** The platform's request id. */
  id() { return this.r.string(CREATION.id); }
  /** The user who wants to found the group. */
  founder() { return new User(this.r, CREATION.founder); }
  /** The requested group name. */
  name() { return this.r.string(CREATION.name); }
  /** The requested group description. */
  description() { return this.r.string(CREATION.description); }
  /** The requested category. */
  category() { return this.r.string(CREATION.category); }
  /** The region the group would be served in. */
  region() { return this.r.string(CREATION.region); }
  /** The requested member limit: a number. */
  memberLimit() { return this.r.u32(CREATION.memberLimit); }
  /** When it was requested, in unix milliseconds: a BigInt. */
  requestedAt() { return this.r.u64(CREATION.requestedAt); }
}

/** A request for a user to join, or be invited into, a group. */
export class Membership extends Request {
  constructor(bytes) {
    super(bytes, { code: 2, slots: MEMBERSHIP.slots });
  }
  /** The platform's request id. */
  id() { return this.r.string(MEMBERSHIP.id); }
  /** "join" or "invite". */
  kind() { return this.r.small(MEMBERSHIP.kind) === 0 ? "join" : "invite"; }
  /** The group to be joined. */
  group() { return new Group(this.r, MEMBERSHIP.group); }
  /** The user who would become a member. */
  subject() { return new User(this.r, MEMBERSHIP.subject); }
  /** Who invites them, for an invite; `undefined` for a join. */
  inviter() {
    const [first, count] = this.r.list(MEMBERSHIP.inviter);
    return count > 0 ? new User(this.r, first) : undefined;
  }
  /** When it was requested, in unix milliseconds: a BigInt. */
  requestedAt() { return this.r.u64(MEMBERSHIP.requestedAt); }
}

/** The slot of a message's `field` (a key of `MESSAGE`), for a message whose `id` is in slot `at`. */
function reported(at, field) {
  return at + MESSAGE[field] - MESSAGE.id;
}

/** The slot a report's target, the reported record, starts at. */
function payload(r) {
  return r.list(REPORT.targetPayload)[0];
}

/**
 * A reported message, read in place: the methods of a `Message` (`text()`,
 * `sender()`, `attachments()`, ...), without counts.
 */
export class ReportedMessage {
  constructor(r, at) {
    this.r = r;
    this.at = at;
  }
  /** The platform's message id. */
  id() { return this.r.string(reported(this.at, "id")); }
  /** The group it was sent to. */
  group() { return new Group(this.r, reported(this.at, "group")); }
  /** The user who sent it. */
  sender() { return new User(this.r, reported(this.at, "sender")); }
  /** The sender's role in that group: "founder", "manager" or "member". */
  senderRole() { return ROLES[this.r.small(reported(this.at, "senderRole"))] ?? "member"; }
  /** The message text. */
  text() { return this.r.string(reported(this.at, "text")); }
  /** Files attached to it: an array of attachments. */
  attachments() {
    const [first, count] = this.r.list(reported(this.at, "attachments"));
    const attachments = [];
    for (let i = 0; i < count; i++) {
      attachments.push(new Attachment(this.r, first + i * ATTACHMENT.slots));
    }
    return attachments;
  }
  /** When it was sent, in unix milliseconds: a BigInt. */
  sentAt() { return this.r.u64(reported(this.at, "sentAt")); }
}

/**
 * What a report is about, read in place: `kind` says which, and the getter
 * of that name gives it; the other two give `undefined`.
 */
export class ReportTarget {
  constructor(r) {
    this.r = r;
  }
  /** "message", "user" or "group". */
  get kind() { return TARGET_KINDS[this.r.small(REPORT.target)] ?? "group"; }
  /** The reported message, a `ReportedMessage`, when `kind` is "message". */
  get message() { return this.kind === "message" ? new ReportedMessage(this.r, payload(this.r)) : undefined; }
  /** The reported user, a `User`, when `kind` is "user". */
  get user() { return this.kind === "user" ? new User(this.r, payload(this.r)) : undefined; }
  /** The reported group, a `Group`, when `kind` is "group". */
  get group() { return this.kind === "group" ? new Group(this.r, payload(this.r)) : undefined; }
  /** The id of the message, user or group reported. */
  get id() {
    // A message's, user's and group's ids all come first.
    return this.r.string(payload(this.r));
  }
}

/** A complaint from the public (Art. 12): someone reports a message, a user or a group. */
export class Report extends Request {
  constructor(bytes) {
    super(bytes, { code: 3, slots: REPORT.slots });
  }
  /** The platform's report id. */
  id() { return this.r.string(REPORT.id); }
  /** The user who reports. */
  reporter() { return new User(this.r, REPORT.reporter); }
  /** What is reported: a `ReportTarget`. */
  target() { return new ReportTarget(this.r); }
  /**
   * What the reporter says is wrong: "prohibited-content", "spam",
   * "harassment", "fraud" or "other".
   */
  category() { return REPORT_CATEGORIES[this.r.small(REPORT.category)] ?? "other"; }
  /** The reporter's own words. */
  text() { return this.r.string(REPORT.text); }
  /** When it was reported, in unix milliseconds: a BigInt. */
  reportedAt() { return this.r.u64(REPORT.reportedAt); }
}

/**
 * What a hook returns for `verdict`, `{ outcome, reasons, measures,
 * increments }` (`outcome` "allow", "review" or "deny"; each list may be left
 * out): its reasons, measures and increments go to the host through the
 * contract's `verdict.explain` when any has something, and its outcome is
 * returned.
 */
export function answer(verdict) {
  const { outcome, reasons = [], measures = [], increments = [] } = verdict;
  if (reasons.length > 0 || measures.length > 0 || increments.length > 0) {
    explain(reasons, measures, increments);
  }
  return outcome;
}

/** The message in `bytes`, what `evaluateMessage` receives. */
export function message(bytes) {
  return new Message(bytes);
}

/** The group creation in `bytes`, what `evaluateGroupCreation` receives. */
export function groupCreation(bytes) {
  return new GroupCreation(bytes);
}

/** The membership in `bytes`, what `evaluateMembership` receives. */
export function membership(bytes) {
  return new Membership(bytes);
}

/** The report in `bytes`, what `evaluateReport` receives. */
export function report(bytes) {
  return new Report(bytes);
}

const FOLD_STEPS = ["traditional", "confusable", "leet", "repeat"];

/**
 * `text` folded by the host as the standard `prohibited-content` policy
 * folds it: the skeleton (NFKC, lower case, the diacritics of Latin, Greek
 * and Cyrillic letters dropped, everything but letters and digits dropped),
 * then each step given as true: `traditional` (Traditional Han as
 * Simplified), `confusable` (look-alike letters of other scripts as Latin
 * ones), `leet` (`0` `1` `3` `4` `5` `7` `@` `$` as letters, and `l` as
 * `i`), `repeat` (a letter written several times as one). Fold what you
 * look for with the same steps as the text.
 *
 * Returns `{ text, offsets }`: `offsets` has one number per character of
 * `text` (as `Array.from(text)` counts them, not UTF-16 units), the index in
 * `Array.from(original)` of the character it comes from. At most 65,536
 * bytes of UTF-8 a call: a longer text stops the call as a failure.
 */
export function fold(text, steps = {}) {
  for (const step of Object.keys(steps)) {
    if (!FOLD_STEPS.includes(step)) {
      throw new TypeError(`unknown folding step \`${step}\` (known: ${FOLD_STEPS.join(", ")})`);
    }
  }
  const folded = hostFold(text, {
    traditional: steps.traditional === true,
    confusable: steps.confusable === true,
    leet: steps.leet === true,
    repeat: steps.repeat === true,
  });
  return { text: folded.text, offsets: folded.offsets };
}

/**
 * The toneless pinyin of `text`, syllables spaced, other letters and digits
 * kept (`"黑雲券"` → `"hei yun quan"`); `undefined` when it has no Han
 * character, or one without a reading.
 */
export function pinyin(text) {
  return hostPinyin(text);
}
