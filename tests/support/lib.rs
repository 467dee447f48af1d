//! Shared support for groupgate's integration tests: the test guests built
//! from `guests/`, throwaway policy sets, and sample requests.

use std::path::{Path, PathBuf};

use groupgate::{Group, GroupCreation, LoadError, Membership, MembershipKind, Message, PolicySet, Role, Runtime, User};

pub mod redis;
pub mod registry;

/// Paths of the test guest components, built by this crate's build script.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

/// The runtime every test of a test binary shares, with the standard
/// plugins registered: each component compiles once per binary, not once
/// per test. (The library keeps no runtime of its own.)
pub fn runtime() -> &'static Runtime {
    static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| groupgate_builtins::register(&mut Runtime::builder()).build().expect("a runtime"))
}

/// Loads the policy set in the folder `dir` on [`runtime`], with counters
/// of its own in memory: tests share the runtime, not the counts.
pub fn load(dir: impl AsRef<Path>) -> Result<PolicySet, LoadError> {
    let store: std::sync::Arc<dyn groupgate::state::StateStore> = std::sync::Arc::new(groupgate::state::Memory::new());
    PolicySet::load_dir(runtime(), dir).map(|set| set.with_state(store))
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Copies the folder `from` to `to`, recursively (`to` is created).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The shipped default policy set.
pub fn default_set() -> PathBuf {
    repo_root().join("policies/default")
}

/// A policy set in a temporary folder, assembled policy by policy.
pub struct TempSet {
    dir: tempfile::TempDir,
}

impl TempSet {
    /// An empty set with the given `groupgate.toml`.
    pub fn new(set_toml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(dir.path().join("groupgate.toml"), set_toml).unwrap();
        TempSet { dir }
    }

    /// Adds folder `folder` with a `policy.toml` and extra files (name, contents).
    pub fn policy(self, folder: &str, policy_toml: &str, files: &[(&str, &[u8])]) -> Self {
        let dir = self.dir.path().join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("policy.toml"), policy_toml).unwrap();
        for (name, contents) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        self
    }

    /// Adds a file at `path` inside the set, creating its folders.
    pub fn file(self, path: &str, contents: &str) -> Self {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Adds a policy running the component at `wasm` (copied in as `policy.wasm`),
    /// answering `hooks` (TOML array body), with `extra` manifest lines.
    pub fn guest(self, name: &str, wasm: &str, extra: &str) -> Self {
        let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("test guest `{wasm}`: {e}"));
        let toml = format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\nmodule = \"policy.wasm\"\nhooks = [\"message\", \"group-creation\", \"membership\"]\n{extra}\n"
        );
        self.policy(name, &toml, &[("policy.wasm", &bytes)])
    }

    /// Adds the standard `prohibited-content` plugin with `words` as its list.
    pub fn prohibited_content(self, folder: &str, words: &str, extra: &str) -> Self {
        let toml = format!(
            "name = \"{folder}\"\nversion = \"1.0.0\"\nmodule = \"builtin:prohibited-content\"\nhooks = [\"message\", \"group-creation\"]\n{extra}\n[data]\nwords = \"words.txt\"\n"
        );
        self.policy(folder, &toml, &[("words.txt", words.as_bytes())])
    }

    /// The set's folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The top of a case file whose cases ask about a message like [`message`]:
/// `hook` and a `[request]` that each case changes with `request = {...}`.
pub const MESSAGE_CASES: &str = r#"hook = "message"
[request]
id = "msg-1"
sender_role = "member"
text = "hello"
sent_at = 1764316800000
group = { id = "grp-1", name = "Riverside cycling club", category = "community", region = "CN-11", member_count = 10, member_limit = 500, founder_id = "usr-1" }
sender = { id = "usr-42", identity_verified = true, credit_level = 3, region = "CN-11", groups_created = 1, groups_joined = 5 }
"#;

/// A verified user with ordinary standing.
pub fn user(id: &str) -> User {
    User {
        id: id.into(),
        identity_verified: true,
        credit_level: 3,
        region: "CN-11".into(),
        groups_created: 1,
        groups_joined: 5,
        labels: Vec::new(),
    }
}

/// A community group in `region`.
pub fn group(region: &str) -> Group {
    Group {
        id: "grp-1".into(),
        name: "Riverside cycling club".into(),
        category: "community".into(),
        region: region.into(),
        member_count: 10,
        member_limit: 500,
        founder_id: "usr-1".into(),
    }
}

/// A message with `text` in a group in `CN-11`.
pub fn message(text: &str) -> Message {
    Message {
        id: "msg-1".into(),
        group: group("CN-11"),
        sender: user("usr-42"),
        sender_role: Role::Member,
        text: text.into(),
        attachments: Vec::new(),
        sent_at: 1_764_316_800_000,
    }
}

/// A request to create a group named `name`.
pub fn creation(name: &str) -> GroupCreation {
    GroupCreation {
        id: "req-1".into(),
        founder: user("usr-42"),
        name: name.into(),
        description: "weekend rides".into(),
        category: "community".into(),
        region: "CN-11".into(),
        member_limit: 100,
        requested_at: 1_764_316_800_000,
    }
}

/// A request for `usr-77` to join a group in `CN-11`.
pub fn membership() -> Membership {
    Membership {
        id: "req-2".into(),
        kind: MembershipKind::Join,
        group: group("CN-11"),
        subject: user("usr-77"),
        inviter: None,
        requested_at: 1_764_316_800_000,
    }
}

/// `groupgate serve` as a process, from the binary `bin`, on a free loopback
/// port, with `flags` added: the process, once it answers `/readyz` with
/// 200, and the address it listens on (read from its log).
pub fn serve(bin: &str, set: &Path, flags: &[&str]) -> (std::process::Child, std::net::SocketAddr) {
    serve_policies(bin, set.to_str().unwrap(), flags)
}

/// [`serve`] with `--policies` as given: a folder, or `oci://…`.
pub fn serve_policies(bin: &str, policies: &str, flags: &[&str]) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .args(["serve", "--policies", policies, "--listen", "127.0.0.1:0"])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server logs where it listens").unwrap();
        if let Some(at) = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")) {
            break at.parse().unwrap();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    // It answers at once, and is ready when its first load is done.
    let mut client = http::Client::connect(addr).unwrap();
    let start = std::time::Instant::now();
    while client.get("/readyz").unwrap().0 != 200 {
        // A cold start compiles every component; an interpreter's takes
        // seconds, more on a busy machine.
        assert!(start.elapsed() < std::time::Duration::from_secs(300), "the server never became ready");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, addr)
}

/// Stops a server started by [`serve`] with SIGTERM, and waits for it to exit.
pub fn stop(mut child: std::process::Child) {
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success(), "kill -TERM {}", child.id());
    child.wait().unwrap();
}

/// A minimal HTTP/1.1 client over one kept-alive connection, enough to
/// drive groupgate's server in tests without a client library.
pub mod http {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    /// One connection.
    pub struct Client {
        addr: SocketAddr,
        reader: BufReader<TcpStream>,
    }

    impl Client {
        /// Connects to `addr`.
        pub fn connect(addr: SocketAddr) -> std::io::Result<Client> {
            let stream = TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            stream.set_nodelay(true)?;
            Ok(Client { addr, reader: BufReader::new(stream) })
        }

        /// Sends a request and reads the answer: status and body.
        pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
            let head = format!(
                "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                self.addr,
                body.len()
            );
            let stream = self.reader.get_mut();
            stream.write_all(head.as_bytes())?;
            stream.write_all(body)?;
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let status: u16 = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| std::io::Error::other(format!("not an HTTP status line: {line:?}")))?;
            let mut length = 0;
            loop {
                line.clear();
                if self.reader.read_line(&mut line)? == 0 {
                    return Err(std::io::Error::other("connection closed in the headers"));
                }
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                if let Some((name, value)) = trimmed.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body)?;
            Ok((status, String::from_utf8_lossy(&body).into_owned()))
        }

        /// `POST path` with a JSON body.
        pub fn post(&mut self, path: &str, body: &str) -> std::io::Result<(u16, String)> {
            self.request("POST", path, body.as_bytes())
        }

        /// `GET path`.
        pub fn get(&mut self, path: &str) -> std::io::Result<(u16, String)> {
            self.request("GET", path, b"")
        }
    }
}
