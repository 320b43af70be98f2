//! The `template` generator: literal text with placeholders `{{random:N}}` (N alphanumeric
//! characters), `{{hex:N}}` (N lower-case hex digits), `{{uuid}}` (a version 4 UUID) and
//! `{{timestamp}}` (Unix seconds of the server's clock). The template is parsed once when the
//! policy is saved, so a bad placeholder is a 422, never a failed rotation.

use super::config::Config;
use super::random::{Random, MAX_LENGTH};
use super::uuids::{self, UuidVersion};
use chrono::{DateTime, Utc};

/// Longest template text.
const MAX_TEMPLATE: usize = 4096;
/// Longest expansion of a template.
const MAX_OUTPUT: usize = 16 * 1024;

/// One piece of a parsed template.
#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Random(Random),
    Uuid,
    Timestamp,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

/// The `template` generator's config: `template` (required).
pub fn parse(c: &mut Config<'_>) -> Option<Template> {
    let text = c.text("template", MAX_TEMPLATE, true)?;
    match parse_text(&text) {
        Ok(t) => Some(t),
        Err(msg) => {
            c.problem("template", msg);
            None
        }
    }
}

/// Parses template text; the error says what is wrong without quoting the text.
fn parse_text(text: &str) -> Result<Template, String> {
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    let mut parts = Vec::new();
    let mut rest = text;
    let mut longest = 0usize;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_string()));
            longest += rest[..start].chars().count();
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or("has a '{{' without its closing '}}'")?;
        let part = placeholder(&after[..end])?;
        longest += match &part {
            Part::Random(r) => r.length,
            Part::Uuid => 36,
            Part::Timestamp => 20,
            Part::Text(_) => 0,
        };
        parts.push(part);
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
        longest += rest.chars().count();
    }
    if longest > MAX_OUTPUT {
        return Err(format!("expands to more than {MAX_OUTPUT} characters"));
    }
    Ok(Template { parts })
}

/// One placeholder's inside (between `{{` and `}}`).
fn placeholder(inner: &str) -> Result<Part, String> {
    let bad_length = || format!("placeholder lengths must be integers from 1 to {MAX_LENGTH}");
    let sized = |charset: &str, n: &str| -> Result<Part, String> {
        match n.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_LENGTH).contains(&n) => {
                Ok(Part::Random(Random::of(charset, n as usize)))
            }
            _ => Err(bad_length()),
        }
    };
    match inner.trim().split_once(':') {
        Some(("random", n)) => sized("alphanumeric", n),
        Some(("hex", n)) => sized("hex", n),
        None if inner.trim() == "uuid" => Ok(Part::Uuid),
        None if inner.trim() == "timestamp" => Ok(Part::Timestamp),
        _ => Err(
            "has an unknown placeholder (known: {{random:N}}, {{hex:N}}, {{uuid}}, {{timestamp}})"
                .into(),
        ),
    }
}

impl Template {
    /// A fresh expansion.
    pub fn generate(&self, now: DateTime<Utc>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Random(r) => out.push_str(&r.generate()),
                Part::Uuid => out.push_str(&uuids::generate(UuidVersion::V4, now)),
                Part::Timestamp => out.push_str(&now.timestamp().to_string()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand_with_their_lengths_and_charsets() {
        let now = Utc::now();
        let t = parse_text("sk_{{random:24}}.{{ hex:8 }}/{{uuid}}@{{timestamp}}}").expect("valid");
        for _ in 0..200 {
            let s = t.generate(now);
            let rest = s.strip_prefix("sk_").expect("literal kept");
            let (random, rest) = rest.split_at(24);
            assert!(
                random.chars().all(|c| c.is_ascii_alphanumeric()),
                "{random}"
            );
            let (hex, rest) = rest.strip_prefix('.').expect("dot").split_at(8);
            assert!(hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            let (uuid, rest) = rest.strip_prefix('/').expect("slash").split_at(36);
            let u = uuid::Uuid::parse_str(uuid).expect("uuid");
            assert_eq!(u.get_version_num(), 4);
            assert_eq!(rest, format!("@{}}}", now.timestamp()));
        }
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in [
            "",
            "{{random}}",
            "{{random:0}}",
            "{{random:1025}}",
            "{{hex:x}}",
            "{{nope}}",
            "a{{uuid",
            "{{random:1024}}{{random:1024}}{{random:1024}}{{random:1024}}{{random:1024}}\
             {{random:1024}}{{random:1024}}{{random:1024}}{{random:1024}}{{random:1024}}\
             {{random:1024}}{{random:1024}}{{random:1024}}{{random:1024}}{{random:1024}}\
             {{random:1024}}{{random:1024}}",
        ] {
            assert!(parse_text(bad).is_err(), "{bad}");
        }
        assert!(parse_text("plain text, no placeholders").is_ok());
    }
}
