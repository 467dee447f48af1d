//! `groupgate build`: the components of the policies that have a source.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
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

pub const HELP: &str = "Builds each policy with a source: the manifest's `[build]` names its language (`rust`, `javascript`, `python`) and `entry`; without it, a `Cargo.toml`, an `app.py` or a single `.js` file in the policy folder says. The component is written where the manifest's `module` says, moved in whole. A policy whose sources, SDK and contract are unchanged since its last build is not built again (the stamp is in its hidden `.groupgate/` folder, with the Rust SDK that its `Cargo.toml` points at).

Toolchains: Rust, cargo with the wasm32-wasip2 target (added with rustup when missing); JavaScript, componentize-js from the policy's `package-lock.json`, else the one groupgate pins (`npm ci`); Python, componentize-py from the policy's `requirements.txt`, else the one groupgate pins (a virtual environment, hashes required). node, npm and Python's venv module are installed with apt-get when missing. Each is installed once, in the build folder.

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

/// Builds what is out of date in the folders `roots`, for `test --watch`:
/// a line per component built. The first build that fails is the error.
pub fn out_of_date(roots: &[PathBuf], dir: &std::path::Path) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut say = |line: &str| eprintln!("{line}");
    let mut builder = Builder::new(dir.to_path_buf(), &mut say);
    for root in roots {
        for folder in policy_folders(root)? {
            let Some(plan) = plan(&folder)? else { continue };
            let built =
                builder.build(&plan).with_context(|| format!("building `{}` ({})", plan.name, plan.language))?;
            if let Built::Compiled { took, .. } = built {
                lines.push(format!("built `{}` ({}) in {:.1} s", plan.name, plan.language, took.as_secs_f64()));
            }
        }
    }
    Ok(lines)
}
