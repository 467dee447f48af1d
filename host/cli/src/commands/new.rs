//! `groupgate new`: a policy folder from a template.

use std::path::PathBuf;

use anyhow::Result;
use groupgate::{Hook, Language};
use groupgate_authoring::{NewPolicy, create};

/// Flags of `new`.
#[derive(clap::Args)]
pub struct Args {
    /// The language of the source.
    #[arg(value_enum)]
    pub language: LanguageArg,
    /// The policy's name, and its folder's: lower-case letters, digits and `-`.
    pub name: String,
    /// The hooks it answers, comma-separated (default: message, group-creation and membership; add `report` for
    /// reports from the public).
    #[arg(long, value_delimiter = ',', value_parser = super::parse_hook, value_name = "HOOK,...")]
    pub hooks: Vec<Hook>,
    /// The set to add it to (made if missing). Default: the set the current
    /// folder is in, else the current folder if it is empty (made a set);
    /// any other folder is refused.
    #[arg(long, value_name = "SET")]
    pub into: Option<PathBuf>,
}

/// A language, as `new` takes it.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LanguageArg {
    /// cargo, with the Rust SDK: the fastest policies.
    Rust,
    /// componentize-js, with the JavaScript SDK module.
    #[value(alias = "javascript")]
    Js,
    /// componentize-py, with the Python SDK module.
    #[value(alias = "py")]
    Python,
}

pub const HELP: &str = "Writes SET/NAME/: `policy.toml` (its `[build]` says how to build it), the source (Rust: `Cargo.toml`, `src/lib.rs`; JavaScript: `NAME.js`; Python: `app.py`), the toolchain's lock file (`Cargo.lock`, `package.json` and `package-lock.json`, `requirements.txt`) and `tests/HOOK.toml`, two or three cases per hook. Each hook has an example rule citing its article (a blocked term in a message, Art. 10; too large a group, Art. 8; an unverified user joining, Art. 6) to replace with your own. A set that lists its `policies` gains the new one.

Then, from the set:
  groupgate build      compiles the component (the toolchain is installed the first time)
  groupgate test       runs the cases; `groupgate test --watch` builds and runs them again on every save

Exit status: 0 when the folder was written; 2 when it was not (a bad name, a folder already there), and nothing is left behind.";

pub fn run(args: Args) -> Result<u8> {
    let language = match args.language {
        LanguageArg::Rust => Language::Rust,
        LanguageArg::Js => Language::Javascript,
        LanguageArg::Python => Language::Python,
    };
    let made = create(&NewPolicy { language, name: args.name, hooks: args.hooks, into: args.into })?;
    if made.set_created {
        println!("created the set `{}` (groupgate.toml)", made.set.display());
    }
    println!("created `{}` ({language}): {}", made.folder.display(), made.files.join(", "));
    if made.listed {
        println!(
            "added `{}` to `policies` in `{}`",
            made.folder.file_name().unwrap_or_default().display(),
            made.set.join(groupgate::SET_FILE).display()
        );
    }
    let set = made.set.display();
    println!("next: groupgate build {set} && groupgate test {set}");
    Ok(0)
}
