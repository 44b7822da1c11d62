//! The README's two commands and CI: `scripts/test` installs what is missing
//! (its install path shown with `--setup-dry-run`, which runs nothing), stops
//! with a clear message without kubectl or cargo-nextest, and `.ci/run` runs
//! exactly it after fmt and clippy.

use std::path::{Path, PathBuf};
use std::process::Command;

use switchyard_e2e::{expect, run};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn script_test(args: &[&str], assume_missing: &str) -> std::process::Output {
    let mut cmd = Command::new(repo().join("scripts/test"));
    cmd.args(args)
        .env("SWITCHYARD_TEST_ASSUME_MISSING", assume_missing);
    run(cmd, None)
}

fn is_root() -> bool {
    let mut id = Command::new("id");
    id.arg("-u");
    let out = run(id, None);
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[test]
fn the_install_path_installs_what_is_missing_from_apt() {
    let (stdout, _) = expect(&script_test(&["--setup-dry-run"], "groovy prometheus"), 0);
    let lines: Vec<&str> = stdout.lines().collect();
    let sudo = if is_root() { "" } else { "sudo " };
    assert_eq!(
        lines,
        [
            format!("would run: {sudo}apt-get update -qq"),
            format!(
                "would run: {sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends groovy prometheus"
            ),
        ],
        "{stdout}"
    );
    // Only what is missing.
    let (stdout, _) = expect(&script_test(&["--setup-dry-run"], "prometheus"), 0);
    assert!(
        stdout.ends_with("--no-install-recommends prometheus\n"),
        "{stdout}"
    );
}

#[test]
fn a_missing_tool_that_apt_cannot_give_is_named_with_how_to_install_it() {
    for (tool, says) in [
        ("kubectl", "https://kubernetes.io/docs/tasks/tools/#kubectl"),
        ("cargo-nextest", "cargo install cargo-nextest --locked"),
    ] {
        let (stdout, stderr) = expect(&script_test(&["--setup-dry-run"], tool), 1);
        assert!(stdout.is_empty(), "{stdout}");
        let error = switchyard_e2e::error_line(&stderr);
        assert!(
            error.contains(&format!("{tool} is not installed")),
            "{stderr}"
        );
        assert!(
            stderr.contains("hint: ") && stderr.contains(says),
            "{stderr}"
        );
    }
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let ci = std::fs::read_to_string(repo().join(".ci/run")).expect(".ci/run");
    let commands: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        commands[commands.len() - 3..],
        [
            "cargo fmt --all --check",
            "cargo clippy --workspace --all-targets --locked -- -D warnings",
            "scripts/test",
        ],
        "{ci}"
    );
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let block = readme
        .split("## Try it: two commands")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("the README's two commands");
    let firsts: Vec<&str> = block
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(firsts, ["scripts/demo.sh", "scripts/test"], "{block}");
}

/// ARCHITECTURE.md maps every module of the library and the sandbox (a new
/// module without a line there fails here), and the README links it, not a
/// file outside the clone.
#[test]
fn the_architecture_maps_every_module_and_the_readme_links_it() {
    let arch = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut missing = Vec::new();
    for root in ["switchyard/src", "sandbox/src"] {
        let mut dirs = vec![repo().join(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let stem = path.file_stem().unwrap().to_str().unwrap();
                let name = match stem {
                    "mod" => path
                        .parent()
                        .unwrap()
                        .file_name()
                        .unwrap()
                        .to_str()
                        .unwrap(),
                    s => s,
                };
                let named = [
                    format!("`{name}`"),
                    format!("`{name}/`"),
                    format!("`{name}.rs`"),
                    format!("/{name}.rs`"),
                ]
                .iter()
                .any(|n| arch.contains(n.as_str()));
                if !named {
                    missing.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in ARCHITECTURE.md's code map: {missing:?}"
    );
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("](ARCHITECTURE.md)"),
        "the README links ARCHITECTURE.md"
    );
    assert!(
        !readme.contains(concat!("..", "/shared")),
        "the README links outside the clone"
    );
}
