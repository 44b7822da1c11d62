//! Stored form ↔ served form. Objects are stored as written; `events.k8s.io/v1`
//! Events are stored as core Events so that both APIs list the same events.

use serde_json::{Map, Value, json};

use crate::resources::{Conversion, ResourceType};

/// (core v1 field, events.k8s.io/v1 field)
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

fn rename(obj: &Map<String, Value>, to_v1: bool) -> Map<String, Value> {
    obj.iter()
        .map(|(k, v)| {
            let renamed = EVENT_FIELDS.iter().find_map(|(core, v1)| {
                if to_v1 && k == core {
                    Some(*v1)
                } else if !to_v1 && k == v1 {
                    Some(*core)
                } else {
                    None
                }
            });
            (renamed.unwrap_or(k).to_string(), v.clone())
        })
        .collect()
}

/// The object as `res` serves it, with `apiVersion` and `kind` set.
pub fn to_served(res: &ResourceType, obj: &Value) -> Value {
    let mut out = match (res.conversion, obj.as_object()) {
        (Conversion::EventsV1, Some(m)) => Value::Object(rename(m, true)),
        _ => obj.clone(),
    };
    out["apiVersion"] = json!(res.api_version());
    out["kind"] = json!(res.kind);
    out
}

/// The object as stored for `res`.
pub fn to_storage(res: &ResourceType, obj: Value) -> Value {
    let mut out = match (res.conversion, obj.as_object()) {
        (Conversion::EventsV1, Some(m)) => Value::Object(rename(m, false)),
        _ => obj,
    };
    let storage = match res.conversion {
        Conversion::None => res,
        Conversion::EventsV1 => crate::resources::find("", "v1", "events").expect("core events"),
    };
    out["apiVersion"] = json!(storage.api_version());
    out["kind"] = json!(storage.kind);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;

    #[test]
    fn events_round_trip_between_apis() {
        let v1 = find("events.k8s.io", "v1", "events").unwrap();
        let written = json!({"metadata": {"name": "e"}, "regarding": {"kind": "Service", "name": "web"},
                             "note": "switched to green", "reason": "Switched", "reportingController": "switchyard.dev/bluegreen"});
        let stored = to_storage(v1, written);
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["message"], "switched to green");
        assert_eq!(stored["involvedObject"]["name"], "web");
        assert_eq!(stored["reportingComponent"], "switchyard.dev/bluegreen");
        let served = to_served(v1, &stored);
        assert_eq!(served["apiVersion"], "events.k8s.io/v1");
        assert_eq!(served["note"], "switched to green");
        assert!(served.get("message").is_none());
        let core = find("", "v1", "events").unwrap();
        assert_eq!(to_served(core, &stored)["message"], "switched to green");
    }
}
