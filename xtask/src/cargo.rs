//! The workspace as `cargo metadata` describes it, and builds through cargo.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{ARCHIVES, ArchiveSpec};

/// The cargo that runs us (`cargo xtask`, or the test runner), else `cargo`,
/// without the variables cargo sets for the process it runs: a build script
/// may watch one (ring's watches CARGO_MANIFEST_DIR), and a value that differs
/// from a plain `cargo build`'s would rebuild it and everything above it, here
/// and again at the next plain build.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_by_cargo = key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_")
            || key.starts_with("NEXTEST")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&key.as_ref());
        if set_by_cargo {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// What the release needs to know of the workspace.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// The version of every shipped crate (they must agree), e.g. `0.1.0`.
    pub version: String,
    /// `repository` of the shipped crates, e.g. `https://github.com/o/r`.
    pub repository: String,
    /// Binary target names of each shipped package, sorted.
    pub bins: BTreeMap<String, Vec<String>>,
}

impl Workspace {
    /// Reads `cargo metadata` (no dependency resolution).
    pub fn load() -> Result<Workspace> {
        let out = cargo()
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .context("running cargo metadata")?;
        if !out.status.success() {
            bail!("cargo metadata failed");
        }
        let meta: Value = serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
        Self::from_metadata(&meta)
    }

    pub fn from_metadata(meta: &Value) -> Result<Workspace> {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let mut bins = BTreeMap::new();
        let mut versions = BTreeMap::new();
        let mut repository = String::new();
        for spec in &ARCHIVES {
            let pkg = meta["packages"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == spec.package)
                .with_context(|| format!("package {} is not in the workspace", spec.package))?;
            versions.insert(spec.package, text(&pkg["version"]));
            let mut names: Vec<String> = pkg["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "bin"))
                })
                .map(|t| text(&t["name"]))
                .collect();
            names.sort();
            if names.is_empty() {
                bail!("package {} has no binary", spec.package);
            }
            bins.insert(spec.package.to_string(), names);
        }
        // The workspace's `repository` (xtask inherits it; cargo metadata does
        // not show [workspace.package] itself).
        if let Some(pkg) = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "xtask")
        {
            repository = text(&pkg["repository"]);
        }
        if !repository.starts_with("https://") {
            bail!("[workspace.package] repository is not an https URL: {repository:?}");
        }
        let version = versions.values().next().cloned().unwrap_or_default();
        if versions.values().any(|v| *v != version) {
            bail!("the shipped crates' versions differ: {versions:?}");
        }
        Ok(Workspace {
            root: PathBuf::from(text(&meta["workspace_root"])),
            target_dir: PathBuf::from(text(&meta["target_directory"])),
            version,
            repository: repository.trim_end_matches('/').to_string(),
            bins,
        })
    }

    /// `v0.1.0`: the release's tag and the krew manifests' `spec.version`.
    pub fn tag(&self) -> String {
        format!("v{}", self.version)
    }

    /// Where the release's archives are downloaded from.
    pub fn default_base_url(&self, tag: &str) -> String {
        format!("{}/releases/download/{tag}", self.repository)
    }

    pub fn bins_of(&self, spec: &ArchiveSpec) -> &[String] {
        self.bins
            .get(spec.package)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every shipped binary name.
    pub fn all_bins(&self) -> impl Iterator<Item = &String> {
        self.bins.values().flatten()
    }
}

/// This machine's target triple (`rustc -vV`).
pub fn host_target() -> Result<String> {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV names no host")
}

/// Runs `cargo ARGS --message-format=json-render-diagnostics` in the workspace
/// and returns the shipped binaries it built (or found fresh), by name.
pub fn build_bins(ws: &Workspace, args: &[&str]) -> Result<BTreeMap<String, PathBuf>> {
    let found = built_bins(ws, args)?;
    check_all_built(ws, &found, &args.join(" "))?;
    Ok(found)
}

/// Every shipped binary is in `found`, or an error naming what `what` missed.
fn check_all_built(ws: &Workspace, found: &BTreeMap<String, PathBuf>, what: &str) -> Result<()> {
    let shipped: Vec<&String> = ws.all_bins().collect();
    let missing: Vec<&&String> = shipped
        .iter()
        .filter(|s| !found.contains_key(**s))
        .collect();
    if !missing.is_empty() {
        bail!("cargo {what} built no {missing:?}");
    }
    Ok(())
}

/// Runs `cargo ARGS` and returns the shipped binaries it built, by name.
fn built_bins(ws: &Workspace, args: &[&str]) -> Result<BTreeMap<String, PathBuf>> {
    let mut child = cargo()
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(&ws.root)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    let mut found = BTreeMap::new();
    let shipped: Vec<&String> = ws.all_bins().collect();
    for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(msg) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        let is_bin = msg["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "bin"));
        if msg["reason"] != "compiler-artifact" || !is_bin || msg["profile"]["test"] == true {
            continue;
        }
        if let (Some(name), Some(exe)) =
            (msg["target"]["name"].as_str(), msg["executable"].as_str())
            && shipped.iter().any(|s| *s == name)
        {
            found.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    if !child.wait()?.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(found)
}

/// Builds the shipped binaries for release: `cargo build --locked --profile
/// PROFILE [--target TARGET] -p PACKAGE --bins`, one invocation per archive.
/// One invocation for all would unify features across them: built beside
/// kube-sandbox, the plugins got its server-side hyper features (HTTP/2 among
/// them), 330 KB each, and went over the 8 MB budget. Without `target` (or
/// with this machine's) cargo builds into `target/PROFILE`, reusing what is
/// there.
pub fn build_release(
    ws: &Workspace,
    profile: &str,
    target: Option<&str>,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    for spec in &ARCHIVES {
        let mut args = vec!["build", "--locked", "--profile", profile, "--bins"];
        if let Some(t) = target {
            args.extend(["--target", t]);
        }
        args.extend(["-p", spec.package]);
        found.extend(built_bins(ws, &args)?);
    }
    check_all_built(ws, &found, &format!("build --profile {profile}"))?;
    Ok(found)
}

/// The commit time of HEAD, for reproducible archive timestamps
/// (`SOURCE_DATE_EPOCH` wins when set).
pub fn source_date_epoch(root: &Path) -> Option<u64> {
    if let Some(t) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return Some(t);
    }
    let out = Command::new("git")
        .args(["log", "-1", "--format=%ct"])
        .current_dir(root)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// `cargo metadata` with the dependency graph resolved (every package's
/// source directory), for generators that read a dependency's source.
pub fn metadata(ws: &Workspace) -> Result<Value> {
    let out = cargo()
        // Optional dependencies are in the graph only with their features.
        .args(["metadata", "--format-version", "1", "--all-features"])
        .current_dir(&ws.root)
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed");
    }
    serde_json::from_slice(&out.stdout).context("reading cargo metadata")
}
