//! Opaque cursors and `limit` parsing shared by every listing.

use crate::http::error::ApiError;
use base64::Engine;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Parses `limit` (default 100, 1..=1000).
pub fn limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::validation_one(
                "limit",
                format!("must be an integer from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// Encodes the sort key of the last row returned.
pub fn encode(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("c1:{key}"))
}

/// Decodes a cursor made by `encode`.
pub fn decode(cursor: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| ApiError::invalid_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::invalid_cursor())?;
    text.strip_prefix("c1:")
        .map(|k| Some(k.to_string()))
        .ok_or_else(ApiError::invalid_cursor)
}

/// Reads `limit + 1` rows at a time with `fetch(after)` (ordered by `key`), keeping those
/// `keep` accepts, until `limit + 1` are kept or the rows run out: a caller whose path rules
/// hide some rows still gets full pages. Hand the result to [`page`].
pub async fn read_visible<T, E, Fut>(
    after: Option<String>,
    limit: i64,
    mut fetch: impl FnMut(Option<String>) -> Fut,
    key: impl Fn(&T) -> String,
    keep: impl Fn(&T) -> bool,
) -> Result<Vec<T>, E>
where
    Fut: std::future::Future<Output = Result<Vec<T>, E>>,
{
    let mut rows = Vec::new();
    let mut from = after;
    loop {
        let batch = fetch(from.clone()).await?;
        let exhausted = batch.len() <= limit as usize;
        from = batch.last().map(&key);
        rows.extend(batch.into_iter().filter(|r| keep(r)));
        if exhausted || rows.len() > limit as usize {
            return Ok(rows);
        }
    }
}

/// Splits a `limit + 1` fetch into the page and the next cursor.
pub fn page<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let cursor = if has_more {
        rows.last().map(|r| encode(&key(r)))
    } else {
        None
    };
    (rows, cursor)
}
