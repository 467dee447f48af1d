//! `groupgate new`: a policy folder from the templates, whose component
//! builds and whose cases pass as it is written.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use groupgate::{HOOKS, Hook, Language, POLICY_FILE, SET_FILE};

use crate::{compile, embedded, lock, template};

/// What to make.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    /// The source's language.
    pub language: Language,
    /// The policy's name, and its folder's.
    pub name: String,
    /// The hooks it answers; none means all of them.
    pub hooks: Vec<Hook>,
    /// The set to add it to; `None`: the set enclosing the current folder,
    /// else the current folder if it is empty (made a set); any other
    /// folder is refused.
    pub into: Option<PathBuf>,
}

/// What [`create`] made.
#[derive(Debug, Clone)]
pub struct Created {
    /// The set the policy was added to.
    pub set: PathBuf,
    /// The new policy folder.
    pub folder: PathBuf,
    /// The files written in it, relative to it.
    pub files: Vec<String>,
    /// Whether the set's `groupgate.toml` was written (the folder was not a set).
    pub set_created: bool,
    /// Whether the policy was added to the set's `policies` list.
    pub listed: bool,
}

/// Writes the policy folder: it appears whole or not at all.
pub fn create(new: &NewPolicy) -> Result<Created> {
    check_name(&new.name)?;
    // Without a choice, the hooks every platform has: reports (Art. 12) come
    // from a portal not every platform runs, so they are asked for by name.
    let hooks: Vec<Hook> = HOOKS
        .iter()
        .map(|s| s.hook)
        .filter(|&h| if new.hooks.is_empty() { h != Hook::Report } else { new.hooks.contains(&h) })
        .collect();
    let set = match &new.into {
        Some(set) => {
            let absolute = std::path::absolute(set).with_context(|| format!("`{}`", set.display()))?;
            // A folder inside a set (a policy's, say) is not a set of its own.
            if let Some(outer) = absolute.parent().and_then(groupgate::source::enclosing_set)
                && !absolute.join(SET_FILE).is_file()
            {
                bail!("`{}` is inside the set `{}`: give that with --into", set.display(), outer.display());
            }
            set.clone()
        }
        None => {
            let here = std::env::current_dir().context("no current folder")?;
            match groupgate::source::enclosing_set(&here) {
                Some(set) => set.to_path_buf(),
                // Made a set only when empty: a home folder is not one.
                None if std::fs::read_dir(&here).is_ok_and(|mut d| d.next().is_none()) => here,
                None => bail!(
                    "the current folder is not in a policy set and is not empty: run from an empty folder, or say which set with --into SET (made if missing)"
                ),
            }
        }
    };
    if set.is_file() {
        bail!("`{}` is a file, not a policy set", set.display());
    }
    let folder = set.join(&new.name);
    if folder.exists() {
        bail!("`{}` already exists: choose another name, or remove it", folder.display());
    }
    std::fs::create_dir_all(&set).with_context(|| format!("cannot create `{}`", set.display()))?;

    // Written beside the final folder, then renamed into place.
    let partial = set.join(format!(".{}.new", new.name));
    let _ = std::fs::remove_dir_all(&partial);
    let files = write_policy(new, &hooks, &partial).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&partial);
    })?;
    // The set's file as it will be, worked out before anything is moved in:
    // a set file that cannot be added to leaves nothing behind.
    let set_file = set.join(SET_FILE);
    let set_created = !set_file.exists();
    let new_set = if set_created { Ok(Some(NEW_SET.to_owned())) } else { add_to_list(&set_file, &new.name) };
    let new_set = match new_set {
        Ok(text) => text,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    if let Err(e) = std::fs::rename(&partial, &folder) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e).with_context(|| format!("cannot create `{}`", folder.display()));
    }
    let listed = !set_created && new_set.is_some();
    if let Some(text) = new_set
        && let Err(e) = std::fs::write(&set_file, text)
    {
        let _ = std::fs::remove_dir_all(&folder);
        return Err(e).with_context(|| format!("cannot write `{}`", set_file.display()));
    }
    Ok(Created { set, folder, files, set_created, listed })
}

/// A set's `groupgate.toml` when `new` makes the set.
const NEW_SET: &str = "\
# A policy set. Its policies are the folders below holding a `policy.toml`,
# in path order (list them in `policies = [...]` to choose the order).
# `groupgate build` builds their components, `groupgate test` runs their
# cases, `groupgate serve --policies .` serves them.

[defaults]
# A policy that fails (traps, runs out of time) denies.
on_error = \"deny\"
";

/// A name that is a valid folder, cargo package, npm package and file name.
fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!(
            "`{name}` is not a policy name: lower-case letters, digits and `-`, starting with a letter (like `link-limit`)"
        );
    }
    // The SDK's own names (`groupgate.js`, the `groupgate` module), and the
    // crates a Rust policy builds with, which a package may not be named.
    let lock = std::str::from_utf8(embedded::file(embedded::RUST_SDK, "plugins/Cargo.lock"))?;
    let taken = name.starts_with("groupgate") || lock.lines().any(|l| l == format!("name = \"{name}\""));
    if taken {
        bail!("`{name}` is the name of groupgate's SDK or of a crate it builds with: choose another");
    }
    Ok(())
}

/// The set file with `name` added to its `policies` list, keeping the
/// file's comments; `None` when it lists none.
fn add_to_list(set_file: &Path, name: &str) -> Result<Option<String>> {
    let text = std::fs::read_to_string(set_file).with_context(|| format!("cannot read `{}`", set_file.display()))?;
    let mut doc: toml_edit::DocumentMut =
        text.parse().with_context(|| format!("`{}` is not valid TOML", set_file.display()))?;
    let Some(item) = doc.get_mut("policies") else { return Ok(None) };
    let Some(list) = item.as_array_mut() else {
        bail!("`{}`: `policies` is not a list", set_file.display());
    };
    list.push(name);
    Ok(Some(doc.to_string()))
}

/// Renders the templates for `new` into `dir`; the files written.
fn write_policy(new: &NewPolicy, hooks: &[Hook], dir: &Path) -> Result<Vec<String>> {
    let (folder, entry) = match new.language {
        Language::Rust => ("rust", "Cargo.toml".to_owned()),
        Language::Javascript => ("javascript", format!("{}.js", new.name)),
        Language::Python => ("python", "app.py".to_owned()),
        other => bail!("no template for {other}"),
    };
    let quoted: Vec<String> = hooks.iter().map(|h| format!("\"{h}\"")).collect();
    let vars = [
        ("name", new.name.clone()),
        ("type", type_name(&new.name)),
        ("language", new.language.as_str().to_owned()),
        ("entry", entry),
        ("hooks", quoted.join(", ")),
    ];
    let mut files = Vec::new();
    let mut write = |relative: String, contents: &[u8]| -> Result<()> {
        let path = dir.join(&relative);
        std::fs::create_dir_all(path.parent().expect("a file has a folder"))?;
        std::fs::write(&path, contents).with_context(|| format!("cannot write `{}`", path.display()))?;
        files.push(relative);
        Ok(())
    };
    for (path, contents) in embedded::TEMPLATES {
        let Some(relative) = path.strip_prefix("common/").or_else(|| path.strip_prefix(&format!("{folder}/"))) else {
            continue;
        };
        // A case file is written for the hooks the policy answers.
        if let Some(hook) = relative.strip_prefix("tests/").and_then(|f| f.split('.').next())
            && !hooks.iter().any(|h| h.as_str() == hook)
        {
            continue;
        }
        let relative = relative.strip_suffix(".tmpl").unwrap_or(relative);
        let relative =
            if relative == "gitignore" { ".gitignore".to_owned() } else { relative.replace("{{name}}", &new.name) };
        let text = std::str::from_utf8(contents).context("a template is not UTF-8")?;
        let rendered = template::render(text, &vars, hooks).map_err(|e| anyhow::anyhow!("template `{path}`: {e}"))?;
        write(relative, rendered.as_bytes())?;
    }
    match new.language {
        Language::Rust => {
            let manifest: toml::Table = toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml"))?)?;
            let deps: Vec<String> = manifest
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map(|d| d.keys().cloned().collect())
                .unwrap_or_default();
            let cargo_lock = std::str::from_utf8(embedded::file(embedded::RUST_SDK, "plugins/Cargo.lock"))?;
            write("Cargo.lock".into(), lock::cut(cargo_lock, &new.name, &deps)?.as_bytes())?;
            // The SDK the manifest points at, so an editor finds it at once.
            compile::write_rust_sdk(dir)?;
        }
        Language::Javascript => {
            for file in ["package.json", "package-lock.json"] {
                let mut json: serde_json::Value = serde_json::from_slice(embedded::file(embedded::JS_SDK, file))?;
                json["name"] = new.name.clone().into();
                if let Some(root) = json.pointer_mut("/packages/") {
                    root["name"] = new.name.clone().into();
                }
                if json.get("description").is_some() {
                    json["description"] =
                        format!("The groupgate policy {}, and the toolchain that builds it", new.name).into();
                }
                write(file.into(), format!("{}\n", serde_json::to_string_pretty(&json)?).as_bytes())?;
            }
        }
        _ => write("requirements.txt".into(), embedded::file(embedded::PYTHON_SDK, "requirements.txt"))?,
    }
    debug_assert!(files.iter().any(|f| f == POLICY_FILE));
    files.sort();
    Ok(files)
}

/// The Rust type of the policy: its name in CamelCase, `Policy` added so it
/// never meets a type of the SDK (`message` → `MessagePolicy`).
fn type_name(name: &str) -> String {
    let camel: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    if camel.ends_with("Policy") && camel != "Policy" { camel } else { camel + "Policy" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_for_every_choice_of_hooks() {
        let tmp = tempfile::tempdir().unwrap();
        let choices: [&[Hook]; 5] = [
            &[Hook::Message],
            &[Hook::GroupCreation],
            &[Hook::Membership],
            &[Hook::Message, Hook::Membership],
            &[Hook::Report],
        ];
        for (i, hooks) in choices.iter().enumerate() {
            for language in [Language::Rust, Language::Javascript, Language::Python] {
                let name = format!("p{i}-{language}");
                let new =
                    NewPolicy { language, name: name.clone(), hooks: hooks.to_vec(), into: Some(tmp.path().into()) };
                let made = create(&new).unwrap();
                let tests: Vec<_> = made.files.iter().filter(|f| f.starts_with("tests/")).collect();
                assert_eq!(tests.len(), hooks.len(), "{language} {hooks:?}: {:?}", made.files);
                let manifest = std::fs::read_to_string(made.folder.join(POLICY_FILE)).unwrap();
                for hook in HOOKS.iter().map(|s| s.hook) {
                    assert_eq!(manifest.contains(&format!("\"{hook}\"")), hooks.contains(&hook), "{manifest}");
                }
                assert!(crate::plan(&made.folder).unwrap().is_some_and(|p| p.language == language));
            }
        }
        // The first made the set; none is listed, since it lists none.
        assert!(tmp.path().join(SET_FILE).is_file());
    }

    #[test]
    fn a_bad_name_or_a_taken_folder_is_refused_and_a_listing_set_gains_the_policy() {
        let tmp = tempfile::tempdir().unwrap();
        let new = |name: &str| NewPolicy {
            language: Language::Python,
            name: name.into(),
            hooks: vec![],
            into: Some(tmp.path().into()),
        };
        for bad in ["Upper", "9lives", "trailing-", "a/b", "..", ""] {
            assert!(create(&new(bad)).unwrap_err().to_string().contains("is not a policy name"), "{bad}");
        }
        for taken in ["groupgate", "serde", "wit-bindgen"] {
            assert!(create(&new(taken)).unwrap_err().to_string().contains("choose another"), "{taken}");
        }
        assert_eq!(type_name("policy"), "PolicyPolicy");
        assert_eq!(type_name("link-limit"), "LinkLimitPolicy");
        std::fs::write(tmp.path().join(SET_FILE), "# mine\npolicies = [\"other\"]  # kept\n").unwrap();
        let made = create(&new("fresh")).unwrap();
        assert!(made.listed && !made.set_created);
        let set = std::fs::read_to_string(tmp.path().join(SET_FILE)).unwrap();
        assert!(set.contains("# mine") && set.contains("\"other\", \"fresh\""), "{set}");
        assert!(create(&new("fresh")).unwrap_err().to_string().contains("already exists"));
        // A set file that cannot be added to leaves nothing behind.
        std::fs::write(tmp.path().join(SET_FILE), "policies = 3\n").unwrap();
        assert!(create(&new("third")).unwrap_err().to_string().contains("not a list"));
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
