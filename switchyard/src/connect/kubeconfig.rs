//! Finding and reading the kubeconfig as kubectl does (client-go's
//! `ClientConfigLoadingRules.Load`: `--kubeconfig` must exist; the files of
//! `KUBECONFIG` are merged, missing ones skipped; else `~/.kube/config`), with
//! errors that name the file, say what is wrong with it and how to fix it.
//!
//! A kubeconfig that cannot be used is bad input (exit 2), not an unreachable
//! cluster (exit 5): nothing was sent, and the fix is in the file or the flags,
//! not in the network or the credentials the server refused.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use crate::exit::{Error, Exit};

/// Where the kubeconfig comes from: `--kubeconfig`, `KUBECONFIG`, or the home file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `--kubeconfig PATH`: must exist.
    Flag(PathBuf),
    /// The files of `KUBECONFIG`, merged in order; missing ones are skipped.
    Env(Vec<PathBuf>),
    /// `~/.kube/config`.
    Home(PathBuf),
}

impl Source {
    /// The source kubectl would use, given `--kubeconfig` (None when neither
    /// the flag, `KUBECONFIG` nor `HOME` says anything).
    pub fn find(flag: Option<&Path>) -> Option<Source> {
        if let Some(p) = flag {
            return Some(Source::Flag(p.to_path_buf()));
        }
        if let Some(v) = std::env::var_os("KUBECONFIG") {
            let paths: Vec<PathBuf> = std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
            if !paths.is_empty() {
                return Some(Source::Env(paths));
            }
        }
        std::env::var_os("HOME").map(|h| Source::Home(PathBuf::from(h).join(".kube/config")))
    }

    /// Every file named, for messages.
    fn describe(&self) -> String {
        match self {
            Source::Flag(p) | Source::Home(p) => p.display().to_string(),
            Source::Env(ps) => ps
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

fn bad(message: String, hint: impl Into<String>) -> anyhow::Error {
    Error::new(Exit::Usage, message).hint(hint).into()
}

fn view_hint(path: &Path) -> String {
    format!(
        "fix or replace the file (kubectl config view --kubeconfig {}), or point --kubeconfig or KUBECONFIG at another",
        path.display()
    )
}

/// One file: whether it is there (`Ok(None)` when missing and `skip_missing`),
/// a file, text, not empty, and a kubeconfig.
fn read_one(path: &Path, skip_missing: bool) -> anyhow::Result<Option<Kubeconfig>> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if skip_missing {
                return Ok(None);
            }
            return Err(bad(
                format!("kubeconfig {shown} does not exist"),
                "pass the path of an existing kubeconfig with --kubeconfig (kubectl config view --minify --raw > FILE writes one)",
            ));
        }
        Err(e) => {
            return Err(bad(
                format!("kubeconfig {shown} cannot be read: {e}"),
                format!("check the file's permissions: ls -l {shown}"),
            ));
        }
    };
    if meta.is_dir() {
        return Err(bad(
            format!("kubeconfig {shown} is a directory, not a file"),
            format!(
                "point --kubeconfig or KUBECONFIG at the file, e.g. {}",
                path.join("config").display()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        bad(
            format!("kubeconfig {shown} cannot be read: {e}"),
            format!("check the file's permissions: ls -l {shown}"),
        )
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(t) if !t.contains('\0') => t,
        _ => {
            return Err(bad(
                format!("kubeconfig {shown} is not a text file (binary data, not YAML)"),
                view_hint(path),
            ));
        }
    };
    if text.trim().is_empty() {
        return Err(bad(format!("kubeconfig {shown} is empty"), view_hint(path)));
    }
    // kube's reader again: it resolves the file's relative paths (CA, keys,
    // exec commands) against its directory, as kubectl does.
    match Kubeconfig::read_from(path) {
        Ok(k) => Ok(Some(k)),
        Err(KubeconfigError::Parse(e)) => Err(bad(
            format!(
                "kubeconfig {shown} is not valid YAML: {}",
                e.to_string().lines().next().unwrap_or("")
            ),
            view_hint(path),
        )),
        Err(e) => Err(bad(
            format!("kubeconfig {shown} cannot be used: {e}"),
            view_hint(path),
        )),
    }
}

/// Reads the kubeconfig of `source`: the merged files and what to call them.
pub fn read(source: &Source) -> anyhow::Result<Kubeconfig> {
    match source {
        Source::Flag(p) | Source::Home(p) => {
            Ok(read_one(p, false)?.expect("a missing file is an error here"))
        }
        Source::Env(paths) => {
            let mut merged: Option<Kubeconfig> = None;
            for p in paths {
                // A single KUBECONFIG file is as explicit as the flag.
                if let Some(k) = read_one(p, paths.len() > 1)? {
                    merged = Some(match merged {
                        Some(m) => m.merge(k).map_err(|e| {
                            bad(
                                format!("the files of KUBECONFIG cannot be merged: {e}"),
                                "check the apiVersion and kind of each file",
                            )
                        })?,
                        None => k,
                    });
                }
            }
            merged.ok_or_else(|| {
                bad(
                    format!(
                        "none of the files in KUBECONFIG exist: {}",
                        source.describe()
                    ),
                    "set KUBECONFIG to an existing kubeconfig, or pass --kubeconfig",
                )
            })
        }
    }
}

/// Checks that the context, cluster and user `options` asks for (or the
/// current context) are in `kubeconfig`, naming what is there; kube's own
/// errors say only "failed to determine current context".
pub fn check_selection(
    kubeconfig: &Kubeconfig,
    options: &KubeConfigOptions,
    source: &Source,
) -> anyhow::Result<()> {
    let file = source.describe();
    let list = |names: Vec<&str>| match names.is_empty() {
        true => "none".to_string(),
        false => names.join(", "),
    };
    let contexts: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let context = match options
        .context
        .as_deref()
        .or(kubeconfig.current_context.as_deref())
    {
        Some(c) => c,
        None => {
            return Err(bad(
                format!(
                    "kubeconfig {file} sets no current-context, and no --context was given (its contexts: {})",
                    list(contexts)
                ),
                format!(
                    "pass --context NAME, or set one: kubectl config use-context NAME --kubeconfig {file}"
                ),
            ));
        }
    };
    let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context) else {
        let how = match options.context {
            Some(_) => "--context",
            None => "its current-context",
        };
        return Err(bad(
            format!(
                "context {context:?} ({how}) is not in kubeconfig {file} (its contexts: {})",
                list(contexts)
            ),
            format!(
                "kubectl config get-contexts --kubeconfig {file} lists them; pass one with --context"
            ),
        ));
    };
    let ctx = named.context.as_ref();
    let cluster = options
        .cluster
        .as_deref()
        .or(ctx.map(|c| c.cluster.as_str()));
    if let Some(cluster) = cluster
        && !kubeconfig.clusters.iter().any(|c| c.name == cluster)
    {
        return Err(bad(
            format!(
                "cluster {cluster:?} (of context {context:?}) is not in kubeconfig {file} (its clusters: {})",
                list(
                    kubeconfig
                        .clusters
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect()
                )
            ),
            format!(
                "kubectl config get-clusters --kubeconfig {file} lists them; pass one with --cluster"
            ),
        ));
    }
    let user = options
        .user
        .as_deref()
        .or(ctx.and_then(|c| c.user.as_deref()));
    if let Some(user) = user
        && !kubeconfig.auth_infos.iter().any(|u| u.name == user)
    {
        return Err(bad(
            format!(
                "user {user:?} (of context {context:?}) is not in kubeconfig {file} (its users: {})",
                list(
                    kubeconfig
                        .auth_infos
                        .iter()
                        .map(|u| u.name.as_str())
                        .collect()
                )
            ),
            format!(
                "kubectl config get-users --kubeconfig {file} lists them; pass one with --user"
            ),
        ));
    }
    Ok(())
}

/// The error of kube turning a checked kubeconfig into a client config (a
/// certificate that is not PEM, a server URL that is not one): still the file's fault.
pub fn config_error(e: KubeconfigError, source: &Source) -> anyhow::Error {
    let file = source.describe();
    bad(
        format!("kubeconfig {file} cannot be used: {e}"),
        format!(
            "check the context's cluster and user: kubectl config view --minify --kubeconfig {file}"
        ),
    )
}

/// The user name the kubeconfig's context authenticates as (its `user`
/// entry's name), for the actor of history entries when `USER` is unset.
pub fn context_user(kubeconfig: &Kubeconfig, options: &KubeConfigOptions) -> Option<String> {
    if let Some(u) = &options.user {
        return Some(u.clone());
    }
    let context = options
        .context
        .as_deref()
        .or(kubeconfig.current_context.as_deref())?;
    kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()?
        .user
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "switchyard-kubeconfig-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn message(e: anyhow::Error) -> (Exit, String, String) {
        let ours = e.downcast_ref::<Error>().expect("our error");
        (
            ours.exit,
            ours.message.clone(),
            ours.hint.clone().unwrap_or_default(),
        )
    }

    const GOOD: &str = "apiVersion: v1\nkind: Config\ncurrent-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: t}\n";

    #[test]
    fn each_broken_file_is_named_with_what_is_wrong() {
        let d = dir("broken");
        let cases: Vec<(&str, Option<&[u8]>, &str)> = vec![
            ("missing", None, "does not exist"),
            ("empty", Some(b"  \n"), "is empty"),
            (
                "binary",
                Some(b"\x7fELF\x02\x01\x01\0\0\0\xff\xfe"),
                "is not a text file",
            ),
            (
                "yaml",
                Some(b"{{{ this: is: not: [yaml\n\t- at all"),
                "is not valid YAML",
            ),
        ];
        for (name, content, says) in cases {
            let p = d.join(name);
            if let Some(c) = content {
                std::fs::write(&p, c).unwrap();
            }
            let (exit, msg, hint) = message(read(&Source::Flag(p.clone())).unwrap_err());
            assert_eq!(exit, Exit::Usage, "{name}");
            assert!(
                msg.contains(&p.display().to_string()) && msg.contains(says),
                "{name}: {msg}"
            );
            assert!(!msg.contains('\n'), "{name}: one line: {msg}");
            assert!(
                !hint.is_empty() && !hint.contains("reachable"),
                "{name}: {hint}"
            );
        }
        let (_, msg, hint) = message(read(&Source::Flag(d.clone())).unwrap_err());
        assert!(msg.ends_with("is a directory, not a file"), "{msg}");
        assert!(
            hint.contains(&d.join("config").display().to_string()),
            "{hint}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn kubeconfig_lists_skip_missing_files_as_kubectl_does() {
        let d = dir("list");
        let good = d.join("good");
        std::fs::write(&good, GOOD).unwrap();
        let k = read(&Source::Env(vec![d.join("gone"), good.clone()])).unwrap();
        assert_eq!(k.current_context.as_deref(), Some("a"));
        let (exit, msg, _) =
            message(read(&Source::Env(vec![d.join("gone"), d.join("gone2")])).unwrap_err());
        assert_eq!(exit, Exit::Usage);
        assert!(
            msg.starts_with("none of the files in KUBECONFIG exist"),
            "{msg}"
        );
        // One file in KUBECONFIG is as explicit as --kubeconfig.
        let (_, msg, _) = message(read(&Source::Env(vec![d.join("gone")])).unwrap_err());
        assert!(msg.ends_with("does not exist"), "{msg}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_wrong_or_missing_context_names_the_ones_there() {
        let k = Kubeconfig::from_yaml(GOOD).unwrap();
        let src = Source::Flag("/tmp/k".into());
        let with = |context: Option<&str>, cluster: Option<&str>, user: Option<&str>| {
            check_selection(
                &k,
                &KubeConfigOptions {
                    context: context.map(String::from),
                    cluster: cluster.map(String::from),
                    user: user.map(String::from),
                },
                &src,
            )
        };
        assert!(with(None, None, None).is_ok());
        let (exit, msg, hint) = message(with(Some("nope"), None, None).unwrap_err());
        assert_eq!(exit, Exit::Usage);
        assert_eq!(
            msg,
            "context \"nope\" (--context) is not in kubeconfig /tmp/k (its contexts: a)"
        );
        assert!(hint.contains("kubectl config get-contexts"), "{hint}");
        let (_, msg, _) = message(with(None, Some("far"), None).unwrap_err());
        assert!(msg.starts_with("cluster \"far\""), "{msg}");
        let (_, msg, _) = message(with(None, None, Some("eve")).unwrap_err());
        assert!(msg.starts_with("user \"eve\""), "{msg}");
        let none = Kubeconfig::from_yaml("apiVersion: v1\nkind: Config\n").unwrap();
        let (_, msg, hint) =
            message(check_selection(&none, &KubeConfigOptions::default(), &src).unwrap_err());
        assert!(msg.contains("sets no current-context"), "{msg}");
        assert!(hint.contains("use-context"), "{hint}");
        assert_eq!(
            context_user(&k, &KubeConfigOptions::default()).as_deref(),
            Some("u")
        );
    }
}
