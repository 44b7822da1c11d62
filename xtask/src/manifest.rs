//! krew plugin manifests: rendered from `krew-manifests/templates/PLUGIN.yaml`
//! into `krew-manifests/PLUGIN.yaml`, and checked against krew's rules.
//!
//! A template is the manifest with three placeholders: `{{version}}`,
//! `{{uri PLATFORM}}` and `{{sha256 PLATFORM}}` (PLATFORM as `linux-amd64`).
//! Its leading comment block is replaced by a "rendered from" header.
//!
//! The rules checked are those of krew's own validation
//! (internal/index/validation) and of the krew-index review: apiVersion and
//! kind, `metadata.name` equal to the file name and safe, `spec.version` a
//! semantic version with a leading `v`, a one-line `shortDescription` of at
//! most 50 characters without a trailing period, `description` and `caveats`
//! lines of at most 80, every platform with a selector on `os`/`arch` only and
//! no two selecting the same platform, a lowercase hex sha256, a `bin`, `files`
//! with clean `to` paths, a LICENSE installed, and `.exe` on Windows.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{PLATFORMS, Platform};

pub const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
/// krew-index's limit (its review bot: "it should be max 50 characters").
pub const SHORT_DESCRIPTION_MAX: usize = 50;
/// validate-krew-manifest's line limit for `description` and `caveats`.
pub const LINE_MAX: usize = 80;

/// What a manifest says of one platform.
#[derive(Debug, Clone)]
pub struct PlatformEntry {
    pub platform: Platform,
    pub uri: String,
    pub sha256: String,
    pub bin: String,
    /// `files`: (from, to).
    pub files: Vec<(String, String)>,
}

/// A checked manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub short_description: String,
    pub platforms: Vec<PlatformEntry>,
}

impl Manifest {
    pub fn platform(&self, p: Platform) -> Option<&PlatformEntry> {
        self.platforms.iter().find(|e| e.platform == p)
    }
}

/// The archive of one platform, as the renderer sees it.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Archive file name (the URI is BASE_URL/FILE).
    pub file: String,
    /// Its SHA-256, or `None` when it was not built (see `allow_missing`).
    pub sha256: Option<String>,
}

/// Placeholder sha256 of a platform not built yet: valid in form, matches no
/// archive, so krew refuses to install it rather than install something else.
pub const NOT_BUILT: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Renders `template` (whose file is `template_name`, for the header).
pub fn render(
    template: &str,
    template_name: &str,
    version: &str,
    base_url: &str,
    artifacts: &BTreeMap<Platform, Artifact>,
) -> Result<String> {
    let body: Vec<&str> = template
        .lines()
        .skip_while(|l| l.starts_with('#') || l.trim().is_empty())
        .collect();
    let mut out = format!(
        "# Rendered by `cargo xtask manifests` from templates/{template_name}:\n\
         # edit the template, not this file. The release workflow renders it\n\
         # with the sha256 of each platform's archive for every tag.\n"
    );
    for line in body {
        let mut rest = line;
        let mut rendered = String::new();
        let mut note = None;
        while let Some(start) = rest.find("{{") {
            let end = rest[start..]
                .find("}}")
                .map(|e| start + e)
                .with_context(|| format!("unclosed {{{{ in {template_name}: {line}"))?;
            rendered.push_str(&rest[..start]);
            let words: Vec<&str> = rest[start + 2..end].split_whitespace().collect();
            let artifact = |id: &str| -> Result<&Artifact> {
                let p = Platform::from_id(id)
                    .with_context(|| format!("unknown platform {id:?} in {template_name}"))?;
                artifacts
                    .get(&p)
                    .with_context(|| format!("no archive for {id} (in {template_name})"))
            };
            match words.as_slice() {
                ["version"] => rendered.push_str(version),
                ["uri", id] => rendered.push_str(&format!(
                    "{}/{}",
                    base_url.trim_end_matches('/'),
                    artifact(id)?.file
                )),
                ["sha256", id] => match &artifact(id)?.sha256 {
                    Some(sum) => rendered.push_str(sum),
                    None => {
                        rendered.push_str(NOT_BUILT);
                        note = Some(format!(
                            "  # {id} not built yet: the release workflow fills this"
                        ));
                    }
                },
                _ => bail!(
                    "unknown placeholder {{{{{}}}}} in {template_name}",
                    &rest[start + 2..end]
                ),
            }
            rest = &rest[end + 2..];
        }
        rendered.push_str(rest);
        if let Some(n) = note {
            rendered.push_str(&n);
        }
        out.push_str(&rendered);
        out.push('\n');
    }
    Ok(out)
}

/// Renders `templates/PLUGIN.yaml` into `out/PLUGIN.yaml` for every plugin
/// archive, from the archives `NAME-VERSION-PLATFORM.tar.gz` in `dist` (each
/// checked against its `.sha256` when there is one), and checks the result.
/// Without `allow_missing`, a missing archive is an error and nothing is
/// written; with it, its sha256 is [`NOT_BUILT`]. Returns the missing archives.
pub fn render_all(
    ws: &crate::cargo::Workspace,
    version: &str,
    base_url: &str,
    dist: &Path,
    out: &Path,
    allow_missing: bool,
) -> Result<Vec<String>> {
    if version != ws.tag() {
        bail!(
            "the release {version} is not v + the crates' version ({}): set [workspace.package] version in Cargo.toml first",
            ws.tag()
        );
    }
    let templates = crate::manifests_dir(&ws.root).join("templates");
    let mut missing = Vec::new();
    let mut rendered = Vec::new();
    for spec in crate::ARCHIVES.iter() {
        let Some(plugin) = spec.plugin else { continue };
        let mut artifacts = BTreeMap::new();
        for p in PLATFORMS {
            let file = spec.file_name(version, p);
            let path = dist.join(&file);
            let sha256 = if path.is_file() {
                Some(checked_sum(&path)?)
            } else {
                missing.push(file.clone());
                None
            };
            artifacts.insert(p, Artifact { file, sha256 });
        }
        let name = format!("{plugin}.yaml");
        let template = std::fs::read_to_string(templates.join(&name))
            .with_context(|| format!("reading templates/{name}"))?;
        rendered.push((
            name.clone(),
            render(&template, &name, version, base_url, &artifacts)?,
        ));
    }
    if !missing.is_empty() && !allow_missing {
        bail!(
            "no archive in {} for: {} (build them with `cargo xtask dist --target ...`, or pass --allow-missing)",
            dist.display(),
            missing.join(", ")
        );
    }
    std::fs::create_dir_all(out)?;
    for (name, text) in rendered {
        let path = out.join(&name);
        std::fs::write(&path, text)?;
        check_file(&path)?;
    }
    Ok(missing)
}

/// The archive's SHA-256, checked against its `.sha256` file when there is one.
fn checked_sum(path: &Path) -> Result<String> {
    let sum = crate::sha256_file(path)?;
    let side = std::path::PathBuf::from(format!("{}.sha256", path.display()));
    if let Ok(text) = std::fs::read_to_string(&side)
        && text.split_whitespace().next() != Some(sum.as_str())
    {
        bail!("{} does not match {}", path.display(), side.display());
    }
    Ok(sum)
}

/// Reads and checks the manifest at `path` (its file name is the plugin name);
/// every problem found is in the error.
pub fn check_file(path: &Path) -> Result<Manifest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".yaml"))
        .with_context(|| {
            format!(
                "{}: a krew manifest's file name ends in .yaml",
                path.display()
            )
        })?;
    check(name, &text).with_context(|| format!("{} is not a valid krew manifest", path.display()))
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

fn is_clean(path: &str) -> bool {
    path == "."
        || (!path.is_empty()
            && !path.starts_with('/')
            && path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."))
}

/// Checks the manifest `text` of plugin `name` (its file name without `.yaml`).
pub fn check(name: &str, text: &str) -> Result<Manifest> {
    let doc: Value = serde_saphyr::from_str(text).context("not YAML")?;
    let mut problems: Vec<String> = Vec::new();
    let mut problem = |s: String| problems.push(s);
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();

    if doc["apiVersion"] != API_VERSION {
        problem(format!(
            "apiVersion is {}, not {API_VERSION}",
            doc["apiVersion"]
        ));
    }
    if doc["kind"] != "Plugin" {
        problem(format!("kind is {}, not Plugin", doc["kind"]));
    }
    if doc["metadata"]["name"] != name {
        problem(format!(
            "metadata.name is {}, not the file's name {name:?}",
            doc["metadata"]["name"]
        ));
    }
    let kebab = |n: &str| {
        !n.is_empty()
            && n.split('-').all(|w| {
                !w.is_empty()
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    };
    if !kebab(name) {
        problem(format!(
            "the plugin name {name:?} is not lowercase words joined by hyphens"
        ));
    }
    let spec = &doc["spec"];
    let version = s(&spec["version"]);
    if !version.strip_prefix('v').is_some_and(is_semver) {
        problem(format!(
            "spec.version {version:?} is not a semantic version with a leading v"
        ));
    }
    if !s(&spec["homepage"]).starts_with("https://") {
        problem("spec.homepage is not an https URL".into());
    }
    let short = s(&spec["shortDescription"]);
    if short.is_empty() || short.contains(['\r', '\n']) {
        problem("spec.shortDescription must be one non-empty line".into());
    }
    if short.chars().count() > SHORT_DESCRIPTION_MAX {
        problem(format!(
            "spec.shortDescription has {} characters, more than {SHORT_DESCRIPTION_MAX}",
            short.chars().count()
        ));
    }
    if short.ends_with('.') {
        problem("spec.shortDescription ends with a period".into());
    }
    if s(&spec["description"]).trim().is_empty() {
        problem("spec.description is empty".into());
    }
    for field in ["description", "caveats"] {
        for line in s(&spec[field]).lines() {
            if line.chars().count() > LINE_MAX && line.trim().contains(' ') {
                problem(format!(
                    "a line of spec.{field} is longer than {LINE_MAX} characters: {line:?}"
                ));
            }
        }
    }

    let mut platforms = Vec::new();
    for (i, p) in spec["platforms"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("spec.platforms[{i}]");
        let selector = &p["selector"];
        let labels = selector["matchLabels"].as_object();
        if selector.get("matchExpressions").is_some() {
            problem(format!(
                "{at}: use matchLabels (os, arch), one platform each"
            ));
        }
        let keys_ok = labels.is_some_and(|l| l.keys().all(|k| k == "os" || k == "arch"));
        let (os, arch) = (
            s(&selector["matchLabels"]["os"]),
            s(&selector["matchLabels"]["arch"]),
        );
        let platform = PLATFORMS
            .iter()
            .copied()
            .find(|q| q.os == os && q.arch == arch);
        let Some(platform) = platform.filter(|_| keys_ok) else {
            problem(format!(
                "{at}: selector {selector} is not one of the shipped os/arch pairs"
            ));
            continue;
        };
        let entry = PlatformEntry {
            platform,
            uri: s(&p["uri"]),
            sha256: s(&p["sha256"]),
            bin: s(&p["bin"]),
            files: p["files"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| (s(&f["from"]), s(&f["to"])))
                .collect(),
        };
        let id = platform.id();
        if !entry.uri.starts_with("https://")
            || !(entry.uri.ends_with(".tar.gz") || entry.uri.ends_with(".zip"))
        {
            problem(format!(
                "{id}: uri {:?} is not an https URL of a .tar.gz or .zip",
                entry.uri
            ));
        }
        if entry.sha256.len() != 64
            || !entry
                .sha256
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            problem(format!(
                "{id}: sha256 {:?} is not 64 lowercase hex digits",
                entry.sha256
            ));
        }
        if entry.bin.is_empty() {
            problem(format!("{id}: no bin"));
        }
        if platform.os == "windows" && !entry.bin.ends_with(".exe") {
            problem(format!(
                "{id}: bin {:?} must end in .exe (krew runs only .exe on Windows)",
                entry.bin
            ));
        }
        if entry.files.is_empty() {
            problem(format!(
                "{id}: no files (list what to install, LICENSE included)"
            ));
        }
        for (from, to) in &entry.files {
            if from.is_empty() || !is_clean(to) {
                problem(format!(
                    "{id}: files entry from {from:?} to {to:?}: from is empty or to is not a clean relative path"
                ));
            }
        }
        if !entry
            .files
            .iter()
            .any(|(from, _)| from.rsplit('/').next() == Some("LICENSE"))
        {
            problem(format!("{id}: the LICENSE is not installed"));
        }
        if platforms
            .iter()
            .any(|e: &PlatformEntry| e.platform == platform)
        {
            problem(format!("{id}: selected by two platforms"));
        }
        platforms.push(entry);
    }
    for p in PLATFORMS {
        if !platforms.iter().any(|e| e.platform == p) {
            problem(format!("no platform {}", p.id()));
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(Manifest {
        name: name.to_string(),
        version,
        short_description: short,
        platforms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str =
        "# a template\n# of a plugin\n\napiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: demo
spec:
  version: {{version}}
  homepage: https://example.com/demo
  shortDescription: Does one thing well
  description: |
    A demo.
  platforms:
PLATFORMS";

    fn template() -> String {
        let mut platforms = String::new();
        for p in PLATFORMS {
            let id = p.id();
            platforms.push_str(&format!(
                "  - selector:\n      matchLabels:\n        os: {}\n        arch: {}\n    uri: {{{{uri {id}}}}}\n    sha256: \"{{{{sha256 {id}}}}}\"\n    bin: {}\n    files:\n    - from: \"*/{}\"\n      to: .\n    - from: \"*/LICENSE\"\n      to: .\n",
                p.os,
                p.arch,
                p.exe("kubectl-demo"),
                p.exe("kubectl-demo"),
            ));
        }
        TEMPLATE.replace("PLATFORMS", &platforms)
    }

    fn artifacts(missing: Option<Platform>) -> BTreeMap<Platform, Artifact> {
        PLATFORMS
            .iter()
            .map(|p| {
                let sha = (Some(*p) != missing).then(|| format!("{:064x}", p.id().len()));
                (
                    *p,
                    Artifact {
                        file: format!("demo-{}.tar.gz", p.id()),
                        sha256: sha,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn renders_every_placeholder_and_the_result_is_valid() {
        let out = render(
            &template(),
            "demo.yaml",
            "v1.2.3",
            "https://dl.example.com/v1.2.3/",
            &artifacts(None),
        )
        .unwrap();
        assert!(out.starts_with("# Rendered by `cargo xtask manifests` from templates/demo.yaml"));
        assert!(
            !out.contains("{{") && !out.contains("# a template"),
            "{out}"
        );
        assert!(
            out.contains("uri: https://dl.example.com/v1.2.3/demo-darwin-arm64.tar.gz\n"),
            "{out}"
        );
        let m = check("demo", &out).unwrap();
        assert_eq!(m.version, "v1.2.3");
        assert_eq!(m.platforms.len(), 5);
        assert_eq!(m.platform(PLATFORMS[4]).unwrap().bin, "kubectl-demo.exe");
    }

    #[test]
    fn a_platform_not_built_gets_the_placeholder_sum_and_a_note() {
        let out = render(
            &template(),
            "demo.yaml",
            "v1.2.3",
            "https://x",
            &artifacts(Some(PLATFORMS[1])),
        )
        .unwrap();
        assert!(
            out.contains(&format!(
                "sha256: \"{NOT_BUILT}\"  # linux-arm64 not built yet"
            )),
            "{out}"
        );
        check("demo", &out).unwrap();
    }

    #[test]
    fn unknown_placeholders_and_platforms_are_errors() {
        let a = artifacts(None);
        assert!(render("x: {{nope}}", "t", "v1.0.0", "https://x", &a).is_err());
        assert!(render("x: {{uri plan9-amd64}}", "t", "v1.0.0", "https://x", &a).is_err());
        assert!(render("x: {{version", "t", "v1.0.0", "https://x", &a).is_err());
    }

    #[test]
    fn krew_rules_are_enforced() {
        let good = render(
            &template(),
            "demo.yaml",
            "v1.2.3",
            "https://x",
            &artifacts(None),
        )
        .unwrap();
        let bad = |from: &str, to: &str| {
            check("demo", &good.replacen(from, to, 1))
                .unwrap_err()
                .to_string()
        };
        assert!(
            check("other", &good)
                .unwrap_err()
                .to_string()
                .contains("not the file's name")
        );
        assert!(bad("version: v1.2.3", "version: 1.2.3").contains("leading v"));
        assert!(bad("version: v1.2.3", "version: v1.2").contains("semantic version"));
        assert!(bad("Does one thing well", "Does one thing well.").contains("period"));
        assert!(
            bad(
                "Does one thing well",
                "Does one thing well and many other things as well, always"
            )
            .contains("more than 50")
        );
        assert!(
            bad("    A demo.", &format!("    {}", "word ".repeat(20))).contains("longer than 80")
        );
        assert!(bad("bin: kubectl-demo.exe", "bin: kubectl-demo").contains(".exe"));
        assert!(bad("arch: arm64", "arch: amd64").contains("two platforms"));
        assert!(bad("os: windows", "os: plan9").contains("not one of the shipped"));
        let sum = format!("{:064x}", "linux-amd64".len());
        assert!(bad(&sum, &sum.to_uppercase().replace('0', "A")).contains("lowercase hex"));
        assert!(bad("from: \"*/LICENSE\"", "from: \"*/NOTICE\"").contains("LICENSE"));
        assert!(bad("to: .", "to: ./x").contains("clean"));
    }

    #[test]
    fn semantic_versions() {
        for v in ["0.1.0", "1.20.3", "1.0.0-rc.1", "1.0.0+build.5"] {
            assert!(is_semver(v), "{v}");
        }
        for v in ["1.0", "01.0.0", "1.0.x", "", "1..0"] {
            assert!(!is_semver(v), "{v}");
        }
    }
}
