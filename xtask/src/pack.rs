//! Archives: `NAME-VERSION-PLATFORM.tar.gz`, holding one directory of the same
//! name with the binaries, LICENSE, README.md, CHANGELOG.md, `completions/` and
//! `man/man1/`. Reproducible: entries sorted, owner 0, one timestamp, fixed
//! modes, no gzip timestamp; the same files give the same bytes on any runner.
//! krew extracts it on every platform (Windows too), as does `tar` on Windows
//! 10 and later.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{ArchiveSpec, DOCUMENTS, Platform};

/// One archive written.
#[derive(Debug, Clone)]
pub struct Packed {
    pub spec: &'static ArchiveSpec,
    pub platform: Platform,
    pub path: PathBuf,
    pub sha256: String,
}

/// What every archive of one run shares.
#[derive(Debug, Clone)]
pub struct Options {
    /// The release tag, `v0.1.0`.
    pub version: String,
    /// gzip level, 0-9 (a release uses 9; tests of debug builds 1).
    pub level: u32,
    /// Timestamp of every entry (seconds since the epoch).
    pub mtime: u64,
}

enum Source {
    Dir,
    File { path: PathBuf, mode: u32 },
    Text { text: String, mode: u32 },
}

/// The `kubectl_complete-PLUGIN` executable of a plugin binary
/// (`kubectl-bluegreen`): kubectl 1.26+ runs it from PATH to complete
/// `kubectl PLUGIN ...<TAB>`, with the words after PLUGIN (kubectl's
/// `pkg/cmd/plugin/plugin_completion.go`); it hands them to the plugin's
/// hidden `__complete` (switchyard::completion::exit_if_complete). A `.cmd`
/// on Windows, where kubectl's LookPath finds it through PATHEXT.
pub fn complete_exec(bin: &str, platform: Platform) -> Option<(String, String)> {
    let plugin = bin.strip_prefix("kubectl-")?;
    Some(match platform.os {
        "windows" => (
            format!("kubectl_complete-{plugin}.cmd"),
            format!(
                "@echo off\r\nrem kubectl (1.26+) runs this to complete `kubectl {plugin} ...`.\r\n{bin}.exe __complete %*\r\n"
            ),
        ),
        _ => (
            format!("kubectl_complete-{plugin}"),
            format!(
                "#!/bin/sh\n# kubectl (1.26+) runs this to complete `kubectl {plugin} ...`: the words\n# after `{plugin}`, the last one being completed. Keep it on PATH next to {bin}.\nexec {bin} __complete \"$@\"\n"
            ),
        ),
    })
}

/// Packs `spec` for `platform`: the executables `exes` (binary name → file,
/// built for that platform), the documents from `root`, and the completions
/// and man pages in `docs` (see [`crate::docs::generate`]). Writes the archive
/// and `ARCHIVE.sha256` (`sha256sum -c` format) into `out`.
pub fn pack(
    spec: &'static ArchiveSpec,
    platform: Platform,
    exes: &BTreeMap<String, PathBuf>,
    root: &Path,
    docs: &Path,
    out: &Path,
    opts: &Options,
) -> Result<Packed> {
    let top = spec.dir_name(&opts.version, platform);
    let mut entries: BTreeMap<String, Source> = BTreeMap::new();
    entries.insert(top.clone(), Source::Dir);
    for (bin, path) in exes {
        entries.insert(
            format!("{top}/{}", platform.exe(bin)),
            Source::File {
                path: path.clone(),
                mode: 0o755,
            },
        );
        if spec.plugin.is_some()
            && let Some((name, text)) = complete_exec(bin, platform)
        {
            entries.insert(format!("{top}/{name}"), Source::Text { text, mode: 0o755 });
        }
    }
    for doc in DOCUMENTS {
        entries.insert(
            format!("{top}/{doc}"),
            Source::File {
                path: root.join(doc),
                mode: 0o644,
            },
        );
    }
    add_tree(&mut entries, &top, docs, docs)?;

    std::fs::create_dir_all(out)?;
    let path = out.join(spec.file_name(&opts.version, platform));
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let gz = flate2::GzBuilder::new().mtime(0).write(
        std::io::BufWriter::new(file),
        flate2::Compression::new(opts.level),
    );
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (name, source) in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(opts.mtime);
        match source {
            Source::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{name}/"), std::io::empty())
            }
            Source::File { path, mode } => {
                let f = std::fs::File::open(path)
                    .with_context(|| format!("opening {} for {name}", path.display()))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(f.metadata()?.len());
                tar.append_data(&mut header, name, std::io::BufReader::new(f))
            }
            Source::Text { text, mode } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(text.len() as u64);
                tar.append_data(&mut header, name, text.as_bytes())
            }
        }
        .with_context(|| format!("adding {name} to {}", path.display()))?;
    }
    let mut writer = tar.into_inner()?.finish()?;
    writer.flush()?;
    drop(writer);

    let sha256 = crate::sha256_file(&path)?;
    let file_name = spec.file_name(&opts.version, platform);
    std::fs::write(
        out.join(format!("{file_name}.sha256")),
        format!("{sha256}  {file_name}\n"),
    )?;
    Ok(Packed {
        spec,
        platform,
        path,
        sha256,
    })
}

/// Adds everything under `dir` (directories included) below `top`.
fn add_tree(
    entries: &mut BTreeMap<String, Source>,
    top: &str,
    base: &Path,
    dir: &Path,
) -> Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let path = child.path();
        let rel = path
            .strip_prefix(base)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let name = format!("{top}/{rel}");
        if child.file_type()?.is_dir() {
            entries.insert(name, Source::Dir);
            add_tree(entries, top, base, &path)?;
        } else if child.file_type()?.is_file() {
            entries.insert(name, Source::File { path, mode: 0o644 });
        } else {
            bail!("{} is neither a file nor a directory", path.display());
        }
    }
    Ok(())
}

/// The entries of a `.tar.gz`: path (without a trailing `/`) → is a directory.
pub fn list(archive: &Path) -> Result<BTreeMap<String, bool>> {
    let file =
        std::fs::File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let mut out = BTreeMap::new();
    for entry in tar.entries()? {
        let entry = entry?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let is_dir = entry.header().entry_type().is_dir();
        if !is_dir && !entry.header().entry_type().is_file() {
            bail!(
                "{}: {path} is neither a file nor a directory",
                archive.display()
            );
        }
        out.insert(path, is_dir);
    }
    Ok(out)
}
