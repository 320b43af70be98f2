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

/// Most bytes of rows one listing page carries (estimated): past it the page ends early with
/// `has_more: true` and a cursor after its last row (SPEC §0 pagination holds).
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Rows read by the first query of [`fill`]; later queries size themselves from the rows seen.
const FIRST_BATCH: i64 = 32;

/// Reads one page of at most `limit` rows after `after` through `fetch(after, n)` (up to `n`
/// rows in key order), ending it early once the rows' `size` would pass [`MAX_PAGE_BYTES`]
/// (never before its first row). Rows are read in batches sized from the rows seen so far, so
/// a listing of huge rows never holds `limit` of them in memory. Returns the page and the next
/// cursor (None at the end).
pub async fn fill<T, F, Fut, E>(
    limit: i64,
    after: Option<String>,
    key: impl Fn(&T) -> String,
    size: impl Fn(&T) -> usize,
    mut fetch: F,
) -> Result<(Vec<T>, Option<String>), E>
where
    F: FnMut(Option<String>, i64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, E>>,
{
    let limit = usize::try_from(limit.max(1)).unwrap_or(1);
    let mut page: Vec<T> = Vec::new();
    let mut bytes = 0usize;
    let mut from = after;
    loop {
        let wanted = limit - page.len();
        let batch = match bytes.checked_div(page.len()) {
            // Enough rows of the average size seen to fill the byte budget, plus one.
            Some(avg) => (MAX_PAGE_BYTES.saturating_sub(bytes) / avg.max(1)).saturating_add(1),
            None => FIRST_BATCH as usize,
        }
        .clamp(1, wanted);
        // One more than asked for: whether anything follows.
        let rows = fetch(from.clone(), i64::try_from(batch + 1).unwrap_or(i64::MAX)).await?;
        let more = rows.len() > batch;
        for row in rows.into_iter().take(batch) {
            let s = size(&row);
            if !page.is_empty() && bytes.saturating_add(s) > MAX_PAGE_BYTES {
                // This row exists but does not fit: the page ends before it.
                let cursor = page.last().map(|r| encode(&key(r)));
                return Ok((page, cursor));
            }
            bytes = bytes.saturating_add(s);
            page.push(row);
        }
        if !more {
            return Ok((page, None));
        }
        let cursor = page.last().map(|r| encode(&key(r)));
        if page.len() >= limit {
            return Ok((page, cursor));
        }
        from = page.last().map(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages through `sizes` (row i has key `k{i:04}`) with `fill`; returns each page's keys and
    /// how many rows each call fetched.
    async fn pages(sizes: &[usize], limit: i64) -> (Vec<Vec<usize>>, usize) {
        let rows: Vec<(String, usize)> = sizes
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("k{i:04}"), *s))
            .collect();
        let mut out = Vec::new();
        let mut fetched_max = 0;
        let mut cursor: Option<String> = None;
        loop {
            let after = decode(cursor.as_deref()).unwrap();
            let (page, next) = fill(
                limit,
                after,
                |r: &(String, usize)| r.0.clone(),
                |r| r.1,
                |from: Option<String>, n: i64| {
                    let batch: Vec<_> = rows
                        .iter()
                        .filter(|r| from.as_ref().is_none_or(|f| &r.0 > f))
                        .take(n as usize)
                        .cloned()
                        .collect();
                    fetched_max = fetched_max.max(batch.len());
                    async move { Ok::<_, ()>(batch) }
                },
            )
            .await
            .unwrap();
            out.push(page.iter().map(|r| r.0[1..].parse().unwrap()).collect());
            match next {
                Some(c) => cursor = Some(c),
                None => return (out, fetched_max),
            }
        }
    }

    #[tokio::test]
    async fn small_rows_fill_the_limit() {
        let (p, _) = pages(&[100; 250], 100).await;
        assert_eq!(p.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
        assert_eq!(p.concat(), (0..250).collect::<Vec<_>>());
        let (p, _) = pages(&[100; 100], 100).await;
        assert_eq!(p.len(), 1, "an exact last page has no cursor");
        let (p, _) = pages(&[], 100).await;
        assert_eq!(p, [Vec::<usize>::new()]);
    }

    #[tokio::test]
    async fn big_rows_end_the_page_early_and_are_read_in_small_batches() {
        const MIB: usize = 1024 * 1024;
        let (p, fetched) = pages(&[MIB; 10], 1000).await;
        assert_eq!(p.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(p.concat(), (0..10).collect::<Vec<_>>());
        assert!(fetched <= FIRST_BATCH as usize + 1, "{fetched}");
        // A row larger than the budget still comes, alone.
        let (p, _) = pages(&[5 * MIB, 10, 5 * MIB], 1000).await;
        assert_eq!(p, [vec![0], vec![1], vec![2]]);
        // Mixed sizes: every row exactly once, in order, each page within the budget.
        let sizes: Vec<usize> = (0..3000)
            .map(|i| if i % 7 == 0 { 300_000 } else { 900 })
            .collect();
        let (p, fetched) = pages(&sizes, 1000).await;
        assert_eq!(p.concat(), (0..3000).collect::<Vec<_>>());
        for page in &p {
            assert!(page.iter().map(|&i| sizes[i]).sum::<usize>() <= MAX_PAGE_BYTES);
        }
        assert!(fetched <= 1001, "{fetched}");
    }
}
