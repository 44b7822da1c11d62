//! Scenario 8: applying a directory. 20 objects (a Namespace, ConfigMaps,
//! Secrets, a ServiceAccount, RBAC, Services and 5 workloads: 3 Deployments, a
//! StatefulSet, a DaemonSet) applied and followed until every workload has
//! rolled out, by `deploy-apply -f DIR --wait` and by what a Jenkinsfile does
//! today, `kubectl apply -f DIR` then `kubectl rollout status` for each
//! workload in turn. Every run changes the image, so every run rolls all five.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::env::{Config, Env};
use crate::proc::run_async;
use crate::report::{Section, Table, Verdict};
use crate::stats::{Summary, fmt};

const DEPLOYMENTS: [&str; 3] = ["api", "web", "worker"];

/// The inline shell: apply, then wait for each workload in turn.
fn inline_shell(dir: &Path, ns: &str) -> String {
    let mut s = format!("set -e\nkubectl apply -f {} >/dev/null\n", dir.display());
    for w in DEPLOYMENTS
        .iter()
        .map(|d| format!("deployment/{d}"))
        .chain(["statefulset/db".into(), "daemonset/agent".into()])
    {
        s.push_str(&format!(
            "kubectl rollout status -n {ns} {w} --timeout=5m >/dev/null\n"
        ));
    }
    s
}

fn pod_template(app: &str, image: &str) -> String {
    format!(
        "    metadata:\n      labels: {{app: {app}}}\n    spec:\n      serviceAccountName: app\n      containers:\n      - name: app\n        image: {image}\n        readinessProbe: {{httpGet: {{path: /health, port: 8080}}}}\n"
    )
}

/// The directory's files, for `image`: 20 objects in 5 files.
fn manifests(ns: &str, image: &str) -> Vec<(&'static str, String)> {
    let mut config = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n");
    for i in 1..=4 {
        config.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings-{i}, namespace: {ns}}}\ndata: {{level: info, release: \"{image}\"}}\n"
        ));
    }
    for i in 1..=2 {
        config.push_str(&format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: credentials-{i}, namespace: {ns}}}\nstringData: {{password: s3cret-value-{i}}}\n"
        ));
    }
    let rbac = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: app, namespace: {ns}}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: app, namespace: {ns}}}\n\
         rules:\n- {{apiGroups: [\"\"], resources: [configmaps], verbs: [get]}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: app, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: app}}\n\
         subjects: [{{kind: ServiceAccount, name: app, namespace: {ns}}}]\n"
    );
    let apps: Vec<&str> = DEPLOYMENTS.iter().copied().chain(["db", "agent"]).collect();
    let services = apps
        .iter()
        .map(|a| {
            format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: {a}, namespace: {ns}}}\nspec: {{selector: {{app: {a}}}, ports: [{{port: 80, targetPort: 8080}}]}}\n"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let deployments = DEPLOYMENTS
        .iter()
        .map(|d| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {d}, namespace: {ns}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: {d}}}}}\n  template:\n{}",
                pod_template(d, image)
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let stateful = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db, namespace: {ns}}}\nspec:\n  replicas: 2\n  serviceName: db\n  selector: {{matchLabels: {{app: db}}}}\n  template:\n{}---\n\
         apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: agent}}}}\n  template:\n{}",
        pod_template("db", image),
        pod_template("agent", image)
    );
    vec![
        ("00-config.yaml", config),
        ("10-rbac.yaml", rbac),
        ("20-services.yaml", services),
        ("30-deployments.yaml", deployments),
        ("40-stateful.yaml", stateful),
    ]
}

fn write_dir(dir: &Path, ns: &str, image: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in manifests(ns, image) {
        std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

struct Series {
    wall: Vec<Duration>,
    calls: Vec<u64>,
}

impl Series {
    fn calls(&self) -> (u64, u64, u64) {
        let mut c = self.calls.clone();
        c.sort();
        (c[c.len() / 2], c[0], c[c.len() - 1])
    }
}

pub async fn run(cfg: &Config) -> Result<Section> {
    let bin = cfg.bin("deploy-apply")?;
    let env = Env::start(false, cfg.scratch("apply")?).await?;
    env.warm_kubectl().await?;
    let runs = if cfg.quick { 3 } else { cfg.runs.min(10) };
    // Each command has its own copy in its own namespace: kubectl's
    // client-side apply and a server-side apply own fields under different
    // managers, and on a real server the second would conflict with the first.
    let ours_dir = env.dir.join("k8s-switchyard");
    let shell_dir = env.dir.join("k8s-kubectl");
    let (ours_ns, shell_ns) = ("bench-switchyard", "bench-kubectl");
    let apply = |dir: &Path| env.tool(&bin, &["-f", &dir.to_string_lossy(), "--wait"]);
    // The first apply creates everything (not timed): both then update.
    write_dir(&ours_dir, ours_ns, "example/app:1.0")?;
    run_async(apply(&ours_dir), env.dir.clone())
        .await?
        .expect(0, "the first deploy-apply")?;
    write_dir(&shell_dir, shell_ns, "example/app:1.0")?;
    run_async(
        env.shell(&inline_shell(&shell_dir, shell_ns)),
        env.dir.clone(),
    )
    .await?
    .expect(0, "the first kubectl apply")?;
    let mut ours = Series {
        wall: Vec::new(),
        calls: Vec::new(),
    };
    let mut shell = Series {
        wall: Vec::new(),
        calls: Vec::new(),
    };
    let mut last_log = String::new();
    for r in 0..runs {
        let image = format!("example/app:2.{r}");
        write_dir(&ours_dir, ours_ns, &image)?;
        env.cluster().requests.reset();
        let run = run_async(apply(&ours_dir), env.dir.clone()).await?;
        run.expect(0, "deploy-apply --wait")?;
        ours.wall.push(run.wall);
        ours.calls.push(env.cluster().requests.total());
        last_log = run.stdout.clone() + &run.stderr;

        write_dir(&shell_dir, shell_ns, &image)?;
        env.cluster().requests.reset();
        let run = run_async(
            env.shell(&inline_shell(&shell_dir, shell_ns)),
            env.dir.clone(),
        )
        .await?;
        run.expect(0, "kubectl apply + rollout status")?;
        shell.wall.push(run.wall);
        shell.calls.push(env.cluster().requests.total());
    }
    if last_log.contains("s3cret-value") {
        anyhow::bail!("deploy-apply printed a Secret's value:\n{last_log}");
    }
    let mut t = Table::new(
        "",
        &[
            "command",
            "runs",
            "median ms",
            "min ms",
            "max ms",
            "API calls",
            "min calls",
            "max calls",
        ],
    );
    let (a, b) = (Summary::of(&ours.wall), Summary::of(&shell.wall));
    for (name, s, series) in [
        (
            "`deploy-apply -f k8s/ --wait` (validated, dependency order, server-side apply, all five followed at once with fail fast)",
            a,
            &ours,
        ),
        (
            "inline shell: `kubectl apply -f k8s/` + `kubectl rollout status` for each of the 5 workloads",
            b,
            &shell,
        ),
    ] {
        let (c, cmin, cmax) = series.calls();
        t.row(vec![
            name.into(),
            s.n.to_string(),
            fmt(s.median),
            fmt(s.min),
            fmt(s.max),
            c.to_string(),
            cmin.to_string(),
            cmax.to_string(),
        ]);
    }
    let mut sec = Section {
        id: "apply",
        title: "8. Apply a directory and wait".into(),
        intro: format!(
            "A directory of 20 objects in 5 files (a Namespace, 4 ConfigMaps, 2 Secrets, a \
             ServiceAccount, a Role and RoleBinding, 5 Services, and 5 workloads: 3 Deployments of \
             2 replicas, a StatefulSet of 2, a DaemonSet on the one node), created once, then \
             updated {runs} times by each command in turn with a new image, so that every run \
             rolls all five workloads, on the real control-plane profile. kubectl's discovery \
             cache is warm. API calls: every request the sandbox served during one run."
        ),
        tables: vec![t],
        ..Default::default()
    };
    // Its per-object lines and verdicts; the progress lines between them left out.
    let summary: Vec<&str> = last_log
        .lines()
        .filter(|l| {
            [
                " created",
                " configured",
                " unchanged",
                " rolled out",
                "objects (",
            ]
            .iter()
            .any(|w| l.contains(w))
        })
        .collect();
    sec.notes.push(format!(
        "What the last `deploy-apply --wait` run printed (its progress lines left out):\n\n```\n{}\n```",
        summary.join("\n")
    ));
    let ratio = b.median / a.median;
    sec.headline(
        "wall time, kubectl apply + rollout status / deploy-apply --wait (medians), 20 objects, 5 workloads",
        format!("{ratio:.1}x ({} ms vs {} ms)", fmt(a.median), fmt(b.median)),
        ">= 1x (every check kubectl skips, and still not slower)",
        Verdict::of(ratio >= 1.0),
    );
    Ok(sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_holds_20_objects_and_5_workloads() {
        let all: String = manifests("ns", "x:1")
            .into_iter()
            .map(|(_, t)| t + "---\n")
            .collect();
        let kinds: Vec<&str> = all
            .lines()
            .filter_map(|l| l.strip_prefix("kind: "))
            .collect();
        assert_eq!(kinds.len(), 20, "{kinds:?}");
        let workloads = kinds
            .iter()
            .filter(|k| matches!(**k, "Deployment" | "StatefulSet" | "DaemonSet"))
            .count();
        assert_eq!(workloads, 5);
        assert_eq!(all.matches("image: x:1").count(), 5);
        let script = inline_shell(Path::new("/k8s"), "ns");
        assert_eq!(script.matches("rollout status").count(), 5, "{script}");
    }
}
