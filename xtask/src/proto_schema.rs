//! `cargo xtask proto-schema`: writes `sandbox/src/proto/schema.rs`, the table
//! by which kube-sandbox decodes Kubernetes protobuf request bodies.
//!
//! kubectl and every client-go typed client send built-in kinds as
//! `application/vnd.kubernetes.protobuf`. The field numbers and wire types
//! come from k8s-pb (the kube-rs project's prost bindings of the upstream
//! `generated.proto` files); the JSON names from k8s-openapi (`"podIP" =>
//! Field::Key_pod_ip`), because prost's snake_case names lose the case of
//! `podIP`, `clusterIPs` or `setHostnameAsFQDN`. Neither crate is compiled
//! for this: their sources are read where `cargo metadata` says they are.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The kinds the sandbox decodes: (apiVersion, kind, k8s-pb module).
pub const ROOTS: &[(&str, &str, &str)] = &[
    ("v1", "Namespace", "api::core::v1"),
    ("v1", "Pod", "api::core::v1"),
    ("v1", "Service", "api::core::v1"),
    ("v1", "Endpoints", "api::core::v1"),
    ("v1", "Event", "api::core::v1"),
    ("v1", "ConfigMap", "api::core::v1"),
    ("v1", "Secret", "api::core::v1"),
    ("v1", "ServiceAccount", "api::core::v1"),
    ("v1", "Node", "api::core::v1"),
    ("apps/v1", "Deployment", "api::apps::v1"),
    ("apps/v1", "ReplicaSet", "api::apps::v1"),
    ("batch/v1", "Job", "api::batch::v1"),
    ("batch/v1", "CronJob", "api::batch::v1"),
    ("autoscaling/v1", "Scale", "api::autoscaling::v1"),
    ("discovery.k8s.io/v1", "EndpointSlice", "api::discovery::v1"),
    ("events.k8s.io/v1", "Event", "api::events::v1"),
    ("networking.k8s.io/v1", "Ingress", "api::networking::v1"),
    ("coordination.k8s.io/v1", "Lease", "api::coordination::v1"),
    ("rbac.authorization.k8s.io/v1", "Role", "api::rbac::v1"),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "api::rbac::v1",
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "api::rbac::v1",
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "api::rbac::v1",
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        "api::authorization::v1",
    ),
    (
        "authorization.k8s.io/v1",
        "SelfSubjectRulesReview",
        "api::authorization::v1",
    ),
    (
        "authentication.k8s.io/v1",
        "SelfSubjectReview",
        "api::authentication::v1",
    ),
    (
        "authentication.k8s.io/v1",
        "TokenRequest",
        "api::authentication::v1",
    ),
    (
        "meta.k8s.io/v1",
        "DeleteOptions",
        "apimachinery::pkg::apis::meta::v1",
    ),
    ("v1", "DeleteOptions", "apimachinery::pkg::apis::meta::v1"),
    ("v1", "Status", "apimachinery::pkg::apis::meta::v1"),
];

/// Messages that are not objects in JSON (`Time` is a string, `IntOrString`
/// a number or a string, ...): the decoder handles them by name.
const SPECIAL: &[(&str, &str)] = &[
    ("apimachinery::pkg::apis::meta::v1::Time", "Time"),
    ("apimachinery::pkg::apis::meta::v1::MicroTime", "MicroTime"),
    ("apimachinery::pkg::apis::meta::v1::Duration", "Duration"),
    ("apimachinery::pkg::apis::meta::v1::FieldsV1", "RawJson"),
    ("apimachinery::pkg::runtime::RawExtension", "RawJson"),
    (
        "apimachinery::pkg::util::intstr::IntOrString",
        "IntOrString",
    ),
    ("apimachinery::pkg::api::resource::Quantity", "Quantity"),
];

#[derive(Debug, Clone)]
struct Field {
    tag: u32,
    rust: String,
    /// `string`, `int32`, `message`, `btree_map = "string, message"`, ...
    kind: String,
    repeated: bool,
    /// Resolved k8s-pb path of a message (or map value message) type.
    message: Option<String>,
}

/// Every struct of k8s-pb, by path (`api::apps::v1::Deployment`).
fn parse_k8s_pb(src: &Path) -> Result<BTreeMap<String, Vec<Field>>> {
    let mut out = BTreeMap::new();
    for file in rs_files(src)? {
        let rel = file.strip_prefix(src).unwrap_or(&file);
        let mut module: Vec<String> = rel
            .parent()
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if rel
            .file_name()
            .is_some_and(|f| f != "mod.rs" && f != "lib.rs")
        {
            module.push(rel.file_stem().unwrap().to_string_lossy().into_owned());
        }
        let text = std::fs::read_to_string(&file)?;
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i].trim();
            if let Some(name) = line
                .strip_prefix("pub struct ")
                .and_then(|r| r.strip_suffix(" {}"))
            {
                out.insert(format!("{}::{name}", module.join("::")), Vec::new());
            } else if let Some(name) = line
                .strip_prefix("pub struct ")
                .and_then(|r| r.strip_suffix(" {"))
            {
                let mut fields = Vec::new();
                i += 1;
                while i < lines.len() && lines[i].trim() != "}" {
                    let l = lines[i].trim();
                    if let Some(attr) = l
                        .strip_prefix("#[prost(")
                        .and_then(|r| r.strip_suffix(")]"))
                    {
                        // The field follows, its type possibly on the next lines.
                        let mut decl = String::new();
                        i += 1;
                        while i < lines.len() {
                            decl.push_str(lines[i].trim());
                            let open = decl.matches('<').count();
                            if decl.ends_with(',') && open == decl.matches('>').count() {
                                break;
                            }
                            i += 1;
                        }
                        fields.push(parse_field(attr, &decl, &module)?);
                    }
                    i += 1;
                }
                out.insert(format!("{}::{name}", module.join("::")), fields);
            }
            i += 1;
        }
    }
    Ok(out)
}

fn parse_field(attr: &str, decl: &str, module: &[String]) -> Result<Field> {
    let tag = attr
        .split("tag = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|t| t.parse().ok())
        .with_context(|| format!("no tag in #[prost({attr})]"))?;
    let kind = match attr.strip_prefix("btree_map = \"") {
        Some(rest) => format!(
            "btree_map = \"{}\"",
            rest.split('"').next().unwrap_or_default()
        ),
        None => attr
            .split(", ")
            .next()
            .unwrap_or_default()
            .split(" = \"vec\"")
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    let (rust, ty) = decl
        .trim_start_matches("pub ")
        .split_once(':')
        .with_context(|| format!("field declaration {decl:?}"))?;
    let rust = rust.trim().trim_start_matches("r#").to_string();
    let message = if kind == "message" || kind == "btree_map = \"string, message\"" {
        // The innermost type argument: Option<X>, Vec<X>, BTreeMap<String, X>.
        let inner = ty
            .trim()
            .trim_end_matches(',')
            .trim_end_matches('>')
            .trim_end_matches(',')
            .rsplit(['<', ' ', ','])
            .next()
            .unwrap_or_default()
            .trim_end_matches('>');
        Some(resolve(inner, module))
    } else {
        None
    };
    Ok(Field {
        tag,
        rust,
        repeated: attr.contains("repeated"),
        kind,
        message,
    })
}

/// `super::super::meta::v1::ObjectMeta` seen from `module` → an absolute path.
fn resolve(ty: &str, module: &[String]) -> String {
    let mut base: Vec<&str> = module.iter().map(String::as_str).collect();
    let mut rest = ty;
    while let Some(r) = rest.strip_prefix("super::") {
        base.pop();
        rest = r;
    }
    base.push(rest);
    base.join("::")
}

fn rs_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// JSON names of every k8s-openapi struct, by path below the version module:
/// `api::core::v1::PodStatus` → {`pod_ip` → `podIP`}.
fn parse_k8s_openapi(versioned: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    for file in rs_files(versioned)? {
        let text = std::fs::read_to_string(&file)?;
        let Some(name) = text.lines().find_map(|l| {
            l.strip_prefix("pub struct ")
                .map(|r| r.trim_end_matches(" {"))
        }) else {
            continue;
        };
        let rel = file.strip_prefix(versioned).unwrap_or(&file);
        let module: Vec<String> = rel
            .parent()
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut names = BTreeMap::new();
        for l in text.lines() {
            let l = l.trim();
            if let Some((json, key)) = l
                .strip_prefix('"')
                .and_then(|r| r.split_once("\" => Field::Key_"))
            {
                let rust = key.trim_end_matches(',').trim_end_matches('_');
                names.insert(squash(rust), json.to_string());
            }
        }
        out.insert(format!("{}::{}", module.join("::"), name), names);
    }
    Ok(out)
}

/// Field names compared without underscores: prost spells `nonResourceURLs`
/// `non_resource_ur_ls`, k8s-openapi `non_resource_urls`.
fn squash(rust: &str) -> String {
    rust.replace('_', "")
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in snake.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn kind_expr(kind: &str, message: Option<usize>) -> Result<String> {
    Ok(match kind {
        "string" => "Kind::String".into(),
        "bytes" => "Kind::Bytes".into(),
        "bool" => "Kind::Bool".into(),
        "int32" | "int64" | "uint32" | "uint64" => "Kind::Int".into(),
        "double" | "float" => "Kind::Float".into(),
        "message" => format!("Kind::Message({})", message.context("message index")?),
        "btree_map = \"string, string\"" => "Kind::Map(&Kind::String)".into(),
        "btree_map = \"string, bytes\"" => "Kind::Map(&Kind::Bytes)".into(),
        "btree_map = \"string, message\"" => format!(
            "Kind::Map(&Kind::Message({}))",
            message.context("map value index")?
        ),
        other => bail!("unhandled prost field kind {other:?}"),
    })
}

/// The generated Rust source of `sandbox/src/proto/schema.rs`.
pub fn generate(k8s_pb: &Path, k8s_openapi: &Path, versions: &str) -> Result<String> {
    let structs = parse_k8s_pb(k8s_pb)?;
    let names = parse_k8s_openapi(k8s_openapi)?;
    // The messages reachable from the roots, in a stable order.
    let mut order: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = ROOTS
        .iter()
        .map(|(_, kind, module)| format!("{module}::{kind}"))
        .collect();
    queue.push_back("apimachinery::pkg::runtime::Unknown".into());
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let fields = structs
            .get(&path)
            .with_context(|| format!("k8s-pb has no message {path}"))?;
        order.push(path.clone());
        if SPECIAL.iter().any(|(p, _)| *p == path) {
            continue;
        }
        for f in fields {
            if let Some(m) = &f.message {
                queue.push_back(m.clone());
            }
        }
    }
    let index: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut out = String::new();
    writeln!(
        out,
        "// @generated by `cargo xtask proto-schema` from {versions}. Do not edit."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "use super::{{Field, Kind, Message, Special}};\n\n/// Every message the decoder knows, by index.\npub static MESSAGES: &[Message] = &["
    )?;
    for path in &order {
        let special = SPECIAL
            .iter()
            .find(|(p, _)| p == path)
            .map_or("None", |(_, s)| s);
        let json = names.get(path.as_str());
        writeln!(
            out,
            "    Message {{\n        name: {path:?},\n        special: Special::{special},\n        fields: &["
        )?;
        for f in &structs[path] {
            let found = json.and_then(|j| j.get(&squash(&f.rust))).cloned();
            // A message field k8s-openapi does not know by name is Go's
            // embedded struct (`json:",inline"`): its fields are the parent's.
            let inline = json.is_some() && found.is_none() && f.kind == "message";
            if json.is_some() && found.is_none() && !inline {
                eprintln!("note: {path}.{} has no JSON name in k8s-openapi", f.rust);
            }
            let name = if inline {
                String::new()
            } else {
                found.unwrap_or_else(|| camel(&f.rust))
            };
            let msg = f.message.as_deref().map(|m| index[m]);
            writeln!(
                out,
                "            Field {{ tag: {}, json: {name:?}, kind: {}, repeated: {} }},",
                f.tag,
                kind_expr(&f.kind, msg)?,
                f.repeated
            )?;
        }
        writeln!(out, "        ],\n    }},")?;
    }
    writeln!(out, "];\n")?;
    writeln!(
        out,
        "/// (apiVersion, kind) → index in MESSAGES of the kinds decoded.\npub static KINDS: &[(&str, &str, usize)] = &["
    )?;
    for (av, kind, module) in ROOTS {
        writeln!(
            out,
            "    ({av:?}, {kind:?}, {}),",
            index[format!("{module}::{kind}").as_str()]
        )?;
    }
    writeln!(out, "];\n")?;
    writeln!(
        out,
        "/// The index of runtime.Unknown, the `k8s\\0` envelope.\npub const UNKNOWN: usize = {};",
        index["apimachinery::pkg::runtime::Unknown"]
    )?;
    Ok(out)
}

/// The source directories of k8s-pb and of k8s-openapi's `v1_33` module, and
/// a line naming their versions, from `cargo metadata` of the workspace.
pub fn sources(metadata: &Value) -> Result<(PathBuf, PathBuf, String)> {
    let find = |name: &str| -> Result<(PathBuf, String)> {
        let pkg = metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .with_context(|| format!("{name} is not in the workspace's dependency graph"))?;
        let manifest = PathBuf::from(pkg["manifest_path"].as_str().unwrap_or_default());
        let dir = manifest.parent().context("manifest path")?.to_path_buf();
        Ok((
            dir,
            format!("{name} {}", pkg["version"].as_str().unwrap_or("?")),
        ))
    };
    let (pb, pb_v) = find("k8s-pb")?;
    let (openapi, openapi_v) = find("k8s-openapi")?;
    // The newest Kubernetes version k8s-openapi has: JSON names only grow,
    // and k8s-pb may know fields newer than the version the sandbox reports.
    let newest = std::fs::read_dir(openapi.join("src"))
        .context("reading k8s-openapi's source")?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let minor: u32 = name.strip_prefix("v1_")?.parse().ok()?;
            Some((minor, name))
        })
        .max()
        .context("k8s-openapi has no v1_* module")?
        .1;
    Ok((
        pb.join("src"),
        openapi.join("src").join(&newest),
        format!("{pb_v} and {openapi_v} ({newest})"),
    ))
}

/// Where the table goes, from the workspace root.
pub const OUTPUT: &str = "sandbox/src/proto/schema.rs";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cargo::{Workspace, metadata};

    /// The committed table is what the generator makes of the pinned crates.
    #[test]
    fn the_committed_schema_is_generated_from_the_pinned_crates() {
        let ws = Workspace::load().unwrap();
        let (pb, openapi, versions) = sources(&metadata(&ws).unwrap()).unwrap();
        let want = generate(&pb, &openapi, &versions).unwrap();
        let have = std::fs::read_to_string(ws.root.join(OUTPUT)).unwrap();
        assert!(
            have == want,
            "{OUTPUT} is stale: run `cargo xtask proto-schema`"
        );
    }

    #[test]
    fn names_come_from_k8s_openapi_and_embedded_structs_are_inline() {
        let ws = Workspace::load().unwrap();
        let (pb, openapi, versions) = sources(&metadata(&ws).unwrap()).unwrap();
        let text = generate(&pb, &openapi, &versions).unwrap();
        for name in [
            "\"podIP\"",
            "\"clusterIPs\"",
            "\"nonResourceURLs\"",
            "\"setHostnameAsFQDN\"",
        ] {
            assert!(text.contains(&format!("json: {name}")), "{name}");
        }
        // Volume embeds VolumeSource: its field has no name of its own.
        let volume = text
            .split("name: \"api::core::v1::Volume\",")
            .nth(1)
            .unwrap();
        let fields = volume.split("],").next().unwrap();
        assert!(fields.contains("json: \"name\""), "{fields}");
        assert!(fields.contains("json: \"\""), "{fields}");
    }
}
