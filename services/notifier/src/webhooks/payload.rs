//! The body of a webhook, in the Standard Webhooks shape: `{"type", "timestamp", "data"}`.
//! `data` carries references (ids, the protocol number, a link to the request) and what the
//! patronato may read in intake (the office's answer or question, the offices); never the
//! office's internal notes, which no event carries. A body stays under 20 KB: long texts are
//! shortened (and `truncated` says so) rather than the delivery refused.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::notice::excerpt;

/// The largest body sent.
pub const MAX_BYTES: usize = 20 * 1024;
/// What a long text is cut to when the body would be too large.
const SHORTENED_CHARS: usize = 1000;
const TEXT_FIELDS: [&str; 3] = ["answer", "question", "explanation"];

pub fn body(
    event_type: &str,
    occurred_at: DateTime<Utc>,
    data: &Value,
    link: Option<String>,
) -> String {
    let render = |data: &Value| {
        json!({ "type": event_type, "timestamp": occurred_at, "data": data }).to_string()
    };
    let mut data = data.clone();
    if let (Value::Object(fields), Some(link)) = (&mut data, link) {
        fields.insert("link".to_owned(), Value::String(link));
    }
    let whole = render(&data);
    if whole.len() < MAX_BYTES {
        return whole;
    }
    if let Value::Object(fields) = &mut data {
        for field in TEXT_FIELDS {
            if let Some(Value::String(text)) = fields.get_mut(field) {
                *text = excerpt(text, SHORTENED_CHARS);
            }
        }
        fields.insert("truncated".to_owned(), Value::Bool(true));
    }
    let shortened = render(&data);
    if shortened.len() < MAX_BYTES {
        return shortened;
    }
    // Still too large (many files): keep how many there were, not their list.
    if let Value::Object(fields) = &mut data {
        let count = fields
            .get("attachments")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        fields.insert("attachments".to_owned(), json!({ "count": count }));
    }
    render(&data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_answer_in_the_widest_characters_stays_under_20_kb() {
        // Office-queue takes answers of at most 4,000 characters; 4 bytes each at worst.
        let data = json!({ "request_id": "r", "answer": "𝄞".repeat(4000), "attachments": [] });
        let whole = body(
            "request.answered",
            Utc::now(),
            &data,
            Some("http://x/richieste/r".into()),
        );
        assert!(whole.len() < MAX_BYTES, "{} bytes", whole.len());
        let parsed: Value = serde_json::from_str(&whole).unwrap();
        assert_eq!(parsed["data"]["link"], "http://x/richieste/r");
        assert!(parsed["data"].get("truncated").is_none());
        // Anything larger is shortened, and says so.
        let data = json!({ "answer": "x".repeat(30_000) });
        let shortened = body("request.answered", Utc::now(), &data, None);
        assert!(shortened.len() < MAX_BYTES);
        assert_eq!(
            serde_json::from_str::<Value>(&shortened).unwrap()["data"]["truncated"],
            true
        );
    }
}
