//! A blue/green switch, Switchyard against the inline shell Jenkinsfiles carry
//! today (`kubectl get svc` + `kubectl patch svc` + `kubectl get endpointslices`),
//! on the same sandbox, in the same run. Prints wall time (median, min, max over
//! N runs) and API calls per switch from the sandbox's request counter.
//!
//!   cargo bench -p kubectl-bluegreen --bench switch            # 20 runs each
//!   cargo bench -p kubectl-bluegreen --bench switch -- --quick # 5 runs each
//!
//! Figures, not assertions: the machine is shared and noisy. API calls do not
//! depend on noise.

use std::process::Command;
use std::time::{Duration, Instant};

use switchyard_e2e::{TestCluster, run, texts};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-bluegreen");

/// What a Jenkinsfile does today: read the color, patch the other in, look at
/// the endpoints. No readiness check, no lock, no verification wait.
const INLINE_SHELL: &str = r#"
set -e
current=$(kubectl get svc web -o jsonpath='{.spec.selector.color}')
if [ "$current" = blue ]; then target=green; else target=blue; fi
kubectl patch svc web -p "{\"spec\":{\"selector\":{\"color\":\"$target\"}}}" >/dev/null
kubectl get endpointslices -l kubernetes.io/service-name=web -o jsonpath='{.items[*].endpoints[*].addresses[*]}' >/dev/null
"#;

struct Stats {
    wall: Vec<Duration>,
    calls: Vec<u64>,
}

impl Stats {
    fn row(&self, name: &str) -> String {
        let mut w = self.wall.clone();
        w.sort();
        let mut c = self.calls.clone();
        c.sort();
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
        format!(
            "{name:<44} {:>4} {:>9} {:>9} {:>9} {:>6} {:>6}",
            w.len(),
            ms(w[w.len() / 2]),
            ms(w[0]),
            ms(w[w.len() - 1]),
            c[c.len() / 2],
            c[c.len() - 1],
        )
    }
}

fn measure(c: &TestCluster, runs: usize, mut one: impl FnMut()) -> Stats {
    let mut s = Stats {
        wall: Vec::new(),
        calls: Vec::new(),
    };
    for _ in 0..runs {
        c.cluster().requests.reset();
        let t = Instant::now();
        one();
        s.wall.push(t.elapsed());
        s.calls.push(c.cluster().requests.total());
    }
    s
}

fn main() {
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 5 } else { 20 };
    let c = TestCluster::demo();
    let cache = c.dir.join("kube-cache");

    let switchyard = measure(&c, runs, || {
        let out = c.run_bin(BIN, &["switch", "web"], &[]);
        assert!(out.status.success(), "{:?}", texts(&out));
    });
    // Warm kubectl's discovery cache first, as on a Jenkins agent that ran before.
    // The shell is the baseline, not a Switchyard tool: it runs as the admin
    // (its `kubectl get svc` is a GET the least-privilege Role does not grant).
    let mut warm = Command::new("kubectl");
    warm.env("KUBECONFIG", &c.admin_kubeconfig)
        .arg("--cache-dir")
        .arg(&cache)
        .args(["get", "svc", "web"]);
    run(warm, None);
    let shell = measure(&c, runs, || {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", INLINE_SHELL])
            .env("KUBECONFIG", &c.admin_kubeconfig)
            .env("KUBECACHEDIR", &cache);
        let out = run(cmd, None);
        assert!(out.status.success(), "{:?}", texts(&out));
    });

    let uname = Command::new("uname")
        .arg("-sr")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("# blue/green switch: Switchyard vs inline shell");
    println!(
        "machine: {uname}, {} cores; runs: {runs} each; sandbox ready-delay 50 ms",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!();
    println!(
        "{:<44} {:>4} {:>9} {:>9} {:>9} {:>6} {:>6}",
        "switch", "n", "p50 ms", "min ms", "max ms", "calls", "max"
    );
    println!(
        "{}",
        switchyard.row("kubectl-bluegreen switch (checked, verified)")
    );
    println!("{}", shell.row("inline shell: 3 kubectl (no checks)"));
    let ratio = {
        let mut a = switchyard.wall.clone();
        a.sort();
        let mut b = shell.wall.clone();
        b.sort();
        b[b.len() / 2].as_secs_f64() / a[a.len() / 2].as_secs_f64()
    };
    println!();
    println!("inline shell / switchyard wall time (p50): {ratio:.1}x");
    println!(
        "switchyard calls: 2 LIST (Services, Deployments) to plan and 2 again under the Lease, Lease create+delete, Service PATCH, preview PATCH, EndpointSlice LIST, Event"
    );
}
