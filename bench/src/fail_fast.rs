//! Scenario 3: fail-fast. A Deployment whose pods crashloop; the time from the
//! first CrashLoopBackOff (as the harness sees it committed) until
//! `deploy-health-wait` exits 1 naming the reason, against `kubectl rollout
//! status --timeout=5m`.

use std::time::Duration;

use anyhow::{Result, bail};
use kube_sandbox::Settings;

use crate::env::{Config, Env, settings};
use crate::health_wait::{Moment, delete, reaction, signed_ms};
use crate::report::{Section, Table, Verdict};
use crate::stats::{Summary, fmt};

const TARGET_MS: f64 = 2000.0;
const CRASHLOOP: (&str, &str) = ("sandbox.switchyard.dev/fail", "crashloop");

pub async fn run(cfg: &Config) -> Result<Section> {
    // Containers are created for 1 s before the first crash, so that every
    // command is up and waiting when the first CrashLoopBackOff appears.
    let env = Env::start_with(
        false,
        Settings {
            ready_delay: Duration::from_secs(1),
            ..settings()
        },
        cfg.scratch("fail-fast")?,
    )
    .await?;
    env.warm_kubectl().await?;
    let hw = cfg.bin("deploy-health-wait")?;

    // kubectl waits for its whole timeout (it reads the Deployment's
    // conditions, not the pods, and progressDeadlineSeconds defaults to 600 s):
    // one run, in the background while deploy-health-wait is timed (it idles on
    // a watch meanwhile). Not in --quick.
    let kubectl = if cfg.quick {
        None
    } else {
        let env_ref = &env;
        Some(async move {
            let name = "ff-kubectl";
            let cmd = env_ref.kubectl(&[
                "rollout",
                "status",
                &format!("deployment/{name}"),
                "--timeout=5m",
            ]);
            let (run, _, clbo) =
                reaction(env_ref, name, &[CRASHLOOP], Moment::FirstCrashLoop, cmd).await?;
            run.expect(1, "kubectl rollout status")?;
            Ok::<_, anyhow::Error>((signed_ms(clbo, run.exited), run.stderr))
        })
    };
    let ours = async {
        let mut samples = Vec::new();
        let mut reason = String::new();
        for r in 0..cfg.runs {
            let name = format!("ff-{r}");
            let cmd = env.tool(&hw, &["--deployment", &name, "--timeout", "5m"]);
            let (run, started, clbo) =
                reaction(&env, &name, &[CRASHLOOP], Moment::FirstCrashLoop, cmd).await?;
            run.expect(1, "deploy-health-wait")?;
            if !run.stderr.contains("CrashLoopBackOff") {
                bail!("deploy-health-wait did not name the reason: {}", run.stderr);
            }
            if clbo < started {
                bail!("{name}: CrashLoopBackOff before deploy-health-wait started");
            }
            reason = run
                .stderr
                .lines()
                .rfind(|l| l.contains("CrashLoopBackOff"))
                .unwrap_or_default()
                .to_string();
            samples.push(signed_ms(clbo, run.exited));
            delete(&env, &name).await?;
        }
        Ok::<_, anyhow::Error>((Summary::of_ms(&samples), reason))
    };
    let ((s, reason), theirs) = match kubectl {
        Some(k) => {
            let (a, b) = tokio::join!(ours, k);
            (a?, Some(b?))
        }
        None => (ours.await?, None),
    };

    let mut t = Table::new(
        "first CrashLoopBackOff → the command exits 1 (ms)",
        &["command", "runs", "median", "p95", "min", "max"],
    );
    t.row(vec![
        "`deploy-health-wait --deployment NAME --timeout 5m`".into(),
        s.n.to_string(),
        fmt(s.median),
        fmt(s.p95),
        fmt(s.min),
        fmt(s.max),
    ]);
    let mut notes = vec![format!(
        "`deploy-health-wait`'s reason (stderr): `{}`",
        reason.trim()
    )];
    match &theirs {
        Some((ms, stderr)) => {
            t.row(vec![
                "`kubectl rollout status --timeout=5m`".into(),
                "1".into(),
                fmt(*ms),
                "-".into(),
                fmt(*ms),
                fmt(*ms),
            ]);
            notes.push(format!(
                "`kubectl rollout status` ran once (it waits out its timeout: it \
                 watches the Deployment, whose Progressing condition turns False only \
                 after `progressDeadlineSeconds`, 600 s by default), concurrently with \
                 the `deploy-health-wait` runs, which it does not load (it idles on a \
                 watch). It said: `{}`",
                stderr.trim()
            ));
        }
        None => notes.push(
            "`kubectl rollout status --timeout=5m` is not run with `--quick`: it waits out \
             its 5-minute timeout."
                .into(),
        ),
    }
    let mut sec = Section {
        id: "fail-fast",
        title: "3. Fail-fast".into(),
        intro: "On the real control plane profile (see scenario 1). \
                Per run: a new Deployment of 3 pods with `sandbox.switchyard.dev/fail: \
                crashloop` (containers are created for 1 s, then crash with a growing \
                back-off); the command starts right after the Deployment is created. The \
                harness follows the pods itself (the sandbox's change feed, as in scenario \
                2) and takes the instant the first container waiting in \
                CrashLoopBackOff is committed; the figure is from then until the \
                command exits 1."
            .into(),
        tables: vec![t],
        notes,
        ..Default::default()
    };
    sec.headline(
        "first CrashLoopBackOff → `deploy-health-wait` exits 1 with the reason, p95",
        format!("{} ms (median {} ms)", fmt(s.p95), fmt(s.median)),
        &format!("<= {:.0} s", TARGET_MS / 1e3),
        Verdict::of(s.p95 <= TARGET_MS),
    );
    Ok(sec)
}
