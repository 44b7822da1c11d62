//! Lists: selectors, paging with continue tokens, and 410 for expired tokens.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::{configmap, start, start_with};
use kube_sandbox::Options;

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let env = start().await;
    env.create(
        CM,
        configmap("blue", json!({"app": "web", "color": "blue"})),
    )
    .await;
    env.create(
        CM,
        configmap("green", json!({"app": "web", "color": "green"})),
    )
    .await;
    env.create(CM, configmap("other", json!({"app": "db"})))
        .await;
    let q = |sel: &str| {
        format!(
            "{CM}?labelSelector={}",
            sel.replace(' ', "%20")
                .replace('=', "%3D")
                .replace(',', "%2C")
        )
    };
    assert_eq!(names(&env.get(&q("app=web")).await.body), ["blue", "green"]);
    assert_eq!(
        names(&env.get(&q("app=web,color!=blue")).await.body),
        ["green"]
    );
    assert_eq!(
        names(&env.get(&q("color in (blue,green)")).await.body),
        ["blue", "green"]
    );
    assert_eq!(names(&env.get(&q("!color")).await.body), ["other"]);
    assert_eq!(
        names(
            &env.get(&format!("{CM}?fieldSelector=metadata.name%3Dgreen"))
                .await
                .body
        ),
        ["green"]
    );
    let bad = env.get(&q("app in web")).await;
    assert_eq!(bad.code, 400);
    let list = env.get(CM).await.body;
    assert_eq!(list["kind"], "ConfigMapList");
    assert!(
        list["items"][0].get("kind").is_none(),
        "list items carry no kind, as upstream"
    );
    // Across namespaces.
    let all = env.get("/api/v1/configmaps").await.body;
    assert_eq!(names(&all).len(), 3);
}

#[tokio::test]
async fn paging_returns_every_item_once() {
    let env = start().await;
    for i in 0..23 {
        env.create(CM, configmap(&format!("cm-{i:02}"), json!({"page": "yes"})))
            .await;
    }
    let mut seen = Vec::new();
    let mut cont: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cont {
            Some(c) => format!("{CM}?limit=5&continue={c}"),
            None => format!("{CM}?limit=5"),
        };
        let page = env.get(&url).await.body;
        pages += 1;
        seen.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(c) => {
                assert_eq!(page["metadata"]["remainingItemCount"], 23 - seen.len());
                cont = Some(c.to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 23);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 23);
}

#[tokio::test]
async fn expired_continue_token_is_gone() {
    let env = start_with(Options {
        history: 5,
        ..Options::default()
    })
    .await;
    for i in 0..4 {
        env.create(CM, configmap(&format!("a{i}"), json!({}))).await;
    }
    let first = env.get(&format!("{CM}?limit=2")).await.body;
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    for i in 0..10 {
        env.create(CM, configmap(&format!("b{i}"), json!({}))).await;
    }
    let r = env.get(&format!("{CM}?limit=2&continue={token}")).await;
    assert_eq!((r.code, r.body["reason"].as_str()), (410, Some("Expired")));
    assert_eq!(env.get(&format!("{CM}?continue=garbage")).await.code, 400);
}
