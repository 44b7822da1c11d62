//! Where and when: CPU, cores, memory, kernel, rustc, date, commit, load.

use std::path::Path;
use std::process::Command;

use crate::report::Machine;

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn output(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The 1-minute load average.
pub fn load() -> f64 {
    read("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(f64::NAN)
}

/// `KEY: value` of /proc/cpuinfo or /proc/meminfo.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// Everything but the load, which the caller fills in after the run.
pub fn describe(root: &Path) -> Machine {
    let mem_kib: f64 = field(&read("/proc/meminfo"), "MemTotal")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN);
    let git = |args: &[&str]| output(Command::new("git").current_dir(root).args(args));
    let mut commit = git(&["rev-parse", "--short=12", "HEAD"]);
    // The results file itself does not count as a change to what was measured.
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .lines()
        .any(|l| !l.ends_with("bench/RESULTS.md"));
    if commit.is_empty() {
        commit = "unknown".into();
    } else if dirty {
        commit.push_str(" + uncommitted changes");
    }
    Machine {
        cpu: field(&read("/proc/cpuinfo"), "model name").unwrap_or_else(|| "unknown".into()),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory: format!("{:.1} GiB", mem_kib / 1024.0 / 1024.0),
        kernel: format!(
            "{} {}",
            read("/proc/sys/kernel/ostype").trim(),
            read("/proc/sys/kernel/osrelease").trim()
        ),
        rustc: output(
            Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())).arg("-V"),
        ),
        date: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string(),
        commit,
        binaries: String::new(),
        load: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields() {
        let text = "processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\nflags\t\t: a b\n";
        assert_eq!(
            field(text, "model name").as_deref(),
            Some("Some CPU @ 2.0GHz")
        );
        assert_eq!(field(text, "missing"), None);
    }
}
