//! A real Prometheus for the analysis tests: Debian's `prometheus` (2.42),
//! started on 127.0.0.1 with its data in a temp dir, scraping every second a
//! tiny exporter this harness serves on loopback, whose counters the test
//! moves (healthy, 30 % errors, silent). Both stop when dropped.
//!
//! The exporter serves `http_requests_total{app=...,track=...,status=...}`
//! for the demo's apps: `shop` with the tracks `canary` (what the test moves)
//! and `stable` (always healthy), `web` with the colors `green` (moved with
//! the canary: the new version) and `blue` (always healthy). Each scrape adds
//! 100 requests per track, the moved share of them answered 500. It also serves `/health` as `{"status":"UP"}` (or
//! `DOWN`) for the web provider.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the exporter's canary answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traffic {
    /// Every request 200.
    Healthy,
    /// This percentage of requests 500.
    Errors(u32),
    /// No requests at all: the counters stand still (rates are 0, ratios NaN).
    Silent,
}

#[derive(Debug)]
struct Counters {
    traffic: Traffic,
    health_up: bool,
    canary: (u64, u64),
    stable: u64,
}

/// The exporter, on 127.0.0.1.
pub struct Exporter {
    pub addr: std::net::SocketAddr,
    state: Arc<Mutex<Counters>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    pub fn start() -> Exporter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the exporter binds");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("an address");
        let state = Arc::new(Mutex::new(Counters {
            traffic: Traffic::Healthy,
            health_up: true,
            canary: (0, 0),
            stable: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !sp.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => serve(conn, &st),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Exporter {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Moves the canary's traffic from the next scrape on.
    pub fn set(&self, traffic: Traffic) {
        self.state.lock().unwrap().traffic = traffic;
    }

    /// What `/health` answers.
    pub fn set_health(&self, up: bool) {
        self.state.lock().unwrap().health_up = up;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut conn: TcpStream, state: &Mutex<Counters>) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4096];
    let mut req = Vec::new();
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
        if req.len() > 64 * 1024 {
            return;
        }
    }
    let line = String::from_utf8_lossy(&req);
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, ctype, body) = if path.starts_with("/metrics") {
        let mut s = state.lock().unwrap();
        let errors = match s.traffic {
            Traffic::Healthy => Some(0),
            Traffic::Errors(p) => Some(u64::from(p.min(100))),
            Traffic::Silent => None,
        };
        if let Some(e) = errors {
            s.canary.0 += 100 - e;
            s.canary.1 += e;
            s.stable += 100;
        }
        let mut body = String::from("# TYPE http_requests_total counter\n");
        for (app, new, old) in [("shop", "canary", "stable"), ("web", "green", "blue")] {
            body.push_str(&format!(
                "http_requests_total{{app=\"{app}\",track=\"{new}\",status=\"200\"}} {}\n\
                 http_requests_total{{app=\"{app}\",track=\"{new}\",status=\"500\"}} {}\n\
                 http_requests_total{{app=\"{app}\",track=\"{old}\",status=\"200\"}} {}\n\
                 http_requests_total{{app=\"{app}\",track=\"{old}\",status=\"500\"}} 0\n",
                s.canary.0, s.canary.1, s.stable
            ));
        }
        ("200 OK", "text/plain; version=0.0.4", body)
    } else if path.starts_with("/health") {
        let up = state.lock().unwrap().health_up;
        if up {
            (
                "200 OK",
                "application/json",
                r#"{"status":"UP"}"#.to_string(),
            )
        } else {
            (
                "503 Service Unavailable",
                "application/json",
                r#"{"status":"DOWN"}"#.to_string(),
            )
        }
    } else {
        ("404 Not Found", "text/plain", "not found\n".to_string())
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The prometheus binary, or a loud failure saying how to install it.
pub fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("prometheus"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from("/usr/bin/prometheus")).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "prometheus is not installed: the analysis tests need a real one. \
                 Run scripts/test (it installs it), or: apt-get install prometheus"
            )
        })
}

/// A running Prometheus scraping its own [`Exporter`].
pub struct Prometheus {
    pub exporter: Exporter,
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// How the harness itself reaches it (basic auth, TLS).
    access: Access,
}

/// How a client reaches this Prometheus.
#[derive(Clone, Default)]
struct Access {
    /// `user:password` when started with basic auth.
    basic: Option<String>,
    /// The client TLS (trusting the test CA) when started with TLS.
    tls: Option<Arc<rustls::ClientConfig>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Basic,
    Tls,
}

/// The user and password a Prometheus of [`Prometheus::start_with_basic_auth`] requires.
pub const BASIC_USER: &str = "ci";
pub const BASIC_PASSWORD: &str = "pa55-word";
/// `BASIC_PASSWORD` hashed with bcrypt (cost 4), for `--web.config.file`.
const BASIC_HASH: &str = "$2b$04$abcdefghijklmnopqrstuuWLgjCHAzCrDz4dDxDbrf.WGQxYu2ori";

/// Waits, bounded, for `/-/ready`; false at once if the process exited
/// (its port was taken).
fn wait_ready(port: u16, access: &Access, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some((200, _)) = http_get(port, "/-/ready", access) {
            return true;
        }
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Prometheus {
    /// Starts one, waits for `/-/ready` and for the exporter's first samples.
    pub fn start() -> Prometheus {
        Self::start_with(Mode::Plain, Duration::from_secs(1))
    }

    /// The same, scraping the exporter every `scrape` (the benchmark compares
    /// scrape intervals; whole seconds or milliseconds, as Prometheus reads them).
    pub fn start_scraping_every(scrape: Duration) -> Prometheus {
        Self::start_with(Mode::Plain, scrape)
    }

    /// The same, with `BASIC_USER`:`BASIC_PASSWORD` required on every request.
    pub fn start_with_basic_auth() -> Prometheus {
        Self::start_with(Mode::Basic, Duration::from_secs(1))
    }

    /// The same, serving https with a certificate of a CA made for the test
    /// (its PEM at [`Prometheus::ca_file`]), for 127.0.0.1.
    pub fn start_with_tls() -> Prometheus {
        Self::start_with(Mode::Tls, Duration::from_secs(1))
    }

    /// The test CA of [`Prometheus::start_with_tls`].
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn start_with(mode: Mode, scrape: Duration) -> Prometheus {
        let bin = binary();
        let exporter = Exporter::start();
        let dir = std::env::temp_dir().join(format!(
            "switchyard-prometheus-{}-{}",
            std::process::id(),
            exporter.addr.port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: {every}\n  evaluation_interval: {every}\n\
                 scrape_configs:\n- job_name: app\n  scrape_interval: {every}\n  static_configs:\n  - targets: ['{}']\n",
                exporter.addr,
                every = format!("{}ms", scrape.as_millis().max(1)),
            ),
        )
        .expect("scrape config written");
        let mut args = vec![
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            "--log.level=warn".to_string(),
        ];
        let mut access = Access::default();
        let web = match mode {
            Mode::Plain => None,
            Mode::Basic => {
                access.basic = Some(format!("{BASIC_USER}:{BASIC_PASSWORD}"));
                Some(format!("basic_auth_users:\n  {BASIC_USER}: {BASIC_HASH}\n"))
            }
            Mode::Tls => {
                access.tls = Some(write_tls(&dir));
                Some(format!(
                    "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
                    dir.join("cert.pem").display(),
                    dir.join("key.pem").display()
                ))
            }
        };
        if let Some(web) = web {
            std::fs::write(dir.join("web.yml"), web).expect("web config written");
            args.push(format!(
                "--web.config.file={}",
                dir.join("web.yml").display()
            ));
        }
        // A free port can be taken between finding it and binding it: retry.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(&args)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log file"))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            if wait_ready(port, &access, &mut child) {
                let p = Prometheus {
                    exporter,
                    port,
                    dir,
                    child: Some(child),
                    access,
                };
                p.wait_for_samples();
                return p;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        panic!("prometheus did not become ready in 5 tries: {log}");
    }

    /// Its log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        let scheme = if self.access.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Waits until the canary's error ratio over 5 s is a number: scraped
    /// enough for `rate` to have two samples.
    fn wait_for_samples(&self) {
        self.wait_until(
            r#"count_over_time(http_requests_total{track="canary",status="200"}[10s])"#,
            "the exporter's first scrapes",
            |v| v >= 3.0,
        );
    }

    /// One GET of this Prometheus (with its basic auth): status and body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.port, path, &self.access)
    }

    /// An instant query's first value, if any.
    pub fn value(&self, query: &str) -> Option<f64> {
        let (_, body) = self.get(&format!("/api/v1/query?query={}", switchyard_encode(query)))?;
        let v: Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
    }

    /// Waits, bounded, until `query`'s value satisfies `pred`.
    pub fn wait_until(&self, query: &str, what: &str, pred: impl Fn(f64) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.value(query).is_some_and(&pred) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} ({query} = {:?}); prometheus log: {}",
                self.value(query),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills it (mid-analysis, for the tests of an unreachable Prometheus).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn switchyard_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A CA and a certificate for 127.0.0.1 it signed, as PEM files in `dir`
/// (ca.pem, cert.pem, key.pem); the client TLS that trusts the CA.
fn write_tls(dir: &std::path::Path) -> Arc<rustls::ClientConfig> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("a key")).expect("a CA");
    let key = KeyPair::generate().expect("a key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("params");
    let cert = params.signed_by(&key, &ca).expect("a certificate");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("ca.pem");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("cert.pem");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("key.pem");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca.der().to_vec()))
        .expect("the CA is a certificate");
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// A minimal blocking HTTP/1.1 GET on loopback, over TLS when `access` says.
fn http_get(port: u16, path: &str, access: &Access) -> Option<(u16, String)> {
    use base64::Engine as _;
    let tcp = TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut conn: Box<dyn ReadWrite> = match &access.tls {
        Some(tls) => {
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").ok()?;
            let session = rustls::ClientConnection::new(tls.clone(), name).ok()?;
            Box::new(rustls::StreamOwned::new(session, tcp))
        }
        None => Box::new(tcp),
    };
    let auth = access
        .basic
        .as_deref()
        .map(|b| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(b)
            )
        })
        .unwrap_or_default();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify: what was read still counts.
    if conn.read_to_end(&mut raw).is_err() && raw.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    // Chunked answers: Prometheus' JSON is small, but may come chunked.
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    };
    Some((status, body))
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Runs `cmd` to its end; the first time a stderr line contains `marker`,
/// calls `then` (the test moves the exporter, or stops Prometheus, while the
/// analysis runs). Returns (exit code, stdout, stderr). Bounded: a line must
/// come within 90 s, and the command's own timeout ends it. Panics if the
/// marker never came.
pub fn run_until_line(
    mut cmd: Command,
    marker: &str,
    then: impl FnOnce(),
) -> (Option<i32>, String, String) {
    use std::io::BufRead;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut then = Some(then);
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(90)) {
        if line.contains(marker)
            && let Some(f) = then.take()
        {
            f();
        }
    }
    let out = child.wait_with_output().expect("it ends");
    let stderr = reader.join().expect("the reader ends");
    assert!(then.is_none(), "never saw {marker:?} in: {stderr}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}
