//! Twenty `kubectl canary set` at once on the demo HTTPRoute: every observed
//! state splits 100 %, and each weight change is recorded exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::{run_all, texts};

use crate::BIN;

const PROCESSES: u64 = 20;

/// (stable, canary) weights of the rule naming both Services.
fn weights(route: &Value) -> (i64, i64) {
    let refs = route["spec"]["rules"][0]["backendRefs"].as_array().unwrap();
    assert_eq!(refs.len(), 2, "{route}");
    let w = |name: &str| {
        refs.iter()
            .find(|r| r["name"] == name)
            .and_then(|r| r["weight"].as_i64())
            .unwrap_or_else(|| panic!("no weight for {name}: {route}"))
    };
    (w("shop"), w("shop-canary"))
}

fn annotation<'a>(o: &'a Value, key: &str) -> &'a str {
    o["metadata"]["annotations"][key].as_str().unwrap_or("")
}

fn revision(o: &Value) -> u64 {
    annotation(o, "switchyard.dev/revision")
        .parse()
        .unwrap_or(0)
}

switchyard_e2e::on_both_timings!(
    twenty_concurrent_sets_always_split_100_and_record_each_change_once,
    |c| {
        let route = ("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes");
        let before = c
            .object(route.0, route.3, "default", "shop")
            .expect("demo route");
        assert_eq!(weights(&before).1, 0);
        let watch = c.record(route, "default");

        // Distinct weights, none the current one: every process that gets the
        // lease changes something.
        let asked: Vec<u64> = (1..=PROCESSES).map(|i| i * 5).collect();
        let cmds = asked
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (w, n) = (w.to_string(), i.to_string());
                c.command(
                    BIN,
                    &["set", &w, "shop", "-o", "json"],
                    &[("JOB_NAME", "race"), ("BUILD_NUMBER", &n)],
                )
            })
            .collect();
        let outs = run_all(cmds, Duration::from_secs(60));

        // actor → weight, for each process that set it.
        let mut set: BTreeMap<String, u64> = BTreeMap::new();
        for (i, out) in outs.iter().enumerate() {
            let (stdout, stderr) = texts(out);
            match out.status.code() {
                Some(0) => {
                    let doc: Value = serde_json::from_str(&stdout)
                        .unwrap_or_else(|e| panic!("process {i}: {e}: {stdout}"));
                    assert_eq!(doc["result"], "set", "process {i}: {doc}");
                    assert_eq!(doc["to"], asked[i]);
                    set.insert(format!("jenkins:race#{i}"), asked[i]);
                }
                Some(4) => {
                    let err = crate::error_line(&stderr);
                    assert!(
                        err.contains("is busy") || err.contains("won the race"),
                        "process {i}: {err}"
                    );
                    assert!(stdout.is_empty(), "process {i}: {stdout}");
                }
                code => panic!("process {i} exited {code:?}: {stderr}"),
            }
        }
        assert!(!set.is_empty(), "nobody set a weight");
        eprintln!("{} of {PROCESSES} set a weight", set.len());

        let after = c.object(route.0, route.3, "default", "shop").unwrap();
        let events = watch.finish(&[(
            "shop".into(),
            after["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .into(),
        )]);
        let mut changes = 0;
        let mut last = weights(&before);
        for e in events.iter().filter(|e| e.name() == "shop") {
            assert_eq!(e.kind, "MODIFIED");
            let (s, k) = weights(&e.object);
            assert_eq!(s + k, 100, "a state where the weights do not sum to 100");
            if (s, k) != last {
                changes += 1;
                assert!(
                    set.values().any(|w| *w as i64 == k),
                    "weight {k} set by nobody who reported it"
                );
            }
            last = (s, k);
        }
        assert_eq!(changes, set.len(), "one weight change per process that set");

        // History: the revision moved once per change, each actor's entry once,
        // newest first; the newest entry's weight is the final weight.
        assert_eq!(revision(&after), revision(&before) + set.len() as u64);
        let hist: Vec<Value> =
            serde_json::from_str(annotation(&after, "switchyard.dev/history")).unwrap();
        let ours: Vec<&Value> = hist
            .iter()
            .filter(|e| {
                e["actor"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("jenkins:race#")
            })
            .collect();
        assert_eq!(ours.len(), set.len().min(switchyard::history::KEEP));
        let mut seen = std::collections::BTreeSet::new();
        for e in &ours {
            let actor = e["actor"].as_str().unwrap();
            assert!(seen.insert(actor), "{actor} recorded twice");
            assert_eq!(
                e["to"].as_str().unwrap(),
                set.get(actor)
                    .unwrap_or_else(|| panic!("{actor} did not set"))
                    .to_string()
            );
        }
        let final_weight = weights(&after).1;
        assert_eq!(ours[0]["to"].as_str().unwrap(), final_weight.to_string());
        assert!(!c.lease_held("default", "shop"));
    }
);
