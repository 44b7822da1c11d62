//! Whole-process runs: spawn → exit wall time and exit code. (Peak RSS goes
//! through the `peak-rss` binary: see there why.)

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One finished process.
#[derive(Debug)]
pub struct Run {
    /// From just before spawn to just after the wait for its exit returned.
    pub wall: Duration,
    /// When the wait returned.
    pub exited: Instant,
    /// The exit code; None when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Fails unless the process exited with `code`, quoting its output.
    pub fn expect(&self, code: i32, what: &str) -> Result<&Run> {
        if self.code != Some(code) {
            bail!(
                "{what} exited {:?}, expected {code}\nstdout: {}\nstderr: {}",
                self.code,
                self.stdout.trim(),
                self.stderr.trim()
            );
        }
        Ok(self)
    }
}

/// Runs `cmd` to completion (stdin closed, stdout and stderr to files in
/// `dir`, so a large output never blocks the child on a full pipe) and times it.
pub fn run(mut cmd: Command, dir: &Path) -> Result<Run> {
    // Unique names: runs may overlap (fail-fast runs kubectl alongside).
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let out_path = dir.join(format!("stdout-{n}"));
    let err_path = dir.join(format!("stderr-{n}"));
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    let status = child.wait()?;
    let exited = Instant::now();
    let run = Run {
        wall: exited - start,
        exited,
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    Ok(run)
}

/// [`run`] on a blocking thread, for use inside the runtime that serves the sandbox.
pub async fn run_async(cmd: Command, dir: PathBuf) -> Result<Run> {
    tokio::task::spawn_blocking(move || run(cmd, &dir)).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_and_output() {
        let dir =
            std::env::temp_dir().join(format!("switchyard-bench-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let r = run(cmd, &dir).unwrap();
        assert_eq!(r.code, Some(3));
        assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("out\n", "err\n"));
        assert!(r.expect(3, "sh").is_ok());
        let e = r.expect(0, "sh").unwrap_err().to_string();
        assert!(
            e.contains("sh exited Some(3), expected 0") && e.contains("stderr: err"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
