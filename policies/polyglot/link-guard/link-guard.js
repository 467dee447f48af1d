// link-guard: a groupgate policy written in JavaScript.
//
// Links in a message (Art. 7): a sender below `links_min_credit` may not post
// any. Link floods (Art. 7): a message with links from a sender who posted
// `max_links_per_hour` or more links in the hour before it is held for a
// moderator (`link-flood`). Link domains (Art. 10): a domain on the `blocked`
// list is denied and its sender warned, one on the `review` list is held for
// a moderator; a listed domain covers its subdomains. Attachments (Art. 10):
// a file whose name ends in an executable type is denied.
//
// A domain disguised with letters of other scripts that look like Latin ones
// (`zоrblax.example` with a Cyrillic `о`, `𝐳orblax.example`) is read as the
// Latin letters, folded by the host (the contract's `text` interface,
// through `groupgate.fold`), so a look-alike of a listed domain is listed.
//
// Links are counted in the policy's own counter `links`, of the sender, which
// its manifest declares with the window "1h":
//
//   [counters.links]
//   of = "sender"
//   windows = ["1h"]
//
// Every message with links adds its number of links (each link, a repeated
// one too) through the verdict's `increments`, whatever the decision. When
// the counter cannot be read (`on_state_error = "no_counts"`), `count`
// returns `undefined` and the link-flood check is skipped.
//
// Contract groupgate:policy@0.2.0: each hook receives the request as one
// buffer (a `Uint8Array` in the request encoding), which the SDK module
// `groupgate.js` (plugins/sdk/js) reads in place, a field when it is asked
// for: `message.text()`, `message.sender().creditLevel`,
// `message.count("links", "1h")`. A hook returns `groupgate.answer(verdict)`:
// the outcome, with the reasons, measures and increments handed to the host.
//
// Built into a component by `groupgate build` with componentize-js,
// with groupgate.js copied next to this file; see plugins/README.md,
// "Policies in JavaScript".

import * as groupgate from "./groupgate.js";
import { log } from "groupgate:policy/log@0.2.0";

// The policy's own counter of links, of the sender, and the window it reads,
// both written exactly as in the manifest: `count` stops the call, naming the
// counters the manifest declares, on any other.
const COUNTER = "links";
const WINDOW = "1h";

const DEFAULT_EXECUTABLE_TYPES = [
  "apk", "app", "bat", "cmd", "com", "cpl", "dll", "exe", "hta", "jar", "js",
  "jse", "lnk", "msi", "msp", "ps1", "scr", "sh", "vbe", "vbs", "wsf",
];

// What `init` accepted; every evaluation reads it.
let settings = null;

// A link is written with a scheme (`http://`, `https://`) or starts with
// `www.`; it runs to the next space, quote or angle bracket. Found with
// indexOf and a character loop rather than regular expressions: inside a
// component the engine has no JIT, and the same search written with five
// regular expressions made the whole call about a quarter slower.
const LINK_END = new Set([" ", "\t", "\n", "\r", "<", ">", '"', "'", "`", "/", "?", "#", "\\"]);

/**
 * The links in `text`: `hosts`, their hosts lower-cased, each once, and
 * `count`, how many links there are, a repeated one each time.
 */
function findLinks(text) {
  const lower = text.toLowerCase();
  const hosts = new Set();
  let count = 0;
  // The next `://` and `www.` at or after `at`, each searched for again only
  // once passed, so a text full of either costs one pass, not one per match.
  let scheme = lower.indexOf("://");
  let www = lower.indexOf("www.");
  for (let at = 0; ; ) {
    if (scheme >= 0 && scheme < at) {
      scheme = lower.indexOf("://", at);
    }
    if (www >= 0 && www < at) {
      www = lower.indexOf("www.", at);
    }
    let start;
    if (scheme >= 0 && (www < 0 || scheme < www)) {
      const name = lower.slice(Math.max(0, scheme - 5), scheme);
      at = scheme + 3;
      if (!(name.endsWith("http") || name.endsWith("https"))) {
        continue;
      }
      start = scheme + 3;
    } else if (www >= 0) {
      // `www.` only at the start of a word, as in "see www.example.com".
      at = www + 4;
      if (www > 0 && isWordChar(lower[www - 1])) {
        continue;
      }
      start = www;
    } else {
      return { hosts: [...hosts], count };
    }
    const [host, end] = hostAt(lower, start);
    at = Math.max(at, end);
    if (host !== "") {
      hosts.add(host);
      count++;
    }
  }
}

function isWordChar(c) {
  return (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c === "_";
}

/**
 * The host of the link whose authority (`user@host:port`) starts at `start`,
 * and where it ends. The host is the letters, digits, dots and hyphens after
 * the last `@`: whatever follows (a port, a closing bracket, a comma, `。`)
 * ends it, so `(https://blocked.example)` and `https://blocked.example，看`
 * name `blocked.example`. Full-width forms and the ideographic full stop read
 * as their ASCII, as browsers read them. A letter beyond ASCII is read by
 * `lookAlikeHost`.
 */
function hostAt(lower, start) {
  let end = start;
  while (end < lower.length && !LINK_END.has(lower[end])) {
    end++;
  }
  let from = lower.lastIndexOf("@", end - 1);
  from = from >= start ? from + 1 : start;
  let host = "";
  let i = from;
  for (; i < end; i++) {
    const c = asciiOf(lower.charCodeAt(i));
    if (!isHostChar(c)) {
      if (c >= "\u0080") {
        // Another script: the host call is paid only by such links.
        return lookAlikeHost(lower, from, end);
      }
      break;
    }
    host += c;
  }
  return [trimDots(host), i];
}

/**
 * `hostAt` for an authority (`from` to `end`) with characters beyond ASCII:
 * each letter that the host's fold (the skeleton, and letters of other
 * scripts that look like Latin ones as those) reads as ASCII letters or
 * digits is read so (Cyrillic `о` as `o`, `𝐳` as `z`, `é` as `e`), the
 * combining marks on a letter go with it, and the first other character
 * (a letter of another script, `看`) ends the host, so no list entry
 * matches a host really written in another script.
 */
function lookAlikeHost(lower, from, end) {
  // By characters, as the fold's offsets count them, not UTF-16 units.
  const chars = Array.from(lower.slice(from, end));
  const folded = groupgate.fold(chars.join(""), { confusable: true });
  // What each character folds to: "" for one the fold drops.
  const as = chars.map(() => "");
  Array.from(folded.text).forEach((c, i) => {
    as[folded.offsets[i]] += c;
  });
  let host = "";
  let at = from;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const ascii = asciiOf(c.codePointAt(0));
    if (isHostChar(ascii)) {
      host += ascii;
    } else if (ascii < "\u0080" || !(/^[a-z0-9]+$/.test(as[i]) || (as[i] === "" && isCombiningMark(c)))) {
      break;
    } else {
      host += as[i];
    }
    at += c.length;
  }
  return [trimDots(host), at];
}

/** A letter, digit, dot or hyphen of a host name (in ASCII). */
function isHostChar(c) {
  return (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c === "." || c === "-";
}

/** A combining diacritical mark (U+0300 to U+036F), part of the letter before it. */
function isCombiningMark(c) {
  return c >= "\u0300" && c <= "\u036f";
}

/** `host` without trailing dots (`example.com.` is `example.com`). */
function trimDots(host) {
  while (host.endsWith(".")) {
    host = host.slice(0, -1);
  }
  return host;
}

/** The character of code `code`, full-width ASCII and full stops as ASCII. */
function asciiOf(code) {
  if (code === 0x3002 || code === 0xff0e || code === 0xff61) {
    return ".";
  }
  if (code >= 0xff01 && code <= 0xff5e) {
    return String.fromCharCode(code - 0xfee0).toLowerCase();
  }
  return String.fromCodePoint(code);
}

/**
 * Reads the `[config]` table (as JSON) and the `[data]` lists. Throwing a
 * string refuses them, which is how a JavaScript export returns the `err` of
 * a WIT `result`.
 */
export function init(configJson, data) {
  const config = JSON.parse(configJson);
  const known = ["links_min_credit", "max_links_per_hour", "blocked", "review", "executable_types"];
  for (const key of Object.keys(config)) {
    if (!known.includes(key)) {
      throw `unknown config key \`${key}\` (known: ${known.join(", ")})`;
    }
  }
  const minCredit = config.links_min_credit ?? 0;
  if (!Number.isInteger(minCredit) || minCredit < 0 || minCredit > 255) {
    throw `config \`links_min_credit\` must be a whole number from 0 to 255, not ${JSON.stringify(minCredit)}`;
  }
  const maxLinks = config.max_links_per_hour ?? 20;
  if (!Number.isSafeInteger(maxLinks) || maxLinks < 1) {
    throw `config \`max_links_per_hour\` must be a whole number of at least 1, not ${JSON.stringify(maxLinks)}`;
  }
  const types = config.executable_types ?? DEFAULT_EXECUTABLE_TYPES;
  if (!Array.isArray(types) || !types.every((t) => typeof t === "string" && /^[a-z0-9]+$/i.test(t))) {
    throw "config `executable_types` must be a list of file extensions without the dot, e.g. [\"exe\", \"bat\"]";
  }
  const files = new Map(data.map((file) => [file.name, file.contents]));
  settings = {
    minCredit,
    // A BigInt, as `count` returns the counter (a WIT u64) as one.
    maxLinks: BigInt(maxLinks),
    blocked: domainList(config.blocked, "blocked", files),
    review: domainList(config.review, "review", files),
    executable: new Set(types.map((t) => t.toLowerCase())),
  };
  log("info", "link-guard ready", [
    ["links_min_credit", String(minCredit)],
    ["max_links_per_hour", String(maxLinks)],
    ["blocked_domains", String(settings.blocked.size)],
    ["review_domains", String(settings.review.size)],
  ]);
}

/** The domains of the `[data]` file that config key `key` names, if any. */
function domainList(name, key, files) {
  const domains = new Set();
  if (name === undefined) {
    return domains;
  }
  if (typeof name !== "string") {
    throw `config \`${key}\` must name a [data] file`;
  }
  const contents = files.get(name);
  if (contents === undefined) {
    throw `config \`${key}\` names \`${name}\`, which is not under [data]`;
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(contents);
  text.split("\n").forEach((raw, index) => {
    const line = raw.replace(/#.*/, "").trim().toLowerCase().replace(/\.+$/, "");
    if (line === "") {
      return;
    }
    // No `\p{...}` classes: the engine is built without Unicode property data.
    if (!/^[^\s./:@#?]+(\.[^\s./:@#?]+)+$/u.test(line)) {
      throw `data \`${name}\` line ${index + 1}: \`${raw.trim()}\` is not a domain name`;
    }
    domains.add(line);
  });
  return domains;
}

/** The entry of `list` that `host` is, or lies below; `undefined` if none. */
function listed(list, host) {
  for (let domain = host; ; ) {
    if (list.has(domain)) {
      return domain;
    }
    const dot = domain.indexOf(".");
    if (dot < 0) {
      return undefined;
    }
    domain = domain.slice(dot + 1);
  }
}

const RANK = { allow: 0, review: 1, deny: 2 };

// `bytes` is the request; `message` reads it in place, and its methods
// (`text()`, `sender()`, `attachments()`, `count()`, ...) each decode one
// field when called. Each is called once, and only when needed.
export function evaluateMessage(bytes) {
  const message = groupgate.message(bytes);
  let outcome = "allow";
  const reasons = [];
  const measures = [];
  const decide = (verdict, reason) => {
    if (RANK[verdict] > RANK[outcome]) {
      outcome = verdict;
    }
    reasons.push(reason);
  };

  const { hosts, count: links } = findLinks(message.text());
  // The sender is read only when a rule needs them: a message with links.
  const sender = links > 0 ? message.sender() : undefined;
  if (links > 0 && sender.creditLevel < settings.minCredit) {
    decide("deny", {
      code: "links-need-credit",
      message: `posting links needs credit level ${settings.minCredit}; the sender has ${sender.creditLevel}`,
      article: "Art. 7",
      evidence: hosts[0],
    });
  }
  let warned = false;
  for (const host of hosts) {
    const blocked = listed(settings.blocked, host);
    if (blocked !== undefined) {
      decide("deny", {
        code: "blocked-link",
        message: "the message links to a blocked domain",
        article: "Art. 10",
        evidence: blocked,
      });
      if (!warned) {
        measures.push({ kind: "warn", target: { tag: "user", val: sender.id } });
        warned = true;
      }
      continue;
    }
    const doubtful = listed(settings.review, host);
    if (doubtful !== undefined) {
      decide("review", {
        code: "review-link",
        message: "the message links to a domain a moderator must check",
        article: "Art. 10",
        evidence: doubtful,
      });
    }
  }
  for (const attachment of message.attachments()) {
    // `photo.jpg.exe` and Windows' ignored trailing dots and spaces included.
    const fileName = attachment.name;
    const name = fileName.replace(/[. ]+$/, "");
    const dot = name.lastIndexOf(".");
    const type = dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
    if (settings.executable.has(type)) {
      decide("deny", {
        code: "executable-attachment",
        message: `files of type .${type} may not be sent in groups`,
        article: "Art. 10",
        evidence: fileName,
      });
    }
  }
  // Link floods, last: the reasons about the message's own content come first.
  if (links > 0) {
    // The links the sender posted in the hour before this message: a BigInt,
    // or `undefined` when the counter could not be read (then no check).
    const earlier = message.count(COUNTER, WINDOW);
    if (earlier === undefined) {
      // Said, so a moderator knows the check was skipped.
      decide("allow", {
        code: "counts-unavailable",
        message: "link-guard could not read the sender's link counter, so the message was not checked for a link flood",
        article: "Art. 7",
      });
    } else if (earlier >= settings.maxLinks) {
      decide("review", {
        code: "link-flood",
        message: `the sender posted ${earlier} links in the last hour; from ${settings.maxLinks} on, a moderator checks their links`,
        article: "Art. 7",
        evidence: `${earlier} links in ${WINDOW}`,
      });
    }
  }
  if (outcome !== "allow") {
    log("debug", "link-guard decided", [
      ["message", message.id()],
      ["outcome", outcome],
      ["reasons", reasons.map((r) => r.code).join(",")],
    ]);
  }
  // This message's links count, whatever the decision; a u32 is a Number
  // (a BigInt here would throw). No increment when there are none.
  const increments = links > 0 ? [{ counter: COUNTER, amount: links }] : [];
  return groupgate.answer({ outcome, reasons, measures, increments });
}

// The manifest attaches this policy to messages only; these answer anyway,
// since the contract asks every policy for every hook.
export function evaluateGroupCreation(_creation) {
  return groupgate.answer({ outcome: "allow" });
}

export function evaluateMembership(_membership) {
  return groupgate.answer({ outcome: "allow" });
}

export function evaluateReport(_report) {
  return groupgate.answer({ outcome: "allow" });
}
