//! deploy-notify against a local receiver: delivered, retried, not required,
//! required, and the URL (a secret) in no output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::expect;

const BIN: &str = env!("CARGO_BIN_EXE_deploy-notify");
const SECRET: &str = "T0KEN-zq9-s3cr3t-webhook";

/// A receiver answering `codes` in turn (then 200), recording bodies.
fn receiver(codes: Vec<u16>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/api/webhooks/123/{SECRET}",
        listener.local_addr().unwrap()
    );
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        let mut codes = codes.into_iter();
        for stream in listener.incoming().take(10) {
            let Ok(mut s) = stream else { return };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).to_string());
            let code = codes.next().unwrap_or(200);
            let extra = if code == 429 {
                "Retry-After: 1\r\n"
            } else {
                ""
            };
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\n{extra}Content-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    (url, bodies)
}

fn notify(url: &str, args: &[&str], file: &std::path::Path) -> std::process::Output {
    std::process::Command::new(BIN)
        .args([
            "--provider",
            "discord",
            "--webhook-url-env",
            "DISCORD_WEBHOOK",
            "--status",
            "success",
            "--message",
            "web 1.2 is live",
            "--app",
            "web",
            "-o",
            "json",
            "--result-file",
        ])
        .arg(file)
        .args(args)
        .env("DISCORD_WEBHOOK", url)
        .env("JOB_NAME", "deploy-web")
        .env("BUILD_NUMBER", "7")
        .env("BUILD_URL", "https://ci.example.com/job/deploy-web/7/")
        .output()
        .unwrap()
}

fn no_secret(out: &std::process::Output, file: &std::path::Path) {
    let all = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
    assert!(!all.contains(SECRET), "the webhook URL leaked: {all}");
}

#[test]
fn delivers_a_discord_embed_after_a_429() {
    let (url, bodies) = receiver(vec![429]);
    let file = std::env::temp_dir().join(format!("notify-{}.json", std::process::id()));
    let out = notify(&url, &[], &file);
    let (stdout, _) = expect(&out, 0);
    no_secret(&out, &file);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            doc["result"]["delivered"].as_bool(),
            doc["result"]["attempts"].as_u64()
        ),
        (Some(true), Some(2))
    );
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let embed: serde_json::Value = serde_json::from_str(&got[1]).unwrap();
    assert!(
        embed["embeds"][0]["title"]
            .as_str()
            .unwrap()
            .contains("web"),
        "{embed}"
    );
    assert!(
        got[1].contains("deploy-web"),
        "the job is in the message: {}",
        got[1]
    );
    let _ = std::fs::remove_file(file);
}

#[test]
fn a_failed_notification_fails_the_step_only_when_required() {
    let (url, _) = receiver(vec![500, 500, 500, 500]);
    let file = std::env::temp_dir().join(format!("notify-fail-{}.json", std::process::id()));
    let out = notify(&url, &["--attempts", "2"], &file);
    let (_, stderr) = expect(&out, 0);
    assert!(
        stderr.contains("not delivered after 2 attempts")
            && stderr.contains("the pipeline goes on"),
        "{stderr}"
    );
    no_secret(&out, &file);
    let out = notify(&url, &["--attempts", "2", "--required"], &file);
    expect(&out, 1);
    no_secret(&out, &file);
    let _ = std::fs::remove_file(file);
}

#[test]
fn a_missing_variable_is_exit_2_and_names_only_the_variable() {
    let out = std::process::Command::new(BIN)
        .args([
            "--provider",
            "slack",
            "--webhook-url-env",
            "NOPE_UNSET_VAR",
            "--status",
            "started",
            "--message",
            "m",
        ])
        .env_remove("NOPE_UNSET_VAR")
        .output()
        .unwrap();
    let (_, stderr) = expect(&out, 2);
    assert!(stderr.contains("NOPE_UNSET_VAR"), "{stderr}");
}
