//! Microsoft Teams: a `message` carrying one Adaptive Card, the body both the
//! Workflows webhook ("Post to a channel when a webhook request is received")
//! and the retired Office 365 connectors accept.

use serde_json::{Value, json};

use super::format::truncate;
use super::{Notification, Status};

// Teams refuses messages over about 28 KB; these caps keep a card far below.
const TITLE_MAX: usize = 256;
const MESSAGE_MAX: usize = 8000;
const FACT_MAX: usize = 512;

/// The title's color from the Adaptive Card palette.
fn color(status: Status) -> &'static str {
    match status {
        Status::Started => "Accent",
        Status::Success => "Good",
        Status::Failure => "Attention",
        Status::RolledBack => "Warning",
    }
}

pub(super) fn payload(n: &Notification) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": truncate(&n.title(), TITLE_MAX),
        "weight": "Bolder",
        "size": "Medium",
        "color": color(n.status),
        "wrap": true,
    })];
    if !n.message.trim().is_empty() {
        body.push(json!({
            "type": "TextBlock",
            "text": truncate(&n.message, MESSAGE_MAX),
            "wrap": true,
        }));
    }
    let mut facts: Vec<Value> = n
        .facts()
        .into_iter()
        .map(|(title, value)| json!({ "title": title, "value": truncate(value, FACT_MAX) }))
        .collect();
    if let Some(label) = n.build_label() {
        facts.push(json!({ "title": "Build", "value": truncate(&label, FACT_MAX) }));
    }
    if !facts.is_empty() {
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }

    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        // 1.4 is the newest version every Teams client renders.
        "version": "1.4",
        "body": body,
        "msteams": { "width": "Full" },
    });
    if let Some(url) = n.build_link() {
        card["actions"] = json!([{ "type": "Action.OpenUrl", "title": "Open build", "url": url }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_card_in_a_message_attachment() {
        let n = Notification {
            app: Some("web".into()),
            namespace: Some("shop".into()),
            build_number: Some("9".into()),
            build_url: Some("https://ci/job/web/9/".into()),
            ..Notification::new(Status::RolledBack, "back on blue")
        };
        let p = payload(&n);
        assert_eq!(p["type"], "message");
        let a = &p["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &a["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["body"][0]["text"], "↩️ web: deployment rolled back");
        assert_eq!(card["body"][0]["color"], "Warning");
        assert_eq!(card["body"][1]["text"], "back on blue");
        assert_eq!(
            card["body"][2]["facts"],
            json!([
                { "title": "App", "value": "web" },
                { "title": "Namespace", "value": "shop" },
                { "title": "Build", "value": "#9" },
            ])
        );
        assert_eq!(card["actions"][0]["url"], "https://ci/job/web/9/");
    }

    #[test]
    fn no_action_without_a_link() {
        let p = payload(&Notification::new(Status::Success, "ok"));
        let card = &p["attachments"][0]["content"];
        assert!(card.get("actions").is_none());
        assert_eq!(card["body"].as_array().unwrap().len(), 2);
    }
}
