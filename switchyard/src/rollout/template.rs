//! The pod-template change a rollout makes: new images (`kubectl set image`)
//! or a restart (`kubectl rollout restart`), checked against the object as
//! read and planned as one guarded write.
//!
//! The write tests `metadata.generation` (no spec change since the read: the
//! revision it replaces is the one read, which is what an undo restores) and
//! each changed container's name and image; status writes in between change
//! neither.

use std::str::FromStr;

use serde::Serialize;
use serde_json::{Value, json};

use crate::exit::{Error, Exit};
use crate::guard::Guard;

/// The annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// `--image [CONTAINER=]IMAGE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageArg {
    /// None: the template's only container.
    pub container: Option<String>,
    pub image: String,
}

impl FromStr for ImageArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (container, image) = match s.split_once('=') {
            Some((c, i)) => (Some(c.to_string()), i.to_string()),
            None => (None, s.to_string()),
        };
        if let Some(c) = &container
            && crate::names::check_app_name(c).is_err()
        {
            return Err(format!(
                "{c:?} is not a container name (a DNS-1123 label); use CONTAINER=IMAGE or IMAGE"
            ));
        }
        crate::bluegreen::deploy::check_image(&image).map_err(|e| e.to_string())?;
        Ok(ImageArg { container, image })
    }
}

/// What to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Images(Vec<ImageArg>),
    /// `kubectl.kubernetes.io/restartedAt` set to this time (RFC 3339).
    Restart {
        at: String,
    },
}

/// One container's image, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChange {
    pub container: String,
    pub from_image: String,
    pub to_image: String,
}

/// The planned write.
#[derive(Clone, Debug)]
pub struct Plan {
    pub guard: Guard,
    /// Every container named (or the only one), changed or not.
    pub images: Vec<ImageChange>,
    /// False when the template already is as asked: nothing to write.
    pub changed: bool,
}

/// The containers of the template at `/spec/template/spec/{list}`: (index, name, image).
fn containers(obj: &Value, list: &str) -> Vec<(usize, String, String)> {
    obj["spec"]["template"]["spec"][list]
        .as_array()
        .map(|cs| {
            cs.iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        i,
                        c["name"].as_str().unwrap_or("").to_string(),
                        c["image"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Plans `change` on `obj` (the object's JSON as read; `what` names it:
/// `deployment/api`). Bad input (no such container, an image without a
/// container name on a template of several) is exit 2, before anything is sent.
pub fn plan(obj: &Value, what: &str, change: &Change) -> Result<Plan, Error> {
    let mut guard = Guard::on(obj, what).expect(&["metadata", "generation"]);
    let main = containers(obj, "containers");
    let init = containers(obj, "initContainers");
    let names = || {
        main.iter()
            .map(|(_, n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut images = Vec::new();
    let mut changed = false;
    match change {
        Change::Restart { at } => {
            let key = ["spec", "template", "metadata", "annotations", RESTARTED_AT];
            guard = guard.expect(&key).set(&key, json!(at));
            changed = true;
        }
        Change::Images(args) => {
            for arg in args {
                let (list, (i, name, from)) = match &arg.container {
                    None if main.len() == 1 => ("containers", main[0].clone()),
                    None => {
                        return Err(Error::new(
                            Exit::Usage,
                            format!(
                                "{what} has {} containers ({}): name the one to update",
                                main.len(),
                                names()
                            ),
                        )
                        .hint(format!(
                            "--image CONTAINER={}, e.g. --image {}={}",
                            arg.image,
                            main.first().map(|(_, n, _)| n.as_str()).unwrap_or("app"),
                            arg.image
                        )));
                    }
                    Some(c) => {
                        match main.iter().find(|(_, n, _)| n == c) {
                            Some(m) => ("containers", m.clone()),
                            None => match init.iter().find(|(_, n, _)| n == c) {
                                Some(m) => ("initContainers", m.clone()),
                                None => {
                                    return Err(Error::new(
                                    Exit::Usage,
                                    format!("{what} has no container {c} (its containers: {})", names()),
                                )
                                .hint("--image CONTAINER=IMAGE names a container of the pod template"));
                                }
                            },
                        }
                    }
                };
                if images.iter().any(|c: &ImageChange| c.container == name) {
                    return Err(Error::new(
                        Exit::Usage,
                        format!("container {name} is named twice in --image"),
                    ));
                }
                if from != arg.image {
                    let index = i.to_string();
                    let at =
                        |f: &'static str| ["spec", "template", "spec", list, index.as_str(), f];
                    guard = guard
                        .expect(&at("name"))
                        .expect(&at("image"))
                        .set(&at("image"), json!(arg.image));
                    changed = true;
                }
                images.push(ImageChange {
                    container: name,
                    from_image: from,
                    to_image: arg.image.clone(),
                });
            }
        }
    }
    Ok(Plan {
        guard,
        images,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj() -> Value {
        json!({
            "metadata": { "name": "api", "generation": 4 },
            "spec": { "template": {
                "metadata": { "labels": { "app": "api" } },
                "spec": {
                    "initContainers": [{ "name": "migrate", "image": "api-migrate:1" }],
                    "containers": [{ "name": "api", "image": "api:1" }, { "name": "proxy", "image": "envoy:1" }],
                },
            }},
        })
    }

    fn images(args: &[&str]) -> Change {
        Change::Images(args.iter().map(|a| a.parse().unwrap()).collect())
    }

    #[test]
    fn image_args_parse() {
        assert_eq!(
            "api=registry.example.com/api:2"
                .parse::<ImageArg>()
                .unwrap(),
            ImageArg {
                container: Some("api".into()),
                image: "registry.example.com/api:2".into()
            }
        );
        assert_eq!("api:2".parse::<ImageArg>().unwrap().container, None);
        assert!("Bad_Name=x:1".parse::<ImageArg>().is_err());
        assert!("api=".parse::<ImageArg>().is_err());
        assert!("api=a b".parse::<ImageArg>().is_err());
    }

    #[test]
    fn a_named_container_is_tested_and_set_with_the_generation() {
        let p = plan(
            &obj(),
            "deployment/api",
            &images(&["proxy=envoy:2", "migrate=api-migrate:2"]),
        )
        .unwrap();
        assert!(p.changed);
        assert_eq!(
            p.guard.ops(),
            [
                json!({"op": "test", "path": "/metadata/generation", "value": 4}),
                json!({"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "proxy"}),
                json!({"op": "test", "path": "/spec/template/spec/containers/1/image", "value": "envoy:1"}),
                json!({"op": "test", "path": "/spec/template/spec/initContainers/0/name", "value": "migrate"}),
                json!({"op": "test", "path": "/spec/template/spec/initContainers/0/image", "value": "api-migrate:1"}),
                json!({"op": "add", "path": "/spec/template/spec/containers/1/image", "value": "envoy:2"}),
                json!({"op": "add", "path": "/spec/template/spec/initContainers/0/image", "value": "api-migrate:2"}),
            ]
        );
        assert_eq!(
            p.images[0],
            ImageChange {
                container: "proxy".into(),
                from_image: "envoy:1".into(),
                to_image: "envoy:2".into()
            }
        );
    }

    #[test]
    fn the_same_image_is_no_change() {
        let p = plan(&obj(), "deployment/api", &images(&["api=api:1"])).unwrap();
        assert!(!p.changed);
        assert!(!p.guard.changes());
    }

    #[test]
    fn bad_container_names_are_usage_errors_naming_the_containers() {
        let e = plan(&obj(), "deployment/api", &images(&["web=x:1"])).unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(
            e.to_string()
                .contains("deployment/api has no container web (its containers: api, proxy)"),
            "{e}"
        );
        let e = plan(&obj(), "deployment/api", &images(&["x:1"])).unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(
            e.to_string()
                .contains("has 2 containers (api, proxy): name the one to update"),
            "{e}"
        );
        let e = plan(&obj(), "deployment/api", &images(&["api=x:1", "api=x:2"])).unwrap_err();
        assert!(e.to_string().contains("named twice"), "{e}");
    }

    #[test]
    fn a_restart_sets_the_annotation_kubectl_sets() {
        let p = plan(
            &obj(),
            "deployment/api",
            &Change::Restart {
                at: "2026-12-01T12:00:00Z".into(),
            },
        )
        .unwrap();
        assert_eq!(
            p.guard.ops(),
            [
                json!({"op": "test", "path": "/metadata/generation", "value": 4}),
                json!({"op": "test", "path": "/spec/template/metadata/annotations", "value": null}),
                json!({"op": "add", "path": "/spec/template/metadata/annotations", "value": { RESTARTED_AT: "2026-12-01T12:00:00Z" }}),
            ]
        );
    }
}
