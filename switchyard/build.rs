//! Sets `SWITCHYARD_GIT_COMMIT` for `--version` (see `src/completion.rs`): the
//! commit the build comes from, or `unknown`. Never fails the build.
//!
//! Order: `SWITCHYARD_GIT_COMMIT` from the environment (a packager who knows
//! the commit of a source tarball), then `git rev-parse HEAD` when the
//! workspace is the top of a git checkout (not a tarball unpacked inside some
//! other repository, whose commit would be wrong), else `unknown`.
//!
//! kube-sandbox uses this same file as its build script.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    // This file, for whichever package runs it (kube-sandbox runs it too).
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let this = Path::new(&dir)
            .join("..")
            .join("switchyard")
            .join("build.rs");
        println!("cargo:rerun-if-changed={}", this.display());
    }
    println!("cargo:rerun-if-env-changed=SWITCHYARD_GIT_COMMIT");
    let commit = std::env::var("SWITCHYARD_GIT_COMMIT")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .or_else(from_git)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=SWITCHYARD_GIT_COMMIT={commit}");
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn from_git() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    // Every crate of the workspace sits one level below its root.
    let workspace = manifest.parent()?.canonicalize().ok()?;
    let top = git(&workspace, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != workspace {
        return None;
    }
    // Rebuild when HEAD moves: a checkout rewrites HEAD, a commit the branch's
    // ref (loose, or in packed-refs after `git gc`).
    let path =
        |name: &str| git(&workspace, &["rev-parse", "--git-path", name]).map(|p| workspace.join(p));
    let mut watched: Vec<PathBuf> = ["HEAD", "packed-refs"]
        .into_iter()
        .filter_map(path)
        .filter(|p| p.exists())
        .collect();
    if let Some(r) = git(&workspace, &["symbolic-ref", "-q", "HEAD"]).and_then(|b| path(&b)) {
        // A packed ref has no file: watch the directory its next loose
        // version is written to (a missing path would rerun every build).
        match r.exists() {
            true => watched.push(r),
            false => watched.extend(r.parent().filter(|d| d.exists()).map(Path::to_path_buf)),
        }
    }
    for p in watched {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    git(&workspace, &["rev-parse", "--short=12", "HEAD"])
}
