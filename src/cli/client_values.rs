//! Parsing the client's arguments: `PATH#key` targets, `key=value` / `key=@file` / `key=-`
//! pairs of `secret put` (values read from files or standard input never sit in shell history),
//! and `NAME=PATH#key` bindings of `run --env`. Error messages name keys and files, never values.

use serde_json::{Map, Value};
use std::io::Read;

/// A secret path and, optionally, one key of its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub path: String,
    pub key: Option<String>,
}

/// Why an argument is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadArg(pub String);

/// `PATH` or `PATH#key`.
pub fn target(text: &str) -> Result<Target, BadArg> {
    let (path, key) = match text.split_once('#') {
        Some((p, "")) => {
            return Err(BadArg(format!("'{p}#': name a key after '#'")));
        }
        Some((p, k)) => (p, Some(k.to_string())),
        None => (text, None),
    };
    let path = path.trim_matches('/');
    if path.is_empty() {
        return Err(BadArg(format!("'{text}': the secret path is empty")));
    }
    Ok(Target {
        path: path.to_string(),
        key,
    })
}

/// The data object of `secret put`: each `key=value`, `key=@file` or `key=-` (standard input,
/// one trailing newline removed; at most once). Reading is done through `read_file` and
/// `stdin`, so tests can give their own.
pub fn put_data(
    pairs: &[String],
    read_file: impl Fn(&str) -> std::io::Result<Vec<u8>>,
    stdin: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> Result<Map<String, Value>, BadArg> {
    let mut data = Map::new();
    let mut stdin = Some(stdin);
    for pair in pairs {
        let (key, spec) = pair.split_once('=').ok_or_else(|| {
            BadArg(format!(
                "'{}': expected key=value, key=@file or key=-",
                key_only(pair)
            ))
        })?;
        if key.is_empty() {
            return Err(BadArg(
                "an argument has an empty key (=… without a name)".into(),
            ));
        }
        if data.contains_key(key) {
            return Err(BadArg(format!("key '{key}' is given twice")));
        }
        let bytes = if spec == "-" {
            let read = stdin.take().ok_or_else(|| {
                BadArg(format!(
                    "key '{key}': standard input (-) can be read only once"
                ))
            })?;
            let mut b = read()
                .map_err(|e| BadArg(format!("key '{key}': cannot read standard input: {e}")))?;
            if b.last() == Some(&b'\n') {
                b.pop();
                if b.last() == Some(&b'\r') {
                    b.pop();
                }
            }
            b
        } else if let Some(file) = spec.strip_prefix('@') {
            read_file(file).map_err(|e| BadArg(format!("key '{key}': cannot read {file}: {e}")))?
        } else {
            spec.as_bytes().to_vec()
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            BadArg(format!(
                "key '{key}': the value is not UTF-8 text (base64-encode binary values)"
            ))
        })?;
        data.insert(key.to_string(), Value::String(text));
    }
    Ok(data)
}

/// The part of an argument before `=`, or a placeholder: a malformed pair may be a value.
fn key_only(pair: &str) -> String {
    if pair.len() <= 64
        && !pair.contains(char::is_whitespace)
        && pair
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        pair.to_string()
    } else {
        "(argument not shown)".into()
    }
}

/// Reads all of standard input.
pub fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin().lock().read_to_end(&mut buf)?;
    Ok(buf)
}

/// One `run --env NAME=PATH#key` binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvBinding {
    pub name: String,
    pub path: String,
    pub key: String,
}

/// Parses `NAME=PATH#key`.
pub fn env_binding(text: &str) -> Result<EnvBinding, BadArg> {
    let (name, rest) = text
        .split_once('=')
        .ok_or_else(|| BadArg(format!("--env {text}: expected NAME=PATH#key")))?;
    let valid_name = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(BadArg(format!(
            "--env {text}: '{name}' is not an environment variable name"
        )));
    }
    let t = target(rest)?;
    let key = t.key.ok_or_else(|| {
        BadArg(format!(
            "--env {text}: name the key, e.g. {name}={}#password",
            t.path
        ))
    })?;
    Ok(EnvBinding {
        name: name.to_string(),
        path: t.path,
        key,
    })
}

/// One value of a secret's data as text: strings as they are, anything else as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            target("a/b#k").unwrap(),
            Target {
                path: "a/b".into(),
                key: Some("k".into())
            }
        );
        assert_eq!(target("a/b").unwrap().key, None);
        assert!(target("a#").is_err());
        assert!(target("#k").is_err());
    }

    #[test]
    fn put_pairs_read_files_and_stdin_once() {
        let data = put_data(
            &["u=admin".into(), "p=@pw.txt".into(), "t=-".into()],
            |f| Ok(format!("from {f}\n").into_bytes()),
            || Ok(b"typed\n".to_vec()),
        )
        .unwrap();
        assert_eq!(data["u"], "admin");
        assert_eq!(data["p"], "from pw.txt\n");
        assert_eq!(data["t"], "typed");
        let twice = put_data(&["a=-".into(), "b=-".into()], |_| Ok(vec![]), || Ok(vec![]));
        assert!(twice.is_err());
        let err = put_data(&["s3cr3t value".into()], |_| Ok(vec![]), || Ok(vec![])).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn env_bindings() {
        let b = env_binding("DB_PASSWORD=prod/db#password").unwrap();
        assert_eq!(
            (b.name.as_str(), b.path.as_str(), b.key.as_str()),
            ("DB_PASSWORD", "prod/db", "password")
        );
        assert!(env_binding("1X=a#b").is_err());
        assert!(env_binding("X=a").is_err());
    }
}
