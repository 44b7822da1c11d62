//! One module per subcommand: its arguments, and the call into the library.

pub mod abort;
pub mod analysis;
pub mod deploy;
pub mod promote;
pub mod ramp;
pub mod set;
pub mod status;

pub use switchyard::cli::{Out, duration, progress, timeout};

use switchyard::traffic::Kind;

/// The provider flags every mutating subcommand takes.
#[derive(clap::Args, Clone, Debug)]
pub struct ProviderArgs {
    /// What carries the weight (default: detected from what exists).
    #[arg(long, value_enum)]
    pub provider: Option<Kind>,
    /// Replica split: the total number of pods to divide (default: the current sum).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = switchyard::cli::replicas)]
    pub total: Option<i32>,
}

impl ProviderArgs {
    pub fn options(&self) -> switchyard::canary::set::Options {
        switchyard::canary::set::Options {
            provider: self.provider,
            total: self.total,
            ..Default::default()
        }
    }
}

/// The provider flags of the subcommands that raise the weight (`set`,
/// `ramp`): those of [`ProviderArgs`], and the canary Ingress to create
/// (never offered by `abort` or `promote`, which only lower it).
#[derive(clap::Args, Clone, Debug)]
pub struct WeightArgs {
    #[command(flatten)]
    pub provider: ProviderArgs,
    /// nginx: create the canary Ingress APP-canary from the stable Ingress APP.
    #[arg(long)]
    pub create_canary_ingress: bool,
}

impl WeightArgs {
    pub fn options(&self) -> switchyard::canary::set::Options {
        switchyard::canary::set::Options {
            create_canary_ingress: self.create_canary_ingress,
            ..self.provider.options()
        }
    }
}
