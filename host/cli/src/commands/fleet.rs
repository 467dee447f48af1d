//! `sign`, `verify`, `push` and `pull`: signed policy sets, and OCI
//! registries to share them across a fleet.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use groupgate::source::Folder;
use groupgate_fleet::{OciRef, Registry, RegistryOptions, Snapshot, TrustedKeys, Verified};

/// How to reach a registry.
#[derive(clap::Args, Clone, Default)]
pub struct RegistryArgs {
    /// Reach HOST (or HOST:PORT) over plain HTTP rather than HTTPS. Loopback
    /// addresses always are; repeat for several hosts.
    #[arg(long, value_name = "HOST")]
    pub allow_http: Vec<String>,
    /// The registry user; the password comes from
    /// `GROUPGATE_REGISTRY_PASSWORD`. Without it, credentials are those
    /// `docker login` keeps (`~/.docker/config.json` and its helpers), or
    /// none.
    #[arg(long, value_name = "USER")]
    pub registry_user: Option<String>,
}

/// The variable holding the password of `--registry-user`: a flag would
/// show it in the process list.
pub const PASSWORD_VAR: &str = "GROUPGATE_REGISTRY_PASSWORD";

impl RegistryArgs {
    /// The options these flags give.
    pub fn options(&self) -> Result<RegistryOptions> {
        let credentials = match &self.registry_user {
            Some(user) => {
                let password = std::env::var(PASSWORD_VAR)
                    .with_context(|| format!("--registry-user needs the password in {PASSWORD_VAR}"))?;
                Some((user.clone(), password))
            }
            None => None,
        };
        Ok(RegistryOptions { allow_http: self.allow_http.clone(), credentials })
    }
}

/// A folder, or an `oci://` reference.
#[derive(Clone, Debug)]
pub enum SetArg {
    /// A set in a folder.
    Folder(PathBuf),
    /// A set in a registry.
    Oci(OciRef),
}

impl SetArg {
    /// Parses a command-line value: `oci://…` or a folder.
    pub fn parse(text: &str) -> Result<SetArg, String> {
        if text.starts_with("oci://") { OciRef::parse(text).map(SetArg::Oci) } else { Ok(SetArg::Folder(text.into())) }
    }
}

/// The `--trusted-keys` file, read.
pub fn trusted_keys(path: &Path) -> Result<TrustedKeys> {
    TrustedKeys::load(path).map_err(|e| anyhow::anyhow!("--trusted-keys: {e}"))
}

fn oci_ref(text: &str) -> Result<OciRef, String> {
    OciRef::parse(text)
}

/// Flags of `sign`.
#[derive(clap::Args)]
pub struct SignArgs {
    /// The policy set folder (the one holding `groupgate.toml`).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The OpenSSH private key to sign with (`ssh-keygen -t ed25519`), not
    /// protected by a passphrase.
    #[arg(long, value_name = "KEY", required_unless_present = "sums_only")]
    pub key: Option<PathBuf>,
    /// Write only `groupgate.sum`, to be signed with `ssh-keygen -Y sign -n
    /// groupgate -f KEY DIR/groupgate.sum` (a key with a passphrase, or one
    /// in ssh-agent or a hardware token).
    #[arg(long, conflicts_with = "key")]
    pub sums_only: bool,
}

pub const SIGN_HELP: &str = "Writes DIR/groupgate.sum, every file's SHA-256 (`sha256sum -c groupgate.sum` checks it), and DIR/groupgate.sum.sig, its SSH signature for the namespace `groupgate`: the same file `ssh-keygen -Y sign -n groupgate -f KEY DIR/groupgate.sum` writes, and `ssh-keygen -Y verify -n groupgate -f allowed_signers -I PRINCIPAL -s DIR/groupgate.sum.sig < DIR/groupgate.sum` checks. Sign again after any change: a file added, removed or changed makes the signature fail.";

pub fn sign(args: SignArgs) -> Result<u8> {
    let signed = groupgate_fleet::sign(&args.dir, args.key.as_deref())?;
    match signed.key {
        Some(key) => {
            println!("signed `{}`: {} files, digest {}, by {key}", args.dir.display(), signed.files, signed.digest)
        }
        None => println!(
            "listed `{}`: {} files, digest {}; now sign `{}` with ssh-keygen -Y sign -n groupgate",
            args.dir.display(),
            signed.files,
            signed.digest,
            args.dir.join(groupgate_fleet::sums::SUMS_FILE).display()
        ),
    }
    Ok(0)
}

/// Flags of `verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The set: a folder, or `oci://HOST[:PORT]/REPO:TAG`.
    #[arg(value_name = "DIR|oci://…", value_parser = SetArg::parse)]
    pub set: SetArg,
    /// The signers to trust: an OpenSSH `allowed_signers` file.
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub const VERIFY_HELP: &str = "Exit status: 0 when the set is signed by a trusted key and every file is as signed; 1 when not, naming the cause (unsigned, a bad signature, an untrusted key, and every file changed, added or missing); 2 when it cannot be read.";

pub fn verify(args: VerifyArgs) -> Result<u8> {
    let trusted = trusted_keys(&args.trusted_keys)?;
    let (snapshot, named) = match &args.set {
        SetArg::Folder(dir) => (read_folder(dir)?, format!("`{}`", dir.display())),
        SetArg::Oci(reference) => {
            let registry = Registry::new(reference, &args.registry.options()?)?;
            let manifest = registry.resolve(reference)?;
            (
                registry.pull(&reference.at(&manifest), Path::new(&reference.to_string()))?,
                format!("{reference} ({manifest})"),
            )
        }
    };
    match groupgate_fleet::verify(snapshot.files(), &trusted) {
        Ok(verified) => {
            report("verified", &named, &verified, &snapshot);
            Ok(0)
        }
        Err(e) => {
            eprintln!("not verified: {named}: {e}");
            Ok(1)
        }
    }
}

fn report(what: &str, named: &str, verified: &Verified, snapshot: &Snapshot) {
    println!("{what} {named}");
    println!("  digest  {}", verified.digest);
    println!("  signer  {}", verified.signer);
    let signed = snapshot.files().keys().filter(|p| !groupgate_fleet::sums::is_signature_file(p)).count();
    println!("  files   {signed}");
}

fn read_folder(dir: &Path) -> Result<Snapshot> {
    if !dir.join(groupgate::SET_FILE).is_file() {
        bail!("`{}` is not a policy set: it has no `{}`", dir.display(), groupgate::SET_FILE);
    }
    Ok(Snapshot::read(&Folder::new(dir))?)
}

/// Flags of `push`.
#[derive(clap::Args)]
pub struct PushArgs {
    /// The signed policy set folder.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Where to store it: `oci://HOST[:PORT]/REPO:TAG`.
    #[arg(value_name = "oci://…", value_parser = oci_ref)]
    pub to: OciRef,
    /// Also check that these signers trust the set's key.
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: Option<PathBuf>,
    /// Push the folder as it is, even unsigned or changed since it was
    /// signed. Replicas refuse such a set: this is for trying that out.
    #[arg(long)]
    pub as_is: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub const PUSH_HELP: &str = "Stores the set as an OCI artifact (artifact type application/vnd.groupgate.set.v1, one layer per file named by its org.opencontainers.image.title annotation, the signature among them as groupgate.sum.sig), after checking that it is signed and that every file is as signed. Prints the manifest's digest.";

pub fn push(args: PushArgs) -> Result<u8> {
    let snapshot = read_folder(&args.dir)?;
    if !args.as_is {
        let checked = match &args.trusted_keys {
            Some(file) => groupgate_fleet::verify(snapshot.files(), &trusted_keys(file)?),
            None => groupgate_fleet::verify_untrusted(snapshot.files()),
        };
        checked.with_context(|| format!("`{}` (--as-is pushes it anyway)", args.dir.display()))?;
    }
    let registry = Registry::new(&args.to, &args.registry.options()?)?;
    let manifest = registry.push(&snapshot, &args.to)?;
    println!("pushed `{}` to {} ({manifest})", args.dir.display(), args.to);
    Ok(0)
}

/// Flags of `pull`.
#[derive(clap::Args)]
pub struct PullArgs {
    /// The set: `oci://HOST[:PORT]/REPO:TAG`.
    #[arg(value_name = "oci://…", value_parser = oci_ref)]
    pub from: OciRef,
    /// The folder to write it to: new, or empty.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The signers to trust: an OpenSSH `allowed_signers` file. A set they
    /// do not trust is not written.
    #[arg(long, value_name = "FILE")]
    pub trusted_keys: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn pull(args: PullArgs) -> Result<u8> {
    let trusted = trusted_keys(&args.trusted_keys)?;
    if args.dir.exists() {
        let empty = std::fs::read_dir(&args.dir).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty {
            bail!("`{}` exists and is not empty: pull into a new folder", args.dir.display());
        }
        std::fs::remove_dir(&args.dir).with_context(|| format!("`{}`", args.dir.display()))?;
    }
    let registry = Registry::new(&args.from, &args.registry.options()?)?;
    let manifest = registry.resolve(&args.from)?;
    let snapshot = registry.pull(&args.from.at(&manifest), &args.dir)?;
    let named = format!("{} ({manifest})", args.from);
    let verified =
        groupgate_fleet::verify(snapshot.files(), &trusted).with_context(|| format!("{named}: not written"))?;
    snapshot.write_to(&args.dir).with_context(|| format!("cannot write `{}`", args.dir.display()))?;
    report("pulled", &format!("{named} into `{}`", args.dir.display()), &verified, &snapshot);
    Ok(0)
}
