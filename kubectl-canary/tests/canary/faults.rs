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
