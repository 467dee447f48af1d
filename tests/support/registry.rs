//! A throwaway OCI registry (Debian's `docker-registry`, the CNCF
//! distribution registry) on a free loopback port, its storage in a
//! temporary folder, killed when dropped; installed with
//! `scripts/ensure-packages` when missing.

use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Duration;

use super::redis::{free_port, installed, start_logged};

/// How long a started registry may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A `docker-registry serve` process.
pub struct Registry {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Registry {
    /// Starts a registry on a free loopback port and waits until it answers.
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().expect("a temporary folder for the registry");
        let mut registry = Registry { port: 0, dir, child: None };
        let mut last_failure = String::new();
        // The port is free when asked, but may be taken before the registry
        // binds it: a few tries with another port each.
        for _ in 0..3 {
            registry.port = free_port();
            match registry.spawn() {
                Ok(()) => return registry,
                Err(why) => last_failure = why,
            }
        }
        panic!("docker-registry did not start: {last_failure}");
    }

    /// `oci://127.0.0.1:PORT/REPO`.
    pub fn oci(&self, repo: &str) -> String {
        format!("oci://127.0.0.1:{}/{repo}", self.port)
    }

    /// Kills the registry: it is down until [`Registry::restart`], its
    /// storage kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same storage.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(why) = self.spawn() {
            panic!("docker-registry did not start again on port {}: {why}", self.port);
        }
    }

    fn spawn(&mut self) -> Result<(), String> {
        let config = self.dir.path().join("config.yml");
        let storage = self.dir.path().join("storage");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{}\n  secret: groupgate-tests\n",
                storage.display(),
                self.port
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut command = Command::new(program());
        command.arg("serve").arg(&config);
        let port = self.port;
        let log = self.dir.path().join("registry.log");
        let ready = || TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok();
        self.child = Some(start_logged(command, &log, START_TIMEOUT, &format!("a connection on port {port}"), ready)?);
        Ok(())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn program() -> PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| installed("docker-registry", "docker-registry")).clone()
}
