//! deploy-notify behind a proxy, as on a Jenkins agent in a corporate
//! network: HTTPS_PROXY with a CONNECT tunnel (TLS end to end with the
//! receiver), HTTP_PROXY with the request in absolute form, the lower-case
//! variables, NO_PROXY, a refused password; the proxy's password in no output.
//!
//! The proxy and the receivers are served here on 127.0.0.1; the TLS
//! receiver's CA is trusted through SSL_CERT_FILE, as on an agent with a
//! corporate CA.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::expect;

const BIN: &str = env!("CARGO_BIN_EXE_deploy-notify");
const PASSWORD: &str = "Pr0xy-pa55-zq7";
/// `Basic` of `jenkins:Pr0xy-pa55-zq7`.
const GOOD_AUTH: &str = "Basic amVua2luczpQcjB4eS1wYTU1LXpxNw==";
const WEBHOOK_TOKEN: &str = "W3bh00k-t0ken-proxy";

/// What the proxy saw of one connection: the request line and its
/// Proxy-Authorization header.
#[derive(Clone, Debug)]
struct Seen {
    request_line: String,
    auth: Option<String>,
}

/// An HTTP proxy on 127.0.0.1: CONNECT tunnels, absolute-form requests
/// forwarded in origin form. Answers 407 to a wrong Proxy-Authorization.
/// Serves a bounded number of connections; every thread ends with its
/// connection (reads time out after 10 s).
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            return Some(lines);
        }
        lines.push(line.trim_end().to_string());
    }
}

/// Copies both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

/// The destination's socket: `localhost` is 127.0.0.1 here.
fn connect(host_port: &str) -> TcpStream {
    let s = TcpStream::connect(host_port.replace("localhost", "127.0.0.1")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(20) {
                let Ok(client) = stream else { return };
                let log = log.clone();
                std::thread::spawn(move || {
                    client
                        .set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    let mut reader = BufReader::new(client.try_clone().unwrap());
                    let Some(head) = read_head(&mut reader) else {
                        return;
                    };
                    let auth = head.iter().find_map(|h| {
                        let (k, v) = h.split_once(':')?;
                        k.eq_ignore_ascii_case("proxy-authorization")
                            .then(|| v.trim().to_string())
                    });
                    log.lock().unwrap().push(Seen {
                        request_line: head[0].clone(),
                        auth: auth.clone(),
                    });
                    let mut client = client;
                    if auth.as_deref() != Some(GOOD_AUTH) {
                        let _ = client.write_all(
                            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                        return;
                    }
                    let mut parts = head[0].split(' ');
                    let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
                    if method == "CONNECT" {
                        let upstream = connect(target);
                        let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                        pipe(client, upstream);
                        return;
                    }
                    // Absolute form: forward in origin form, without our header.
                    let rest = target.strip_prefix("http://").unwrap();
                    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                    let mut upstream = connect(host);
                    let mut out = format!("{method} {path} HTTP/1.1\r\n");
                    for h in &head[1..] {
                        if !h.to_ascii_lowercase().starts_with("proxy-authorization") {
                            out.push_str(h);
                            out.push_str("\r\n");
                        }
                    }
                    out.push_str("\r\n");
                    upstream.write_all(out.as_bytes()).unwrap();
                    // What the reader buffered past the head (the body's start).
                    upstream.write_all(reader.buffer()).unwrap();
                    pipe(client, upstream);
                });
            }
        });
        Proxy { port, seen }
    }

    fn url(&self, password: &str) -> String {
        format!("http://jenkins:{password}@127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one HTTP request (head and Content-Length body) and answers 204;
/// returns the request line and body.
fn answer(stream: &mut (impl Read + Write)) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0; len];
    stream.read_exact(&mut body).ok()?;
    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    let _ = stream.flush();
    let line = head.lines().next().unwrap_or("").to_string();
    Some((line, String::from_utf8_lossy(&body).to_string()))
}

/// A webhook receiver on 127.0.0.1, plain or TLS (with a CA of its own, the
/// sandbox's generator's): records (request line, body).
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(10) {
                let Ok(tcp) = stream else { return };
                tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let seen = match &tls {
                    None => answer(&mut { tcp }),
                    Some(config) => {
                        let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                        answer(&mut rustls::StreamOwned::new(conn, tcp))
                    }
                };
                if let Some(s) = seen {
                    log.lock().unwrap().push(s);
                }
            }
        });
        Receiver { port, got }
    }

    fn got(&self) -> Vec<(String, String)> {
        self.got.lock().unwrap().clone()
    }
}

/// A TLS receiver and the file holding its CA (for SSL_CERT_FILE).
fn tls_receiver(dir: &Path) -> (Receiver, PathBuf) {
    let tls = kube_sandbox::tls::generate().unwrap();
    let ca = dir.join("corporate-ca.pem");
    std::fs::write(&ca, &tls.ca_pem).unwrap();
    (Receiver::start(Some(tls.server_config.clone())), ca)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("switchyard-proxy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// deploy-notify with only `env`'s proxy variables; at -v `level`. Checks
/// the password is in no output (stdout, stderr, the result file).
fn notify(url: &str, env: &[(&str, &str)], level: &str, dir: &Path, code: i32) -> (String, String) {
    let file = dir.join("result.json");
    let _ = std::fs::remove_file(&file);
    let mut cmd = std::process::Command::new(BIN);
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    cmd.args([
        "--provider",
        "slack",
        "--webhook-url-env",
        "SLACK_WEBHOOK",
        "--status",
        "success",
        "--message",
        "web 1.2 is live",
        "--attempts",
        "1",
        "--required",
        "-v",
        level,
        "-o",
        "json",
        "--result-file",
    ])
    .arg(&file)
    .env("SLACK_WEBHOOK", url)
    .envs(env.iter().copied());
    let out = switchyard_e2e::run(cmd, None);
    let (stdout, stderr) = expect(&out, code);
    let all = format!(
        "{stdout}{stderr}{}",
        std::fs::read_to_string(&file).expect("a result file")
    );
    for secret in [PASSWORD, "wrong-pa55", WEBHOOK_TOKEN] {
        assert!(
            !all.contains(secret),
            "{secret} leaked at -v {level}: {all}"
        );
    }
    (stdout, stderr)
}

#[test]
fn https_goes_through_a_connect_tunnel_with_the_proxy_credentials() {
    let dir = temp_dir("connect");
    let (receiver, ca) = tls_receiver(&dir);
    let url = format!(
        "https://localhost:{}/services/T0/{WEBHOOK_TOKEN}",
        receiver.port
    );
    for (var, level) in [("HTTPS_PROXY", "0"), ("https_proxy", "9")] {
        let proxy = Proxy::start();
        let before = receiver.got().len();
        let (stdout, _) = notify(
            &url,
            &[
                (var, &proxy.url(PASSWORD)),
                ("SSL_CERT_FILE", ca.to_str().unwrap()),
            ],
            level,
            &dir,
            0,
        );
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(doc["result"]["delivered"], true, "{var}: {stdout}");
        let seen = proxy.seen();
        assert_eq!(seen.len(), 1, "{var}: {seen:?}");
        assert_eq!(
            seen[0].request_line,
            format!("CONNECT localhost:{} HTTP/1.1", receiver.port)
        );
        assert_eq!(seen[0].auth.as_deref(), Some(GOOD_AUTH));
        // TLS end to end: the receiver got the request itself, in origin form.
        let got = receiver.got();
        assert_eq!(got.len(), before + 1, "{var}");
        let (line, body) = &got[before];
        assert_eq!(line, &format!("POST /services/T0/{WEBHOOK_TOKEN} HTTP/1.1"));
        assert!(body.contains("web 1.2 is live"), "{body}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn http_goes_to_the_proxy_in_absolute_form_with_the_credentials() {
    let dir = temp_dir("plain");
    let receiver = Receiver::start(None);
    let url = format!("http://127.0.0.1:{}/hooks/{WEBHOOK_TOKEN}", receiver.port);
    for (var, level) in [("HTTP_PROXY", "0"), ("http_proxy", "9")] {
        let proxy = Proxy::start();
        notify(&url, &[(var, &proxy.url(PASSWORD))], level, &dir, 0);
        let seen = proxy.seen();
        assert_eq!(seen.len(), 1, "{var}: {seen:?}");
        assert_eq!(seen[0].request_line, format!("POST {url} HTTP/1.1"));
        assert_eq!(seen[0].auth.as_deref(), Some(GOOD_AUTH));
    }
    let got = receiver.got();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|(l, _)| l == &format!("POST /hooks/{WEBHOOK_TOKEN} HTTP/1.1")),
        "{got:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn no_proxy_hosts_are_reached_directly() {
    let dir = temp_dir("noproxy");
    let proxy = Proxy::start();
    let plain = Receiver::start(None);
    let (tls, ca) = tls_receiver(&dir);
    let ca = ca.to_str().unwrap().to_string();
    let plain_url = format!("http://127.0.0.1:{}/hooks/{WEBHOOK_TOKEN}", plain.port);
    let tls_url = format!("https://localhost:{}/hooks/{WEBHOOK_TOKEN}", tls.port);
    let via = proxy.url(PASSWORD);
    #[rustfmt::skip]
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (&plain_url, vec![("HTTP_PROXY", &via), ("NO_PROXY", "127.0.0.1")]),
        (&plain_url, vec![("http_proxy", &via), ("no_proxy", "10.0.0.0/8, 127.0.0.0/8")]),
        (&tls_url, vec![("HTTPS_PROXY", &via), ("NO_PROXY", "example.com,localhost"), ("SSL_CERT_FILE", &ca)]),
        (&tls_url, vec![("https_proxy", &via), ("no_proxy", "*"), ("SSL_CERT_FILE", &ca)]),
    ];
    for (url, env) in &cases {
        notify(url, env, "0", &dir, 0);
    }
    assert!(
        proxy.seen().is_empty(),
        "NO_PROXY ignored: {:?}",
        proxy.seen()
    );
    assert_eq!((plain.got().len(), tls.got().len()), (2, 2));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_refused_proxy_password_is_reported_and_never_printed() {
    let dir = temp_dir("refused");
    let (receiver, ca) = tls_receiver(&dir);
    let proxy = Proxy::start();
    let url = format!("https://localhost:{}/hooks/{WEBHOOK_TOKEN}", receiver.port);
    for level in ["0", "9"] {
        let (_, stderr) = notify(
            &url,
            &[
                ("HTTPS_PROXY", &proxy.url("wrong-pa55")),
                ("SSL_CERT_FILE", ca.to_str().unwrap()),
            ],
            level,
            &dir,
            1,
        );
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(" error: ")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        let error = errors[0];
        assert!(
            error.contains(&format!("through the proxy 127.0.0.1:{}", proxy.port))
                && error.contains("proxy authorization required"),
            "{stderr}"
        );
    }
    assert!(receiver.got().is_empty());
    // A proxy nobody listens at: named by host and port, no password.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let plain = format!("http://127.0.0.1:1/hooks/{WEBHOOK_TOKEN}");
    let (_, stderr) = notify(
        &plain,
        &[(
            "HTTP_PROXY",
            &format!("http://jenkins:{PASSWORD}@127.0.0.1:{closed}"),
        )],
        "9",
        &dir,
        1,
    );
    assert!(
        stderr.contains(&format!("connecting to the proxy 127.0.0.1:{closed}")),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Plain health URLs go through the same proxy-aware client as webhooks:
/// `deploy-health-wait --url` behind HTTP_PROXY, and past it with NO_PROXY.
#[test]
fn a_health_url_goes_through_the_proxy_too() {
    let c = switchyard_e2e::TestCluster::demo();
    let receiver = Receiver::start(None);
    let url = format!(
        "http://127.0.0.1:{}/ready?token={WEBHOOK_TOKEN}",
        receiver.port
    );
    for (no_proxy, proxied) in [("", true), ("127.0.0.1", false)] {
        let proxy = Proxy::start();
        let mut cmd = c.command(
            env!("CARGO_BIN_EXE_deploy-health-wait"),
            &[
                "--app",
                "web",
                "--color",
                "blue",
                "--url",
                &url,
                "--expect-status",
                "204",
                "--timeout",
                "30s",
                "-v",
                "9",
            ],
            &[("HTTP_PROXY", &proxy.url(PASSWORD)), ("NO_PROXY", no_proxy)],
        );
        for v in PROXY_VARS
            .iter()
            .filter(|v| !["HTTP_PROXY", "NO_PROXY"].contains(v))
        {
            cmd.env_remove(v);
        }
        let out = switchyard_e2e::run(cmd, None);
        let (stdout, stderr) = expect(&out, 0);
        assert!(stderr.contains("--url answered 204"), "{stderr}");
        assert!(!format!("{stdout}{stderr}").contains(PASSWORD), "{stderr}");
        let seen = proxy.seen();
        match proxied {
            true => {
                assert_eq!(seen.len(), 1, "{seen:?}");
                assert_eq!(seen[0].request_line, format!("GET {url} HTTP/1.1"));
                assert_eq!(seen[0].auth.as_deref(), Some(GOOD_AUTH));
            }
            false => assert!(seen.is_empty(), "NO_PROXY ignored: {seen:?}"),
        }
    }
    assert_eq!(receiver.got().len(), 2);
}
