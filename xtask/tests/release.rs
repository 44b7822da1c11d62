//! The release as users get it: archives packed from the binaries this test
//! run built, krew manifests rendered from those archives, an install the way
//! krew does one, and the installed kubectl finding the plugins.
//!
//! Only this machine's platform can be built here. Its archives hold the real
//! binaries (the debug build, packed with gzip level 1 to stay fast); the other
//! four platforms' archives are packed by the same code around small
//! stand-in files, which is enough to check names, layout, `files`, `bin` and
//! checksums. The release workflow builds the real ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use xtask::cargo::Workspace;
use xtask::manifest::{self, Artifact};
use xtask::{ARCHIVES, ArchiveSpec, PLATFORMS, Platform, docs, krew, pack};

const BASE: &str = "https://downloads.example.com/switchyard";

/// A directory removed when the test ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Release {
    dir: Scratch,
    ws: Workspace,
    host: Platform,
    exes: BTreeMap<String, PathBuf>,
    dist: PathBuf,
    manifests: PathBuf,
    base_url: String,
}

impl Release {
    fn manifest(&self, plugin: &str) -> PathBuf {
        self.manifests.join(format!("{plugin}.yaml"))
    }
}

/// The shipped binaries as this test run built them: asking cargo for the
/// units `cargo nextest run --workspace` (or `cargo test`) builds finds them
/// fresh, and builds them if this test runs alone.
fn built_binaries(ws: &Workspace) -> BTreeMap<String, PathBuf> {
    xtask::cargo::build_bins(ws, &["test", "--no-run", "--workspace"]).expect("the binaries build")
}

/// Packs `specs` for every platform (real binaries for this machine's) and
/// renders the krew manifests from the archives.
fn fresh_release(name: &str, specs: &[&'static ArchiveSpec]) -> Release {
    let ws = Workspace::load().expect("cargo metadata");
    let exes = built_binaries(&ws);
    let host = Platform::from_target(&xtask::cargo::host_target().unwrap())
        .expect("this machine is one of the release's platforms");
    let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir = Scratch(dir);
    let dist = dir.0.join("dist");
    let opts = pack::Options {
        version: ws.tag(),
        level: 1,
        mtime: 1_700_000_000,
    };
    for spec in specs {
        let bins = ws.bins_of(spec);
        let docs_dir = dir.0.join("docs").join(spec.name);
        docs::generate(spec, bins, &exes, &docs_dir).expect("completions and man pages");
        for platform in PLATFORMS {
            let files: BTreeMap<String, PathBuf> = if platform == host {
                bins.iter().map(|b| (b.clone(), exes[b].clone())).collect()
            } else {
                let d = dir.0.join("stand-ins").join(platform.id());
                std::fs::create_dir_all(&d).unwrap();
                bins.iter()
                    .map(|b| {
                        let p = d.join(b);
                        std::fs::write(&p, format!("stand-in for {b} on {}\n", platform.id()))
                            .unwrap();
                        (b.clone(), p)
                    })
                    .collect()
            };
            pack::pack(spec, platform, &files, &ws.root, &docs_dir, &dist, &opts).expect("packed");
        }
    }
    let manifests = dir.0.join("krew-manifests");
    let base_url = format!("{BASE}/{}", ws.tag());
    let missing = manifest::render_all(&ws, &ws.tag(), &base_url, &dist, &manifests, false)
        .expect("manifests rendered from the archives");
    assert!(missing.is_empty());
    Release {
        dir,
        ws,
        host,
        exes,
        dist,
        manifests,
        base_url,
    }
}

fn plugins() -> Vec<&'static ArchiveSpec> {
    ARCHIVES.iter().filter(|a| a.plugin.is_some()).collect()
}

#[test]
fn manifests_rendered_from_fresh_archives_match_them() {
    let r = fresh_release("manifests", &ARCHIVES.iter().collect::<Vec<_>>());
    // The manifests' version is the crates' version (all shipped crates agree:
    // Workspace::load checks), with krew's leading v.
    assert_eq!(r.ws.version, env!("CARGO_PKG_VERSION"));
    for spec in plugins() {
        let plugin = spec.plugin.unwrap();
        // Valid per krew (the name equals the file name, among the rest).
        let m = manifest::check_file(&r.manifest(plugin)).unwrap();
        assert_eq!(m.name, plugin);
        assert_eq!(m.version, format!("v{}", r.ws.version));
        for entry in &m.platforms {
            let file = spec.file_name(&m.version, entry.platform);
            assert_eq!(entry.uri, format!("{}/{file}", r.base_url));
            let archive = r.dist.join(&file);
            assert_eq!(
                entry.sha256,
                xtask::sha256_file(&archive).unwrap(),
                "{file}"
            );
            // Installed by krew's rules, `bin` is a file there. On this
            // machine's platform it is the binary this run built, byte for byte.
            let top = spec.dir_name(&m.version, entry.platform);
            let inside = format!("{top}/{}", spec.name);
            let (entries, mut contents) = scan(&archive, |p| p == inside);
            if entry.platform == r.host {
                assert!(
                    contents.remove(&inside) == Some(std::fs::read(&r.exes[spec.name]).unwrap()),
                    "{file}: not the built binary"
                );
            }
            let installed = krew::installed(&entries, &entry.files).unwrap();
            assert_eq!(entry.bin, entry.platform.exe(spec.name), "{file}");
            assert_eq!(
                installed.get(&entry.bin),
                Some(&false),
                "{file}: bin not installed: {installed:?}"
            );
            for path in [
                "LICENSE",
                "README.md",
                "CHANGELOG.md",
                "completions",
                "man/man1",
            ] {
                assert!(
                    installed.contains_key(path),
                    "{file}: no {path} installed: {installed:?}"
                );
            }
            for (_, script) in docs::scripts(spec.name) {
                assert!(
                    installed.contains_key(&format!("completions/{script}")),
                    "{file}: {script}"
                );
            }
            assert!(installed.contains_key(&format!("man/man1/{}.1", spec.name)));
        }
    }
    // The Jenkins archive ships every binary of jenkins-steps, found by
    // cargo metadata (a new src/bin/*.rs needs no change to the packaging).
    let steps = ARCHIVES
        .iter()
        .find(|a| a.package == "jenkins-steps")
        .unwrap();
    let bins = r.ws.bins_of(steps);
    for step in [
        "deploy-health-wait",
        "deploy-switch",
        "deploy-weight",
        "deploy-rollback",
        "deploy-notify",
    ] {
        assert!(bins.iter().any(|b| b == step), "{step} not among {bins:?}");
    }
    let top = steps.dir_name(&r.ws.tag(), r.host);
    let archive = r.dist.join(steps.file_name(&r.ws.tag(), r.host));
    let (entries, texts) = scan(&archive, |p| p.starts_with(&format!("{top}/completions/")));
    let mut scripts = Vec::new();
    for bin in bins {
        assert_eq!(entries.get(&format!("{top}/{bin}")), Some(&false), "{bin}");
        assert!(
            entries.contains_key(&format!("{top}/man/man1/{bin}.1")),
            "{bin}.1"
        );
        scripts.extend(
            docs::scripts(bin).map(|(_, s)| (bin.clone(), format!("{top}/completions/{s}"))),
        );
    }
    for (bin, path) in &scripts {
        let text = String::from_utf8_lossy(texts.get(path).expect("in the archive"));
        assert!(
            text.contains(bin.as_str()),
            "{path} does not complete {bin}: {text}"
        );
    }
    // Reproducible: the same files pack to the same bytes.
    let spec = plugins()[1];
    let windows = PLATFORMS[4];
    let again = r.dir.0.join("again");
    let opts = pack::Options {
        version: r.ws.tag(),
        level: 1,
        mtime: 1_700_000_000,
    };
    let stand_in = r.dir.0.join("stand-ins").join(windows.id()).join(spec.name);
    let files = BTreeMap::from([(spec.name.to_string(), stand_in)]);
    let docs_dir = r.dir.0.join("docs").join(spec.name);
    let repacked = pack::pack(spec, windows, &files, &r.ws.root, &docs_dir, &again, &opts).unwrap();
    assert_eq!(
        repacked.sha256,
        xtask::sha256_file(&r.dist.join(spec.file_name(&r.ws.tag(), windows))).unwrap()
    );
}

/// One pass over a .tar.gz: every entry (path → is a directory), and the
/// contents of the files `wanted` picks.
fn scan(
    archive: &Path,
    wanted: impl Fn(&str) -> bool,
) -> (BTreeMap<String, bool>, BTreeMap<String, Vec<u8>>) {
    use std::io::Read;
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let (mut entries, mut contents) = (BTreeMap::new(), BTreeMap::new());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let is_dir = entry.header().entry_type().is_dir();
        if !is_dir && wanted(&path) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            contents.insert(path.clone(), bytes);
        }
        entries.insert(path, is_dir);
    }
    (entries, contents)
}

/// The directory of the installed kubectl.
fn kubectl_dir() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .find(|d| d.join("kubectl").is_file())
        .expect("kubectl is installed (the end-to-end tests run it)")
}

#[test]
fn installed_the_way_krew_does_kubectl_finds_and_runs_the_plugins() {
    let r = fresh_release("install", &plugins());
    let krew_root = r.dir.0.join("krew");
    let mut links = Vec::new();
    for spec in plugins() {
        let m = manifest::check_file(&r.manifest(spec.plugin.unwrap())).unwrap();
        let entry = m
            .platform(r.host)
            .expect("a platform entry for this machine");
        let archive = r.dist.join(spec.file_name(&m.version, r.host));
        links.push(krew::install(&m, entry, &archive, &krew_root).expect("installed"));
        // What the manifest's caveats tell the user: link the completion
        // executable next to the plugin, where kubectl 1.26+ looks it up.
        let plugin = spec.plugin.unwrap();
        let exec = format!("kubectl_complete-{plugin}");
        let stored = krew_root
            .join("store")
            .join(plugin)
            .join(&m.version)
            .join(&exec);
        assert!(stored.is_file(), "{} is not in the archive", exec);
        std::os::unix::fs::symlink(&stored, krew_root.join("bin").join(&exec)).unwrap();
    }
    // PATH as a krew user has it: KREW_ROOT/bin, and kubectl's directory
    // (nothing else, so no plugin of this machine's can shadow ours).
    let path = std::env::join_paths([krew_root.join("bin"), kubectl_dir()]).unwrap();
    let cluster = switchyard_e2e::TestCluster::demo();
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .env("PATH", &path)
            .env("KUBECONFIG", &cluster.kubeconfig)
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .expect("kubectl runs");
        let (stdout, stderr) = switchyard_e2e::texts(&out);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {stderr}{stdout}"
        );
        (stdout, stderr)
    };

    let (list, warnings) = kubectl(&["plugin", "list"]);
    assert!(
        warnings.is_empty(),
        "kubectl plugin list warned: {warnings}"
    );
    for link in &links {
        assert!(
            list.contains(&link.display().to_string()),
            "{} not listed:\n{list}",
            link.display()
        );
    }
    for plugin in ["bluegreen", "canary"] {
        let (help, _) = kubectl(&[plugin, "--help"]);
        assert!(
            help.contains(&format!("Usage: kubectl {plugin} ")),
            "{help}"
        );
        assert!(help.contains("completion"), "{help}");
        let (version, _) = kubectl(&[plugin, "--version"]);
        assert!(
            version.starts_with(&format!("kubectl-{plugin} {} (commit ", r.ws.version)),
            "{version}"
        );
    }
    // `kubectl bluegreen <TAB>`: the shell asks kubectl's hidden __complete,
    // which runs kubectl_complete-bluegreen with the words after the plugin.
    for (words, want) in [
        (&["bluegreen", "sw"][..], "switch\t"),
        (
            &["bluegreen", "switch", "web", "--ver"],
            "--verify-timeout\t",
        ),
        (&["canary", ""], "ramp\t"),
        (&["canary", "set", "30", "--provider", "g"], "gateway"),
    ] {
        let mut args = vec!["__complete"];
        args.extend_from_slice(words);
        let (out, _) = kubectl(&args);
        assert!(
            out.lines().any(|l| l.starts_with(want)),
            "kubectl {args:?} offered: {out}"
        );
    }
    let (status, _) = kubectl(&["bluegreen", "status", "-o", "json"]);
    let doc: Value = serde_json::from_str(&status).expect("one JSON document");
    assert!(status.contains("\"web\""), "{doc}");
    let (status, _) = kubectl(&["canary", "status"]);
    assert!(status.contains("shop"), "{status}");
}

/// The committed manifests are valid, at the crates' version, and exactly
/// what the templates render to with the URIs and sums they carry: nobody
/// edited one by hand, and no template change is left unrendered.
#[test]
fn committed_manifests_are_their_templates_rendered() {
    let ws = Workspace::load().unwrap();
    let dir = xtask::manifests_dir(&ws.root);
    for spec in plugins() {
        let plugin = spec.plugin.unwrap();
        let path = dir.join(format!("{plugin}.yaml"));
        let m = manifest::check_file(&path).unwrap();
        assert_eq!(
            m.version,
            ws.tag(),
            "{}: bump it with `cargo xtask manifests`",
            path.display()
        );
        let base_url = m.platforms[0].uri.rsplit_once('/').unwrap().0.to_string();
        let artifacts: BTreeMap<Platform, Artifact> = m
            .platforms
            .iter()
            .map(|e| {
                let file = e.uri.rsplit_once('/').unwrap().1.to_string();
                assert_eq!(file, spec.file_name(&m.version, e.platform));
                let sha256 = (e.sha256 != manifest::NOT_BUILT).then(|| e.sha256.clone());
                (e.platform, Artifact { file, sha256 })
            })
            .collect();
        let template =
            std::fs::read_to_string(dir.join("templates").join(format!("{plugin}.yaml"))).unwrap();
        let rendered = manifest::render(
            &template,
            &format!("{plugin}.yaml"),
            &m.version,
            &base_url,
            &artifacts,
        )
        .unwrap();
        let committed = std::fs::read_to_string(&path).unwrap();
        assert!(
            rendered == committed,
            "{} is not templates/{plugin}.yaml rendered: run `cargo xtask manifests`",
            path.display()
        );
    }
}

/// The release workflow builds all five platforms and renders the manifests.
#[test]
fn the_release_workflow_covers_every_platform() {
    let ws = Workspace::load().unwrap();
    let text = std::fs::read_to_string(ws.root.join(".github/workflows/release.yml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).expect("YAML");
    let include = doc["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("a build matrix");
    let built: BTreeSet<String> = include
        .iter()
        .map(|row| {
            let target = row["target"].as_str().expect("a target per row");
            Platform::from_target(target)
                .unwrap_or_else(|| panic!("{target}"))
                .id()
        })
        .collect();
    let all: BTreeSet<String> = PLATFORMS.iter().map(Platform::id).collect();
    assert_eq!(built, all);
    assert_eq!(include.len(), PLATFORMS.len(), "one row per platform");
    assert!(text.contains("cargo xtask dist --target"), "{text}");
    assert!(text.contains("cargo xtask manifests"), "{text}");
}
