//! The JavaScript and Python toolchains, installed once per lock file into
//! the build folder, and the system packages they need.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use sha2::{Digest as _, Sha256};

use crate::embedded;

/// The first 16 hex digits of the SHA-256 of `parts`, each length-prefixed.
pub(crate) fn short_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `cmd`, its output captured; on failure the error has the command,
/// its status and the last lines it wrote.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<()> {
    // componentize-py is written in Rust: a backtrace of its own would bury
    // the Python error it reports.
    cmd.env("RUST_BACKTRACE", "0").env("RUST_LIB_BACKTRACE", "0");
    let out = cmd.output().with_context(|| format!("cannot run {what} (`{}`)", cmd.get_program().display()))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().take_while(|l| !l.trim_start().starts_with("Stack backtrace:")).collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    bail!("{what} failed ({}):\n{}", out.status, tail.join("\n"))
}

/// Makes sure `commands` exist, installing `packages` with apt-get (as
/// root, or through sudo) when one does not.
pub(crate) fn ensure(
    commands: &[&str],
    probe: Option<(&str, &[&str])>,
    packages: &[&str],
    say: &mut dyn FnMut(&str),
) -> Result<()> {
    let present = |c: &str| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success());
    let probed =
        probe.is_none_or(|(cmd, args)| Command::new(cmd).args(args).output().is_ok_and(|o| o.status.success()));
    if commands.iter().all(|c| present(c)) && probed {
        return Ok(());
    }
    let wanted = packages.join(" ");
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let sudo = !root;
    if sudo && !present("sudo") {
        bail!("the build needs {wanted} and cannot install them (not root, no sudo): install them and build again");
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        bail!("the build needs {wanted} and cannot install them here (no apt-get): install them and build again");
    }
    say(&format!("installing {wanted} with apt-get"));
    let apt = |args: &[&str]| {
        let mut cmd = if sudo { Command::new("sudo") } else { Command::new("apt-get") };
        if sudo {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-qq"]), "apt-get update")?;
    let mut install = apt(&["install", "-y", "-qq"]);
    install.args(packages);
    run(&mut install, &format!("apt-get install {wanted}"))
}

/// The JavaScript toolchain for a policy: its own `package.json` and
/// `package-lock.json` when it has both, else the ones groupgate pins. One
/// install per lock (the package's own name set aside), kept under
/// `dir/js`; returns the folder holding `node_modules`.
pub(crate) fn javascript(dir: &Path, policy: &Path, say: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let (package, lock) =
        match (std::fs::read(policy.join("package.json")), std::fs::read(policy.join("package-lock.json"))) {
            (Ok(p), Ok(l)) => (p, l),
            _ => (
                embedded::file(embedded::JS_SDK, "package.json").to_vec(),
                embedded::file(embedded::JS_SDK, "package-lock.json").to_vec(),
            ),
        };
    // The same toolchain whatever a policy calls and describes its package.
    let rename = |bytes: &[u8], file: &str| -> Result<Vec<u8>> {
        let mut json: serde_json::Value =
            serde_json::from_slice(bytes).with_context(|| format!("`{}` is not JSON", policy.join(file).display()))?;
        json["name"] = "groupgate-js-toolchain".into();
        if let Some(object) = json.as_object_mut() {
            object.remove("description");
        }
        if let Some(root) = json.pointer_mut("/packages/") {
            root["name"] = "groupgate-js-toolchain".into();
        }
        Ok(serde_json::to_vec_pretty(&json)?)
    };
    let (package, lock) = (rename(&package, "package.json")?, rename(&lock, "package-lock.json")?);
    let home = dir.join("js").join(short_hash([package.as_slice(), lock.as_slice()]));
    if home.join(".installed").is_file() {
        return Ok(home);
    }
    ensure(&["node", "npm"], None, &["nodejs", "npm"], say)?;
    std::fs::create_dir_all(&home).with_context(|| format!("cannot create `{}`", home.display()))?;
    std::fs::write(home.join("package.json"), &package)?;
    std::fs::write(home.join("package-lock.json"), &lock)?;
    say("installing componentize-js (npm ci)");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&home), "npm ci")?;
    std::fs::write(home.join(".installed"), b"")?;
    Ok(home)
}

/// The Python toolchain for a policy: a virtual environment with its own
/// `requirements.txt`, else the one groupgate pins, installed by hash. One
/// per requirements file, kept under `dir/python`; returns the environment.
pub(crate) fn python(dir: &Path, policy: &Path, say: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let requirements = std::fs::read(policy.join("requirements.txt"))
        .unwrap_or_else(|_| embedded::file(embedded::PYTHON_SDK, "requirements.txt").to_vec());
    python_env(dir, &requirements, "componentize-py", say)
}

/// A Python virtual environment with `requirements` (a `requirements.txt`
/// that pins every package by hash) installed with `pip install
/// --require-hashes`: one per requirements file, kept under `dir/python`
/// and made again only when the file changes. Installs `python3` and its
/// `venv` module with apt-get when missing; `say` is told before anything
/// is installed, naming it `what`. Returns the environment's folder.
pub fn python_env(dir: &Path, requirements: &[u8], what: &str, say: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let home = dir.join("python").join(short_hash([requirements]));
    if home.join(".installed").is_file() {
        return Ok(home);
    }
    ensure(&["python3"], Some(("python3", &["-c", "import ensurepip, venv"])), &["python3", "python3-venv"], say)?;
    say(&format!("installing {what} (a virtual environment, pip install --require-hashes)"));
    let _ = std::fs::remove_dir_all(&home);
    run(Command::new("python3").args(["-m", "venv"]).arg(&home), "python3 -m venv")?;
    let file = home.join("requirements.txt");
    std::fs::write(&file, requirements)?;
    run(
        Command::new(home.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "--require-hashes", "-r"])
            .arg(&file),
        "pip install",
    )?;
    std::fs::write(home.join(".installed"), b"")?;
    Ok(home)
}
