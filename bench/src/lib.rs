//! The benchmark harness behind `cargo xtask bench`: eight scenarios run against
//! the release binaries and an in-process kube-sandbox, printed as tables and
//! written to bench/RESULTS.md. Figures, not assertions: nothing here fails on
//! a slow run, only on a command that misbehaves.

pub mod analysis;
pub mod apply;
pub mod env;
pub mod fail_fast;
pub mod health_wait;
pub mod machine;
pub mod proc;
pub mod report;
pub mod sandbox;
pub mod scale;
pub mod startup;
pub mod stats;
pub mod switch;

/// The scenarios, by their `--only` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Scenario {
    Switch,
    HealthWait,
    FailFast,
    Scale,
    Startup,
    Sandbox,
    Analysis,
    Apply,
}

impl Scenario {
    /// The order they run in: the ones whose figures are process-wide (the
    /// harness's own peak RSS in `sandbox`) before any other sandbox started.
    pub const RUN_ORDER: [Scenario; 8] = [
        Scenario::Startup,
        Scenario::Sandbox,
        Scenario::Switch,
        Scenario::HealthWait,
        Scenario::FailFast,
        Scenario::Scale,
        Scenario::Analysis,
        Scenario::Apply,
    ];

    pub async fn run(self, cfg: &env::Config) -> anyhow::Result<report::Section> {
        match self {
            Scenario::Switch => switch::run(cfg).await,
            Scenario::HealthWait => health_wait::run(cfg).await,
            Scenario::FailFast => fail_fast::run(cfg).await,
            Scenario::Scale => scale::run(cfg).await,
            Scenario::Startup => startup::run_all(cfg).await,
            Scenario::Sandbox => sandbox::run_all(cfg).await,
            Scenario::Analysis => analysis::run(cfg).await,
            Scenario::Apply => apply::run(cfg).await,
        }
    }
}
