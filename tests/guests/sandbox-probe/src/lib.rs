//! Tries to reach outside its sandbox: files, directories, environment
//! variables, arguments, the network and the clock. It reports what it saw
//! in its verdict's evidence, one `probe=result` per line, and denies if
//! anything leaked, so the test can check each probe.
use std::io::Write;

use groupgate_sdk::{DataFile, Message, Policy, Reason, Verdict};

struct SandboxProbe;

impl Policy for SandboxProbe {
    fn init(_config: &str, _data: Vec<DataFile>) -> Result<Self, String> {
        Ok(SandboxProbe)
    }

    fn message(&self, _message: &Message) -> Verdict {
        let mut seen = Vec::new();
        let mut leaked = false;
        let mut probe = |name: &str, got: Result<String, String>| {
            leaked |= got.is_ok();
            seen.push(match got {
                Ok(v) => format!("{name}=LEAKED {v}"),
                Err(e) => format!("{name}=denied ({e})"),
            });
        };
        probe("file", std::fs::read_to_string("/etc/passwd").map(|s| s.len().to_string()).map_err(|e| e.to_string()));
        probe("dir", std::fs::read_dir(".").map(|d| d.count().to_string()).map_err(|e| e.to_string()));
        probe("env", std::env::var("PATH").map_err(|e| e.to_string()));
        let vars = std::env::vars().count();
        probe("env-count", if vars == 0 { Err("0 variables".into()) } else { Ok(vars.to_string()) });
        let args = std::env::args().count();
        probe("args", if args == 0 { Err("0 arguments".into()) } else { Ok(args.to_string()) });
        probe(
            "tcp",
            std::net::TcpStream::connect("127.0.0.1:80").map(|_| "connected".into()).map_err(|e| e.to_string()),
        );
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        probe("clock", if now.as_secs() == 0 { Err("frozen at 0".into()) } else { Ok(now.as_secs().to_string()) });
        // Output is allowed, but only reaches the host's log.
        let _ = writeln!(std::io::stdout(), "sandbox probe ran");
        let evidence = seen.join("\n");
        if leaked {
            Verdict::deny(Reason::new("sandbox-leak", "the sandbox let something through").evidence(evidence))
        } else {
            Verdict::allow().with_reason(
                Reason::new("sandbox-held", "nothing outside the request was reachable").evidence(evidence),
            )
        }
    }
}

groupgate_sdk::policy!(SandboxProbe);
