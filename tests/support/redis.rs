//! A throwaway `redis-server` on a free loopback port, for the tests of the
//! Redis state store: no data kept (no snapshots, no append-only file; its
//! folder is a temporary one), killed when dropped.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a started server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` process.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers.
    /// Installs `redis-server` with `scripts/ensure-packages` when it is not
    /// on the `PATH`.
    pub fn start() -> RedisServer {
        let program = redis_server();
        let dir = tempfile::tempdir().expect("a temporary folder for redis-server");
        let mut server = RedisServer { port: 0, dir, child: None };
        // The port is free when asked, but another process may take it before
        // the server binds it: a few tries with another port each.
        let mut last_failure = String::new();
        for _ in 0..3 {
            server.port = free_port();
            match server.spawn(&program) {
                Ok(()) => return server,
                Err(why) => last_failure = why,
            }
        }
        panic!("redis-server did not start: {last_failure}");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server and waits for it to exit: it is down until
    /// [`RedisServer::restart`], and what it held is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (stopping it first if it
    /// runs), empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(why) = self.spawn(&redis_server()) {
            panic!("redis-server did not start again on port {}: {why}", self.port);
        }
    }

    /// Runs the server and waits for its `PONG`; the reason otherwise, with
    /// what it logged.
    fn spawn(&mut self, program: &Path) -> Result<(), String> {
        let mut command = Command::new(program);
        command
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(self.dir.path());
        let port = self.port;
        let log = self.dir.path().join("redis.log");
        self.child = Some(start_logged(command, &log, START_TIMEOUT, &format!("PING on port {port}"), || ping(port))?);
        Ok(())
    }
}

/// Runs `command` with its output in the file `log`, and waits until
/// `ready` holds: the process; otherwise why not (it exited, or `ready`
/// did not hold within `timeout`, when it is killed), with what it logged.
pub(crate) fn start_logged(
    mut command: Command,
    log: &Path,
    timeout: Duration,
    what: &str,
    ready: impl Fn() -> bool,
) -> Result<Child, String> {
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", command.get_program().to_string_lossy()))?;
    let logged = || std::fs::read_to_string(log).unwrap_or_default();
    let started = Instant::now();
    loop {
        if ready() {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited ({status}) before {what}; it logged:\n{}", logged()));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no answer to {what} within {timeout:?}; it logged:\n{}", logged()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a Redis answers `PING` on `port` within a second.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

/// A loopback port free now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

/// The `redis-server` program: on the `PATH`, or installed by
/// `scripts/ensure-packages` (once per test binary).
fn redis_server() -> PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| installed("redis-server", "redis-server")).clone()
}

/// The program `command` of the Debian package `package`: on the `PATH`,
/// or installed by `scripts/ensure-packages`.
pub(crate) fn installed(package: &str, command: &str) -> PathBuf {
    if let Some(found) = on_path(command) {
        return found;
    }
    let script = super::repo_root().join("scripts/ensure-packages");
    let status = Command::new(&script).arg(format!("{package}:{command}")).status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{command} is not installed, and `{} {package}` failed ({status})", script.display()),
        Err(e) => panic!("{command} is not installed, and `{}` could not run: {e}", script.display()),
    }
    on_path(command)
        .unwrap_or_else(|| panic!("`{} {package}` succeeded but {command} is still not on the PATH", script.display()))
}

/// `program` in a folder of the `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}
