//! Discord: one embed per notification
//! (<https://discord.com/developers/docs/resources/webhook#execute-webhook>).

use serde_json::{Value, json};

use super::format::truncate;
use super::{Notification, Status};

// Discord's embed limits are 256 (title), 4096 (description) and 1024 (field
// value), and 6000 for all texts of an embed together; these caps keep the
// sum under it: 256 + 4096 + 3 × (9 + 256) + (5 + 2 × 128 + 512 + 4) + 10 = 5934
// (a label's brackets are escaped, which can double it).
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELD_MAX: usize = 256;
const LABEL_MAX: usize = 128;
const LINK_MAX: usize = 512;

/// The embed's side bar color, 0xRRGGBB.
fn color(status: Status) -> u32 {
    match status {
        Status::Started => 0x3498DB,
        Status::Success => 0x2ECC71,
        Status::Failure => 0xE74C3C,
        Status::RolledBack => 0xE67E22,
    }
}

pub(super) fn payload(n: &Notification, time: jiff::Timestamp) -> Value {
    let mut fields: Vec<Value> = n
        .facts()
        .into_iter()
        .map(|(name, value)| field(name, &truncate(value, FIELD_MAX)))
        .collect();
    if let Some(label) = n.build_label() {
        // Escape what would end the link text early.
        let label = truncate(&label, LABEL_MAX)
            .replace('[', "\\[")
            .replace(']', "\\]");
        let value = match n.build_link() {
            Some(url) if url.chars().count() <= LINK_MAX => {
                // A ")" in the URL would end the Markdown link early.
                let url = url.replace('(', "%28").replace(')', "%29");
                format!("[{label}]({url})")
            }
            _ => label,
        };
        fields.push(field("Build", &value));
    }

    let mut embed = json!({
        "title": truncate(&n.title(), TITLE_MAX),
        "color": color(n.status),
        "fields": fields,
        "timestamp": time.to_string(),
        "footer": { "text": "switchyard" },
    });
    // Discord refuses an empty description, and an embed URL that is not http(s).
    if !n.message.trim().is_empty() {
        embed["description"] = json!(truncate(&n.message, DESCRIPTION_MAX));
    }
    if let Some(url) = n.build_link() {
        embed["url"] = json!(url);
    }
    json!({
        "embeds": [embed],
        // No @everyone, @here, role or user pings from pipeline text.
        "allowed_mentions": { "parse": [] },
    })
}

fn field(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value, "inline": true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_has_title_color_fields_link_and_no_mentions() {
        let n = Notification {
            app: Some("web".into()),
            namespace: Some("shop".into()),
            change: Some("blue → green".into()),
            job: Some("shop/web[main]".into()),
            build_number: Some("42".into()),
            build_url: Some("https://ci.example.com/job/web/42/".into()),
            ..Notification::new(Status::Failure, "web 1.2 failed its health check")
        };
        let time = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let p = payload(&n, time);
        let e = &p["embeds"][0];
        assert_eq!(e["title"], "❌ web: deployment failed");
        assert_eq!(e["description"], "web 1.2 failed its health check");
        assert_eq!(e["color"], 0xE74C3C);
        assert_eq!(e["url"], "https://ci.example.com/job/web/42/");
        assert_eq!(e["timestamp"], "2027-01-15T08:00:00Z");
        let names: Vec<&str> = e["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["App", "Namespace", "Change", "Build"]);
        assert_eq!(
            e["fields"][3]["value"],
            "[shop/web\\[main\\] #42](https://ci.example.com/job/web/42/)"
        );
        assert_eq!(p["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn minimal_and_oversized_notifications_stay_valid() {
        let time = jiff::Timestamp::UNIX_EPOCH;
        let p = payload(&Notification::new(Status::Started, ""), time);
        let e = &p["embeds"][0];
        assert!(e.get("description").is_none() && e.get("url").is_none());
        assert_eq!(e["fields"], json!([]));
        assert_eq!(e["color"], 0x3498DB);

        let p = payload(
            &Notification::new(Status::Success, "x".repeat(10_000)),
            time,
        );
        let d = p["embeds"][0]["description"].as_str().unwrap();
        assert_eq!(d.chars().count(), DESCRIPTION_MAX);
        assert!(d.ends_with('…'));
    }
}
