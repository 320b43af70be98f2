//! Typed request bodies. Each body is one Rust type that is at once the parser (serde), the
//! validator (its `check` method) and the OpenAPI schema (utoipa). Parsing does not stop at the
//! first bad field: a field of the wrong type is recorded, removed and the rest parsed again, so
//! one 422 `validation_error` lists every failing field. Messages never echo a submitted value.

use super::body::JsonObject;
use super::error::{ApiError, FieldError};
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// How many wrong-typed fields one body may report before parsing gives up.
const MAX_TYPE_ERRORS: usize = 32;

/// A request body parsed into `T`, with the field errors found while parsing. Every field of a
/// body type is optional in Rust (required ones are checked by `check` and documented as
/// required through `#[schema(value_type = …)]`), so parsing always yields a `T`.
pub struct JsonBody<T> {
    pub body: T,
    pub check: Checker,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonObject(map) = JsonObject::from_request(req, state).await?;
        parse(map)
    }
}

/// Parses a JSON object into `T`, collecting a field error for each value of the wrong type.
pub fn parse<T: DeserializeOwned>(map: Map<String, Value>) -> Result<JsonBody<T>, ApiError> {
    let mut check = Checker::default();
    let mut value = Value::Object(map);
    for _ in 0..=MAX_TYPE_ERRORS {
        let attempt: Result<T, _> = serde_path_to_error::deserialize(&value);
        match attempt {
            Ok(body) => return Ok(JsonBody { body, check }),
            Err(e) => {
                let keys = map_keys(e.path());
                let mut message = type_message(&e.inner().to_string());
                if in_list(e.path()) {
                    message = format!("each item {message}");
                }
                let removed = match value.as_object_mut() {
                    Some(map) if !keys.is_empty() => remove(map, &keys),
                    _ => false,
                };
                if !removed {
                    // Only a bug in a body type (a required field in Rust) gets here.
                    check.push("body", message);
                    return Err(check.into_error());
                }
                check.push(&keys.join("."), message);
            }
        }
    }
    Err(check.into_error())
}

/// The map keys of an error path, up to the first list index (an error inside a list is
/// reported on, and removes, the whole list).
fn map_keys(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    let mut keys = Vec::new();
    for seg in path.iter() {
        match seg {
            Segment::Map { key } => keys.push(key.clone()),
            _ => break,
        }
    }
    keys
}

/// Whether an error path goes into a list.
fn in_list(path: &serde_path_to_error::Path) -> bool {
    path.iter()
        .any(|s| matches!(s, serde_path_to_error::Segment::Seq { .. }))
}

/// Removes the value at `keys` (a chain of object keys); false when there is none.
fn remove(map: &mut Map<String, Value>, keys: &[String]) -> bool {
    match keys {
        [] => false,
        [last] => map.remove(last).is_some(),
        [first, rest @ ..] => match map.get_mut(first) {
            Some(Value::Object(inner)) => remove(inner, rest),
            _ => map.remove(first).is_some(),
        },
    }
}

/// A field message from a serde error, keeping only what was expected (serde's own message
/// quotes the submitted value, which may be secret).
fn type_message(serde_message: &str) -> String {
    let expected = serde_message
        .split_once(", expected ")
        .map(|(_, e)| e)
        .unwrap_or("");
    let expected = expected.split(" at line ").next().unwrap_or("").trim();
    match expected {
        "a string" => "must be a string".into(),
        "a boolean" => "must be true or false".into(),
        "a sequence" => "must be a list".into(),
        "a map" => "must be an object".into(),
        e if e.starts_with("struct ") => "must be an object".into(),
        "i64" | "u64" | "i32" | "u32" | "u16" | "u8" | "usize" => "must be an integer".into(),
        "" => "has the wrong type".into(),
        e => format!("must be {}", e.replace('`', "")),
    }
}

/// The field errors of one body, collected by parsing and by the body type's `check`.
#[derive(Default, Debug)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    /// Records an error on `field`, unless that field already has one.
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        if !self.has(field) {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// Whether `field` already failed.
    pub fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    /// `value`, or an "is required" error on `field` when it is absent.
    pub fn required<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.push(field, "is required");
        }
        value
    }

    /// `Ok(value)` when nothing failed (and `value` is there), else one 422 listing every field.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(self.into_error()),
        }
    }

    /// Whether no field failed so far.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    fn into_error(self) -> ApiError {
        ApiError::validation(self.errors)
    }
}

/// A field that can be left out (keep), `null` (clear) or set: the shape of a PATCH field.
/// Declare it with `#[serde(default)]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    /// `None` to keep, `Some(None)` to clear, `Some(Some(v))` to set.
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Patch::Keep => None,
            Patch::Clear => Some(None),
            Patch::Set(v) => Some(Some(v)),
        }
    }

    /// Checks or converts a set value; keep and clear pass through.
    pub fn map<U>(self, f: impl FnOnce(T) -> Option<U>) -> Option<Patch<U>> {
        match self {
            Patch::Keep => Some(Patch::Keep),
            Patch::Clear => Some(Patch::Clear),
            Patch::Set(v) => f(v).map(Patch::Set),
        }
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// A stored optional value as shown: absent is `null`.
    fn from(v: Option<T>) -> Self {
        v.map_or(Patch::Clear, Patch::Set)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Set(v) => v.serialize(s),
            Patch::Keep | Patch::Clear => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Patch::Clear, Patch::Set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug)]
    #[expect(dead_code, reason = "only parsed, to see which fields fail")]
    struct Inner {
        tags: Option<Vec<String>>,
        #[serde(default)]
        note: Patch<String>,
    }

    #[derive(Deserialize, Debug)]
    #[expect(dead_code, reason = "only parsed, to see which fields fail")]
    struct Outer {
        name: Option<String>,
        n: Option<i64>,
        on: Option<bool>,
        inner: Option<Inner>,
    }

    fn fields(v: Value) -> Vec<(String, String)> {
        let Value::Object(m) = v else { panic!() };
        match parse::<Outer>(m) {
            Ok(b) => b
                .check
                .errors
                .iter()
                .map(|e| (e.field.clone(), e.message.clone()))
                .collect(),
            Err(_) => vec![("rejected".into(), String::new())],
        }
    }

    #[test]
    fn every_wrong_field_is_reported_once_and_never_quoted() {
        let errs = fields(json!({
            "name": 5, "n": "sekrit-value", "on": "yes",
            "inner": {"tags": ["a", 7], "note": 1}
        }));
        let got: std::collections::BTreeMap<&str, &str> =
            errs.iter().map(|(f, m)| (f.as_str(), m.as_str())).collect();
        assert_eq!(errs.len(), 5);
        assert_eq!(got["name"], "must be a string");
        assert_eq!(got["n"], "must be an integer");
        assert_eq!(got["on"], "must be true or false");
        assert_eq!(got["inner.tags"], "each item must be a string");
        assert_eq!(got["inner.note"], "must be a string");
        assert!(errs.iter().all(|(_, m)| !m.contains("sekrit")));
    }

    #[test]
    fn a_wrong_nested_object_is_one_error() {
        assert_eq!(
            fields(json!({"inner": "x"})),
            [("inner".to_string(), "must be an object".to_string())]
        );
    }

    #[test]
    fn patch_fields_tell_keep_clear_and_set_apart() {
        let Value::Object(m) = json!({"inner": {"note": null}}) else {
            panic!()
        };
        let b = parse::<Outer>(m).map(|b| b.body).ok();
        assert_eq!(b.and_then(|o| o.inner).map(|i| i.note), Some(Patch::Clear));
        let Value::Object(m) = json!({"inner": {}}) else {
            panic!()
        };
        let b = parse::<Outer>(m).map(|b| b.body).ok();
        assert_eq!(b.and_then(|o| o.inner).map(|i| i.note), Some(Patch::Keep));
    }

    #[test]
    fn messages_name_the_expectation_only() {
        assert_eq!(
            type_message("unknown variant `hunter2`, expected one of `a`, `b`"),
            "must be one of a, b"
        );
        assert_eq!(
            type_message("invalid type: string \"x\", expected struct Inner"),
            "must be an object"
        );
    }
}
