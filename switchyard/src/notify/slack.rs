//! Slack: Block Kit blocks plus a `text` fallback, the body incoming webhooks
//! take (<https://api.slack.com/messaging/webhooks>).

use serde_json::{Value, json};

use super::Notification;
use super::format::{slack_escape, truncate};

// Block Kit limits: header text 150, section text 3000, section field 2000;
// `text` is shown in notifications, where a short line reads best.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;
const FALLBACK_MAX: usize = 3000;

pub(super) fn payload(n: &Notification) -> Value {
    let title = n.title();
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": truncate(&title, HEADER_MAX), "emoji": true },
    })];
    // Slack refuses an empty section text.
    if !n.message.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": slack_escape(&n.message, SECTION_MAX) },
        }));
    }

    let mut fields: Vec<String> = n
        .facts()
        .into_iter()
        .map(|(name, value)| format!("*{name}*\n{}", slack_escape(value, FIELD_MAX - 20)))
        .collect();
    if let Some(label) = n.build_label() {
        let label = slack_escape(&label, 200);
        let value = match n.build_link() {
            // `|` and `>` would end Slack's <url|text> link syntax early.
            Some(url) if url.len() <= 1500 => format!(
                "<{}|{label}>",
                url.replace('|', "%7C")
                    .replace('>', "%3E")
                    .replace('<', "%3C")
            ),
            _ => label,
        };
        fields.push(format!("*Build*\n{value}"));
    }
    if !fields.is_empty() {
        let fields: Vec<Value> = fields
            .into_iter()
            .map(|text| json!({ "type": "mrkdwn", "text": text }))
            .collect();
        blocks.push(json!({ "type": "section", "fields": fields }));
    }

    let fallback = if n.message.trim().is_empty() {
        title
    } else {
        format!("{title}: {}", n.message)
    };
    json!({
        "text": slack_escape(&fallback, FALLBACK_MAX),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Status;

    #[test]
    fn blocks_header_message_fields_and_fallback() {
        let n = Notification {
            app: Some("web".into()),
            change: Some("canary 30%".into()),
            job: Some("web".into()),
            build_number: Some("7".into()),
            build_url: Some("https://ci/job/web/7/".into()),
            ..Notification::new(Status::Success, "<!channel> web & api are live")
        };
        let p = payload(&n);
        assert_eq!(
            p["text"],
            "✅ web: deployment succeeded: &lt;!channel&gt; web &amp; api are live"
        );
        let blocks = p["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[0]["text"]["text"], "✅ web: deployment succeeded");
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
        assert_eq!(
            blocks[1]["text"]["text"],
            "&lt;!channel&gt; web &amp; api are live"
        );
        assert_eq!(
            blocks[2]["fields"],
            json!([
                { "type": "mrkdwn", "text": "*App*\nweb" },
                { "type": "mrkdwn", "text": "*Change*\ncanary 30%" },
                { "type": "mrkdwn", "text": "*Build*\n<https://ci/job/web/7/|web #7>" },
            ])
        );
    }

    #[test]
    fn no_empty_blocks_and_limits_hold() {
        let p = payload(&Notification::new(Status::Started, " "));
        assert_eq!(p["blocks"].as_array().unwrap().len(), 1);
        assert_eq!(p["text"], "🚀 Deployment started");

        let mut n = Notification::new(Status::Failure, "&".repeat(5000));
        n.app = Some("a".repeat(500));
        let p = payload(&n);
        assert!(
            p["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= HEADER_MAX
        );
        assert!(
            p["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= SECTION_MAX
        );
    }
}
