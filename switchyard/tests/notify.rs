//! `switchyard::notify` against a local HTTP receiver: payloads as each
//! provider gets them, retries, Retry-After, give-up paths, and the webhook
//! URL's secret kept out of everything the library returns.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard::exit::Exit;
use switchyard::notify::{
    self, Delivery, Notification, Policy, Provider, Status, payload, payload_at, send,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Planted in every webhook URL; must never come back out.
const SECRET: &str = "SECRET-s3cr3t-TOKEN";

/// No test may run longer than this, whatever the library does.
const TEST_LIMIT: Duration = Duration::from_secs(20);

/// What the receiver answers to one request.
#[derive(Clone)]
enum Reply {
    Answer {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: &'static str,
    },
    /// Reads the request and never answers.
    Hang,
}

fn answer(status: u16) -> Reply {
    Reply::Answer {
        status,
        headers: vec![],
        body: "",
    }
}

/// One request as the receiver read it.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// A minimal HTTP/1.1 receiver: request number i gets `script[i]`, or the
/// last entry once the script is used up; one request per connection.
struct Receiver {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(script: Vec<Reply>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                // Dropped with the task when the receiver is: hung
                // connections end with the test.
                let mut connections = JoinSet::new();
                for i in 0..50 {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let reply = script[i.min(script.len() - 1)].clone();
                    connections.spawn(serve(stream, reply, log.clone()));
                }
            }
        });
        Receiver { addr, log, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/{SECRET}", self.addr)
    }

    fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, reply: Reply, log: Arc<Mutex<Vec<Received>>>) {
    let Ok(Some(request)) =
        tokio::time::timeout(Duration::from_secs(5), read_request(&mut stream)).await
    else {
        return;
    };
    log.lock().unwrap().push(request);
    match reply {
        Reply::Hang => tokio::time::sleep(TEST_LIMIT).await,
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let at = Instant::now();
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())?;
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        path,
        headers,
        body,
        at,
    })
}

fn notification() -> Notification {
    Notification {
        app: Some("web".into()),
        namespace: Some("shop".into()),
        job: Some("shop/web/main".into()),
        build_number: Some("42".into()),
        build_url: Some("https://jenkins.example.com/job/web/42/".into()),
        change: Some("blue → green".into()),
        ..Notification::new(Status::Success, "web 1.2 is live")
    }
}

/// Fast retries for tests that go through several attempts.
fn quick(attempts: u32) -> Policy {
    Policy {
        attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        timeout: Duration::from_secs(10),
    }
}

fn assert_no_secret(what: &str) {
    assert!(
        !what.contains(SECRET) && !what.contains("/hooks/"),
        "the webhook URL leaked: {what}"
    );
}

/// Display, Debug and JSON of a Delivery are all free of the secret.
fn check(d: &Delivery) {
    assert_no_secret(&format!("{d:?}"));
    assert_no_secret(&format!("{d:#?}"));
    assert_no_secret(&serde_json::to_string(d).unwrap());
    if let Some(e) = &d.error {
        assert_no_secret(e);
    }
}

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("the test ran past its limit")
}

#[tokio::test]
async fn each_provider_gets_its_payload_as_json() {
    bounded(async {
        let n = notification();
        for (provider, code) in [
            (Provider::Discord, 204),
            (Provider::Slack, 200),
            (Provider::Teams, 202),
            (Provider::Webhook, 200),
        ] {
            let receiver = Receiver::start(vec![answer(code)]).await;
            let d = send(&receiver.url(), provider, &n, &Policy::default())
                .await
                .unwrap();
            check(&d);
            assert_eq!(
                (
                    d.provider,
                    d.delivered,
                    d.attempts,
                    d.status,
                    d.error.as_deref()
                ),
                (provider, true, 1, Some(code), None),
                "{provider}"
            );

            let got = receiver.requests();
            assert_eq!(got.len(), 1, "{provider}");
            let r = &got[0];
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, format!("/hooks/{SECRET}"));
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert!(r.header("user-agent").unwrap().starts_with("switchyard/"));
            let body = r.json();

            // Exactly the documented payload: stamped with the time it carries.
            let time = match provider {
                Provider::Discord => body["embeds"][0]["timestamp"].as_str(),
                Provider::Webhook => body["time"].as_str(),
                _ => None,
            };
            let expected = match time {
                Some(t) => payload_at(provider, &n, t.parse().unwrap()),
                None => payload(provider, &n),
            };
            assert_eq!(body, expected, "{provider}");

            match provider {
                Provider::Discord => {
                    let e = &body["embeds"][0];
                    assert_eq!(e["title"], "✅ web: deployment succeeded");
                    assert_eq!(e["description"], "web 1.2 is live");
                    assert_eq!(e["color"], 0x2ECC71);
                    assert_eq!(e["url"], "https://jenkins.example.com/job/web/42/");
                    assert_eq!(
                        e["fields"][0],
                        json!({"name": "App", "value": "web", "inline": true})
                    );
                    assert_eq!(e["fields"][2]["value"], "blue → green");
                    assert_eq!(
                        e["fields"][3]["value"],
                        "[shop/web/main #42](https://jenkins.example.com/job/web/42/)"
                    );
                }
                Provider::Slack => {
                    assert_eq!(
                        body["text"],
                        "✅ web: deployment succeeded: web 1.2 is live"
                    );
                    let blocks = body["blocks"].as_array().unwrap();
                    assert_eq!(blocks[0]["type"], "header");
                    assert_eq!(blocks[0]["text"]["text"], "✅ web: deployment succeeded");
                    assert_eq!(
                        blocks[1]["text"],
                        json!({"type": "mrkdwn", "text": "web 1.2 is live"})
                    );
                    assert_eq!(blocks[2]["fields"][0]["text"], "*App*\nweb");
                    assert_eq!(
                        blocks[2]["fields"][3]["text"],
                        "*Build*\n<https://jenkins.example.com/job/web/42/|shop/web/main #42>"
                    );
                }
                Provider::Teams => {
                    assert_eq!(body["type"], "message");
                    let a = &body["attachments"][0];
                    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
                    assert_eq!(a["content"]["type"], "AdaptiveCard");
                    assert_eq!(
                        a["content"]["body"][0]["text"],
                        "✅ web: deployment succeeded"
                    );
                    assert_eq!(a["content"]["body"][0]["color"], "Good");
                    assert_eq!(
                        a["content"]["body"][2]["facts"][2],
                        json!({"title": "Change", "value": "blue → green"})
                    );
                    assert_eq!(a["content"]["actions"][0]["type"], "Action.OpenUrl");
                }
                Provider::Webhook => {
                    assert_eq!(body.as_object().unwrap().len(), 9);
                    assert_eq!(body["status"], "success");
                    assert_eq!(body["message"], "web 1.2 is live");
                    assert_eq!(body["app"], "web");
                    assert_eq!(body["namespace"], "shop");
                    assert_eq!(body["job"], "shop/web/main");
                    assert_eq!(body["build"], "42");
                    assert_eq!(body["buildUrl"], "https://jenkins.example.com/job/web/42/");
                    assert_eq!(body["change"], "blue → green");
                    let time: jiff::Timestamp = body["time"].as_str().unwrap().parse().unwrap();
                    assert!((jiff::Timestamp::now() - time).get_seconds().abs() < 60);
                }
            }
        }
    })
    .await
}

#[tokio::test]
async fn retry_after_is_honoured_on_429() {
    bounded(async {
        let receiver = Receiver::start(vec![
            Reply::Answer {
                status: 429,
                headers: vec![("Retry-After", "1")],
                body: "",
            },
            answer(200),
        ])
        .await;
        let started = Instant::now();
        let d = send(&receiver.url(), Provider::Slack, &notification(), &quick(5))
            .await
            .unwrap();
        check(&d);
        assert!(d.delivered, "{d:?}");
        assert_eq!((d.attempts, d.status), (2, Some(200)));
        assert!(started.elapsed() >= Duration::from_secs(1));

        let got = receiver.requests();
        assert_eq!(got.len(), 2);
        // The wait is the server's, not the 10 ms backoff.
        assert!(got[1].at - got[0].at >= Duration::from_secs(1));
        // A retry posts the same bytes.
        assert_eq!(got[0].body, got[1].body);
    })
    .await
}

#[tokio::test]
async fn gives_up_after_the_attempts_on_503() {
    bounded(async {
        let receiver = Receiver::start(vec![answer(503)]).await;
        let d = send(
            &receiver.url(),
            Provider::Discord,
            &notification(),
            &quick(3),
        )
        .await
        .unwrap();
        check(&d);
        assert!(!d.delivered);
        assert_eq!((d.attempts, d.status), (3, Some(503)));
        let error = d.error.unwrap();
        assert!(error.contains("503 Service Unavailable"), "{error}");
        assert!(error.contains("gave up after 3 attempts"), "{error}");
        assert_eq!(receiver.requests().len(), 3);
    })
    .await
}

#[tokio::test]
async fn a_400_is_not_retried() {
    bounded(async {
        let receiver = Receiver::start(vec![Reply::Answer {
            status: 400,
            headers: vec![("Content-Type", "text/plain")],
            body: "invalid_payload",
        }])
        .await;
        let d = send(&receiver.url(), Provider::Slack, &notification(), &quick(5))
            .await
            .unwrap();
        check(&d);
        assert!(!d.delivered);
        assert_eq!((d.attempts, d.status), (1, Some(400)));
        let error = d.error.unwrap();
        assert!(
            error.contains("400 Bad Request: invalid_payload"),
            "{error}"
        );
        assert!(error.contains("not retried"), "{error}");
        assert_eq!(receiver.requests().len(), 1);
    })
    .await
}

#[tokio::test]
async fn a_server_echoing_the_url_is_redacted() {
    bounded(async {
        let receiver = Receiver::start(vec![Reply::Answer {
            status: 404,
            headers: vec![("Content-Type", "application/json")],
            body: r#"{"message": "no webhook at /hooks/SECRET-s3cr3t-TOKEN"}"#,
        }])
        .await;
        let d = send(
            &receiver.url(),
            Provider::Webhook,
            &notification(),
            &quick(5),
        )
        .await
        .unwrap();
        check(&d);
        assert_eq!((d.delivered, d.attempts, d.status), (false, 1, Some(404)));
        assert!(d.error.unwrap().contains("no webhook at"));
    })
    .await
}

#[tokio::test]
async fn connection_refused_is_a_failed_delivery_without_the_url() {
    bounded(async {
        // A port nobody listens on: bound, then released.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/hooks/{SECRET}");
        let d = send(&url, Provider::Teams, &notification(), &quick(2))
            .await
            .unwrap();
        check(&d);
        assert!(!d.delivered);
        assert_eq!((d.attempts, d.status), (2, None));
        let error = d.error.unwrap();
        assert!(
            error.contains("could not connect to the webhook"),
            "{error}"
        );
        assert!(error.to_lowercase().contains("refused"), "{error}");
    })
    .await
}

#[tokio::test]
async fn a_silent_webhook_is_bounded_by_the_budget() {
    bounded(async {
        let receiver = Receiver::start(vec![Reply::Hang]).await;
        let policy = Policy {
            timeout: Duration::from_millis(600),
            ..quick(5)
        };
        let started = Instant::now();
        let d = send(&receiver.url(), Provider::Webhook, &notification(), &policy)
            .await
            .unwrap();
        check(&d);
        // Bounded by the 600 ms budget, not by the receiver that never answers.
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(!d.delivered);
        assert_eq!(d.status, None);
        let error = d.error.unwrap();
        assert!(error.contains("did not answer within"), "{error}");
        assert!(error.contains("600ms time budget"), "{error}");
    })
    .await
}

#[tokio::test]
async fn retry_after_past_the_budget_gives_up_at_once() {
    bounded(async {
        let receiver = Receiver::start(vec![Reply::Answer {
            status: 429,
            headers: vec![("Retry-After", "120")],
            body: "",
        }])
        .await;
        let started = Instant::now();
        let d = send(
            &receiver.url(),
            Provider::Discord,
            &notification(),
            &quick(5),
        )
        .await
        .unwrap();
        check(&d);
        // Gave up at once rather than sleeping the 120 s asked.
        assert!(started.elapsed() < Duration::from_secs(60));
        assert_eq!((d.delivered, d.attempts, d.status), (false, 1, Some(429)));
        let error = d.error.unwrap();
        assert!(
            error.contains("retry in 120s, past the 10s time budget"),
            "{error}"
        );
    })
    .await
}

#[tokio::test]
async fn https_to_a_plain_http_server_fails_without_the_url() {
    bounded(async {
        // Answers plain HTTP at once, before any TLS: what an https URL
        // pointing at an http port gets.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..5 {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let _ = stream.shutdown().await;
            }
        });
        let url = format!("https://{addr}/hooks/{SECRET}");
        match send(&url, Provider::Discord, &notification(), &quick(3)).await {
            Ok(d) => {
                check(&d);
                assert!(!d.delivered);
                // Not retried: the next handshake would fail the same way.
                assert_eq!((d.attempts, d.status), (1, None), "{d:?}");
                let error = d.error.unwrap();
                assert!(
                    error.contains("TLS handshake with the webhook failed"),
                    "{error}"
                );
            }
            // No system trust store on this machine: a setup error, still secret-free.
            Err(e) => assert_no_secret(&format!("{e:?} {e:#}")),
        }
        server.abort();
    })
    .await
}

#[tokio::test]
async fn a_malformed_url_is_a_usage_error_without_the_url() {
    for url in [
        format!("ftp://example.com/hooks/{SECRET}"),
        format!("http://exa mple.com/hooks/{SECRET}"),
        format!("example.com/hooks/{SECRET}"),
    ] {
        let e = send(&url, Provider::Webhook, &notification(), &quick(1))
            .await
            .unwrap_err();
        assert_no_secret(&format!("{e} {e:?} {e:#}"));
        let e = e.downcast_ref::<switchyard::exit::Error>().unwrap();
        assert_eq!(e.exit, Exit::Usage);
    }
}

#[test]
fn url_from_env_names_an_unset_variable() {
    let var = "SWITCHYARD_TEST_NOTIFY_WEBHOOK_NEVER_SET";
    let e = notify::url_from_env(var).unwrap_err();
    assert_eq!(e.exit, Exit::Usage);
    assert!(
        e.message.contains(var) && e.message.contains("not set"),
        "{e}"
    );
    assert!(e.hint.as_deref().unwrap().contains("withCredentials"));

    // The URL itself given as the variable's name: refused, not echoed.
    let e =
        notify::url_from_env(&format!("https://discord.com/api/webhooks/1/{SECRET}")).unwrap_err();
    assert_eq!(e.exit, Exit::Usage);
    assert_no_secret(&format!("{e} {e:?}"));
}
