//! Watches: initial state, resume by resourceVersion, 410 Gone, bookmarks,
//! selector transitions, and dropped streams.

use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use crate::{configmap, rv, start, start_with};
use kube_sandbox::Options;

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(configmap(name, labels)).unwrap()
}

async fn next(
    stream: &mut (impl futures_util::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin),
) -> WatchEvent<ConfigMap> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5s")
        .expect("stream open")
        .expect("event decodes")
}

fn describe(e: &WatchEvent<ConfigMap>) -> String {
    match e {
        WatchEvent::Added(o) => format!("ADDED {}", o.metadata.name.as_deref().unwrap_or("")),
        WatchEvent::Modified(o) => format!("MODIFIED {}", o.metadata.name.as_deref().unwrap_or("")),
        WatchEvent::Deleted(o) => format!("DELETED {}", o.metadata.name.as_deref().unwrap_or("")),
        WatchEvent::Bookmark(_) => "BOOKMARK".into(),
        WatchEvent::Error(e) => format!("ERROR {}", e.code),
    }
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let env = start().await;
    let a = env.create(CM, configmap("a", json!({}))).await.body;
    env.create(CM, configmap("b", json!({}))).await;
    env.raw(
        "PATCH",
        &format!("{CM}/a"),
        "application/merge-patch+json",
        r#"{"data":{"k":"2"}}"#,
    )
    .await;
    env.raw("DELETE", &format!("{CM}/b"), "application/json", "")
        .await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let mut s = api
        .watch(&WatchParams::default(), &rv(&a).to_string())
        .await
        .unwrap()
        .boxed();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(describe(&next(&mut s).await));
    }
    assert_eq!(got, ["ADDED b", "MODIFIED a", "DELETED b"]);
    api.create(&PostParams::default(), &cm("c", json!({})))
        .await
        .unwrap();
    assert_eq!(describe(&next(&mut s).await), "ADDED c");
}

#[tokio::test]
async fn watch_from_zero_starts_with_current_state() {
    let env = start().await;
    env.create(CM, configmap("x", json!({}))).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let mut s = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    assert_eq!(describe(&next(&mut s).await), "ADDED x");
}

#[tokio::test]
async fn too_old_resource_version_is_gone() {
    let env = start_with(Options {
        history: 5,
        ..Options::default()
    })
    .await;
    for i in 0..10 {
        env.create(CM, configmap(&format!("c{i}"), json!({}))).await;
    }
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let err = match api.watch(&WatchParams::default(), "2").await {
        Ok(s) => match s.boxed().next().await {
            Some(Ok(WatchEvent::Error(e))) => e.code,
            other => panic!(
                "expected 410, got {:?}",
                other.map(|r| r.map(|e| describe(&e)))
            ),
        },
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(err, 410);
}

#[tokio::test]
async fn bookmarks_carry_the_latest_resource_version() {
    let env = start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let mut s = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let made = env.create(CM, configmap("m", json!({}))).await.body;
    assert_eq!(describe(&next(&mut s).await), "ADDED m");
    loop {
        if let WatchEvent::Bookmark(b) = next(&mut s).await {
            assert_eq!(b.metadata.resource_version, rv(&made).to_string());
            break;
        }
    }
}

#[tokio::test]
async fn label_change_moves_objects_in_and_out_of_a_selected_watch() {
    let env = start().await;
    env.create(CM, configmap("m", json!({"color": "blue"})))
        .await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let wp = WatchParams::default().labels("color=blue");
    let mut s = api.watch(&wp, "0").await.unwrap().boxed();
    assert_eq!(describe(&next(&mut s).await), "ADDED m");
    env.raw(
        "PATCH",
        &format!("{CM}/m"),
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"color":"green"}}}"#,
    )
    .await;
    assert_eq!(describe(&next(&mut s).await), "DELETED m");
    env.raw(
        "PATCH",
        &format!("{CM}/m"),
        "application/merge-patch+json",
        r#"{"metadata":{"labels":{"color":"blue"}}}"#,
    )
    .await;
    assert_eq!(describe(&next(&mut s).await), "ADDED m");
}

#[tokio::test]
async fn injected_fault_drops_the_stream_after_n_events() {
    let env = start_with(Options {
        faults: vec!["drop-watch=2,resource=configmaps,count=1".into()],
        ..Options::default()
    })
    .await;
    for i in 0..4 {
        env.create(CM, configmap(&format!("d{i}"), json!({}))).await;
    }
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let mut s = api
        .watch(&WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    next(&mut s).await;
    let second = next(&mut s).await;
    let end = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("stream ends");
    assert!(end.is_none(), "the stream closed after 2 events");
    // Resume from the last seen version gets the rest.
    let last = match second {
        WatchEvent::Added(o) => o.metadata.resource_version.unwrap(),
        other => panic!("{}", describe(&other)),
    };
    let mut s = api
        .watch(&WatchParams::default(), &last)
        .await
        .unwrap()
        .boxed();
    assert_eq!(describe(&next(&mut s).await), "ADDED d2");
    assert_eq!(describe(&next(&mut s).await), "ADDED d3");
}

#[tokio::test]
async fn watch_times_out_when_asked() {
    let env = start().await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let mut s = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .boxed();
    let started = tokio::time::Instant::now();
    // Bookmarks may come first; the stream must then end by itself.
    while let Some(e) = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("ends within timeoutSeconds")
    {
        assert_eq!(describe(&e.unwrap()), "BOOKMARK");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
}
