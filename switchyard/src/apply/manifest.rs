//! Reading manifests as `kubectl apply -f` does: files, directories (their
//! `*.yaml`, `*.yml` and `*.json` files; with `-R` their subdirectories
//! too), `-` for standard input; YAML streams of several documents and JSON
//! streams of several values; `List` kinds (`List`, `ServiceList`, ...)
//! flattened into their items; empty documents skipped.
//!
//! Nothing here talks to the cluster: every file is read, and a file that
//! cannot be read or parsed is an error naming it and the document, before
//! anything is sent.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where an object came from: the file, the document (1-based, counting
/// empty ones, as an editor shows `---` separated documents), and the item of
/// a `List`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub document: usize,
    pub item: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} document {}", self.file, self.document)?;
        if let Some(i) = self.item {
            write!(f, " item {i}")?;
        }
        Ok(())
    }
}

/// One object as a file has it.
#[derive(Clone, Debug)]
pub struct Doc {
    pub origin: Origin,
    pub object: Value,
}

/// A file or document that cannot be read: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub at: String,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.what)
    }
}

/// Reads every path (a file, a directory, or `-`) into its objects, in the
/// order given (a directory's files by name). Every problem is returned, not
/// only the first, so one run shows them all.
pub fn read(paths: &[PathBuf], recursive: bool) -> (Vec<Doc>, Vec<Problem>) {
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            match std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                Ok(_) => parse("<stdin>", &text, false, &mut docs, &mut problems),
                Err(e) => problems.push(Problem {
                    at: "<stdin>".into(),
                    what: format!("cannot be read: {e}"),
                }),
            }
            continue;
        }
        let mut files = Vec::new();
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => collect(path, recursive, &mut files, &mut problems),
            Ok(_) => files.push(path.clone()),
            Err(e) => problems.push(Problem {
                at: path.display().to_string(),
                what: format!("cannot be read: {}", io_reason(&e)),
            }),
        }
        for file in files {
            let name = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => parse(&name, &text, is_json(&file), &mut docs, &mut problems),
                Err(e) => problems.push(Problem {
                    at: name,
                    what: format!("cannot be read: {}", io_reason(&e)),
                }),
            }
        }
    }
    (docs, problems)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".into(),
        _ => e.to_string(),
    }
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "yaml" | "yml" | "json"))
}

/// A directory's manifest files by name; its subdirectories only with `-R`
/// (as kubectl: without it they are skipped, not an error).
fn collect(dir: &Path, recursive: bool, files: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem {
                at: dir.display().to_string(),
                what: format!("cannot be read: {}", io_reason(&e)),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            if recursive {
                collect(&p, recursive, files, problems);
            }
        } else if is_manifest(&p) {
            files.push(p);
        }
    }
}

/// The documents of one file's text.
fn parse(file: &str, text: &str, json: bool, docs: &mut Vec<Doc>, problems: &mut Vec<Problem>) {
    let values: Vec<(usize, Result<Value, String>)> = if json {
        serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .enumerate()
            .map(|(i, r)| (i + 1, r.map_err(|e| e.to_string())))
            // A stream stops at its first error: nothing after it can be read.
            .scan(false, |failed, (i, r)| {
                if *failed {
                    return None;
                }
                *failed = r.is_err();
                Some((i, r))
            })
            .collect()
    } else {
        split_yaml(text)
            .into_iter()
            .enumerate()
            .map(|(i, (line, chunk))| {
                let parsed = if is_blank(chunk) {
                    Ok(Value::Null)
                } else {
                    serde_saphyr::from_str::<Value>(chunk)
                        .map_err(|e| format!("(from line {line}) {}", first_line(&e.to_string())))
                };
                (i + 1, parsed)
            })
            .collect()
    };
    for (document, value) in values {
        let origin = Origin {
            file: file.to_string(),
            document,
            item: None,
        };
        match value {
            Ok(Value::Null) => {}
            Ok(v) => flatten(origin, v, docs, problems),
            Err(e) => problems.push(Problem {
                at: origin.to_string(),
                what: format!("not valid {}: {e}", if json { "JSON" } else { "YAML" }),
            }),
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// A YAML stream's documents with the line each starts on: split at `---`
/// lines (a document start marker at the start of a line, as the YAML spec
/// has it; in a block scalar the content is indented) and `...` ends.
fn split_yaml(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let (mut start, mut start_line, mut offset) = (0, 1, 0);
    // A document is open once a `---` started it or content appeared in it;
    // `...` closes it, so a `---` right after starts the next one only.
    let (mut explicit, mut content) = (false, false);
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end();
        let start_marker = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        if start_marker || bare == "..." {
            if explicit || content {
                docs.push((start_line, &text[start..offset]));
            }
            content = false;
            explicit = start_marker;
            // `--- {a: 1}`: content on the marker line belongs to the next document.
            if bare.len() > 3 && start_marker {
                start = offset + 3;
                start_line = n + 1;
                content = !is_blank(&bare[3..]);
            } else {
                start = offset + line.len();
                start_line = n + 2;
            }
        } else if !is_blank(line) {
            content = true;
        }
        offset += line.len();
    }
    if explicit || content {
        docs.push((start_line, &text[start..]));
    }
    docs
}

/// Only whitespace and comments.
fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with('%')
    })
}

/// A `List` (kind `List` or `*List` with `items`) into its items; anything
/// else as it is.
fn flatten(origin: Origin, v: Value, docs: &mut Vec<Doc>, problems: &mut Vec<Problem>) {
    let is_list =
        v["kind"].as_str().is_some_and(|k| k.ends_with("List")) && v.get("items").is_some();
    if !is_list {
        docs.push(Doc { origin, object: v });
        return;
    }
    let Some(items) = v["items"].as_array() else {
        problems.push(Problem {
            at: origin.to_string(),
            what: "a List's items must be a list".into(),
        });
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let origin = Origin {
            item: Some(i + 1),
            ..origin.clone()
        };
        if !item.is_null() {
            docs.push(Doc {
                origin,
                object: item.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn docs_of(text: &str, json: bool) -> (Vec<Doc>, Vec<Problem>) {
        let (mut d, mut p) = (Vec::new(), Vec::new());
        parse("f.yaml", text, json, &mut d, &mut p);
        (d, p)
    }

    #[test]
    fn multi_document_yaml_counts_empty_documents_and_skips_them() {
        let text =
            "# leading comment\n---\nkind: A\n---\n# empty\n---\nkind: B\n...\n---\nkind: C\n";
        let (d, p) = docs_of(text, false);
        assert!(p.is_empty(), "{p:?}");
        let got: Vec<(usize, String)> = d
            .iter()
            .map(|d| {
                (
                    d.origin.document,
                    d.object["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, vec![(1, "A".into()), (3, "B".into()), (4, "C".into())]);
    }

    #[test]
    fn a_block_scalar_holding_dashes_stays_one_document() {
        let text = "kind: ConfigMap\ndata:\n  script: |\n    echo a\n    ---\n    echo b\n";
        let (d, p) = docs_of(text, false);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(d.len(), 1);
        assert!(
            d[0].object["data"]["script"]
                .as_str()
                .unwrap()
                .contains("---")
        );
    }

    #[test]
    fn a_broken_document_is_named_by_index_and_the_rest_still_read() {
        let (d, p) = docs_of("kind: A\n---\nkind: [B\n---\nkind: C\n", false);
        assert_eq!(d.len(), 2);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].to_string()
                .starts_with("f.yaml document 2: not valid YAML"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn json_streams_and_lists_are_flattened() {
        let text = r#"{"kind":"List","items":[{"kind":"A"},{"kind":"B"}]} {"kind":"C"}"#;
        let (d, p) = docs_of(text, true);
        assert!(p.is_empty(), "{p:?}");
        let got: Vec<String> = d.iter().map(|d| d.origin.to_string()).collect();
        assert_eq!(
            got,
            [
                "f.yaml document 1 item 1",
                "f.yaml document 1 item 2",
                "f.yaml document 2"
            ]
        );
        assert_eq!(d[2].object, json!({"kind": "C"}));
        let (_, p) = docs_of(r#"{"kind":"A"} {"kind":"#, true);
        assert_eq!(p.len(), 1);
        assert!(p[0].at.ends_with("document 2"), "{p:?}");
    }

    #[test]
    fn directories_read_manifests_by_name_and_recurse_only_with_r() {
        let dir = std::env::temp_dir().join(format!("switchyard-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("b.yaml"), "kind: B\n").unwrap();
        std::fs::write(dir.join("a.json"), r#"{"kind":"A"}"#).unwrap();
        std::fs::write(dir.join("notes.txt"), "not a manifest").unwrap();
        std::fs::write(dir.join("sub/c.yml"), "kind: C\n").unwrap();
        let kinds = |docs: &[Doc]| -> Vec<String> {
            docs.iter()
                .map(|d| d.object["kind"].as_str().unwrap().to_string())
                .collect()
        };
        let (d, p) = read(std::slice::from_ref(&dir), false);
        assert!(p.is_empty());
        assert_eq!(kinds(&d), ["A", "B"]);
        let (d, _) = read(std::slice::from_ref(&dir), true);
        assert_eq!(kinds(&d), ["A", "B", "C"]);
        let (_, p) = read(&[dir.join("missing.yaml")], false);
        assert!(p[0].what.contains("no such file"), "{p:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
