//! kubectl-bluegreen never prints or stores a secret (token, client key,
//! BUILD_URL password): every subcommand, success and failure, at -v 0, 6, 9.

use switchyard_e2e::faults::{Planted, fault};

use crate::BIN;

#[test]
fn no_subcommand_leaks_a_secret_at_any_verbosity() {
    let p = Planted::start();
    for v in ["0", "6", "9"] {
        let runs: Vec<(Vec<&str>, Option<i32>)> = vec![
            (vec!["status"], Some(0)),
            (vec!["status", "web", "-o", "json"], Some(0)),
            (vec!["switch", "web", "--reason", "release"], Some(0)),
            (vec!["switch", "web", "--dry-run=server"], Some(0)),
            (vec!["history", "web"], Some(0)),
            (vec!["history", "web", "-o", "json"], Some(0)),
            (vec!["rollback", "web"], Some(0)),
            (
                vec![
                    "deploy",
                    "web",
                    "--image",
                    "example/web:2.0",
                    "--wait",
                    "--timeout",
                    "30s",
                ],
                Some(0),
            ),
            // Refused by the API server (the fault below).
            (vec!["switch", "web"], Some(1)),
            (vec!["scale-down", "web", "--to", "3"], None),
            (vec!["init", "nope", "--from-deployment", "nope"], Some(3)),
            (vec!["switch", "nope"], Some(3)),
            (vec!["switch", "web", "--to", "purple"], Some(2)),
        ];
        for (args, code) in runs {
            if code == Some(1) {
                fault(
                    &p.cluster,
                    "status=503,verb=patch,resource=services,count=1",
                );
            }
            let args = [&args[..], &["-v", v]].concat();
            let out = p.run(BIN, &args, true);
            let what = format!("kubectl-bluegreen {args:?}");
            if let Some(code) = code {
                let (o, e) = switchyard_e2e::texts(&out);
                assert_eq!(out.status.code(), Some(code), "{what}\n{o}{e}");
            }
            p.check_output(&what, &out);
            if v == "9" && code == Some(0) {
                let (_, e) = switchyard_e2e::texts(&out);
                assert!(e.contains("Response Body: "), "{what}: {e}");
                assert!(!e.to_lowercase().contains("authorization"), "{what}: {e}");
            }
        }
    }
    p.check_cluster();
}
