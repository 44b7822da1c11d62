//! The cluster connection, from the flags kubectl users already type.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use kube::config::KubeConfigOptions;
use kube::{Client, Config};

use crate::exit::{Error, Exit};

pub mod kubeconfig;
pub mod log;
pub mod retry;
pub mod transport;

/// kubectl's `-v`: how much to log on stderr.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Verbosity {
    /// Log level: 6 logs each API request (method, URL, status, time), 8 also
    /// response bodies. Credentials are never logged.
    #[arg(
        short = 'v',
        long = "v",
        global = true,
        value_name = "LEVEL",
        default_value_t = 0
    )]
    pub level: u8,
}

impl Verbosity {
    /// Makes the level the process's (see [`log::level`]).
    pub fn install(&self) {
        log::set_level(self.level);
    }
}

/// kubectl's connection flags, shared by every binary.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig cluster to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The kubeconfig user to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// The namespace (default: the context's, or `default`).
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    /// User to impersonate.
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,
    /// Group to impersonate (repeatable).
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,
    /// Timeout of a single API request, e.g. 30s or 30 (0: none; at most 168h).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_request_timeout)]
    pub request_timeout: Option<Duration>,
    #[command(flatten)]
    pub verbosity: Verbosity,
}

fn parse_request_timeout(s: &str) -> Result<Duration, String> {
    crate::connect::parse_timeout(s)
}

/// The longest duration any flag takes: a week. Longer is a typo (or a unit
/// mix-up), and past it `Instant + duration` arithmetic could overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses `500ms`, `30s`, `5m`, `1h30m` (at most [`MAX_DURATION`]). Every
/// duration flag of every binary goes through here.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (use e.g. 30s, 5m, 1h30m)");
    let too_long = || format!("invalid duration {s:?}: longer than the maximum, 168h (7 days)");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (len, unit) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
            .iter()
            .find(|(u, _)| rest.starts_with(u))
            .map(|(u, f)| (u.len(), *f))
            .ok_or_else(bad)?;
        // try_: a float too large for a Duration is an error, not a panic.
        let part = Duration::try_from_secs_f64(n * unit).map_err(|_| too_long())?;
        total = total
            .checked_add(part)
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(too_long)?;
        rest = &rest[len..];
    }
    Ok(total)
}

/// A timeout: a duration as [`parse_duration`], or a bare number of seconds;
/// 0 (in any unit) means no limit, as for kubectl's `--request-timeout` and
/// `rollout status --timeout`, and is [`MAX_DURATION`] here.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = match s.trim().parse::<u64>() {
        Ok(secs) if secs > MAX_DURATION.as_secs() => {
            return Err(format!(
                "invalid duration {s:?}: longer than the maximum, 168h (7 days)"
            ));
        }
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => parse_duration(s)?,
    };
    Ok(if d.is_zero() { MAX_DURATION } else { d })
}

/// A client and the namespace to work in.
pub struct Connection {
    pub client: Client,
    pub namespace: String,
}

impl KubeArgs {
    /// Loads the kubeconfig as kubectl would, applies the overrides, connects.
    pub async fn connect(&self) -> Result<Connection> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            user: self.user.clone(),
        };
        let in_cluster = self.kubeconfig.is_none()
            && std::env::var_os("KUBECONFIG").is_none()
            && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
            && !home_kubeconfig_exists();
        let mut config = if in_cluster {
            let config = Config::incluster().context("loading the in-cluster configuration")?;
            if let Some(sa) = service_account(&config) {
                crate::history::set_identity(sa);
            }
            config
        } else {
            let source = kubeconfig::Source::find(self.kubeconfig.as_deref()).ok_or_else(|| {
                Error::new(
                    Exit::Usage,
                    "no kubeconfig: no --kubeconfig, KUBECONFIG is unset and HOME too",
                )
                .hint("pass --kubeconfig PATH or set KUBECONFIG")
            })?;
            let file = kubeconfig::read(&source)?;
            kubeconfig::check_selection(&file, &options, &source)?;
            let identity = self
                .as_user
                .clone()
                .or_else(|| kubeconfig::context_user(&file, &options));
            if let Some(who) = identity {
                crate::history::set_identity(who);
            }
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| kubeconfig::config_error(e, &source))?
        };
        // 0 means none (parse_timeout made it the maximum): kube's defaults stay.
        if let Some(t) = self.request_timeout.filter(|t| *t < MAX_DURATION) {
            config.read_timeout = Some(t);
            config.connect_timeout = Some(t);
        }
        if let Some(user) = &self.as_user {
            config.auth_info.impersonate = Some(user.clone());
        }
        if !self.as_group.is_empty() {
            config.auth_info.impersonate_groups = Some(self.as_group.clone());
        }
        // Our own code decides what to retry: kube's default retries a 503 on a
        // PATCH (so a refused switch could report success late, or a lost race
        // as a conflict) and a 503 health answer for minutes.
        config.default_retry = false;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        self.verbosity.install();
        let client = build_client(config, log::level())?;
        Ok(Connection { client, namespace })
    }
}

/// kube's client with our layers around it, outermost first: transport
/// failures worded as one line naming the server (exit 5); bounded retries
/// of reads ([`retry`]); a log line per attempt at `-v 6` ([`log`]). The
/// buffer makes kube's (boxed, not cloneable) stack cloneable, as a retry
/// needs.
pub fn build_client(config: Config, level: u8) -> Result<Client> {
    let server: std::sync::Arc<str> = log::origin(&config.cluster_url).into();
    if config.proxy_url.is_some() {
        // kube's builder says which proxies it supports (this build: none).
        kube::client::ClientBuilder::try_from(config).context("building the Kubernetes client")?;
        anyhow::bail!("unreachable: kube accepted a proxy-url without proxy support");
    }
    let builder = transport::builder(config)?
        .with_layer(&tower::buffer::BufferLayer::new(1024))
        .with_layer(&log::LogLayer {
            level,
            server: server.clone(),
        })
        .with_layer(&tower::retry::RetryLayer::new(retry::ReadRetry::default()))
        .with_layer(&log::DescribeLayer { server });
    Ok(builder.build())
}

/// The ServiceAccount a pod's token names (`system:serviceaccount:NS:NAME`,
/// the JWT's `sub`), read from the token file; None if it cannot be read.
/// The token is never printed or kept: only its subject is.
fn service_account(config: &Config) -> Option<String> {
    use base64::Engine as _;
    let path = config
        .auth_info
        .token_file
        .clone()
        .unwrap_or_else(|| "/var/run/secrets/kubernetes.io/serviceaccount/token".into());
    let token = std::fs::read_to_string(path).ok()?;
    subject(&token, |p| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .ok()
    })
}

/// A JWT's `sub` claim, given a base64url decoder for its payload.
fn subject(token: &str, decode: impl Fn(&str) -> Option<Vec<u8>>) -> Option<String> {
    let payload = token.trim().split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&decode(payload.trim_end_matches('='))?).ok()?;
    claims["sub"].as_str().map(String::from)
}

fn home_kubeconfig_exists() -> bool {
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".kube").join("config").exists())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_request_timeout("30").unwrap(),
            Duration::from_secs(30)
        );
        for bad in ["", "5", "5x", "m", "-1s", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_too_large_are_errors_not_panics() {
        assert_eq!(parse_duration("168h").unwrap(), MAX_DURATION);
        assert_eq!(parse_duration("167h60m").unwrap(), MAX_DURATION);
        for huge in [
            "9999999999999999h",
            "168h1ms",
            "100000000000000000000000000000000000000000000s",
            "9999999999999999999999h9999999999999999999999h",
            "169h",
        ] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("longer than the maximum, 168h"), "{huge}: {e}");
            assert!(parse_timeout(huge).is_err(), "{huge}");
        }
        assert!(parse_timeout("604801").is_err());
        assert!(parse_timeout("99999999999999999999999").is_err());
    }

    #[test]
    fn a_zero_timeout_means_no_limit() {
        for zero in ["0", "0s", "0ms", "0h0m"] {
            assert_eq!(parse_timeout(zero).unwrap(), MAX_DURATION, "{zero}");
        }
        assert_eq!(parse_timeout("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_timeout("2m").unwrap(), Duration::from_secs(120));
    }

    #[test]
    fn a_service_account_token_names_its_subject() {
        use base64::Engine as _;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"sub":"system:serviceaccount:ci:switchyard","iss":"k8s"}"#)
        );
        let decode = |p: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        };
        assert_eq!(
            subject(&token, decode).as_deref(),
            Some("system:serviceaccount:ci:switchyard")
        );
        assert_eq!(subject("not-a-jwt", decode), None);
    }

    #[tokio::test]
    async fn connects_with_kubeconfig_and_namespace_override() {
        let sandbox = kube_sandbox::Sandbox::start(Default::default())
            .await
            .unwrap();
        let dir =
            std::env::temp_dir().join(format!("switchyard-connect-{}", sandbox.addr().port()));
        let path = dir.join("config");
        sandbox.write_kubeconfig(&path).unwrap();
        let args = KubeArgs {
            kubeconfig: Some(path.clone()),
            ..Default::default()
        };
        let conn = args.connect().await.unwrap();
        assert_eq!(conn.namespace, "default");
        let version = conn.client.apiserver_version().await.unwrap();
        assert_eq!(version.major, "1");
        let other = KubeArgs {
            kubeconfig: Some(path.clone()),
            namespace: Some("prod".into()),
            ..Default::default()
        };
        assert_eq!(other.connect().await.unwrap().namespace, "prod");
        let wrong = KubeArgs {
            kubeconfig: Some(path),
            context: Some("nope".into()),
            ..Default::default()
        };
        let err = wrong.connect().await.err().unwrap();
        assert_eq!(crate::exit::classify(&err), Exit::Usage);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
