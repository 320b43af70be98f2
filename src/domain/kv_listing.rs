//! One level of a path tree, as Vault's `LIST` answers it: the names directly under a prefix,
//! a secret as `name` and a folder as `name/`, sorted. Pages of paths come from an indexed,
//! ordered range query; each folder found is skipped over in one jump (the next page starts
//! after everything under it), so a folder of a million secrets costs one row, not a million.

use crate::domain::path::prefix_upper_bound;
use std::collections::BTreeSet;
use std::future::Future;

/// Paths fetched per page.
pub const PAGE: i64 = 200;

/// At most this many names in one answer (a listing larger than this is cut).
pub const MAX_KEYS: usize = 100_000;

/// The names one level under `prefix` (`""` or ending in `/`). `page(after, limit)` returns,
/// in byte order, up to `limit` paths that start with `prefix` and sort after `after`.
pub async fn one_level<F, Fut, E>(prefix: &str, mut page: F) -> Result<Vec<String>, E>
where
    F: FnMut(Option<String>, i64) -> Fut,
    Fut: Future<Output = Result<Vec<String>, E>>,
{
    let mut keys = BTreeSet::new();
    let mut after: Option<String> = None;
    'pages: loop {
        let paths = page(after.clone(), PAGE).await?;
        let full = paths.len() as i64 == PAGE;
        for path in &paths {
            let Some(rest) = path.strip_prefix(prefix) else {
                continue;
            };
            if keys.len() >= MAX_KEYS {
                break 'pages;
            }
            match rest.find('/') {
                Some(i) => {
                    let folder = &rest[..=i];
                    keys.insert(folder.to_string());
                    // Past every path under this folder, then a fresh page.
                    after = Some(prefix_upper_bound(&format!("{prefix}{folder}")));
                    continue 'pages;
                }
                None => {
                    keys.insert(rest.to_string());
                    after = Some(path.clone());
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(keys.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `one_level` over an in-memory sorted set, counting the pages asked for.
    async fn list(paths: &[&str], prefix: &str) -> (Vec<String>, usize) {
        let sorted: BTreeSet<String> = paths.iter().map(|p| p.to_string()).collect();
        let mut pages = 0;
        let keys = one_level(prefix, |after, limit| {
            pages += 1;
            let out: Vec<String> = sorted
                .iter()
                .filter(|p| p.starts_with(prefix))
                .filter(|p| after.as_ref().is_none_or(|a| p.as_str() > a.as_str()))
                .take(limit as usize)
                .cloned()
                .collect();
            async move { Ok::<_, ()>(out) }
        })
        .await
        .unwrap();
        (keys, pages)
    }

    #[tokio::test]
    async fn secrets_and_folders_one_level_down() {
        let paths = [
            "a",
            "a/b",
            "a/b/c",
            "a-x",
            "a.y",
            "b/c",
            "team/db",
            "team/api/key",
            "team0",
        ];
        let (root, _) = list(&paths, "").await;
        assert_eq!(root, ["a", "a-x", "a.y", "a/", "b/", "team/", "team0"]);
        let (team, _) = list(&paths, "team/").await;
        assert_eq!(team, ["api/", "db"]);
        let (none, _) = list(&paths, "nothing/").await;
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn a_big_folder_costs_one_page_not_one_per_secret() {
        let many: Vec<String> = (0..5000).map(|i| format!("big/{i:05}")).collect();
        let mut paths: Vec<&str> = many.iter().map(String::as_str).collect();
        paths.push("small");
        let (keys, pages) = list(&paths, "").await;
        assert_eq!(keys, ["big/", "small"]);
        assert_eq!(pages, 2, "one page finds big/, the next starts past it");
    }

    #[tokio::test]
    async fn many_leaves_are_read_page_by_page() {
        let many: Vec<String> = (0..450).map(|i| format!("k{i:03}")).collect();
        let paths: Vec<&str> = many.iter().map(String::as_str).collect();
        let (keys, pages) = list(&paths, "").await;
        assert_eq!(keys.len(), 450);
        assert_eq!(pages, 3);
    }
}
