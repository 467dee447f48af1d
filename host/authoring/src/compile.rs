//! `groupgate build`: from the source in a policy folder to the component
//! its manifest names, skipped when nothing it is built from changed.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use groupgate::{BuildSpec, Language, POLICY_FILE};
use sha2::{Digest as _, Sha256};

use crate::toolchain::{self, short_hash};
use crate::{embedded, world};

/// Bumped when a build's recipe changes, so that every component is built
/// again by the new one.
const RECIPE: &str = "groupgate build 1";

/// Where a policy keeps what its build writes (the stamp, a component being
/// moved in, the Rust SDK): hidden, so the set never lists it.
pub(crate) const STATE_DIR: &str = ".groupgate";

/// What a build starts from: one policy folder whose manifest names a
/// `.wasm` module and whose source groupgate knows how to build.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The policy folder.
    pub folder: PathBuf,
    /// The policy's name.
    pub name: String,
    /// The source's language.
    pub language: Language,
    /// The file the build starts from, relative to the folder.
    pub entry: String,
    /// The component to write: the manifest's `module`.
    pub module: PathBuf,
}

/// What a build did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// Compiled and moved into place: its size and how long it took.
    Compiled {
        /// The component's size in bytes.
        bytes: u64,
        /// The build's time, toolchain installs included.
        took: Duration,
    },
    /// Nothing it is built from changed since the component was built.
    UpToDate,
}

/// The policy folders at or under `path`: `path` itself when it holds a
/// `policy.toml`; the folders a set's `policies` lists, for a set that
/// lists them (a draft beside them is not built); else every folder below
/// that holds a `policy.toml` (hidden folders, `node_modules` and `target`
/// left out). In path order.
pub fn policy_folders(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        bail!("`{}` is not a folder", path.display());
    }
    let mut found = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join(POLICY_FILE).is_file() {
            found.push(dir);
            continue;
        }
        if let Some(listed) = listed_policies(&dir) {
            found.extend(listed.iter().map(|p| dir.join(p)).filter(|p| p.join(POLICY_FILE).is_file()));
            continue;
        }
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() && !name.starts_with('.') && name != "node_modules" && name != "target" {
                stack.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The `policies` a set's `groupgate.toml` in `dir` lists, if it lists
/// them. A file that cannot be read lists nothing here: loading the set
/// says what is wrong with it.
fn listed_policies(dir: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(dir.join(groupgate::SET_FILE)).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    let listed = table.get("policies")?.as_array()?;
    Some(listed.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
}

/// The parts of `policy.toml` a build reads; loading checks the rest.
#[derive(serde::Deserialize)]
struct Head {
    name: String,
    module: String,
    build: Option<BuildSpec>,
}

/// How to build the policy in `folder`, or `None` when it has nothing to
/// build: a standard plugin, or a component with no source beside it that
/// groupgate recognises (`[build]`, a `Cargo.toml`, an `app.py`, one `.js`
/// file).
pub fn plan(folder: &Path) -> Result<Option<Plan>> {
    let path = folder.join(POLICY_FILE);
    let mut text = String::new();
    File::open(&path)
        .and_then(|f| f.take(1 << 20).read_to_string(&mut text))
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let head: Head = groupgate::parse_toml(&path, &text)?;
    if head.module.starts_with("builtin:") {
        if head.build.is_some() {
            bail!(
                "`{}`: `[build]` beside `module = \"{}\"`: a standard plugin is not built",
                path.display(),
                head.module
            );
        }
        return Ok(None);
    }
    let (language, entry) = match head.build {
        Some(spec) => {
            let entry = spec.entry.unwrap_or_else(|| default_entry(folder, spec.language));
            (spec.language, entry)
        }
        None => match convention(folder) {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    let bad = |message: String| anyhow!("`{}`: {message}", path.display());
    if !inside(&entry) {
        return Err(bad(format!("`[build] entry` `{entry}` must be a path inside the policy folder")));
    }
    if !folder.join(&entry).is_file() {
        return Err(bad(format!("the {language} build starts from `{entry}`, which is not in the policy folder")));
    }
    if language == Language::Rust && !entry.ends_with("Cargo.toml") {
        return Err(bad(format!("a Rust build starts from a `Cargo.toml`, not `{entry}`")));
    }
    // What the build writes: the component, inside the policy folder, and
    // nothing it is built from.
    if !inside(&head.module) || !head.module.ends_with(".wasm") {
        return Err(bad(format!("`module` `{}`: a build writes a `.wasm` file inside the policy folder", head.module)));
    }
    Ok(Some(Plan { folder: folder.to_path_buf(), name: head.name, language, entry, module: folder.join(&head.module) }))
}

/// Whether `relative` is a plain path below the folder it is relative to.
fn inside(relative: &str) -> bool {
    let mut parts = Path::new(relative).components().peekable();
    parts.peek().is_some() && parts.all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The entry a `[build]` without one starts from.
fn default_entry(folder: &Path, language: Language) -> String {
    match language {
        Language::Rust => "Cargo.toml".into(),
        Language::Python => "app.py".into(),
        _ => top_level_js(folder).into_iter().next().unwrap_or_else(|| "policy.js".into()),
    }
}

/// The language and entry of a folder without `[build]`, by its files.
fn convention(folder: &Path) -> Option<(Language, String)> {
    if folder.join("Cargo.toml").is_file() {
        return Some((Language::Rust, "Cargo.toml".into()));
    }
    if folder.join("app.py").is_file() {
        return Some((Language::Python, "app.py".into()));
    }
    match top_level_js(folder).as_slice() {
        [one] => Some((Language::Javascript, one.clone())),
        _ => None,
    }
}

/// The `.js` files directly in `folder`, but the SDK module's copy.
fn top_level_js(folder: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".js") && n != "groupgate.js" && !n.starts_with('.'))
        .collect();
    found.sort();
    found
}

/// Builds policies, with toolchains and build products in one build folder.
pub struct Builder<'a> {
    dir: PathBuf,
    force: bool,
    say: &'a mut dyn FnMut(&str),
}

impl<'a> Builder<'a> {
    /// A builder keeping its toolchains in `dir`; `say` is told what takes
    /// time (a toolchain installed, a build started).
    pub fn new(dir: PathBuf, say: &'a mut dyn FnMut(&str)) -> Builder<'a> {
        // Toolchains run from other folders: a relative build folder would
        // name another place for them.
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        Builder { dir, force: false, say }
    }

    /// Builds even what is up to date.
    pub fn force(&mut self, force: bool) -> &mut Self {
        self.force = force;
        self
    }

    /// Builds `plan`'s component unless it is up to date, and moves it into
    /// place whole (a server watching the set never sees half of one).
    pub fn build(&mut self, plan: &Plan) -> Result<Built> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create `{}`", self.dir.display()))?;
        // One build at a time per build folder: toolchains are installed,
        // and sources staged, in shared places.
        let lock = File::create(self.dir.join(".lock"))?;
        lock.lock().context("cannot lock the build folder")?;
        let started = Instant::now();
        let inputs = inputs(plan, false)?;
        let state = plan.folder.join(STATE_DIR);
        let stamp = state.join("stamp");
        // Up to date: built from these inputs, and the component there is
        // the one that build wrote (not one copied over it since).
        let stamped = std::fs::read_to_string(&stamp).unwrap_or_default();
        let module = file_hash(&plan.module);
        if !self.force && stamped.lines().next() == Some(&inputs) && stamped.lines().nth(1) == module.as_deref() {
            return Ok(Built::UpToDate);
        }
        std::fs::create_dir_all(&state).with_context(|| format!("cannot create `{}`", state.display()))?;
        // Named for this process: builds through another build folder may
        // run at the same time.
        let partial = state.join(format!("component.{}.partial", std::process::id()));
        let before_without_lock = self::inputs(plan, true)?;
        (self.say)(&format!("building `{}` ({})", plan.name, plan.language));
        match plan.language {
            Language::Rust => self.rust(plan, &partial)?,
            Language::Javascript => self.javascript(plan, &partial)?,
            Language::Python => self.python(plan, &partial)?,
            _ => bail!("groupgate cannot build {} yet", plan.language),
        }
        let bytes =
            std::fs::metadata(&partial).with_context(|| format!("the build wrote no `{}`", partial.display()))?.len();
        if let Some(parent) = plan.module.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::rename(&partial, &plan.module)
            .with_context(|| format!("cannot move the component to `{}`", plan.module.display()))?;
        // cargo completes a new policy's Cargo.lock on its first build: what
        // the next build compares with is the lock as it is now, unless a
        // source was saved during the build, which must then build again.
        let inputs = match plan.language {
            Language::Rust if self::inputs(plan, true)? == before_without_lock => self::inputs(plan, false)?,
            _ => inputs,
        };
        let module = file_hash(&plan.module).unwrap_or_default();
        std::fs::write(&stamp, format!("{inputs}\n{module}\n"))?;
        Ok(Built::Compiled { bytes, took: started.elapsed() })
    }

    /// The contract, as a file the toolchains read.
    fn wit(&self) -> Result<PathBuf> {
        let wit = embedded::file(embedded::RUST_SDK, "wit/policy.wit");
        let dir = self.dir.join("wit").join(short_hash([wit]));
        write_if_changed(&dir.join("policy.wit"), wit)?;
        Ok(dir.join("policy.wit"))
    }

    /// A fresh copy of the policy's source files, for a toolchain that
    /// bundles what it finds in a folder.
    fn stage(&self, plan: &Plan) -> Result<PathBuf> {
        let key = std::path::absolute(&plan.folder)?;
        let stage = self.dir.join("stage").join(short_hash([key.as_os_str().as_encoded_bytes()]));
        if stage.exists() {
            std::fs::remove_dir_all(&stage).with_context(|| format!("cannot clear `{}`", stage.display()))?;
        }
        for (relative, _) in sources(plan)? {
            let to = stage.join(&relative);
            std::fs::create_dir_all(to.parent().expect("a file has a folder"))?;
            std::fs::copy(plan.folder.join(&relative), &to)?;
        }
        Ok(stage)
    }

    fn rust(&mut self, plan: &Plan, out: &Path) -> Result<()> {
        write_rust_sdk(&plan.folder)?;
        groupgate_wasm_build::ensure_target_installed(None, self.say).map_err(|e| anyhow!(e))?;
        let manifest = std::path::absolute(plan.folder.join(&plan.entry))?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .args(["build", "--release", "--target", groupgate_wasm_build::TARGET])
            .args(["--message-format", "json-render-diagnostics", "--manifest-path"])
            .arg(&manifest)
            // What the standard policies are built with: wasmtime runs SIMD,
            // and text scanning uses it.
            .args(["--config", "target.wasm32-wasip2.rustflags=[\"-C\", \"target-feature=+simd128\"]"])
            // The policy's own `.cargo/config.toml` applies, not the caller's.
            .current_dir(manifest.parent().expect("a file has a folder"))
            .env("CARGO_TARGET_DIR", self.dir.join("rust"))
            .env_remove("CARGO_BUILD_TARGET")
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run cargo")?;
        if !output.status.success() {
            bail!("cargo build failed ({}); its errors are above", output.status);
        }
        // The component is the `cdylib` artifact of the policy's own package.
        let built = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| {
                m["reason"] == "compiler-artifact" && Path::new(m["manifest_path"].as_str().unwrap_or("")) == manifest
            })
            .filter(|m| m["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib")))
            .find_map(|m| {
                m["filenames"]
                    .as_array()?
                    .iter()
                    .filter_map(|f| f.as_str())
                    .find(|f| f.ends_with(".wasm"))
                    .map(PathBuf::from)
            })
            .ok_or_else(|| {
                anyhow!("cargo built no `.wasm` for `{}`: is its `[lib]` a `cdylib`?", manifest.display())
            })?;
        std::fs::copy(&built, out).with_context(|| format!("cannot copy `{}`", built.display()))?;
        Ok(())
    }

    fn javascript(&mut self, plan: &Plan, out: &Path) -> Result<()> {
        let toolchain = toolchain::javascript(&self.dir, &plan.folder, self.say)?;
        let wit = self.wit()?;
        let stage = self.stage(plan)?;
        // The SDK module beside the entry, where `./groupgate.js` resolves.
        let entry = stage.join(&plan.entry);
        let beside = entry.parent().expect("a file has a folder");
        std::fs::write(beside.join("groupgate.js"), embedded::file(embedded::JS_SDK, "groupgate.js"))?;
        // componentize-js reports a syntax error without saying where; node
        // says where, as an ES module, as componentize-js reads it.
        std::fs::write(stage.join("package.json"), br#"{"type": "module"}"#)?;
        for (relative, _) in sources(plan)?.iter().filter(|(r, _)| r.ends_with(".js") || r.ends_with(".mjs")) {
            toolchain::run(
                Command::new("node").arg("--check").arg(relative).current_dir(&stage),
                &format!("node --check on `{}`", plan.folder.join(relative).display()),
            )
            // The file as the author knows it, not its staged copy.
            .map_err(|e| {
                anyhow!(format!("{e:#}").replace(&stage.display().to_string(), &plan.folder.display().to_string()))
            })?;
        }
        // Run from the entry's folder: componentize-js maps the working
        // directory into the component when it holds the source. stdio stays
        // on: an uncaught error's message and stack go to standard error,
        // which the host shows with the policy's error.
        toolchain::run(
            Command::new(toolchain.join("node_modules/.bin/componentize-js"))
                .arg(entry.file_name().expect("an entry is a file"))
                .arg("--wit")
                .arg(&wit)
                .args(["--world-name", &world(), "--disable", "random", "clocks", "http", "fetch-event", "-o"])
                .arg(std::path::absolute(out)?)
                .current_dir(beside),
            &format!("componentize-js on `{}`", plan.folder.join(&plan.entry).display()),
        )
    }

    fn python(&mut self, plan: &Plan, out: &Path) -> Result<()> {
        let venv = toolchain::python(&self.dir, &plan.folder, self.say)?;
        let wit = self.wit()?;
        let stage = self.stage(plan)?;
        let sdk_file = embedded::file(embedded::PYTHON_SDK, "groupgate.py");
        let sdk = self.dir.join("sdk/python").join(short_hash([sdk_file]));
        write_if_changed(&sdk.join("groupgate.py"), sdk_file)?;
        let module = plan.entry.strip_suffix(".py").unwrap_or(&plan.entry).replace('/', ".");
        toolchain::run(
            Command::new(venv.join("bin/componentize-py"))
                .arg("-d")
                .arg(&wit)
                .args(["-w", &world(), "componentize", &module, "-p"])
                .arg(&stage)
                .arg("-p")
                .arg(&sdk)
                .arg("-o")
                .arg(std::path::absolute(out)?),
            &format!("componentize-py on `{}`", plan.folder.join(&plan.entry).display()),
        )
    }
}

/// Writes the Rust SDK, the crates it uses and the contract into the
/// policy's `.groupgate/sdk`, laid out as in groupgate's repository so that
/// its relative paths hold; files already there with the same contents are
/// left alone, so cargo sees nothing new.
pub(crate) fn write_rust_sdk(folder: &Path) -> Result<()> {
    let sdk = folder.join(STATE_DIR).join("sdk");
    for (path, contents) in embedded::RUST_SDK {
        match *path {
            "plugins/Cargo.lock" => {}
            "plugins/Cargo.toml" => write_if_changed(&sdk.join(path), sdk_workspace()?.as_bytes())?,
            _ => write_if_changed(&sdk.join(path), contents)?,
        }
    }
    Ok(())
}

/// The standard policies' workspace manifest, cut to the SDK's crates: it
/// gives them their shared versions and dependencies.
fn sdk_workspace() -> Result<String> {
    let text = std::str::from_utf8(embedded::file(embedded::RUST_SDK, "plugins/Cargo.toml"))?;
    let mut manifest: toml::Table = toml::from_str(text)?;
    manifest.remove("profile");
    let workspace = manifest.get_mut("workspace").and_then(|w| w.as_table_mut()).context("no [workspace]")?;
    workspace.insert("members".into(), toml::Value::Array(["sdk", "text", "encoding"].map(toml::Value::from).to_vec()));
    Ok(format!(
        "# Written by `groupgate build`: the SDK of the groupgate that built this policy.\n{}",
        toml::to_string(&manifest)?
    ))
}

fn write_if_changed(path: &Path, contents: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|c| c == contents) {
        return Ok(());
    }
    std::fs::create_dir_all(path.parent().expect("a file has a folder"))?;
    std::fs::write(path, contents).with_context(|| format!("cannot write `{}`", path.display()))
}

/// The source files a build of `plan` reads, relative to its folder, with
/// their contents: what is hashed to tell whether it is up to date.
fn sources(plan: &Plan) -> Result<Vec<(String, Vec<u8>)>> {
    let wanted = |relative: &str| -> bool {
        let name = relative.rsplit('/').next().unwrap_or(relative);
        match plan.language {
            Language::Rust => {
                // The crate's files, in the folder of its `Cargo.toml`.
                let crate_dir = plan.entry.strip_suffix("Cargo.toml").unwrap_or_default();
                relative.strip_prefix(crate_dir).is_some_and(|r| {
                    ["Cargo.toml", "Cargo.lock", "build.rs"].contains(&r)
                        || r.starts_with("src/")
                        || r.starts_with(".cargo/")
                })
            }
            Language::Javascript => {
                [".js", ".mjs", ".cjs"].iter().any(|e| name.ends_with(e))
                    || ["package.json", "package-lock.json"].contains(&relative)
            }
            Language::Python => name.ends_with(".py") || relative == "requirements.txt",
            _ => false,
        }
    };
    let mut found = Vec::new();
    let mut stack = vec![(plan.folder.clone(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read `{}`", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = format!("{prefix}{name}");
            if name.starts_with('.') && name != ".cargo"
                || ["node_modules", "target", "__pycache__"].contains(&name.as_str())
                || relative == "tests"
            {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), format!("{relative}/")));
            } else if wanted(&relative) {
                found.push((relative, std::fs::read(entry.path())?));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The SHA-256 of a file, if it can be read.
fn file_hash(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}

/// The hash of everything a build of `plan` depends on that groupgate
/// knows of: its sources (but `Cargo.lock` when `without_lock`), its entry,
/// and the SDK and contract embedded.
fn inputs(plan: &Plan, without_lock: bool) -> Result<String> {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(RECIPE.as_bytes());
    part(plan.language.as_str().as_bytes());
    part(plan.entry.as_bytes());
    let sdk = match plan.language {
        Language::Rust => embedded::RUST_SDK,
        Language::Javascript => embedded::JS_SDK,
        _ => embedded::PYTHON_SDK,
    };
    for (path, contents) in sdk {
        part(path.as_bytes());
        part(contents);
    }
    part(embedded::file(embedded::RUST_SDK, "wit/policy.wit"));
    for (relative, contents) in sources(plan)? {
        if without_lock && relative.ends_with("Cargo.lock") {
            continue;
        }
        part(relative.as_bytes());
        part(&contents);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(manifest: &str, files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(POLICY_FILE), manifest).unwrap();
        for file in files {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        dir
    }

    const HEAD: &str = "name = \"p\"\nversion = \"1\"\nmodule = \"p.wasm\"\nhooks = [\"message\"]\n";

    #[test]
    fn the_language_comes_from_build_or_from_the_files_and_a_bad_build_table_is_an_error() {
        let plan_of = |extra: &str, files: &[&str]| plan(folder(&format!("{HEAD}{extra}"), files).path());
        let language = |extra: &str, files: &[&str]| plan_of(extra, files).unwrap().map(|p| (p.language, p.entry));
        assert_eq!(language("", &["Cargo.toml"]), Some((Language::Rust, "Cargo.toml".into())));
        assert_eq!(language("", &["app.py"]), Some((Language::Python, "app.py".into())));
        assert_eq!(language("", &["rule.js", "groupgate.js"]), Some((Language::Javascript, "rule.js".into())));
        // Two scripts, or none: nothing to guess from, a module as it is.
        assert_eq!(language("", &["a.js", "b.js"]), None);
        assert_eq!(language("", &[]), None);
        let js = "[build]\nlanguage = \"javascript\"\nentry = \"b.js\"\n";
        assert_eq!(language(js, &["a.js", "b.js"]), Some((Language::Javascript, "b.js".into())));

        let error = |extra: &str, files: &[&str]| format!("{:#}", plan_of(extra, files).unwrap_err());
        assert!(error("[build]\nlanguage = \"cobol\"\n", &[]).contains("unknown variant `cobol`"));
        assert!(
            error("[build]\nlanguage = \"python\"\nentrypoint = \"x\"\n", &[]).contains("unknown field `entrypoint`")
        );
        assert!(
            error("[build]\nlanguage = \"python\"\n", &[])
                .contains("starts from `app.py`, which is not in the policy folder")
        );
        assert!(
            error("[build]\nlanguage = \"python\"\nentry = \"../app.py\"\n", &[])
                .contains("must be a path inside the policy folder")
        );
        let builtin = "name = \"p\"\nversion = \"1\"\nmodule = \"builtin:real-name\"\nhooks = [\"message\"]\n[build]\nlanguage = \"rust\"\n";
        assert!(
            format!("{:#}", plan(folder(builtin, &[]).path()).unwrap_err()).contains("a standard plugin is not built")
        );
    }

    #[test]
    fn only_the_files_a_language_builds_from_are_hashed() {
        let dir = folder(&format!("{HEAD}[build]\nlanguage = \"python\"\n"), &["app.py", "words.txt", "p.wasm"]);
        std::fs::create_dir_all(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/cases.toml"), "").unwrap();
        let plan = plan(dir.path()).unwrap().unwrap();
        let before = inputs(&plan, false).unwrap();
        // A data file, a case, the component: not what it is built from.
        std::fs::write(dir.path().join("words.txt"), "more").unwrap();
        std::fs::write(dir.path().join("tests/cases.toml"), "more").unwrap();
        std::fs::write(dir.path().join("p.wasm"), "more").unwrap();
        assert_eq!(inputs(&plan, false).unwrap(), before);
        std::fs::write(dir.path().join("app.py"), "# edited").unwrap();
        assert_ne!(inputs(&plan, false).unwrap(), before);
    }
}
