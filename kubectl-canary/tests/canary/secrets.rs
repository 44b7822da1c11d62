//! kubectl-canary never prints or stores a secret (token, client key,
//! BUILD_URL password): every subcommand, success and failure, at -v 0, 6, 9.

use switchyard_e2e::faults::{Planted, fault};

use crate::BIN;

#[test]
fn no_subcommand_leaks_a_secret_at_any_verbosity() {
    let p = Planted::start();
    for v in ["0", "6", "9"] {
        let runs: Vec<(Vec<&str>, Option<i32>)> = vec![
            (vec!["status"], Some(0)),
            (vec!["status", "shop", "-o", "json"], Some(0)),
            (vec!["set", "20", "shop"], Some(0)),
            (
                vec!["ramp", "shop", "--steps", "30,40", "--pause", "10ms"],
                Some(0),
            ),
            (vec!["promote", "shop"], None),
            (vec!["abort", "shop"], Some(0)),
            (
                vec!["deploy", "shop", "--image", "example/shop:2.0", "--wait"],
                Some(0),
            ),
            (vec!["set", "200", "shop"], Some(2)),
            (vec!["set", "20", "nope"], Some(3)),
            // Refused by the API server (the fault below).
            (vec!["set", "30", "shop"], Some(1)),
        ];
        let n = runs.len();
        for (i, (args, code)) in runs.into_iter().enumerate() {
            if i == n - 1 {
                fault(&p.cluster, "status=503,verb=patch,count=1");
            }
            let args = [&args[..], &["-v", v]].concat();
            let out = p.run(BIN, &args, true);
            let what = format!("kubectl-canary {args:?}");
            if let Some(code) = code {
                let (o, e) = switchyard_e2e::texts(&out);
                assert_eq!(out.status.code(), Some(code), "{what}\n{o}{e}");
            }
            p.check_output(&what, &out);
        }
    }
    p.check_cluster();
}
