//! The kubeconfig a sandbox hands out: its CA, its URL, a bearer token.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine;

/// A kubeconfig with one cluster, user and context, all named `kube-sandbox`.
pub fn render(server: &str, ca_pem: &str, token: &str, namespace: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-sandbox
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: kube-sandbox
  user:
    token: {token}
contexts:
- name: kube-sandbox
  context:
    cluster: kube-sandbox
    user: kube-sandbox
    namespace: {namespace}
current-context: kube-sandbox
preferences: {{}}
"
    )
}

/// Writes `contents` to `path` readable by the owner only (it holds a token),
/// through a temporary file so a reader never sees half a file.
pub fn write(path: &Path, contents: &str) -> Result<()> {
    write_bytes(path, contents.as_bytes())
}

/// [`write`] for any bytes (keys, certificates).
pub fn write_bytes(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating directory {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp-kube-sandbox");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("writing kubeconfig {}", tmp.display()))?;
        f.write_all(contents)?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing kubeconfig {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parseable_kubeconfig() {
        let y = render("https://127.0.0.1:6443", "PEM", "tok", "default");
        let v: serde_json::Value = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(
            v["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(v["users"][0]["user"]["token"], "tok");
        assert_eq!(v["contexts"][0]["context"]["namespace"], "default");
        assert_eq!(v["current-context"], "kube-sandbox");
    }

    #[test]
    fn written_owner_only() {
        let dir = std::env::temp_dir().join(format!("kcfg-{}", std::process::id()));
        let path = dir.join("config");
        write(&path, "x").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
