//! Scenario 7: metric analysis. A canary ramp paused at 20 % with a
//! background analysis of its error rate, against a real Prometheus (Debian's
//! package) scraping an exporter the harness serves on loopback. The harness
//! flips the exporter's canary to 30 % errors at a random phase of the
//! analysis interval and times, from that instant, until the HTTPRoute's
//! canary weight is committed back at 0 (the harness sees the write in the
//! sandbox store's change feed, before any watch could deliver it).
//!
//! The floor is one scrape plus one interval: the errors are in Prometheus
//! after the next scrape, and the analysis sees them at its next measurement.
//! Also counted: Prometheus instant queries per measurement (Prometheus's own
//! `prometheus_http_requests_total` for `/api/v1/query`), and the API calls of
//! one ramp, split into the pause (the analysis through `--prometheus URL`
//! costs the API server nothing) and the abort.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube_sandbox::Cluster;
use switchyard_e2e::prometheus::{Prometheus, Traffic};

use crate::env::{Config, Env};
use crate::health_wait::signed_ms;
use crate::report::{Section, Table, Verdict};
use crate::stats::{Summary, fmt};

/// (analysis interval, scrape interval) pairs compared.
const CONFIGS: [(Duration, Duration); 3] = [
    (Duration::from_secs(1), Duration::from_secs(1)),
    (Duration::from_secs(2), Duration::from_secs(1)),
    (Duration::from_secs(1), Duration::from_secs(2)),
];

/// What one ramp came to.
struct Sample {
    /// Error rate crossing → weight 0 committed, ms.
    reaction_ms: f64,
    measurements: usize,
    queries: f64,
    calls_pause: u64,
    calls_abort: u64,
    error_line: String,
}

/// The query's window, seconds: at least four scrapes (`rate` needs two
/// samples; more keep it steady).
fn window(scrape: Duration) -> u64 {
    (scrape.as_secs() * 4).max(5)
}

/// The analysis file: the canary's error ratio over [`window`].
fn analysis_file(interval: Duration, scrape: Duration) -> String {
    let window = window(scrape);
    format!(
        "metrics:\n- name: error-rate\n  provider:\n    prometheus:\n      query: \
         'sum(rate(http_requests_total{{app=\"{{{{app}}}}\",track=\"{{{{track}}}}\",status=~\"5..\"}}[{window}s])) \
         / sum(rate(http_requests_total{{app=\"{{{{app}}}}\",track=\"{{{{track}}}}\"}}[{window}s]))'\n  \
         successCondition: result < 0.05\n  interval: {}ms\n",
        interval.as_millis()
    )
}

/// Instant queries Prometheus has answered so far, from its own metrics.
fn queries_served(p: &Prometheus) -> Result<f64> {
    let (code, body) = p
        .get("/metrics")
        .context("Prometheus did not answer /metrics")?;
    if code != 200 {
        bail!("Prometheus answered /metrics with {code}");
    }
    Ok(body
        .lines()
        .filter(|l| {
            l.starts_with("prometheus_http_requests_total{")
                && l.contains("handler=\"/api/v1/query\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// The canary's weight in HTTPRoute `shop`, if `obj` is that route.
fn canary_weight(obj: &serde_json::Value) -> Option<i64> {
    if obj["metadata"]["name"] != "shop" || obj["metadata"]["namespace"] != "default" {
        return None;
    }
    obj["spec"]["rules"][0]["backendRefs"]
        .as_array()?
        .iter()
        .find(|r| r["name"].as_str().is_some_and(|n| n.contains("canary")))?["weight"]
        .as_i64()
}

/// One ramp: up to 20 %, a first passing measurement, errors from a random
/// moment of the interval on, the abort. Blocking (the ramp is a process).
fn one_ramp(
    cluster: &Arc<Cluster>,
    p: &Prometheus,
    mut cmd: std::process::Command,
    interval: Duration,
    scrape: Duration,
) -> Result<Sample> {
    use std::io::BufRead;
    use std::process::Stdio;

    let queries_before = queries_served(p)?;
    cluster.requests.reset();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting kubectl-canary ramp")?;
    let stderr = child.stderr.take().context("stderr is piped")?;
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut log = Vec::new();
    let first = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => {
                let passed = l.contains("analysis error-rate #") && l.contains("→ Successful");
                log.push(l);
                if passed {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    if !first {
        let _ = child.kill();
        let _ = child.wait();
        bail!(
            "the ramp never passed a first measurement:\n{}",
            log.join("\n")
        );
    }
    let calls_pause_start = cluster.requests.total();
    std::thread::sleep(Duration::from_millis(rand::random_range(
        0..interval.as_millis() as u64,
    )));
    // Subscribed at the flip: the first write of weight 0 after it is the abort.
    let mut changes = cluster.store.subscribe();
    let (seen_tx, seen_rx) = mpsc::channel();
    let watcher = std::thread::spawn(move || {
        while let Ok(c) = changes.blocking_recv() {
            if c.res.plural == "httproutes" && canary_weight(&c.object) == Some(0) {
                let _ = seen_tx.send(Instant::now());
                return;
            }
        }
    });
    let calls_at_flip = cluster.requests.total();
    let flipped = Instant::now();
    p.exporter.set(Traffic::Errors(30));
    for l in rx.iter() {
        log.push(l);
    }
    let status = child.wait().context("waiting for the ramp")?;
    let _ = reader.join();
    let calls_end = cluster.requests.total();
    let queries = queries_served(p)? - queries_before;
    let stderr = log.join("\n");
    if status.code() != Some(1) {
        bail!("the ramp exited {:?}, expected 1:\n{stderr}", status.code());
    }
    let zero = seen_rx
        .recv_timeout(Duration::from_secs(10))
        .context("the ramp exited 1 but the harness never saw weight 0")?;
    let _ = watcher.join();
    let error_line = log
        .iter()
        .rfind(|l| l.starts_with("error:"))
        .cloned()
        .unwrap_or_default();
    if !error_line.contains("error-rate") || !error_line.contains("weight set back to 0") {
        bail!("the ramp failed without naming the metric:\n{stderr}");
    }
    // Healthy again, and no error left in the query's window, before the next ramp.
    p.exporter.set(Traffic::Healthy);
    let clean = format!(
        r#"sum(increase(http_requests_total{{app="shop",track="canary",status="500"}}[{}s]))"#,
        window(scrape) + 2 * scrape.as_secs()
    );
    p.wait_until(&clean, "no errors left in the window", |v| v == 0.0);
    Ok(Sample {
        reaction_ms: signed_ms(flipped, zero),
        measurements: log
            .iter()
            .filter(|l| l.contains("analysis error-rate #"))
            .count(),
        queries,
        calls_pause: calls_at_flip - calls_pause_start,
        calls_abort: calls_end - calls_at_flip,
        error_line,
    })
}

pub async fn run(cfg: &Config) -> Result<Section> {
    let canary = cfg.bin("kubectl-canary")?;
    let env = Env::start(true, cfg.scratch("analysis")?).await?;
    let runs = if cfg.quick { 2 } else { cfg.runs.min(5) };
    let mut t = Table::new(
        "",
        &[
            "interval",
            "scrape",
            "floor ms (scrape + interval)",
            "runs",
            "median ms",
            "p95 ms",
            "max ms",
            "within floor",
            "measurements per ramp",
            "queries per measurement",
            "API calls: pause / abort",
        ],
    );
    let mut headline = None;
    let mut example = String::new();
    for (interval, scrape) in CONFIGS {
        let file = env.dir.join(format!(
            "analysis-{}-{}.yaml",
            interval.as_millis(),
            scrape.as_millis()
        ));
        std::fs::write(&file, analysis_file(interval, scrape))?;
        let cluster = env.cluster().clone();
        let (canary, file) = (canary.clone(), file.clone());
        let kubeconfig = env.kubeconfig.clone();
        let samples = tokio::task::spawn_blocking(move || -> Result<Vec<Sample>> {
            let p = Prometheus::start_scraping_every(scrape);
            let mut out = Vec::new();
            for _ in 0..runs {
                let mut cmd = std::process::Command::new(&canary);
                cmd.env_remove("KUBECONFIG")
                    .env("NO_COLOR", "1")
                    .env_remove("BUILD_URL")
                    .arg("--kubeconfig")
                    .arg(&kubeconfig)
                    .args(["ramp", "shop", "--steps", "20,60", "--pause", "10m"])
                    .arg("--analysis")
                    .arg(&file)
                    .args(["--prometheus", &p.url()]);
                out.push(one_ramp(&cluster, &p, cmd, interval, scrape)?);
            }
            Ok(out)
        })
        .await??;
        let floor = (interval + scrape).as_secs_f64() * 1e3;
        let s = Summary::of_ms(&samples.iter().map(|x| x.reaction_ms).collect::<Vec<_>>());
        let within = samples.iter().filter(|x| x.reaction_ms <= floor).count();
        let measurements: usize = samples.iter().map(|x| x.measurements).sum();
        let queries: f64 = samples.iter().map(|x| x.queries).sum();
        let mid = |v: &mut Vec<u64>| {
            v.sort();
            v[v.len() / 2]
        };
        let pause = mid(&mut samples.iter().map(|x| x.calls_pause).collect());
        let abort = mid(&mut samples.iter().map(|x| x.calls_abort).collect());
        t.row(vec![
            format!("{} s", interval.as_secs()),
            format!("{} s", scrape.as_secs()),
            fmt(floor),
            s.n.to_string(),
            fmt(s.median),
            fmt(s.p95),
            fmt(s.max),
            format!("{within}/{}", samples.len()),
            format!("{:.1}", measurements as f64 / samples.len() as f64),
            format!("{:.2}", queries / measurements.max(1) as f64),
            format!("{pause} / {abort}"),
        ]);
        if headline.is_none() {
            headline = Some((interval, scrape, s, floor));
            example = samples[0].error_line.clone();
        }
    }
    let mut sec = Section {
        id: "analysis",
        title: "7. Metric analysis".into(),
        intro: format!(
            "`kubectl-canary ramp shop --steps 20,60 --pause 10m --analysis FILE --prometheus URL`, \
             {runs} times per (interval, scrape interval), against a real Prometheus ({}) scraping \
             an exporter on loopback whose canary the harness flips to 30 % errors at a random \
             moment of the interval, once the analysis has passed a first measurement. Timed: \
             from the flip until the HTTPRoute's canary weight is committed at 0. The query is \
             the error ratio over max(5 s, 4 scrapes). The floor, one scrape plus one interval, \
             is the worst case of a correct analysis: the errors reach Prometheus at the next \
             scrape and the analysis at its next measurement. Queries: Prometheus's own count of \
             `/api/v1/query` requests during the ramp. API calls: what the sandbox served from \
             the first passing measurement to the flip (the pause), and from the flip to the \
             exit (the abort).",
            prometheus_version()
        ),
        tables: vec![t],
        ..Default::default()
    };
    sec.notes
        .push(format!("The error line of one run:\n\n```\n{example}\n```"));
    if let Some((interval, scrape, s, floor)) = headline {
        sec.headline(
            &format!(
                "error rate crossing → canary weight 0, interval {} s, scrape {} s (p95)",
                interval.as_secs(),
                scrape.as_secs()
            ),
            format!("{} ms", fmt(s.p95)),
            &format!("<= one scrape + one interval ({} ms)", fmt(floor)),
            Verdict::of(s.p95 <= floor),
        );
    }
    Ok(sec)
}

fn prometheus_version() -> String {
    std::process::Command::new(switchyard_e2e::prometheus::binary())
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "prometheus".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_canary_weight_is_read_from_route_shop_only() {
        let route = |name: &str, w: i64| {
            json!({"metadata": {"name": name, "namespace": "default"},
                   "spec": {"rules": [{"backendRefs": [
                       {"name": "shop", "weight": 100 - w},
                       {"name": "shop-canary", "weight": w}]}]}})
        };
        assert_eq!(canary_weight(&route("shop", 0)), Some(0));
        assert_eq!(canary_weight(&route("shop", 20)), Some(20));
        assert_eq!(canary_weight(&route("other", 0)), None);
    }

    #[test]
    fn the_window_holds_four_scrapes_and_at_least_5_s() {
        assert_eq!(window(Duration::from_secs(1)), 5);
        assert_eq!(window(Duration::from_secs(2)), 8);
        let f = analysis_file(Duration::from_secs(2), Duration::from_secs(2));
        assert!(f.contains("[8s]") && f.contains("interval: 2000ms"), "{f}");
        assert!(f.contains(r#"app="{{app}}""#), "{f}");
    }
}
