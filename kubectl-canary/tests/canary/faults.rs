//! kubectl-canary under faults: a refused weight write is sent once and
//! leaves the weights; refused reads are retried.

use std::time::Duration;

use switchyard_e2e::faults::{fault, run_within};

use crate::{BIN, error_line, expect, route_weights};

const LIMIT: Duration = Duration::from_secs(60);

switchyard_e2e::on_both_timings!(
    a_refused_weight_write_is_sent_once_and_leaves_the_weights,
    |c| {
        expect(
            &run_within(c.command(BIN, &["set", "20", "shop"], &[]), LIMIT),
            0,
        );
        let before = route_weights(&c);
        assert_eq!(before, (80, 20));
        let rv = c.versions("default")["httproutes/shop"].clone();
        fault(&c, "status=503,verb=patch,resource=httproutes,count=1");
        c.cluster().requests.reset();
        let out = run_within(c.command(BIN, &["set", "50", "shop"], &[]), LIMIT);
        let (_, stderr) = expect(&out, 1);
        assert!(error_line(&stderr).contains("503"), "{stderr}");
        assert_eq!(c.cluster().requests.count("patch", "httproutes"), 1);
        assert_eq!(route_weights(&c), before);
        assert_eq!(c.versions("default")["httproutes/shop"], rv);
        // Refused reads on the next run are retried, and it goes through.
        fault(
            &c,
            "status=429,verb=list,resource=httproutes,count=2,retry-after=0",
        );
        c.cluster().requests.reset();
        expect(
            &run_within(c.command(BIN, &["set", "50", "shop"], &[]), LIMIT),
            0,
        );
        assert_eq!(route_weights(&c), (50, 50));
        assert!(c.cluster().requests.count("list", "httproutes") >= 3);
    }
);

/// Someone changes what the plan was made on (the route's rules) while the
/// weight write is on its way: the write's test fails on the server, exit 4
/// names the field, and the route keeps the other writer's rules. Other
/// writers' status updates meanwhile (every 20 ms) do not matter.
#[test]
fn a_change_of_what_the_plan_read_is_exit_4_naming_it_and_changes_nothing() {
    let c = switchyard_e2e::TestCluster::demo_with_status_writers();
    // Hold the weight write in the server for a moment.
    fault(&c, "latency=700ms,verb=patch,resource=httproutes,count=1");
    c.cluster().requests.reset();
    let run =
        switchyard_e2e::faults::Background::spawn(c.command(BIN, &["set", "30", "shop"], &[]));
    c.poll("the weight write", |c| {
        c.cluster().requests.count("patch", "httproutes") == 1
    });
    // A person sets the weights by hand meanwhile.
    let routes = c
        .cluster()
        .types
        .find("gateway.networking.k8s.io", "v1", "httproutes")
        .expect("the demo defines HTTPRoutes");
    c.cluster()
        .store
        .update(routes, "default", "shop", false, |cur| {
            let mut o = (**cur).clone();
            o["spec"]["rules"][0]["backendRefs"][0]["weight"] = 60.into();
            o["spec"]["rules"][0]["backendRefs"][1]["weight"] = 40.into();
            Ok(o)
        })
        .unwrap();
    let out = run.wait_within(LIMIT);
    let (_, stderr) = expect(&out, 4);
    let err = error_line(&stderr);
    assert!(
        err.contains("HTTPRoute shop changed since it was read: spec.rules is now"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(route_weights(&c), (60, 40));
}
