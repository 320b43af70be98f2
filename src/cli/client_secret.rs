//! `scaivault secret get|put|list|versions|delete|restore|rotate`: the secrets API over HTTP(S).
//! `get PATH#key` prints one value raw (no newline when piped) for scripts; everything else
//! prints JSON when piped (or with `--json`) and a table on a terminal.

use super::client_args::{OutputArgs, SecretCommand};
use super::client_output::{cell, json, table, wants_json};
use super::client_values::{put_data, read_stdin, target, value_text, BadArg};
use super::output::{line, raw};
use crate::client::{ApiClient, ClientSettings};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::IsTerminal;

pub(super) async fn run(cmd: SecretCommand) -> anyhow::Result<()> {
    let client = ApiClient::new(&ClientSettings::load()?)?;
    match cmd {
        SecretCommand::Get {
            target: t,
            version,
            out,
        } => get(&client, &t, version, out).await,
        SecretCommand::Put {
            path,
            pairs,
            secret_type,
            cas,
            out,
        } => {
            let path = target(&path)?.path;
            let data = put_data(&pairs, |f| std::fs::read(f), read_stdin)?;
            let mut body = json!({ "data": data });
            if let Some(t) = secret_type {
                body["secret_type"] = json!(t);
            }
            if let Some(n) = cas {
                body["options"] = json!({ "cas": n });
            }
            let r = client
                .call(
                    Method::PUT,
                    client.url(&["secrets", &path], &[]),
                    Some(&body),
                )
                .await?;
            summary(out, &r, || {
                format!("{path}: version {} written", cell(&r["version"]))
            })
        }
        SecretCommand::List { prefix, tag, out } => list(&client, prefix, tag, out).await,
        SecretCommand::Versions { path, out } => {
            let path = target(&path)?.path;
            let r = client.get(&["secrets", &path, "versions"], &[]).await?;
            if wants_json(out) {
                return Ok(json(&r)?);
            }
            let rows: Vec<Vec<String>> = r["versions"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|v| {
                    vec![
                        cell(&v["version"]),
                        if v["is_current"].as_bool() == Some(true) {
                            "*".into()
                        } else {
                            String::new()
                        },
                        cell(&v["created_at"]),
                        cell(&v["created_by"]),
                        cell(&v["is_rotation"]),
                        cell(&v["readable_until"]),
                    ]
                })
                .collect();
            Ok(table(
                &[
                    "VERSION",
                    "CURRENT",
                    "CREATED",
                    "CREATED BY",
                    "ROTATION",
                    "READABLE UNTIL",
                ],
                &rows,
            )?)
        }
        SecretCommand::Delete {
            path,
            permanent,
            out,
        } => {
            let path = target(&path)?.path;
            let q = if permanent {
                vec![("permanent", "true".to_string())]
            } else {
                vec![]
            };
            let r = client
                .call(Method::DELETE, client.url(&["secrets", &path], &q), None)
                .await?;
            summary(out, &r, || match r["recoverable_until"].as_str() {
                Some(until) => format!("{path}: deleted; restorable until {until}"),
                None if permanent => format!("{path}: destroyed"),
                None => format!("{path}: deleted"),
            })
        }
        SecretCommand::Restore { path, out } => {
            let path = target(&path)?.path;
            let r = client
                .call(
                    Method::POST,
                    client.url(&["secrets", &path, "restore"], &[]),
                    Some(&json!({})),
                )
                .await?;
            summary(out, &r, || format!("{path}: restored"))
        }
        SecretCommand::Rotate { path, policy, out } => {
            let path = target(&path)?.path;
            let policy = match policy {
                Some(p) => p,
                None => {
                    let meta = client.get(&["secrets", &path, "metadata"], &[]).await?;
                    meta["rotation_policy_id"]
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| BadArg(format!("{path} has no rotation policy: attach one, or name it with --policy")))?
                }
            };
            let r = client
                .call(
                    Method::POST,
                    client.url(&["rotation", "policies", &policy, "rotate"], &[]),
                    Some(&json!({ "secret_paths": [path] })),
                )
                .await?;
            if wants_json(out) {
                return Ok(json(&r)?);
            }
            let rows: Vec<Vec<String>> = r
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|h| {
                    vec![
                        cell(&h["secret_path"]),
                        cell(&h["status"]),
                        cell(&h["old_version"]),
                        cell(&h["new_version"]),
                        cell(&h["id"]),
                    ]
                })
                .collect();
            Ok(table(
                &["PATH", "STATUS", "OLD", "NEW", "HISTORY ID"],
                &rows,
            )?)
        }
    }
}

/// `secret get`: one raw value for `PATH#key`, else the data (table or JSON).
async fn get(
    client: &ApiClient,
    t: &str,
    version: Option<i64>,
    out: OutputArgs,
) -> anyhow::Result<()> {
    let t = target(t)?;
    let q: Vec<(&str, String)> = version
        .map(|v| ("version", v.to_string()))
        .into_iter()
        .collect();
    let r = client.get(&["secrets", &t.path], &q).await?;
    if let Some(key) = &t.key {
        let v = r["data"].get(key).ok_or_else(|| {
            BadArg(format!(
                "{} (version {}) has no key '{key}'",
                t.path,
                cell(&r["version"])
            ))
        })?;
        let mut text = value_text(v).into_bytes();
        if std::io::stdout().is_terminal() {
            text.push(b'\n');
        }
        return Ok(raw(&text)?);
    }
    if wants_json(out) {
        return Ok(json(&r)?);
    }
    line(format_args!(
        "{} (version {}, {})",
        t.path,
        cell(&r["version"]),
        cell(&r["secret_type"])
    ))?;
    let rows: Vec<Vec<String>> = r["data"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| vec![k.clone(), value_text(v)])
                .collect()
        })
        .unwrap_or_default();
    Ok(table(&["KEY", "VALUE"], &rows)?)
}

/// `secret list`: every page of `GET /v1/secrets`.
async fn list(
    client: &ApiClient,
    prefix: Option<String>,
    tag: Option<String>,
    out: OutputArgs,
) -> anyhow::Result<()> {
    let mut all: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q: Vec<(&str, String)> = vec![("limit", "1000".into())];
        if let Some(p) = &prefix {
            q.push(("prefix", p.clone()));
        }
        if let Some(t) = &tag {
            q.push(("tag", t.clone()));
        }
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let r = client.get(&["secrets"], &q).await?;
        all.extend(r["secrets"].as_array().cloned().unwrap_or_default());
        match r["cursor"].as_str() {
            Some(c) if r["has_more"].as_bool() == Some(true) => cursor = Some(c.to_string()),
            _ => break,
        }
    }
    if wants_json(out) {
        return Ok(json(&json!({ "secrets": all }))?);
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            vec![
                cell(&s["path"]),
                cell(&s["version"]),
                cell(&s["secret_type"]),
                cell(&s["updated_at"]),
            ]
        })
        .collect();
    Ok(table(&["PATH", "VERSION", "TYPE", "UPDATED"], &rows)?)
}

/// A write's answer: JSON, or one line for people.
fn summary(out: OutputArgs, r: &Value, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if wants_json(out) {
        Ok(json(r)?)
    } else {
        Ok(line(text())?)
    }
}
