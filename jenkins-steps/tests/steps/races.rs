//! Twenty pipelines switching one app at once: the lease and the guarded writes
//! keep every observed state consistent and lose no history.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::{Seen, run_all, texts};

const BIN: &str = env!("CARGO_BIN_EXE_deploy-switch");
const PROCESSES: usize = 20;

fn color(svc: &Value) -> &str {
    svc["spec"]["selector"]["color"].as_str().unwrap_or("")
}

fn annotation<'a>(svc: &'a Value, key: &str) -> &'a str {
    svc["metadata"]["annotations"][key].as_str().unwrap_or("")
}

fn revision(svc: &Value) -> u64 {
    annotation(svc, "switchyard.dev/revision")
        .parse()
        .unwrap_or(0)
}

/// Replays the watched Service states: each selector names one color, and the
/// only moment Service and preview select the same color is between a
/// switch's two writes — the very next Service event is the preview's fix.
fn check_states(events: &[Seen], mut web: String, mut preview: String) -> usize {
    // No other Service changes: every event is one of the app's two.
    let relevant: Vec<&Seen> = events.iter().collect();
    for e in &relevant {
        assert!(
            e.name() == "web" || e.name() == "web-preview",
            "{} changed",
            e.name()
        );
    }
    let mut color_changes = 0;
    let mut last_revision = None;
    for (i, e) in relevant.iter().enumerate() {
        assert_eq!(e.kind, "MODIFIED", "{}: {:?}", e.name(), e.object);
        let c = color(&e.object).to_string();
        assert!(
            c == "blue" || c == "green",
            "{} selects no single color: {}",
            e.name(),
            e.object["spec"]["selector"]
        );
        if e.name() == "web" {
            let r = revision(&e.object);
            if c != web {
                color_changes += 1;
                // One history revision per switch, written with the selector.
                if let Some(last) = last_revision {
                    assert_eq!(r, last + 1, "revision of switch {color_changes}");
                }
            }
            last_revision = Some(r);
            web = c;
        } else {
            preview = c;
        }
        if web == preview {
            let next = relevant.get(i + 1).unwrap_or_else(|| {
                panic!("the watch ended with web and web-preview both on {web}")
            });
            assert_eq!(
                (next.name(), e.name()),
                ("web-preview", "web"),
                "event {i}: both select {web}, and the next Service event is not the preview's fix"
            );
            assert_ne!(color(&next.object), web, "event {}", i + 1);
        }
    }
    assert_ne!(web, preview, "final state");
    color_changes
}

switchyard_e2e::on_both_timings!(
    twenty_concurrent_switches_keep_one_color_and_every_history_entry,
    |c| {
        let before = c.object("", "services", "default", "web").unwrap();
        let preview = c.object("", "services", "default", "web-preview").unwrap();
        let watch = c.record(("", "v1", "Service", "services"), "default");

        let cmds = (0..PROCESSES)
            .map(|i| {
                let to = if i % 2 == 0 { "green" } else { "blue" };
                let n = i.to_string();
                c.command(
                    BIN,
                    &["--app", "web", "--to", to, "-o", "json"],
                    &[("JOB_NAME", "race"), ("BUILD_NUMBER", n.as_str())],
                )
            })
            .collect();
        let outs = run_all(cmds, Duration::from_secs(60));

        // Who switched, to what, at which revision.
        let mut switched: BTreeMap<u64, (String, String)> = BTreeMap::new();
        let mut exits = BTreeMap::new();
        for (i, out) in outs.iter().enumerate() {
            let (stdout, stderr) = texts(out);
            let code = out.status.code().unwrap_or(-1);
            *exits.entry(code).or_insert(0) += 1;
            assert!(code == 0 || code == 4, "process {i}: {code}\n{stderr}");
            let doc: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("process {i}: {e}: {stdout}"));
            assert_eq!(doc["exitCode"], code);
            let actor = format!("jenkins:race#{i}");
            if code == 4 {
                let msg = doc["error"]["message"].as_str().unwrap();
                assert!(
                    msg.contains("is busy") || msg.contains("won the race"),
                    "process {i}: {msg}"
                );
            } else if doc["result"]["switch"]["result"] == "switched" {
                let r = &doc["result"]["switch"];
                let to = r["to"].as_str().unwrap().to_string();
                let rev = r["revision"].as_u64().unwrap();
                assert!(
                    switched.insert(rev, (to, actor)).is_none(),
                    "two switches reported revision {rev}"
                );
            } else {
                assert_eq!(doc["result"]["result"], "unchanged", "process {i}: {doc}");
            }
        }
        // Usually one to three win the lease; if every winner asked for the color
        // already served, nothing switched, and the checks below say nothing changed.
        eprintln!("exit codes {exits:?}; {} switched", switched.len());

        let after = c.object("", "services", "default", "web").unwrap();
        let preview_after = c.object("", "services", "default", "web-preview").unwrap();
        let events = watch.finish(&[
            (
                "web".into(),
                after["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .into(),
            ),
            (
                "web-preview".into(),
                preview_after["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .into(),
            ),
        ]);
        let changes = check_states(
            &events,
            color(&before).to_string(),
            color(&preview).to_string(),
        );
        assert_eq!(changes, switched.len(), "one selector change per switch");

        // The revisions reported are exactly the next ones, and the last switch
        // decided the final state.
        let base = revision(&before);
        let revisions: Vec<u64> = switched.keys().copied().collect();
        let expected: Vec<u64> = (base + 1..=base + switched.len() as u64).collect();
        assert_eq!(revisions, expected);
        assert_eq!(revision(&after), base + switched.len() as u64);
        let last_to = switched
            .values()
            .last()
            .map_or(color(&before), |(to, _)| to.as_str());
        assert_eq!(color(&after), last_to);
        assert_ne!(color(&preview_after), last_to);

        // Every switch's entry once, nobody else's; newest first.
        // (No history at all when every process that got the lease asked for
        // the color already active: all were "unchanged".)
        let hist: Vec<Value> = match annotation(&after, "switchyard.dev/history") {
            "" => Vec::new(),
            h => serde_json::from_str(h).unwrap(),
        };
        let kept = hist.len().min(switchyard::history::KEEP);
        assert_eq!(hist.len(), kept);
        let actors: Vec<&str> = hist
            .iter()
            .filter_map(|e| e["actor"].as_str())
            .filter(|a| a.starts_with("jenkins:race#"))
            .collect();
        let newest_first: Vec<&str> = switched.values().rev().map(|(_, a)| a.as_str()).collect();
        assert_eq!(
            actors,
            newest_first[..newest_first.len().min(kept)],
            "history entries"
        );
        assert!(!c.lease_held("default", "web"));
    }
);
