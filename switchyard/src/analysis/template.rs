//! Variables in an analysis file: `{{app}}`, `{{namespace}}`, `{{track}}`,
//! `{{color}}`, `{{service}}` and `{{args.NAME}}` (Argo's spelling of
//! arguments), spaces inside the braces allowed. A name that is not known is
//! an error, not an empty string: a query with a hole in it still runs and
//! measures the wrong thing.

use std::collections::BTreeMap;

/// What the variables stand for in one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vars {
    pub app: String,
    pub namespace: String,
    /// `canary`, `stable`, or the color.
    pub track: String,
    /// Set for a blue/green color only.
    pub color: Option<String>,
    /// The Service in front of the track.
    pub service: String,
    /// The file's defaults with `--arg` applied.
    pub args: BTreeMap<String, String>,
}

impl Vars {
    fn lookup(&self, name: &str) -> Result<String, String> {
        let known = || {
            let mut names: Vec<String> = ["app", "namespace", "track", "service"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            if self.color.is_some() {
                names.push("color".into());
            }
            names.extend(self.args.keys().map(|k| format!("args.{k}")));
            names.join(", ")
        };
        Ok(match name {
            "app" => self.app.clone(),
            "namespace" => self.namespace.clone(),
            "track" => self.track.clone(),
            "service" => self.service.clone(),
            "color" => self.color.clone().ok_or_else(|| {
                format!("{{{{color}}}} is set for a blue/green color only (--color); this run is for the {} track", self.track)
            })?,
            n => match n.strip_prefix("args.") {
                Some(arg) => self.args.get(arg).cloned().ok_or_else(|| {
                    format!("{{{{{n}}}}}: no argument {arg:?}: declare it under args: in the file or give --arg {arg}=VALUE")
                })?,
                None => return Err(format!("unknown variable {{{{{n}}}}}; known: {}", known())),
            },
        })
    }
}

/// `text` with every `{{name}}` replaced.
pub fn substitute(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("{{{{ without a closing }}}} in {text:?}"))?;
        out.push_str(&vars.lookup(after[..end].trim())?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            app: "shop".into(),
            namespace: "prod".into(),
            track: "canary".into(),
            color: None,
            service: "shop-canary".into(),
            args: [("threshold".to_string(), "0.05".to_string())].into(),
        }
    }

    #[test]
    fn substitutes_every_variable() {
        assert_eq!(
            substitute(
                r#"rate(x{app="{{app}}",ns="{{ namespace }}",track="{{track}}"}[1m]) < {{args.threshold}} {{service}}"#,
                &vars()
            )
            .unwrap(),
            r#"rate(x{app="shop",ns="prod",track="canary"}[1m]) < 0.05 shop-canary"#
        );
        assert_eq!(
            substitute("no variables {x}", &vars()).unwrap(),
            "no variables {x}"
        );
        let mut v = vars();
        v.color = Some("green".into());
        assert_eq!(substitute("{{color}}", &v).unwrap(), "green");
    }

    #[test]
    fn unknown_names_are_errors() {
        let e = substitute("{{ap}}", &vars()).unwrap_err();
        assert!(
            e.contains("unknown variable {{ap}}") && e.contains("args.threshold"),
            "{e}"
        );
        let e = substitute("{{args.limit}}", &vars()).unwrap_err();
        assert!(e.contains("--arg limit=VALUE"), "{e}");
        let e = substitute("{{color}}", &vars()).unwrap_err();
        assert!(e.contains("--color"), "{e}");
        let e = substitute("x {{app", &vars()).unwrap_err();
        assert!(e.contains("without a closing"), "{e}");
    }
}
