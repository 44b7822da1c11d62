//! Watch: newline-delimited JSON events, resumable by resourceVersion, with
//! bookmarks, `sendInitialEvents`, selector transitions and `timeoutSeconds`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::convert::to_served;
use super::route::ResourcePath;
use super::{Reply, Request};
use crate::cluster::Cluster;
use crate::resources::{Conversion, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Change, ChangeKind, Obj};
use crate::table::{self, IncludeObject};

/// What one watcher asked for.
struct Filter {
    res: &'static ResourceType,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    table: Option<IncludeObject>,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.ns
            && obj["metadata"]["namespace"].as_str() != Some(ns.as_str())
        {
            return false;
        }
        self.labels.matches_object(obj)
            && super::objects::matches_fields(&self.fields, self.res, obj)
    }

    /// The event type this watcher sees for a change, if any: an update that moves
    /// an object into or out of the selection is ADDED or DELETED, as upstream.
    fn event_type(&self, c: &Change) -> Option<&'static str> {
        let now = self.matches(&c.object);
        let before = c.old.as_ref().is_some_and(|o| self.matches(o));
        match c.kind {
            ChangeKind::Added => now.then_some("ADDED"),
            ChangeKind::Deleted => (now || before).then_some("DELETED"),
            ChangeKind::Modified => match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
        }
    }

    /// One event line. `encoded` is the stored object's JSON when the caller has
    /// it (shared by every watcher of a change); stored objects carry their
    /// apiVersion and kind, so unconverted types send it as is.
    fn line(&self, kind: &str, obj: &Value, encoded: Option<&Bytes>) -> Bytes {
        let object: Bytes = match (self.table, self.res.conversion, encoded) {
            (Some(include), _, _) => {
                let served = to_served(self.res, obj);
                let t = table::to_table(
                    self.res.plural,
                    &[&served],
                    json!({ "resourceVersion": served["metadata"]["resourceVersion"] }),
                    include,
                    jiff::Timestamp::now(),
                );
                serde_json::to_vec(&t).unwrap_or_default().into()
            }
            (None, Conversion::None, Some(e)) => e.clone(),
            _ => serde_json::to_vec(&to_served(self.res, obj))
                .unwrap_or_default()
                .into(),
        };
        let mut line = Vec::with_capacity(object.len() + 32);
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(kind.as_bytes());
        line.extend_from_slice(b"\",\"object\":");
        line.extend_from_slice(&object);
        line.extend_from_slice(b"}\n");
        Bytes::from(line)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let obj = json!({ "kind": self.res.kind, "apiVersion": self.res.api_version(), "metadata": meta });
        let mut line =
            serde_json::to_vec(&json!({ "type": "BOOKMARK", "object": obj })).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

fn error_line(e: &ApiError) -> Bytes {
    let mut line = serde_json::to_vec(&json!({ "type": "ERROR", "object": e.to_status() }))
        .unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

pub fn watch(
    cluster: &Arc<Cluster>,
    req: &Request,
    p: &ResourcePath,
    drop_after: Option<u32>,
) -> Result<Reply, ApiError> {
    let filter = Filter {
        res: p.res,
        ns: p.ns.clone(),
        labels: LabelSelector::parse(req.param("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(req.param("fieldSelector").unwrap_or(""))?,
        table: req
            .wants_table()
            .then(|| IncludeObject::from_query(req.param("includeObject"))),
    };
    let timeout = match req.param("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
        ),
        None => Duration::from_secs(1800),
    };
    let bookmarks = req.flag("allowWatchBookmarks");
    let send_initial = req.flag("sendInitialEvents");
    let rv = req.param("resourceVersion").filter(|rv| *rv != "0");

    let (initial, start_rv, backlog, rx): (Vec<Obj>, u64, Vec<Arc<Change>>, _) =
        match (rv, send_initial) {
            (Some(rv), false) => {
                let rv: u64 = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                })?;
                match cluster.store.watch_from(p.res, rv) {
                    Ok((backlog, rx)) => (Vec::new(), rv, backlog, rx),
                    // Like the real watch cache: past authorization, a too-old
                    // version is an ERROR event in a 200 stream, not an HTTP error.
                    Err(e) => {
                        let (tx, out) = mpsc::channel::<Bytes>(1);
                        let _ = tx.try_send(error_line(&e));
                        return Ok(Reply::Stream(out));
                    }
                }
            }
            // No resourceVersion (or sendInitialEvents): the current state as
            // synthetic ADDED events, then changes.
            _ => {
                let (items, rv, rx) = cluster.store.snapshot_and_subscribe(p.res, p.ns.as_deref());
                (items, rv, Vec::new(), rx)
            }
        };

    let (tx, out) = mpsc::channel::<Bytes>(256);
    let bookmark_every = cluster.settings.bookmark_interval;
    tokio::spawn(async move {
        let mut sent: u32 = 0;
        let mut last_rv = start_rv;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(bookmark_every);
        ticker.tick().await;
        let mut rx = rx;

        macro_rules! emit {
            ($line:expr) => {{
                if tx.send($line).await.is_err() {
                    return;
                }
                sent += 1;
                if drop_after.is_some_and(|n| sent >= n) {
                    return;
                }
            }};
        }

        for o in &initial {
            if filter.matches(o) {
                emit!(filter.line("ADDED", o, None));
            }
        }
        if send_initial && tx.send(filter.bookmark(start_rv, true)).await.is_err() {
            return;
        }
        for c in &backlog {
            if let Some(t) = filter.event_type(c) {
                last_rv = c.rv;
                emit!(filter.line(t, &c.object, Some(c.encoded())));
            }
        }
        loop {
            tokio::select! {
                change = rx.recv() => match change {
                    Ok(c) => {
                        if !std::ptr::eq(c.res, filter.res.storage()) || c.rv <= last_rv {
                            continue;
                        }
                        last_rv = c.rv;
                        if let Some(t) = filter.event_type(&c) {
                            emit!(filter.line(t, &c.object, Some(c.encoded())));
                        }
                    }
                    // Too slow to keep up: like the real server, end with 410 so
                    // the client relists.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(error_line(&ApiError::gone("too old resource version: watch fell behind"))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(filter.bookmark(last_rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(Reply::Stream(out))
}
