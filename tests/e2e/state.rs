//! Counters shared by replicas: `groupgate serve` processes counting in one
//! `redis-server` (started by the test on a free loopback port, data in a
//! temp folder) see one count; in memory each counts alone; Redis stopped
//! under load costs no request its answer, and counting resumes when it is
//! back, with the increments kept meanwhile; and the decisions of a stateful
//! run replay without any store.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use groupgate_tests::http::Client;
use groupgate_tests::redis::RedisServer;
use groupgate_tests::{copy_dir, default_set, serve, stop};
use serde_json::Value;

const GROUPGATE: &str = env!("CARGO_BIN_EXE_groupgate");

/// `policies/default` copied, recording every decision in full under `audit`.
fn default_set_with_audit(dir: &Path, audit: &Path) -> std::path::PathBuf {
    let set = dir.join("default");
    copy_dir(&default_set(), &set);
    let toml = std::fs::read_to_string(set.join("groupgate.toml")).unwrap();
    let toml = format!("{toml}\n[audit]\ndir = {:?}\nrecord_content = \"full\"\n", audit.display().to_string());
    std::fs::write(set.join("groupgate.toml"), toml).unwrap();
    set
}

/// The default set's everyday message, from `sender`, `n` ms into the minute.
fn message(sender: &str, n: u64) -> String {
    let text = std::fs::read_to_string(default_set().join("tests/message.json")).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m["id"] = format!("msg-{sender}-{n}").into();
    m["sender"]["id"] = sender.into();
    m["sent_at"] = (1_764_316_800_000_u64 + n).into();
    m.to_string()
}

/// Posts a message; its status and decision.
fn post(client: &mut Client, body: &str) -> (u16, Value) {
    let (status, text) = client.post("/v1/evaluate/message", body).unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn codes(decision: &Value) -> Vec<String> {
    decision["reasons"]
        .as_array()
        .map_or(Vec::new(), |r| r.iter().map(|r| r["code"].as_str().unwrap_or_default().to_owned()).collect())
}

/// Sends `sender`'s messages alternately to each server until one is
/// denied; how many were allowed before it, and the denial.
fn allowed_until_denied(servers: &[SocketAddr], sender: &str, most: u64) -> (u64, Value) {
    let mut clients: Vec<Client> = servers.iter().map(|&a| Client::connect(a).unwrap()).collect();
    for n in 0..most {
        let client = &mut clients[n as usize % servers.len()];
        let (status, decision) = post(client, &message(sender, n * 100));
        assert_eq!(status, 200, "{decision}");
        if decision["outcome"] != "allow" {
            return (n, decision);
        }
    }
    panic!("{most} messages from `{sender}` were all allowed");
}

#[test]
fn replicas_sharing_redis_see_one_count_and_replicas_in_memory_count_alone() {
    let redis = RedisServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let audit = tmp.path().join("audit");
    let set = default_set_with_audit(tmp.path(), &audit);
    let url = redis.url();
    let flags = ["--state", url.as_str(), "--no-cache"];
    let (a, a_addr) = serve(GROUPGATE, &set, &flags);
    // A second folder with the same set: the namespace, not the path, is shared.
    let other = tempfile::tempdir().unwrap();
    let set_b = default_set_with_audit(other.path(), &other.path().join("audit"));
    let (b, b_addr) = serve(GROUPGATE, &set_b, &flags);

    let (allowed, denial) = allowed_until_denied(&[a_addr, b_addr], "usr-shared", 100);
    assert_eq!(allowed, 20, "twenty messages across both replicas, then a flood");
    assert!(codes(&denial).contains(&"flood".to_owned()), "{denial}");
    assert_eq!(denial["outcome"], "deny");
    stop(a);
    stop(b);

    // Every decision recorded, the stateful ones included, replays unchanged
    // without a store: the records carry the counts read.
    let out = Command::new(GROUPGATE)
        .args(["replay", "--policies", set.to_str().unwrap(), audit.to_str().unwrap(), "--json", "--fail-on-change"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&report).unwrap();
    assert!(report["replayed"].as_u64().unwrap() >= 10, "{report}");
    assert_eq!(report["changes"], serde_json::json!([]), "{report}");

    // In memory, each replica counts alone: twice the traffic gets through.
    let (a, a_addr) = serve(GROUPGATE, &set, &["--state", "memory", "--no-cache"]);
    let (b, b_addr) = serve(GROUPGATE, &set_b, &["--no-cache"]);
    let (allowed, denial) = allowed_until_denied(&[a_addr, b_addr], "usr-shared", 100);
    assert_eq!(allowed, 40, "twenty on each replica");
    assert!(codes(&denial).contains(&"flood".to_owned()), "{denial}");
    stop(a);
    stop(b);
}

#[test]
fn redis_stopped_under_load_costs_no_answer_and_counting_resumes_when_it_is_back() {
    let mut redis = RedisServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("default");
    copy_dir(&default_set(), &set);
    let url = redis.url();
    let (server, addr) = serve(GROUPGATE, &set, &["--state", url.as_str(), "--no-cache"]);

    // Load: messages from a thousand senders, each sender's 100 s apart
    // (request time), so none is a flood, throughout.
    let running = Arc::new(AtomicBool::new(true));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (running, sent, failed) = (running.clone(), sent.clone(), failed.clone());
        std::thread::spawn(move || {
            let mut client = Client::connect(addr).unwrap();
            let mut n = 0_u64;
            while running.load(Ordering::Relaxed) {
                let (status, decision) = post(&mut client, &message(&format!("usr-load-{}", n % 1000), n * 100));
                sent.fetch_add(1, Ordering::Relaxed);
                if status != 200 || decision["outcome"].is_null() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
        })
    };
    let mut client = Client::connect(addr).unwrap();
    let wait_for_load = |at_least: u64| {
        let start = Instant::now();
        while sent.load(Ordering::Relaxed) < at_least {
            assert!(start.elapsed() < Duration::from_secs(60), "the load stalled at {}", sent.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for_load(50);

    redis.stop();
    let before = sent.load(Ordering::Relaxed);
    wait_for_load(before + 100);
    // Meanwhile a sender's messages pass, unread but counted for later.
    for n in 0..10 {
        let (status, decision) = post(&mut client, &message("usr-outage", n * 100));
        assert_eq!(status, 200);
        assert_eq!(decision["outcome"], "allow", "{decision}");
        assert!(codes(&decision).contains(&"counts-unavailable".to_owned()), "{decision}");
    }
    let (_, metrics) = client.get("/metrics").unwrap();
    let errors = metric(&metrics, "groupgate_state_errors_total");
    assert!(errors > 0.0, "{metrics}");
    assert!(metric(&metrics, "groupgate_state_increments_pending") >= 10.0, "{metrics}");

    redis.restart();
    // Reconnection is retried at most every 250 ms: wait until a read works.
    let start = Instant::now();
    loop {
        let (_, decision) = post(&mut client, &message("usr-probe", 0));
        if !codes(&decision).contains(&"counts-unavailable".to_owned()) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "counting never resumed: {decision}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = sent.load(Ordering::Relaxed);
    wait_for_load(before + 50);
    running.store(false, Ordering::Relaxed);
    load.join().unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "of {} requests", sent.load(Ordering::Relaxed));

    // The ten messages sent while Redis was down were counted once it came
    // back: ten more (the eleventh reads twenty) make a flood.
    let mut allowed = 0;
    loop {
        let (status, decision) = post(&mut client, &message("usr-outage", 1_000 + allowed * 100));
        assert_eq!(status, 200);
        if decision["outcome"] == "deny" {
            assert!(codes(&decision).contains(&"flood".to_owned()), "{decision}");
            break;
        }
        allowed += 1;
        assert!(allowed <= 20, "the increments kept during the outage were lost");
    }
    assert_eq!(allowed, 10, "the outage's ten messages and ten more");
    let (_, metrics) = client.get("/metrics").unwrap();
    assert_eq!(metric(&metrics, "groupgate_state_increments_pending"), 0.0, "{metrics}");
    assert_eq!(metric(&metrics, "groupgate_state_increments_dropped_total"), 0.0, "{metrics}");
    stop(server);
}

/// The value of an unlabelled metric.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no `{name}` in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A report of the default set's example group by `reporter`, `n` s into the day.
fn report(reporter: &str, n: u64) -> String {
    let text = std::fs::read_to_string(default_set().join("tests/report.json")).unwrap();
    let mut r: Value = serde_json::from_str(&text).unwrap();
    r["id"] = format!("rep-{reporter}-{n}").into();
    r["reporter"]["id"] = reporter.into();
    r["reported_at"] = (1_764_316_800_000_u64 + n * 1000).into();
    r.to_string()
}

#[test]
fn distinct_reporters_across_replicas_on_redis_send_a_group_to_review_and_their_decisions_replay() {
    let redis = RedisServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let url = redis.url();
    let flags = ["--state", url.as_str(), "--no-cache"];
    let audits = [tmp.path().join("a/audit"), tmp.path().join("b/audit")];
    let set_a = default_set_with_audit(&tmp.path().join("a"), &audits[0]);
    let set_b = default_set_with_audit(&tmp.path().join("b"), &audits[1]);
    let (a, a_addr) = serve(GROUPGATE, &set_a, &flags);
    let (b, b_addr) = serve(GROUPGATE, &set_b, &flags);
    let (mut to_a, mut to_b) = (Client::connect(a_addr).unwrap(), Client::connect(b_addr).unwrap());
    let send = |client: &mut Client, body: String| {
        let (status, text) = client.post("/v1/evaluate/report", &body).unwrap();
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()
    };

    // One reporter twice, on each replica: still one reporter.
    for (client, n) in [(&mut to_a, 1), (&mut to_b, 2)] {
        let decision = send(client, report("usr-r1", n));
        assert_eq!(decision["outcome"], "allow", "{decision}");
    }
    assert_eq!(send(&mut to_b, report("usr-r2", 3))["outcome"], "allow");
    // The third distinct reporter, on the other replica.
    let third = send(&mut to_a, report("usr-r3", 4));
    assert_eq!(third["outcome"], "review", "{third}");
    assert_eq!(codes(&third), ["reported-by-many"]);
    assert_eq!(third["measures"][0]["kind"], "report", "{third}");
    assert_eq!(third["measures"][0]["target"], serde_json::json!({ "group": "grp-7" }));

    // Moderators rejected six of one reporter's reports: the platform says
    // so on one replica, the other sees it.
    let (status, text) =
        to_b.post("/v1/counters/complaints/rejected", r#"{"id": "usr-r4", "amount": 6, "at": 1764316800000}"#).unwrap();
    assert_eq!(status, 200, "{text}");
    let unreliable = send(&mut to_a, report("usr-r4", 5));
    assert_eq!(
        (unreliable["outcome"].as_str(), codes(&unreliable)),
        (Some("allow"), vec!["reporter-unreliable".to_owned()])
    );
    assert_eq!(unreliable["measures"], serde_json::json!([]), "{unreliable}");
    // Only a counter declared `platform = true` takes the platform's events.
    let (status, text) = to_a.post("/v1/counters/flood-control/messages", r#"{"id": "usr-1", "at": 1}"#).unwrap();
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("platform = true"), "{text}");
    let (status, text) = to_a.post("/v1/counters/complaints/rejected", r#"{"id": "usr-1"}"#).unwrap();
    assert_eq!(status, 400, "{text}");
    let (_, metrics) = to_a.get("/metrics").unwrap();
    assert!(metrics.contains(r#"groupgate_evaluations_total{hook="report",outcome="review"} 1"#), "{metrics}");
    stop(a);
    stop(b);

    // Each replica's report decisions replay unchanged without a store: the
    // records carry the distinct counts read.
    let mut replayed = 0;
    for (set, audit) in [(&set_a, &audits[0]), (&set_b, &audits[1])] {
        let out = Command::new(GROUPGATE)
            .args([
                "replay",
                "--policies",
                set.to_str().unwrap(),
                audit.to_str().unwrap(),
                "--json",
                "--fail-on-change",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
        let report: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(report["changes"], serde_json::json!([]), "{report}");
        replayed += report["replayed"].as_u64().unwrap();
    }
    assert_eq!(replayed, 5, "every report decided was recorded and replayed");
}
