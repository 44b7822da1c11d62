//! Scenario 4: `kubectl bluegreen status -A` and `kubectl canary status -A`
//! over many apps in many namespaces: wall time, and LIST calls at two sizes
//! to show they do not grow with the number of apps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube_sandbox::Cluster;
use kube_sandbox::api::objects::apply_manifest;
use serde_json::{Value, json};

use crate::env::{Config, Env};
use crate::proc::run_async;
use crate::report::{Section, Table, Verdict};
use crate::stats::{Summary, fmt};

const TARGET_MS: f64 = 1000.0;

fn ns(i: usize, namespaces: usize) -> String {
    format!("apps-{:02}", i % namespaces)
}

fn deployment(ns: &str, name: &str, labels: Value, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}]}]},
            },
        },
    })
}

fn service(ns: &str, name: &str, app: &str, selector: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
        "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    })
}

/// Blue/green app `bg-I` as the demo's `web`: Services `bg-I` (blue) and
/// `bg-I-preview` (green), Deployments `bg-I-blue` and `bg-I-green`.
fn bluegreen_app(i: usize, namespaces: usize) -> Vec<Value> {
    let (ns, app) = (ns(i, namespaces), format!("bg-{i:04}"));
    let mut out = Vec::new();
    for color in ["blue", "green"] {
        let labels = json!({"app": app, "color": color});
        out.push(deployment(
            &ns,
            &format!("{app}-{color}"),
            labels,
            &format!("example/{app}:{color}"),
        ));
    }
    out.push(service(
        &ns,
        &app,
        &app,
        json!({"app": app, "color": "blue"}),
    ));
    out.push(service(
        &ns,
        &format!("{app}-preview"),
        &app,
        json!({"app": app, "color": "green"}),
    ));
    out
}

/// Canary app `ca-I` as the demo's `shop`: Deployments and Services `ca-I`
/// and `ca-I-canary`, an HTTPRoute splitting 90/10.
fn canary_app(i: usize, namespaces: usize) -> Vec<Value> {
    let (ns, app) = (ns(i, namespaces), format!("ca-{i:04}"));
    let mut out = Vec::new();
    for (name, track) in [(app.clone(), "stable"), (format!("{app}-canary"), "canary")] {
        let labels = json!({"app": app, "track": track});
        out.push(deployment(
            &ns,
            &name,
            labels,
            &format!("example/{app}:{track}"),
        ));
        out.push(service(
            &ns,
            &name,
            &app,
            json!({"app": app, "track": track}),
        ));
    }
    out.push(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": app, "namespace": ns, "labels": {"app": app}},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {"name": app, "port": 80, "weight": 90},
                    {"name": format!("{app}-canary"), "port": 80, "weight": 10},
                ],
            }],
        },
    }));
    out
}

/// Creates apps `from..to` of both kinds straight in the store.
fn create(cluster: &Arc<Cluster>, from: usize, to: usize, namespaces: usize) -> Result<()> {
    for i in from..to {
        for obj in bluegreen_app(i, namespaces)
            .into_iter()
            .chain(canary_app(i, namespaces))
        {
            apply_manifest(cluster, obj)
                .map_err(|e| anyhow::anyhow!("creating app {i}: {}", e.message))?;
        }
    }
    Ok(())
}

struct Measured {
    plugin: &'static str,
    apps: usize,
    deployments: usize,
    wall: Summary,
    lists: (u64, u64),
    calls: u64,
    rows: usize,
}

pub async fn run(cfg: &Config) -> Result<Section> {
    let (namespaces, sizes) = if cfg.quick {
        (10, [20, 100])
    } else {
        (50, [100, 1000])
    };
    let env = Env::start(false, cfg.scratch("scale")?).await?;
    // Gateway API installed, as on the clusters the canaries run on.
    env.apply(kube_sandbox::server::TRAFFIC_CRDS)?;
    for n in 0..namespaces {
        env.apply(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps-{n:02}\n"
        ))?;
    }
    let plugins = [
        ("kubectl-bluegreen", cfg.bin("kubectl-bluegreen")?),
        ("kubectl-canary", cfg.bin("kubectl-canary")?),
    ];
    let deployments =
        kube_sandbox::resources::find("apps", "v1", "deployments").context("served")?;
    let mut measured = Vec::new();
    let mut made = 0;
    let mut setup = Vec::new();
    for &size in &sizes {
        let t = Instant::now();
        create(env.cluster(), made, size, namespaces)?;
        made = size;
        env.settle(Duration::from_secs(600)).await?;
        setup.push(format!(
            "{size} apps: created and rolled out in {:.1} s",
            t.elapsed().as_secs_f64()
        ));
        let in_cluster = env.cluster().store.list(deployments, None).0.len();
        for (plugin, bin) in &plugins {
            let mut wall = Vec::new();
            let (mut lists, mut calls, mut rows) = (Vec::new(), 0, 0);
            for _ in 0..cfg.runs {
                env.cluster().requests.reset();
                let r = run_async(env.tool(bin, &["status", "-A"]), env.dir.clone()).await?;
                r.expect(0, &format!("{plugin} status -A"))?;
                wall.push(r.wall);
                let snap = env.cluster().requests.snapshot();
                let n: u64 = snap["counts"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.starts_with("list "))
                    .filter_map(|(_, v)| v.as_u64())
                    .sum();
                lists.push(n);
                calls = snap["total"].as_u64().unwrap_or(0);
                // A header line, then one line per app.
                rows = r.stdout.lines().count().saturating_sub(1);
            }
            if rows != size {
                bail!("{plugin} status -A showed {rows} apps, want {size}");
            }
            lists.sort();
            measured.push(Measured {
                plugin,
                apps: size,
                deployments: in_cluster,
                wall: Summary::of(&wall),
                lists: (lists[0], lists[lists.len() - 1]),
                calls,
                rows,
            });
        }
    }

    let mut t = Table::new(
        "",
        &[
            "command",
            "apps",
            "Deployments",
            "runs",
            "median ms",
            "min ms",
            "max ms",
            "LIST calls",
            "all calls",
        ],
    );
    for m in &measured {
        t.row(vec![
            format!("`{} status -A`", m.plugin),
            m.rows.to_string(),
            m.deployments.to_string(),
            m.wall.n.to_string(),
            fmt(m.wall.median),
            fmt(m.wall.min),
            fmt(m.wall.max),
            if m.lists.0 == m.lists.1 {
                m.lists.0.to_string()
            } else {
                format!("{}-{}", m.lists.0, m.lists.1)
            },
            m.calls.to_string(),
        ]);
    }
    let mut sec = Section {
        id: "scale",
        title: "4. Scale".into(),
        intro: format!(
            "{} blue/green apps (Services `bg-I` and `bg-I-preview`, Deployments \
             `bg-I-blue` and `bg-I-green`) and as many canary apps (Deployments and \
             Services `ca-I` and `ca-I-canary`, an HTTPRoute at 90/10) in {namespaces} \
             namespaces, 1 replica per Deployment, created straight in the sandbox's \
             store, first {} of each kind and then the rest. Each plugin's `status -A` \
             is run through its binary (`kubectl-bluegreen status -A`, as `kubectl \
             bluegreen status -A` runs it); LIST calls come from the request counter. \
             The \"apps\" column is the rows the command printed.",
            sizes[1], sizes[0]
        ),
        tables: vec![t],
        notes: vec![setup.join("; ") + "."],
        ..Default::default()
    };
    for plugin in ["kubectl-bluegreen", "kubectl-canary"] {
        let of = |size| {
            measured
                .iter()
                .find(|m| m.plugin == plugin && m.apps == size)
        };
        let (small, big) = (
            of(sizes[0]).context("measured")?,
            of(sizes[1]).context("measured")?,
        );
        let name = plugin.replacen('-', " ", 1);
        sec.notes.push(format!(
            "`{plugin} status -A`: from {} to {} apps ({:.0}x) the median went from {} to {} ms ({:.1}x).",
            sizes[0],
            sizes[1],
            sizes[1] as f64 / sizes[0] as f64,
            fmt(small.wall.median),
            fmt(big.wall.median),
            big.wall.median / small.wall.median
        ));
        sec.headline(
            &format!("`{name} status -A`, {} apps, median", sizes[1]),
            format!("{} ms", fmt(big.wall.median)),
            &format!("<= {:.0} s", TARGET_MS / 1e3),
            Verdict::of(big.wall.median <= TARGET_MS),
        );
        sec.headline(
            &format!(
                "`{name} status -A` LIST calls, {} vs {} apps",
                sizes[0], sizes[1]
            ),
            format!("{} vs {}", small.lists.1, big.lists.1),
            "independent of the number of apps",
            Verdict::of(small.lists == big.lists),
        );
    }
    Ok(sec)
}
