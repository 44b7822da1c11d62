//! Scenario 1: a blue/green switch, `kubectl-bluegreen switch` against the
//! inline shell a Jenkinsfile carries today, on the same sandbox in the same run.

use std::time::Duration;

use anyhow::Result;

use crate::env::{Config, Env, Profile};
use crate::proc::run_async;
use crate::report::{Section, Table, Verdict};
use crate::stats::{Summary, fmt};

/// What a Jenkinsfile does today: read the color, patch the other in, look at
/// the endpoints. No readiness check, no lock, no verification.
pub const INLINE_SHELL: &str = r#"set -e
current=$(kubectl get svc web -o jsonpath='{.spec.selector.color}')
if [ "$current" = blue ]; then target=green; else target=blue; fi
kubectl patch svc web -p "{\"spec\":{\"selector\":{\"color\":\"$target\"}}}" >/dev/null
kubectl get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{.items[*].endpoints[*].addresses[*]}' >/dev/null
"#;

const TARGET_RATIO: f64 = 10.0;
const TARGET_CALLS: u64 = 6;

struct Series {
    wall: Vec<Duration>,
    calls: Vec<u64>,
    /// The requests of the last run, `METHOD path?query`.
    log: Vec<String>,
}

async fn measure(
    env: &Env,
    runs: usize,
    mut cmd: impl FnMut() -> std::process::Command,
) -> Result<Series> {
    let mut s = Series {
        wall: Vec::new(),
        calls: Vec::new(),
        log: Vec::new(),
    };
    for _ in 0..runs {
        env.cluster().requests.reset();
        let r = run_async(cmd(), env.dir.clone()).await?;
        r.expect(0, "the switch")?;
        s.wall.push(r.wall);
        let snap = env.cluster().requests.snapshot();
        s.calls.push(snap["total"].as_u64().unwrap_or(0));
        s.log = snap["log"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(String::from))
            .collect();
    }
    Ok(s)
}

pub async fn run(cfg: &Config) -> Result<Section> {
    let bin = cfg.bin("kubectl-bluegreen")?;
    let mut t = Table::new(
        "",
        &[
            "control plane",
            "switch",
            "runs",
            "median ms",
            "min ms",
            "max ms",
            "API calls",
            "max calls",
        ],
    );
    let mut results = Vec::new();
    for profile in Profile::ALL {
        let env = Env::start_with(true, profile.settings(), cfg.scratch("switch")?).await?;
        // Alternates blue → green → blue: both colors stay ready.
        let ours = measure(&env, cfg.runs, || env.tool(&bin, &["switch", "web"])).await?;
        env.warm_kubectl().await?;
        let shell = measure(&env, cfg.runs, || env.shell(INLINE_SHELL)).await?;
        results.push((profile, ours, shell));
    }
    let calls = |s: &Series| {
        let mut c = s.calls.clone();
        c.sort();
        (c[c.len() / 2], c[0], c[c.len() - 1])
    };
    for (profile, ours, shell) in &results {
        let (a, b) = (Summary::of(&ours.wall), Summary::of(&shell.wall));
        for (name, s, (c, cmax)) in [
            (
                "`kubectl-bluegreen switch web` (readiness checked, lease, preview, verified, history, Event)",
                a,
                (calls(ours).0, calls(ours).2),
            ),
            (
                "inline shell: 3 kubectl processes (no checks)",
                b,
                (calls(shell).0, calls(shell).2),
            ),
        ] {
            t.row(vec![
                profile.name().into(),
                name.into(),
                s.n.to_string(),
                fmt(s.median),
                fmt(s.min),
                fmt(s.max),
                c.to_string(),
                cmax.to_string(),
            ]);
        }
    }
    let mut sec = Section {
        id: "switch",
        title: "1. Switch".into(),
        intro: format!(
            "The demo app `web` (3 blue and 3 green pods) switched {} times by \
             `kubectl-bluegreen switch web` (alternating colors), then {} times by the \
             inline shell a Jenkinsfile carries today (`kubectl get svc -o jsonpath` + \
             `kubectl patch svc` + `kubectl get endpointslices`, kubectl's discovery \
             cache warm), on the same sandbox in the same run, once per control-plane \
             profile: a real control plane's timing (controllers a few ms behind, \
             EndpointSlices 10 ms behind the Service, 3 ms per write as an etcd round \
             trip costs) and the instant controllers earlier runs measured. API calls: \
             every request the sandbox served during one run.",
            cfg.runs, cfg.runs
        ),
        tables: vec![t],
        ..Default::default()
    };
    let (_, ours, shell) = &results[0];
    let (ours_calls, ours_min, ours_max) = calls(ours);
    let mut calls_list = String::from(
        "The calls of one `kubectl-bluegreen switch` on the real control plane, in order:\n\n",
    );
    for (i, l) in ours.log.iter().enumerate() {
        calls_list.push_str(&format!("{}. `{l}`\n", i + 1));
    }
    sec.notes.push(calls_list);
    let mut shell_list = String::from("The calls of one inline shell run, in order:\n\n");
    for (i, l) in shell.log.iter().enumerate() {
        shell_list.push_str(&format!("{}. `{l}`\n", i + 1));
    }
    sec.notes.push(shell_list);
    sec.notes.push(
        "Why more than 6: each call is part of the contract. The Lease (create, delete) keeps \
         two pipelines from interleaving, and releasing it is what lets the next one start at \
         once rather than after 30 s; one read (Deployments for readiness, Services for both \
         selectors) is the plan, taken under the Lease so no other operation can change it \
         before the writes; the preview is switched to the old color with the Service; the \
         EndpointSlice list, and the watch that follows it until the EndpointSlice \
         controller has caught up (both start with the writes, so on a real control plane \
         there is always a change to wait for), verify that only the new color serves; the \
         Event records the change, sent while the EndpointSlices catch up. An earlier version also read before taking the Lease (10 calls); that read \
         had to be repeated under it, and is gone."
            .to_string(),
    );
    for (profile, ours, shell) in &results {
        let (a, b) = (Summary::of(&ours.wall), Summary::of(&shell.wall));
        let ratio = b.median / a.median;
        sec.headline(
            &format!(
                "wall time, inline shell / switch (medians), {}",
                profile.name()
            ),
            format!("{ratio:.0}x ({} ms vs {} ms)", fmt(a.median), fmt(b.median)),
            &format!(">= {TARGET_RATIO:.0}x"),
            Verdict::of(ratio >= TARGET_RATIO),
        );
    }
    sec.headline(
        "API calls per switch (lease and verification included), real control plane",
        if ours_min == ours_max {
            ours_calls.to_string()
        } else {
            format!("{ours_calls} (min {ours_min}, max {ours_max})")
        },
        &format!("<= {TARGET_CALLS}"),
        Verdict::of(ours_max <= TARGET_CALLS),
    );
    Ok(sec)
}
