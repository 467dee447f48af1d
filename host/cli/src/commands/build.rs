//! `groupgate build`: the components of the policies that have a source.

use std::path::PathBuf;

use anyhow::Result;
use groupgate_authoring::{Builder, Built, plan, policy_folders};

/// Flags of `build`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy sets, folders of sets, or policy folders.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Build even what is up to date.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub dir: BuildDir,
}

/// Where toolchains and build products are kept.
#[derive(clap::Args)]
pub struct BuildDir {
    /// Where toolchains (componentize-js, componentize-py) and build products
    /// are kept, outside the set [env: GROUPGATE_BUILD_DIR; default:
    /// $XDG_CACHE_HOME/groupgate/build or ~/.cache/groupgate/build].
    #[arg(long = "build-dir", value_name = "DIR")]
    pub build_dir: Option<PathBuf>,
}

impl BuildDir {
    pub fn resolve(&self) -> Result<PathBuf> {
        match &self.build_dir {
            Some(dir) => Ok(dir.clone()),
            None => groupgate_authoring::default_build_dir(),
        }
    }
}

pub const HELP: &str = "Builds each policy with a source: the manifest's `[build]` names its language (`rust`, `javascript`, `python`) and `entry`; without it, a `Cargo.toml`, an `app.py` or a single `.js` file in the policy folder says. A set that lists its `policies` in groupgate.toml builds those only. The component is written where the manifest's `module` says (a `.wasm` inside the policy folder), moved in whole. A policy whose sources, SDK and contract are unchanged since its last build is not built again (the stamp is in its hidden `.groupgate/` folder, with the Rust SDK that its `Cargo.toml` points at).

Toolchains: Rust, cargo with the wasm32-wasip2 target (added with rustup when missing); JavaScript, componentize-js from the policy's `package.json` and `package-lock.json` when it has both, else the one groupgate pins (`npm ci`); Python, componentize-py from the policy's `requirements.txt`, else the one groupgate pins (a virtual environment, hashes required). node, npm and Python's venv module are installed with apt-get when missing. Each is installed once, in the build folder.

Exit status: 0 when every policy is built or up to date; 1 when a build failed (the others still build); 2 when a path or a manifest cannot be read.";

pub fn run(args: Args) -> Result<u8> {
    let dir = args.dir.resolve()?;
    let mut plans = Vec::new();
    for path in &args.paths {
        for folder in policy_folders(path)? {
            if let Some(plan) = plan(&folder)? {
                plans.push(plan);
            }
        }
    }
    if plans.is_empty() {
        println!("nothing to build: no policy under {} has a source", shown(&args.paths));
        return Ok(0);
    }
    let mut say = |line: &str| eprintln!("{line}");
    let mut builder = Builder::new(dir, &mut say);
    builder.force(args.force);
    let (mut built, mut current, mut failed) = (0, 0, 0);
    for plan in &plans {
        match builder.build(plan) {
            Ok(Built::Compiled { bytes, took }) => {
                built += 1;
                println!(
                    "built `{}` ({}): `{}`, {:.1} MB in {:.1} s",
                    plan.name,
                    plan.language,
                    plan.module.display(),
                    bytes as f64 / 1e6,
                    took.as_secs_f64()
                );
            }
            Ok(Built::UpToDate) => {
                current += 1;
                println!("`{}` is up to date", plan.name);
            }
            Err(e) => {
                failed += 1;
                println!("FAILED `{}` ({}): {e:#}", plan.name, plan.language);
            }
        }
    }
    println!("{built} built, {current} up to date, {failed} failed");
    Ok(if failed > 0 { 1 } else { 0 })
}

fn shown(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", ")
}

/// What [`out_of_date`] did.
pub struct Round {
    /// A line per component built.
    pub built: Vec<String>,
    /// A line per build that failed, with why.
    pub failed: Vec<String>,
    /// The files the builds write (components, Rust's `Cargo.lock`): a
    /// change to one of them is the build's, not the author's.
    pub outputs: Vec<PathBuf>,
}

/// Builds what is out of date in the folders `roots`, for `test --watch`;
/// a build that fails does not stop the others.
pub fn out_of_date(roots: &[PathBuf], dir: &std::path::Path) -> Result<Round> {
    let mut round = Round { built: Vec::new(), failed: Vec::new(), outputs: Vec::new() };
    let mut say = |line: &str| eprintln!("{line}");
    let mut builder = Builder::new(dir.to_path_buf(), &mut say);
    for root in roots {
        for folder in policy_folders(root)? {
            let plan = match plan(&folder) {
                Ok(Some(plan)) => plan,
                Ok(None) => continue,
                Err(e) => {
                    round.failed.push(format!("{e:#}"));
                    continue;
                }
            };
            round.outputs.push(plan.module.clone());
            if plan.language == groupgate::Language::Rust {
                round.outputs.push(plan.folder.join(&plan.entry).with_file_name("Cargo.lock"));
            }
            match builder.build(&plan) {
                Ok(Built::Compiled { took, .. }) => round.built.push(format!(
                    "built `{}` ({}) in {:.1} s",
                    plan.name,
                    plan.language,
                    took.as_secs_f64()
                )),
                Ok(Built::UpToDate) => {}
                Err(e) => round.failed.push(format!("`{}` ({}): {e:#}", plan.name, plan.language)),
            }
        }
    }
    Ok(round)
}
