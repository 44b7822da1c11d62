//! Text helpers the providers share.

/// `text` cut to at most `max` characters, ending in "…" when cut: the chat
/// services refuse the whole message (400) when one field is over its limit,
/// and a shortened notification is better than none.
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` escaped for Slack mrkdwn and cut so that the escaped form fits in
/// `max` characters; cutting after escaping could split an entity like `&amp;`.
pub(super) fn slack_escape(text: &str, max: usize) -> String {
    let escape = |c: char| match c {
        '&' => "&amp;".to_string(),
        '<' => "&lt;".to_string(),
        '>' => "&gt;".to_string(),
        c => c.to_string(),
    };
    let full: String = text.chars().map(escape).collect();
    if full.chars().count() <= max {
        return full;
    }
    let mut out = String::new();
    let mut len = 0;
    for piece in text.chars().map(escape) {
        let n = piece.chars().count();
        if len + n > max.saturating_sub(1) {
            break;
        }
        out.push_str(&piece);
        len += n;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("blue → green", 12), "blue → green");
        assert_eq!(truncate("blue → green", 6), "blue …");
        assert_eq!(truncate("ééééé", 3).chars().count(), 3);
    }

    #[test]
    fn slack_escape_never_splits_an_entity() {
        assert_eq!(
            slack_escape("<!channel> a&b", 100),
            "&lt;!channel&gt; a&amp;b"
        );
        // "a" + "&amp;" is 6 characters; with "…" it would be 7 > 6.
        assert_eq!(slack_escape("a&b", 6), "a…");
        assert!(slack_escape(&"&".repeat(1000), 3000).chars().count() <= 3000);
    }
}
