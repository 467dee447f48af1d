//! A fleet on one signed set: `groupgate sign` and `push` to a real OCI
//! registry (Debian's `docker-registry`, started here on a free loopback
//! port, its storage in a temporary folder), replicas serving the tag with
//! `--trusted-keys` and `--poll`, a new version picked up by both under
//! load, sets unsigned, signed by an untrusted key or changed after signing
//! refused while the previous one serves, a replica restarted with the
//! registry down serving its last verified set, and a signed folder whose
//! hot reloads are checked. Keys are made with `ssh-keygen`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use groupgate_tests::http::Client;
use groupgate_tests::registry::Registry;
use groupgate_tests::{copy_dir, default_set, serve, serve_policies, stop};
use serde_json::Value;

const GROUPGATE: &str = env!("CARGO_BIN_EXE_groupgate");
/// How often the replicas ask the registry for the tag.
const POLL: Duration = Duration::from_millis(300);
/// A word the second version of the set prohibits, and the first allows.
const NEW_WORD: &str = "glorbnatch";

/// Runs `groupgate ARGS`: its exit code, standard output and error.
fn groupgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(GROUPGATE).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `groupgate ARGS` and requires success: its standard output.
fn ok(args: &[&str]) -> String {
    let (code, out, err) = groupgate(args);
    assert_eq!(code, 0, "groupgate {args:?}:\n{out}\n{err}");
    out
}

/// An Ed25519 key pair made by `ssh-keygen` in `dir`: the private key's path
/// and the public key's line.
fn keypair(dir: &Path, name: &str) -> (String, String) {
    let key = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key.to_str().unwrap().to_owned(), public.trim().to_owned())
}

/// The default set copied to `dir/name`, prohibiting `NEW_WORD` when `v2`.
fn set(dir: &Path, name: &str, v2: bool) -> PathBuf {
    let set = dir.join(name);
    copy_dir(&default_set(), &set);
    if v2 {
        let words = set.join("prohibited-content/words.txt");
        let text = std::fs::read_to_string(&words).unwrap();
        std::fs::write(&words, format!("{text}{NEW_WORD}\n")).unwrap();
    }
    set
}

/// The default set's everyday message, with `word` added to its text.
fn message(word: &str, n: u64) -> String {
    let text = std::fs::read_to_string(default_set().join("tests/message.json")).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m["id"] = format!("msg-fleet-{n}").into();
    m["sender"]["id"] = format!("usr-fleet-{}", n % 50).into();
    m["text"] = format!("See you at the gate {word}").into();
    m.to_string()
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = Client::connect(addr).unwrap().get(path).unwrap();
    assert!(status == 200 || status == 503, "{path}: {status} {body}");
    serde_json::from_str(&body).unwrap()
}

/// The outcome and reason codes a replica gives the message with `word`.
fn decide(addr: SocketAddr, word: &str) -> (String, Vec<String>) {
    let (status, body) = Client::connect(addr).unwrap().post("/v1/evaluate/message", &message(word, 0)).unwrap();
    assert_eq!(status, 200, "{body}");
    let d: Value = serde_json::from_str(&body).unwrap();
    let codes = d["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_owned()).collect();
    (d["outcome"].as_str().unwrap().to_owned(), codes)
}

/// The digest of the set a replica serves.
fn serving(addr: SocketAddr) -> String {
    get(addr, "/v1/policies")["active"]["digest"].as_str().unwrap_or_default().to_owned()
}

/// The set digest `groupgate sign` printed.
fn digest_in(sign_output: &str) -> String {
    sign_output.split_whitespace().find(|w| w.starts_with("sha256:")).unwrap().trim_end_matches(',').to_owned()
}

/// Waits (at most `within`) until `done` holds, polling every 20 ms; how
/// long it took.
fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

/// Waits until a replica's last reload failed with an error containing
/// `cause`, after the reload at `after` (RFC 3339 timestamp or empty).
fn refused(addr: SocketAddr, after: &str, cause: &str) -> Value {
    let mut last = Value::Null;
    wait_until(Duration::from_secs(60), &format!("a reload refused for `{cause}`"), || {
        last = get(addr, "/v1/policies")["last_reload"].clone();
        last["at"].as_str().unwrap_or_default() > after && last["ok"] == false
    });
    let error = last["error"].as_str().unwrap_or_default();
    assert!(error.contains(cause), "the refusal names `{cause}`: {error}");
    last
}

fn last_reload_at(addr: SocketAddr) -> String {
    get(addr, "/v1/policies")["last_reload"]["at"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn replicas_serve_one_signed_tag_pick_up_new_versions_and_refuse_what_no_trusted_key_signed() {
    let mut registry = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, public) = keypair(dir, "ci");
    let (intruder, _) = keypair(dir, "intruder");
    let trusted = dir.join("allowed_signers");
    std::fs::write(&trusted, format!("ci@example.com namespaces=\"groupgate\" {public}\n")).unwrap();
    let trusted = trusted.to_str().unwrap();
    let tag = registry.oci("sets/default:live");

    // Version 1, signed and pushed.
    let v1 = set(dir, "v1", false);
    let v1_digest = digest_in(&ok(&["sign", "--key", &key, v1.to_str().unwrap()]));
    ok(&["push", v1.to_str().unwrap(), &tag]);
    let verified = ok(&["verify", "--trusted-keys", trusted, &tag]);
    assert!(verified.contains(&v1_digest) && verified.contains("ci@example.com"), "{verified}");
    // Pulled into a folder: the same set, which verifies as a folder.
    let pulled = dir.join("pulled");
    ok(&["pull", &tag, pulled.to_str().unwrap(), "--trusted-keys", trusted]);
    let words = "prohibited-content/words.txt";
    assert_eq!(std::fs::read(pulled.join(words)).unwrap(), std::fs::read(v1.join(words)).unwrap());
    assert!(ok(&["verify", "--trusted-keys", trusted, pulled.to_str().unwrap()]).contains(&v1_digest));
    // Not trusted by another file: nothing written.
    let others = dir.join("others");
    std::fs::write(&others, format!("ops@example.com {}\n", keypair(dir, "ops").1)).unwrap();
    let elsewhere = dir.join("untrusted-pull");
    let (code, _, err) =
        groupgate(&["pull", &tag, elsewhere.to_str().unwrap(), "--trusted-keys", others.to_str().unwrap()]);
    assert!(code == 2 && err.contains("no line trusts") && !elsewhere.exists(), "{err}");

    // Two replicas on the tag, each with its own state folder.
    let poll = format!("{}ms", POLL.as_millis());
    let data = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let (data_a, data_b) = (data("state-a"), data("state-b"));
    let flags = |state: &str| -> Vec<String> {
        ["--trusted-keys", trusted, "--poll", &poll, "--data-dir", state].iter().map(|s| s.to_string()).collect()
    };
    let start = |state: &str| {
        let flags = flags(state);
        serve_policies(GROUPGATE, &tag, &flags.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (a, a_addr) = start(&data_a);
    let (b, b_addr) = start(&data_b);
    let policies = get(a_addr, "/v1/policies");
    assert_eq!(policies["active"]["source"], tag.as_str());
    assert_eq!(policies["active"]["digest"], v1_digest.as_str());
    assert!(
        policies["active"]["signer"].as_str().unwrap().starts_with("ci@example.com (ssh-ed25519 SHA256:"),
        "{policies}"
    );
    assert!(policies["active"]["manifest_digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(decide(a_addr, NEW_WORD), decide(b_addr, NEW_WORD), "two replicas, one set, one decision");
    assert_eq!(decide(a_addr, NEW_WORD).0, "allow", "version 1 does not know the word");

    // Version 2 pushed to the tag while both replicas answer a steady load.
    let v2 = set(dir, "v2", true);
    let v2_digest = digest_in(&ok(&["sign", "--key", &key, v2.to_str().unwrap()]));
    let running = Arc::new(AtomicBool::new(true));
    let (answered, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load: Vec<_> = [a_addr, b_addr]
        .into_iter()
        .map(|addr| {
            let (running, answered, failed) = (running.clone(), answered.clone(), failed.clone());
            std::thread::spawn(move || {
                let mut client = Client::connect(addr).unwrap();
                let mut n = 0;
                while running.load(Ordering::Relaxed) {
                    n += 1;
                    match client.post("/v1/evaluate/message", &message("", n)) {
                        Ok((200, _)) => answered.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    ok(&["push", v2.to_str().unwrap(), &tag]);
    // The tag moves when the push's last request, the manifest, is stored.
    let pushed = Instant::now();
    for addr in [a_addr, b_addr] {
        wait_until(Duration::from_secs(120), "version 2 served", || serving(addr) == v2_digest);
    }
    let took = pushed.elapsed();
    running.store(false, Ordering::Relaxed);
    load.into_iter().for_each(|t| t.join().unwrap());
    // Within one poll period plus the slower replica's reload (its pull,
    // check, load and test run), and the round trips of this check.
    let reload_ms = [a_addr, b_addr]
        .iter()
        .map(|&addr| get(addr, "/v1/policies")["last_reload"]["duration_ms"].as_u64().unwrap())
        .max()
        .unwrap();
    let bound = POLL + Duration::from_millis(reload_ms) + Duration::from_millis(1500);
    assert!(took <= bound, "version 2 took {took:?} to be served by both, more than {bound:?}");
    eprintln!(
        "version 2 served by both {took:?} after the push (poll {POLL:?}, reload {reload_ms} ms); {} requests answered meanwhile",
        answered.load(Ordering::Relaxed)
    );
    assert!(answered.load(Ordering::Relaxed) > 0);
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed while the replicas reloaded");
    assert_eq!(decide(a_addr, NEW_WORD), decide(b_addr, NEW_WORD));
    assert_eq!(decide(a_addr, NEW_WORD).0, "deny", "version 2 prohibits the word");
    let generation = get(a_addr, "/v1/policies")["active"]["generation"].clone();

    // Refused, each with its cause, while version 2 keeps answering.
    let unsigned = set(dir, "unsigned", true);
    let (code, _, err) = groupgate(&["push", unsigned.to_str().unwrap(), &tag]);
    assert!(code == 2 && err.contains("not signed"), "push refuses an unsigned set unless --as-is: {err}");
    let mut after = [last_reload_at(a_addr), last_reload_at(b_addr)];
    let by_intruder = set(dir, "by-intruder", true);
    ok(&["sign", "--key", &intruder, by_intruder.to_str().unwrap()]);
    let tampered = set(dir, "tampered", true);
    ok(&["sign", "--key", &key, tampered.to_str().unwrap()]);
    std::fs::write(tampered.join("prohibited-content/words.txt"), "nothing\n").unwrap();
    let cases = [
        ("unsigned", &unsigned, "the set is not signed"),
        ("signed by an untrusted key", &by_intruder, "which no line trusts"),
        (
            "a data file changed after signing",
            &tampered,
            "`prohibited-content/words.txt` changed since the set was signed",
        ),
    ];
    for (what, s, cause) in cases {
        ok(&["push", "--as-is", s.to_str().unwrap(), &tag]);
        let (code, _, err) = groupgate(&["verify", "--trusted-keys", trusted, &tag]);
        assert!(code == 1 && err.contains(cause), "verify names the cause of `{what}`: {err}");
        for (i, addr) in [a_addr, b_addr].into_iter().enumerate() {
            let report = refused(addr, &after[i], cause);
            after[i] = report["at"].as_str().unwrap().to_owned();
            assert_eq!(serving(addr), v2_digest, "{what}: version 2 keeps serving");
            assert_eq!(decide(addr, NEW_WORD).0, "deny", "{what}: version 2 keeps answering");
        }
    }
    assert_eq!(get(a_addr, "/v1/policies")["active"]["generation"], generation, "nothing refused was activated");

    // Version 2 back at the tag; then a replica restarted while the
    // registry is down serves the last set it verified, and says so.
    ok(&["push", v2.to_str().unwrap(), &tag]);
    wait_until(Duration::from_secs(60), "version 2 reloaded", || {
        get(a_addr, "/v1/policies")["last_reload"]["ok"] == true
    });
    stop(a);
    registry.stop();
    // A replica already serving keeps its set while the registry is away.
    std::thread::sleep(POLL * 2);
    assert_eq!(serving(b_addr), v2_digest);
    assert!(get(b_addr, "/readyz").get("last_known_good").is_none());
    let (a, a_addr) = start(&data_a);
    let ready = get(a_addr, "/readyz");
    let why = ready["last_known_good"].as_str().unwrap_or_default();
    assert!(why.contains("serving the last verified set"), "{ready}");
    assert_eq!(serving(a_addr), v2_digest);
    assert_eq!(decide(a_addr, NEW_WORD).0, "deny");
    assert!(get(a_addr, "/v1/policies")["active"]["last_known_good"].is_string());
    // The registry back: the replica takes the tag from it again.
    registry.restart();
    wait_until(Duration::from_secs(60), "the registry picked up again", || {
        get(a_addr, "/readyz").get("last_known_good").is_none()
    });
    assert_eq!(serving(a_addr), v2_digest);
    stop(a);
    stop(b);
}

#[test]
fn a_signed_folder_refuses_a_hot_reload_of_an_unsigned_or_tampered_set() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, public) = keypair(dir, "ci");
    let trusted = dir.join("allowed_signers");
    std::fs::write(&trusted, format!("ci@example.com {public}\n")).unwrap();
    let trusted = trusted.to_str().unwrap();
    let folder = set(dir, "live", false);
    let folder_arg = folder.to_str().unwrap();
    let digest = digest_in(&ok(&["sign", "--key", &key, folder_arg]));
    let (server, addr) = serve(GROUPGATE, &folder, &["--trusted-keys", trusted, "--no-cache"]);
    assert_eq!(serving(addr), digest);

    // A data file changed in place: refused, naming the file.
    let at = last_reload_at(addr);
    let words = folder.join("prohibited-content/words.txt");
    let text = std::fs::read_to_string(&words).unwrap();
    std::fs::write(&words, format!("{text}{NEW_WORD}\n")).unwrap();
    let report = refused(addr, &at, "`prohibited-content/words.txt` changed since the set was signed");
    assert_eq!(serving(addr), digest, "the signed set keeps serving");
    assert_eq!(decide(addr, NEW_WORD).0, "allow");
    let (code, _, err) = groupgate(&["verify", "--trusted-keys", trusted, folder_arg]);
    assert!(code == 1 && err.contains("prohibited-content/words.txt"), "{err}");

    // The signature removed: refused as unsigned.
    std::fs::remove_file(folder.join("groupgate.sum.sig")).unwrap();
    refused(addr, report["at"].as_str().unwrap(), "the set is not signed");
    assert_eq!(serving(addr), digest);

    // Signed again, with ssh-keygen this time: served.
    ok(&["sign", "--sums-only", folder_arg]);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "groupgate", "-f", &key])
        .arg(folder.join("groupgate.sum"))
        .status()
        .unwrap();
    assert!(status.success());
    wait_until(Duration::from_secs(60), "the set signed anew served", || serving(addr) != digest);
    assert_eq!(decide(addr, NEW_WORD).0, "deny");
    stop(server);
}
