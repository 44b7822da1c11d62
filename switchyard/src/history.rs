//! Switch history, kept in annotations on the active Service so that it lives
//! with the app (no CRD, no store of ours) and rollback can read it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// JSON list of the last entries, newest first.
pub const HISTORY: &str = "switchyard.dev/history";
/// The color (or weight) before the last change; what rollback returns to.
pub const PREVIOUS: &str = "switchyard.dev/previous";
/// Count of recorded changes.
pub const REVISION: &str = "switchyard.dev/revision";
/// How many entries are kept.
pub const KEEP: usize = 20;

/// One recorded change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    pub from: String,
    pub to: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
}

/// The history of one app.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct History {
    pub revision: u64,
    pub previous: Option<String>,
    /// Newest first.
    pub entries: Vec<Entry>,
}

impl History {
    /// Reads the annotations; malformed history reads as empty rather than
    /// blocking a switch (the next write replaces it).
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> History {
        let Some(a) = annotations else {
            return History::default();
        };
        History {
            revision: a.get(REVISION).and_then(|r| r.parse().ok()).unwrap_or(0),
            previous: a.get(PREVIOUS).cloned(),
            entries: a
                .get(HISTORY)
                .and_then(|h| serde_json::from_str(h).ok())
                .unwrap_or_default(),
        }
    }

    /// Adds a change, newest first, keeping the last `KEEP`.
    pub fn record(&mut self, entry: Entry) {
        self.previous = Some(entry.from.clone());
        self.revision += 1;
        self.entries.insert(0, entry);
        self.entries.truncate(KEEP);
    }

    /// The annotations that store this history.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        a.insert(REVISION.to_string(), self.revision.to_string());
        if let Some(p) = &self.previous {
            a.insert(PREVIOUS.to_string(), p.clone());
        }
        a.insert(
            HISTORY.to_string(),
            serde_json::to_string(&self.entries).unwrap_or_else(|_| "[]".into()),
        );
        a
    }
}

static IDENTITY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Who the cluster connection acts as (`--as`, the kubeconfig context's user,
/// or in a pod its ServiceAccount): set once by `KubeArgs::connect`, and the
/// actor's name when `USER` is unset (a container, a systemd unit).
pub fn set_identity(name: impl Into<String>) {
    let _ = IDENTITY.set(name.into());
}

/// Who is acting: the Jenkins job and build when run by Jenkins, else
/// user@host, the user from `USER` (or `USERNAME`), else the connection's
/// identity ([`set_identity`]), else `unknown`.
pub fn actor() -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (env("JOB_NAME"), env("BUILD_NUMBER")) {
        (Some(job), Some(n)) => format!("jenkins:{job}#{n}"),
        _ => {
            let user = env("USER")
                .or_else(|| env("USERNAME"))
                .or_else(|| IDENTITY.get().cloned())
                .unwrap_or_else(|| "unknown".into());
            let host = std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .or_else(|| env("HOSTNAME"))
                .unwrap_or_else(|| "localhost".into());
            format!("{user}@{host}")
        }
    }
}

/// `BUILD_URL` with any credentials stripped: it is written into annotations and
/// events, which many people can read.
pub fn build_url() -> Option<String> {
    let url = std::env::var("BUILD_URL").ok().filter(|u| !u.is_empty())?;
    Some(strip_userinfo(&url))
}

fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Now, RFC 3339 in UTC to the second.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(from: &str, to: &str) -> Entry {
        Entry {
            time: "t".into(),
            from: from.into(),
            to: to.into(),
            actor: "a".into(),
            reason: None,
            build: None,
        }
    }

    #[test]
    fn records_newest_first_and_round_trips() {
        let mut h = History::default();
        h.record(entry("blue", "green"));
        h.record(entry("green", "blue"));
        assert_eq!(h.revision, 2);
        assert_eq!(h.previous.as_deref(), Some("green"));
        assert_eq!(h.entries[0].to, "blue");
        let back = History::from_annotations(Some(&h.annotations()));
        assert_eq!(back, h);
    }

    #[test]
    fn keeps_the_last_entries_and_tolerates_garbage() {
        let mut h = History::default();
        for i in 0..(KEEP + 5) {
            h.record(entry(&i.to_string(), "x"));
        }
        assert_eq!(h.entries.len(), KEEP);
        assert_eq!(h.entries[0].from, (KEEP + 4).to_string());
        let mut bad = BTreeMap::new();
        bad.insert(HISTORY.to_string(), "{not json".to_string());
        assert!(History::from_annotations(Some(&bad)).entries.is_empty());
    }

    #[test]
    fn build_urls_lose_credentials() {
        assert_eq!(
            strip_userinfo("https://bob:s3cret@ci.example.com/job/x/42/"),
            "https://ci.example.com/job/x/42/"
        );
        assert_eq!(
            strip_userinfo("https://ci.example.com/job/x/42/"),
            "https://ci.example.com/job/x/42/"
        );
    }
}
