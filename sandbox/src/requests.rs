//! Request counting, so tests can assert how many API calls an operation makes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};

const LOG_CAPACITY: usize = 2_000;

/// Counts by `verb resource` and keeps the most recent requests.
#[derive(Debug, Default)]
pub struct Requests {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    total: u64,
    by_key: BTreeMap<String, u64>,
    log: std::collections::VecDeque<String>,
}

impl Requests {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one API request. `resource` is `services`, `deployments/scale`, or
    /// for non-resource paths the path itself.
    pub fn record(&self, verb: &str, resource: &str, line: String) {
        let mut i = self.lock();
        i.total += 1;
        *i.by_key.entry(format!("{verb} {resource}")).or_default() += 1;
        if i.log.len() == LOG_CAPACITY {
            i.log.pop_front();
        }
        i.log.push_back(line);
    }

    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }

    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// Count for one `verb resource` key.
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.lock()
            .by_key
            .get(&format!("{verb} {resource}"))
            .copied()
            .unwrap_or(0)
    }

    /// `{"total": N, "counts": {"patch services": 1, ...}, "log": [...]}`.
    pub fn snapshot(&self) -> Value {
        let i = self.lock();
        json!({ "total": i.total, "counts": i.by_key, "log": i.log })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let r = Requests::default();
        r.record(
            "get",
            "services",
            "GET /api/v1/namespaces/default/services/web".into(),
        );
        r.record("get", "services", "GET ...".into());
        r.record("patch", "services", "PATCH ...".into());
        assert_eq!(r.total(), 3);
        assert_eq!(r.count("get", "services"), 2);
        assert_eq!(r.snapshot()["counts"]["patch services"], 1);
        r.reset();
        assert_eq!(r.total(), 0);
        assert_eq!(r.count("get", "services"), 0);
    }
}
