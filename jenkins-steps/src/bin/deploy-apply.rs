//! `deploy-apply`: apply a directory of manifests as a release step, after
//! krane's `krane deploy`: every file validated before anything is sent,
//! dependency order, server-side apply, every workload followed with
//! `--wait`, pruning of the apply set only after every wait passed.

use std::path::PathBuf;

use clap::Parser;
use jenkins_steps::{Outcome, OutputFormat, StepArgs};
use switchyard::DryRun;
use switchyard::apply;
use switchyard::connect::KubeArgs;

#[derive(Parser)]
#[command(
    name = "deploy-apply",
    version,
    about = "Apply manifests (validated first, in dependency order, server-side), follow every workload, prune"
)]
#[command(after_help = "Examples (Jenkinsfile):
  sh 'deploy-apply -f k8s/ --wait --timeout 10m --result-file apply.json'
  sh 'deploy-apply -f k8s/ -R --image web=registry.example.com/web:${BUILD_NUMBER} --wait --prune --apply-set web'
  sh 'deploy-apply -f k8s/ --dry-run=server'     # kubectl diff's diffs, nothing changed

Every file is read and every object validated (apiVersion and kind served by the cluster,
names, namespaces) before the first one is sent; a bad file changes nothing. Objects go in
dependency order (Namespaces, CRDs, then config, RBAC, Services, workloads, the rest) by
server-side apply, field manager switchyard; one line each: created, configured, unchanged.

Exit codes: 0 applied (and rolled out with --wait), 1 a workload failed (object, pod and
reason named), 2 bad input (nothing applied), 4 a field owned by another manager (see
--force-conflicts), 5 unreachable or forbidden, 124 timed out.")]
struct Args {
    /// A manifest file, a directory of them (*.yaml, *.yml, *.json), or - for stdin (repeatable).
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
    /// Read directories' subdirectories too.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Only the objects whose labels match this selector (e.g. app=web); pruning too.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    selector: Option<String>,
    /// After every wait passed, delete the members of --apply-set that the files no longer have.
    #[arg(long, requires = "apply_set")]
    prune: bool,
    /// The apply set: every object is labelled switchyard.dev/apply-set=NAME (needed by --prune).
    #[arg(long, value_name = "NAME")]
    apply_set: Option<String>,
    /// Follow every workload applied (Deployments, StatefulSets, DaemonSets, Jobs) until rolled out; the first failure stops.
    #[arg(long)]
    wait: bool,
    /// server: send with dryRun=All and print each object's diff (kubectl diff's); client: validate and print only. Nothing changes.
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    dry_run: Option<DryRun>,
    /// The field manager of the server-side apply.
    #[arg(long, value_name = "NAME", default_value = apply::FIELD_MANAGER)]
    field_manager: String,
    /// Take over fields that another field manager owns (server-side apply's force).
    #[arg(long)]
    force_conflicts: bool,
    /// Accepted for kubectl users: server-side apply is the only mode, so this changes nothing.
    #[arg(long)]
    server_side: bool,
    /// Set the image of every container named CONTAINER in the files' pod templates (repeatable).
    #[arg(long, value_name = "CONTAINER=IMAGE")]
    image: Vec<String>,
    #[command(flatten)]
    step: StepArgs,
    #[command(flatten)]
    kube: KubeArgs,
}

async fn run(a: Args, log: jenkins_steps::Log) -> anyhow::Result<Outcome> {
    let conn = a.kube.connect().await?;
    let opts = apply::Options {
        paths: a.files.clone(),
        recursive: a.recursive,
        selector: a.selector.clone(),
        prune: a.prune,
        apply_set: a.apply_set.clone(),
        wait: a.wait,
        timeout: a.step.timeout,
        dry_run: a.dry_run,
        field_manager: a.field_manager.clone(),
        force_conflicts: a.force_conflicts,
        images: a.image.clone(),
        namespace: conn.namespace.clone(),
        explicit_namespace: a.kube.namespace.is_some(),
    };
    let mut progress = log.progress();
    let ran = apply::run(&conn.client, &opts, &mut progress).await;
    let report = ran.report;
    // Diffs and client dry-run manifests are the output people read: stdout,
    // as kubectl diff's; with -o json they are in the document instead.
    if a.step.output == OutputFormat::Text {
        for o in &report.objects {
            if let Some(d) = o.diff.as_deref().filter(|d| !d.is_empty()) {
                print!("{d}");
            }
            if let Some(m) = &o.manifest {
                print!("---\n{m}");
            }
        }
    }
    if let Some(e) = ran.error {
        let message = switchyard::output::one_line(&e);
        return Ok(Outcome {
            exit: switchyard::exit::classify(&e),
            summary: message.clone(),
            result: serde_json::to_value(&report).unwrap_or_default(),
            error: Some((message, switchyard::output::hint(&e))),
        });
    }
    let mut summary = format!(
        "{} ({})",
        switchyard::output::count(report.objects.len() as i64, "object"),
        report.counts()
    );
    let done = report.waits.iter().filter(|w| w.verdict == "done").count();
    if done > 0 {
        summary.push_str(&format!(
            "; {} rolled out",
            switchyard::output::count(done as i64, "workload")
        ));
    }
    if report.dry_run.is_some() {
        summary.push_str("; dry run, nothing changed");
    }
    Ok(Outcome::ok(summary, &report))
}

fn main() {
    let a: Args = jenkins_steps::parse();
    let step = a.step.clone();
    jenkins_steps::main("deploy-apply", step, |log| run(a, log))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_option_has_help() {
        use clap::CommandFactory;
        assert_eq!(
            switchyard::cli::undocumented(&super::Args::command()),
            Vec::<String>::new()
        );
    }
}
