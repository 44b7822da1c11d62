//! Installing a plugin from an archive the way `kubectl krew install` does
//! (krew's internal/installation): check the archive's sha256, extract it,
//! apply the platform's `files` operations into
//! `KREW_ROOT/store/NAME/VERSION`, and link `KREW_ROOT/bin/kubectl-NAME` (dashes
//! in NAME become underscores) to the `bin` file there.
//!
//! The `files` rules (move.go): an operation whose `from` names an existing
//! path moves it to `to` (its own name when `to` is `.`); otherwise `from` is
//! a glob (`*` and `?` within one path component) and every match moves into
//! the directory `to`. A directory moves with everything under it. A glob
//! that matches nothing fails the install.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::manifest::{Manifest, PlatformEntry};

/// `kubectl-NAME`: the file kubectl looks for on PATH.
pub fn link_name(plugin: &str) -> String {
    format!("kubectl-{}", plugin.replace('-', "_"))
}

/// Matches one path component against a glob component (`*`, `?`).
fn component_matches(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| component_matches(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && component_matches(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && component_matches(rest, &text[1..]),
    }
}

fn glob_matches(pattern: &str, path: &str) -> bool {
    let (p, t): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == t.len()
        && p.iter().zip(&t).all(|(p, t)| {
            component_matches(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        })
}

fn clean(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The moves krew makes for `files`, given the extracted archive's entries
/// (path → is a directory): `(from, to)` pairs, in order, paths relative to the
/// extraction and installation directories.
pub fn plan(
    entries: &BTreeMap<String, bool>,
    files: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    // Every parent directory exists once extracted, listed or not.
    let mut staged: BTreeMap<String, bool> = BTreeMap::new();
    for (path, is_dir) in entries {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            staged.insert(parts[..i].join("/"), true);
        }
        staged.insert(path.clone(), *is_dir);
    }
    let mut moves = Vec::new();
    for (from, to) in files {
        if clean(to) != *to {
            bail!("files: {to:?} is not a clean path");
        }
        let direct = clean(from);
        let matched: Vec<(String, String)> = if staged.contains_key(&direct) {
            let target = if to == "." {
                base(&direct).to_string()
            } else {
                to.clone()
            };
            vec![(direct, target)]
        } else {
            let found: Vec<(String, String)> = staged
                .keys()
                .filter(|p| glob_matches(from, p))
                .map(|p| (p.clone(), clean(&format!("{to}/{}", base(p)))))
                .collect();
            if found.is_empty() {
                bail!("no files in the plugin archive matched the glob pattern {from:?}");
            }
            found
        };
        for (src, dst) in matched {
            if dst.split('/').any(|c| c == "..") {
                bail!("files: {dst:?} leaves the installation directory");
            }
            staged.retain(|p, _| p != &src && !p.starts_with(&format!("{src}/")));
            moves.push((src, dst));
        }
    }
    Ok(moves)
}

/// What the installation directory holds after `plan` (path → is a directory).
pub fn installed(
    entries: &BTreeMap<String, bool>,
    files: &[(String, String)],
) -> Result<BTreeMap<String, bool>> {
    let mut out = BTreeMap::new();
    for (src, dst) in plan(entries, files)? {
        for (path, is_dir) in entries {
            if path == &src {
                out.insert(dst.clone(), *is_dir);
            } else if let Some(rest) = path.strip_prefix(&format!("{src}/")) {
                out.insert(format!("{dst}/{rest}"), *is_dir);
            }
        }
        if !entries.contains_key(&src) {
            out.insert(dst.clone(), true); // a directory only implied by its files
        }
    }
    Ok(out)
}

/// Installs `manifest`'s `platform` entry from the local `archive` into
/// `krew_root`, as `kubectl krew install --manifest M --archive A` would;
/// returns the link made in `KREW_ROOT/bin`.
pub fn install(
    manifest: &Manifest,
    entry: &PlatformEntry,
    archive: &Path,
    krew_root: &Path,
) -> Result<PathBuf> {
    let sum = crate::sha256_file(archive)?;
    if sum != entry.sha256 {
        bail!(
            "{}: sha256 {sum} does not match the manifest's {}",
            archive.display(),
            entry.sha256
        );
    }
    let staging = krew_root.join("downloads").join(&manifest.name);
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let file = std::fs::File::open(archive)?;
    tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
        .unpack(&staging)
        .with_context(|| format!("extracting {}", archive.display()))?;

    let entries = crate::pack::list(archive)?;
    let install_dir = krew_root
        .join("store")
        .join(&manifest.name)
        .join(&manifest.version);
    std::fs::create_dir_all(&install_dir)?;
    for (src, dst) in plan(&entries, &entry.files)? {
        let to = install_dir.join(&dst);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(staging.join(&src), &to)
            .with_context(|| format!("moving {src} to {dst}"))?;
    }
    std::fs::remove_dir_all(&staging)?;

    let bin = install_dir.join(clean(&entry.bin));
    if !bin.is_file() {
        bail!("bin {} is not among the installed files", entry.bin);
    }
    let bin_dir = krew_root.join("bin");
    std::fs::create_dir_all(&bin_dir)?;
    let link = bin_dir.join(crate::Platform::exe(
        &entry.platform,
        &link_name(&manifest.name),
    ));
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    {
        // krew links relatively: ../store/NAME/VERSION/BIN
        let relative = Path::new("..")
            .join("store")
            .join(&manifest.name)
            .join(&manifest.version)
            .join(clean(&entry.bin));
        std::os::unix::fs::symlink(relative, &link)?;
    }
    #[cfg(not(unix))]
    std::fs::copy(&bin, &link)?;
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(paths: &[&str]) -> BTreeMap<String, bool> {
        paths
            .iter()
            .map(|p| (p.trim_end_matches('/').to_string(), p.ends_with('/')))
            .collect()
    }

    fn files(ops: &[(&str, &str)]) -> Vec<(String, String)> {
        ops.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn globs_stay_within_a_component() {
        assert!(glob_matches("*/kubectl-x", "d-v1/kubectl-x"));
        assert!(!glob_matches("*/kubectl-x", "a/b/kubectl-x"));
        assert!(glob_matches("d/*.bash", "d/x.bash"));
        assert!(glob_matches("d/?", "d/x"));
        assert!(!glob_matches("d/?", "d/xy"));
    }

    #[test]
    fn direct_glob_and_directory_moves() {
        let e = entries(&[
            "d/",
            "d/kubectl-x",
            "d/LICENSE",
            "d/completions/",
            "d/completions/x.bash",
            "top.txt",
        ]);
        let got = installed(
            &e,
            &files(&[
                ("*/kubectl-x", "."),
                ("d/LICENSE", "."),
                ("*/completions", "."),
                ("top.txt", "docs/top"),
            ]),
        )
        .unwrap();
        let want = entries(&[
            "kubectl-x",
            "LICENSE",
            "completions/",
            "completions/x.bash",
            "docs/top",
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn a_glob_matching_nothing_fails_as_krew_does() {
        let e = entries(&["d/kubectl-x"]);
        let err = plan(&e, &files(&[("*/kubectl-y", ".")])).unwrap_err();
        assert!(err.to_string().contains("matched"), "{err}");
        assert!(plan(&e, &files(&[("*/kubectl-x", "./bin")])).is_err());
    }

    #[test]
    fn link_names_use_underscores() {
        assert_eq!(link_name("bluegreen"), "kubectl-bluegreen");
        assert_eq!(link_name("view-logs"), "kubectl-view_logs");
    }
}
