//! Scenario 6: the sandbox itself. Memory and latency of one in-process
//! sandbox under a kube-rs client, with many objects and many watchers.
//!
//! It creates ConfigMaps (~1 KiB each, over 10 namespaces, 32 requests in
//! flight), times full LISTs and paged ones (10 pages), starts watchers (half
//! cluster-wide, half per namespace, all from resourceVersion "0"), then times
//! GET and PATCH of random objects, first one at a time and then from 16
//! concurrent workers, and how long each PATCH takes to reach the watchers. RSS
//! figures are for the whole harness process: the sandbox and its clients.
//!
//! Latencies run from just before a request is sent to its decoded reply; watch
//! delivery, from just before a PATCH is sent to a watcher decoding its
//! MODIFIED event. It fails only if a watcher missed (or duplicated) an event,
//! which is a correctness failure.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use crate::env::Config;
use crate::report::{Section, Table, Verdict};
use crate::stats::fmt;

const NAMESPACES: usize = 10;
const CREATE_IN_FLIGHT: usize = 32;
const CLIENTS: usize = 16;
const LISTS: usize = 20;
const SENT_ANNOTATION: &str = "bench.sandbox/sent-us";
const TIERS: [&str; 3] = ["web", "db", "cache"];

fn ns_name(ns: usize) -> String {
    format!("bench-{ns}")
}

/// Object `i` lives in namespace `i % NAMESPACES`.
fn object(i: usize) -> (usize, String) {
    (i % NAMESPACES, format!("cm-{i:05}"))
}

fn config_map(i: usize) -> ConfigMap {
    let (ns, name) = object(i);
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "namespace": ns_name(ns),
            "labels": {"app": "bench", "shard": ns.to_string(), "tier": TIERS[i % 3]},
        },
        "data": {"payload": format!("{i:08}").repeat(128)},
    }))
    .expect("a valid ConfigMap")
}

/// Latencies of one phase, sorted, and its wall time.
struct Lat {
    lat: Vec<Duration>,
    wall: Duration,
}

impl Lat {
    fn new(mut lat: Vec<Duration>, wall: Duration) -> Lat {
        lat.sort();
        Lat { lat, wall }
    }

    /// Nearest-rank percentile, in milliseconds.
    fn pct(&self, p: f64) -> f64 {
        let ms: Vec<f64> = self.lat.iter().map(|d| crate::stats::ms(*d)).collect();
        crate::stats::percentile(&ms, p)
    }

    /// One table row; a zero wall time leaves the rate out.
    fn row(&self, t: &mut Table, label: &str) {
        let rate = match self.wall.is_zero() {
            true => "-".to_string(),
            false => format!("{:.0}", self.lat.len() as f64 / self.wall.as_secs_f64()),
        };
        t.row(vec![
            label.to_string(),
            self.lat.len().to_string(),
            fmt(self.pct(50.0)),
            fmt(self.pct(90.0)),
            fmt(self.pct(99.0)),
            fmt(self.pct(100.0)),
            rate,
        ]);
    }
}

/// Runs `f(0..n)` from `workers` concurrent tasks, timing each call.
async fn run<F, Fut>(n: usize, workers: usize, f: F) -> Result<Lat>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (f, next) = (f.clone(), next.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= n {
                        return Ok::<_, anyhow::Error>(lat);
                    }
                    let t = Instant::now();
                    f(i).await?;
                    lat.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(n);
    for t in tasks {
        lat.extend(t.await??);
    }
    Ok(Lat::new(lat, start.elapsed()))
}

/// `(VmRSS, VmHWM)` of this process in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

/// One watch stream's counts; `ns` None is cluster-wide.
#[derive(Default)]
struct Watcher {
    ns: Option<usize>,
    added: AtomicU64,
    modified: AtomicU64,
    other: AtomicU64,
    ended: AtomicBool,
    /// (PATCH sent, µs after t0; PATCH sent → MODIFIED received).
    lat: Mutex<Vec<(u64, Duration)>>,
}

async fn watch(api: Api<ConfigMap>, w: Arc<Watcher>, t0: Instant) -> Result<()> {
    let stream = api.watch(&WatchParams::default(), "0").await?;
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event? {
            WatchEvent::Added(_) => w.added.fetch_add(1, Relaxed),
            WatchEvent::Modified(cm) => {
                let sent = cm
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SENT_ANNOTATION));
                if let Some(us) = sent.and_then(|s| s.split('-').next()?.parse::<u64>().ok()) {
                    let lat = t0.elapsed().saturating_sub(Duration::from_micros(us));
                    w.lat.lock().unwrap().push((us, lat));
                }
                w.modified.fetch_add(1, Relaxed)
            }
            _ => w.other.fetch_add(1, Relaxed),
        };
    }
    Ok(())
}

/// Polls until `done` holds or `timeout` passes; returns the time waited.
async fn wait_until(timeout: Duration, done: impl Fn() -> bool) -> Result<Duration> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > timeout {
            bail!("not done after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(start.elapsed())
}

pub async fn run_all(cfg: &Config) -> Result<Section> {
    let (objects, watchers, requests) = if cfg.quick {
        (500, 10, 200)
    } else {
        (5_000, 100, 2_000)
    };
    let mut mem = Vec::new();

    let sandbox = kube_sandbox::Sandbox::start(kube_sandbox::Options::default()).await?;
    let kc = kube::config::Kubeconfig::from_yaml(&sandbox.kubeconfig(None, "default"))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    let store = &sandbox.cluster().store;
    mem.push(("start (before load)", memory(), store.len()));

    let nss: Vec<Api<ConfigMap>> = (0..NAMESPACES)
        .map(|n| Api::namespaced(client.clone(), &ns_name(n)))
        .collect();
    let all: Api<ConfigMap> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for n in 0..NAMESPACES {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": ns_name(n)}}))?;
        namespaces.create(&PostParams::default(), &ns).await?;
    }

    let mut t = Table::new(
        "latency (ms)",
        &["phase", "n", "p50", "p90", "p99", "max", "per s"],
    );
    let apis = nss.clone();
    let create = run(objects, CREATE_IN_FLIGHT, move |i| {
        let api = apis[object(i).0].clone();
        async move {
            api.create(&PostParams::default(), &config_map(i)).await?;
            Ok(())
        }
    })
    .await?;
    create.row(&mut t, &format!("create ({CREATE_IN_FLIGHT} in flight)"));
    mem.push(("after create", memory(), store.len()));

    // LISTs, before any watcher runs.
    let mut lists = Vec::new();
    let start = Instant::now();
    for _ in 0..LISTS {
        let t = Instant::now();
        let got = all.list(&ListParams::default()).await?.items.len();
        lists.push(t.elapsed());
        if got != objects {
            bail!("LIST returned {got} ConfigMaps, want {objects}");
        }
    }
    Lat::new(lists, start.elapsed()).row(&mut t, &format!("list all ({objects} items)"));
    let page_size = (objects / 10) as u32;
    let (mut paged, mut first, mut last, mut pages) = (Vec::new(), Vec::new(), Vec::new(), 0);
    let start = Instant::now();
    for _ in 0..LISTS {
        let (t, mut token, mut got, mut page_lat) = (Instant::now(), None::<String>, 0, Vec::new());
        loop {
            let mut lp = ListParams::default().limit(page_size);
            if let Some(c) = &token {
                lp = lp.continue_token(c);
            }
            let tp = Instant::now();
            let page = all.list(&lp).await?;
            page_lat.push(tp.elapsed());
            got += page.items.len();
            token = page.metadata.continue_.filter(|c| !c.is_empty());
            if token.is_none() {
                break;
            }
        }
        paged.push(t.elapsed());
        first.push(page_lat[0]);
        last.push(page_lat[page_lat.len() - 1]);
        pages = page_lat.len();
        if got != objects {
            bail!("paged LIST returned {got} ConfigMaps, want {objects}");
        }
    }
    Lat::new(paged, start.elapsed()).row(
        &mut t,
        &format!("list paged (limit {page_size}, {pages} pages)"),
    );
    Lat::new(first, Duration::ZERO).row(&mut t, "list paged: first page");
    Lat::new(last, Duration::ZERO).row(&mut t, "list paged: last page");

    // Watchers: even ones cluster-wide, odd ones per namespace.
    let t0 = Instant::now();
    let ws: Vec<Arc<Watcher>> = (0..watchers)
        .map(|i| {
            let ns = (i % 2 == 1).then_some((i / 2) % NAMESPACES);
            Arc::new(Watcher {
                ns,
                ..Default::default()
            })
        })
        .collect();
    for w in &ws {
        let api = w.ns.map_or(all.clone(), |n| nss[n].clone());
        let w = w.clone();
        tokio::spawn(async move {
            if let Err(e) = watch(api, w.clone(), t0).await {
                eprintln!("watcher {:?}: {e:#}", w.ns);
            }
            w.ended.store(true, Relaxed);
        });
    }
    let in_scope = |ns: Option<usize>| {
        ns.map_or(objects, |n| {
            (0..objects).filter(|i| i % NAMESPACES == n).count()
        })
    };
    let initial: usize = ws.iter().map(|w| in_scope(w.ns)).sum();
    let synced = wait_until(Duration::from_secs(300), || {
        ws.iter()
            .all(|w| w.added.load(Relaxed) >= in_scope(w.ns) as u64)
    })
    .await
    .context("watchers did not receive their initial ADDED events")?;
    mem.push(("watchers synced", memory(), store.len()));

    // GET and PATCH of random objects.
    let patched: Arc<Vec<AtomicU64>> =
        Arc::new((0..NAMESPACES).map(|_| AtomicU64::new(0)).collect());
    let seq = Arc::new(AtomicU64::new(0));
    let get = |nss: Vec<Api<ConfigMap>>| {
        move |_| {
            let (ns, name) = object(rand::random_range(0..objects));
            let api = nss[ns].clone();
            async move {
                api.get(&name).await?;
                Ok(())
            }
        }
    };
    let patch = |nss: Vec<Api<ConfigMap>>| {
        let (patched, seq) = (patched.clone(), seq.clone());
        move |_| {
            let (ns, name) = object(rand::random_range(0..objects));
            let (api, patched) = (nss[ns].clone(), patched.clone());
            // Unique per PATCH, so none is a no-op that sends no event.
            let sent = format!("{}-{}", t0.elapsed().as_micros(), seq.fetch_add(1, Relaxed));
            async move {
                let body = json!({"metadata": {"annotations": {SENT_ANNOTATION: sent}}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&body))
                    .await?;
                patched[ns].fetch_add(1, Relaxed);
                Ok(())
            }
        }
    };
    let get_seq = run(requests, 1, get(nss.clone())).await?;
    get_seq.row(&mut t, "get (sequential)");
    run(requests, CLIENTS, get(nss.clone()))
        .await?
        .row(&mut t, &format!("get ({CLIENTS} clients)"));
    let patch_seq = run(requests, 1, patch(nss.clone())).await?;
    patch_seq.row(&mut t, "patch (sequential)");
    let concurrent_from = t0.elapsed().as_micros() as u64;
    run(requests, CLIENTS, patch(nss.clone()))
        .await?
        .row(&mut t, &format!("patch ({CLIENTS} clients)"));

    // Every PATCH must reach every watcher whose scope holds the object.
    let expected = |w: &Watcher| match w.ns {
        Some(n) => patched[n].load(Relaxed),
        None => patched.iter().map(|p| p.load(Relaxed)).sum(),
    };
    let delivered = wait_until(Duration::from_secs(60), || {
        ws.iter().all(|w| w.modified.load(Relaxed) >= expected(w))
    })
    .await;
    let (seq_lat, conc_lat): (Vec<_>, Vec<_>) = ws
        .iter()
        .flat_map(|w| w.lat.lock().unwrap().clone())
        .partition(|(sent, _)| *sent < concurrent_from);
    let lat_total = seq_lat.len() + conc_lat.len();
    let only_lat = |v: Vec<(u64, Duration)>| v.into_iter().map(|(_, d)| d).collect();
    Lat::new(only_lat(seq_lat), Duration::ZERO).row(&mut t, "watch delivery, sequential patches");
    Lat::new(only_lat(conc_lat), Duration::ZERO)
        .row(&mut t, &format!("watch delivery, {CLIENTS}-client patches"));
    mem.push(("after watch/patch", memory(), store.len()));

    let want: u64 = ws.iter().map(|w| expected(w)).sum();
    let seen: u64 = ws.iter().map(|w| w.modified.load(Relaxed)).sum();
    let other: u64 = ws.iter().map(|w| w.other.load(Relaxed)).sum();
    let ended = ws.iter().filter(|w| w.ended.load(Relaxed)).count();
    let short = ws
        .iter()
        .filter(|w| w.modified.load(Relaxed) != expected(w))
        .count();
    let mut notes = vec![
        format!(
            "Watchers: {watchers} ({} cluster-wide, {} namespaced). Initial: {initial} \
             ADDED events delivered in {:.3} s. Patches: {want} MODIFIED events expected, \
             {seen} received ({lat_total} timed), {other} other events, {short} watchers \
             off, {ended} streams ended.",
            ws.iter().filter(|w| w.ns.is_none()).count(),
            ws.iter().filter(|w| w.ns.is_some()).count(),
            synced.as_secs_f64()
        ),
        match &delivered {
            Ok(d) => format!(
                "Catch-up: all delivered {:.3} s after the last PATCH returned.",
                d.as_secs_f64()
            ),
            Err(e) => format!("Catch-up: {e}."),
        },
    ];
    let mut m = Table::new(
        "memory (whole harness process)",
        &["when", "RSS MiB", "peak MiB", "store objects"],
    );
    for (label, (rss, hwm), n) in &mem {
        m.row(vec![label.to_string(), fmt(*rss), fmt(*hwm), n.to_string()]);
    }
    if seen != want || short > 0 {
        bail!("watchers received {seen} MODIFIED events, expected {want}");
    }
    notes.push(
        "The sandbox runs in the harness process (release-grade `bench` profile: \
         opt-level 3), served over HTTPS on loopback to kube-rs clients on the same \
         tokio runtime. The peak RSS is the harness process's; this scenario runs \
         first, before any other sandbox, so it is this scenario's."
            .into(),
    );
    let mut sec = Section {
        id: "sandbox",
        title: "6. The sandbox itself".into(),
        intro: format!(
            "{objects} ConfigMaps (~1 KiB) in {NAMESPACES} namespaces, {watchers} \
             watchers (half cluster-wide, half per namespace, every one receiving every \
             change in its scope), {requests} GETs and PATCHes of random objects per \
             phase, sequential and from {CLIENTS} concurrent clients; creates \
             {CREATE_IN_FLIGHT} in flight."
        ),
        tables: vec![t, m],
        notes,
        ..Default::default()
    };
    for (what, l) in [("GET", &get_seq), ("PATCH", &patch_seq)] {
        sec.headline(
            &format!("{what} p50 / p99, {objects} objects, {watchers} watchers"),
            format!("{} / {} ms", fmt(l.pct(50.0)), fmt(l.pct(99.0))),
            "-",
            Verdict::Info,
        );
    }
    Ok(sec)
}
