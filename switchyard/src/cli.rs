//! What every front end shares: where results go, progress on stderr,
//! duration arguments, and stopping cleanly on SIGINT/SIGTERM.

use std::time::Duration;

use crate::output::{Format, Progress};
use serde::Serialize;

/// Where results go.
pub struct Out {
    pub format: Format,
}

impl Out {
    /// Prints `doc` for machines, or `human` for people.
    pub fn result<T: Serialize>(
        &self,
        doc: &T,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if self.format.is_machine() {
            crate::output::print_document(self.format, doc)
        } else {
            print!("{}", human());
            Ok(())
        }
    }
}

/// A progress callback writing to stderr.
pub fn progress() -> impl FnMut(&str) + Send {
    let mut p = Progress::default();
    move |line: &str| p.update(line)
}

pub fn duration(s: &str) -> Result<Duration, String> {
    crate::connect::parse_duration(s)
}

/// Resolves on SIGINT or SIGTERM with the conventional exit code (130, 143),
/// once the leases this process holds are released. Every write is a single
/// request, so stopping between two leaves a state the next run reads as is.
pub async fn interrupted() -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    let (code, name) = tokio::select! {
        _ = int.recv() => (130, "interrupted"),
        _ = term.recv() => (143, "terminated"),
    };
    crate::lock::release_all().await;
    eprintln!("error: {name}; the app's lock was released");
    code
}

/// Runs a plugin's command on a current-thread runtime and exits with its
/// code: errors reported as one `error:` line and a hint, SIGINT/SIGTERM
/// releasing held leases first (130/143).
pub fn run_to_exit<F>(work: F) -> !
where
    F: std::future::Future<Output = anyhow::Result<crate::exit::Exit>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = runtime.block_on(async {
        tokio::select! {
            r = work => match r {
                Ok(code) => code.code(),
                Err(e) => crate::output::report_error(&e).code(),
            },
            code = interrupted() => code,
        }
    });
    std::process::exit(code);
}
