//! Secret policy recipes (SPEC §9): a recipe is a list of fields, each naming a generator and
//! its config; generating a recipe gives a fresh `data` object with one key per field.
//! Recipes are checked when a policy is saved (every problem named, e.g.
//! `fields[0].config.length`), so generating can only fail if the OS does. All randomness
//! comes from the OS CSPRNG; key generation is CPU work, so callers run [`Recipe::generate`]
//! on a blocking thread.

pub mod bcrypt_hash;
pub mod config;
pub mod keypair;
pub mod random;
pub mod ssh;
pub mod template;
pub mod uuids;

use chrono::{DateTime, Utc};
use config::{Config, Problems};
use serde_json::{Map, Value};

/// The generators, by name.
pub const GENERATORS: &[&str] = &[
    "random",
    "hex",
    "uuid",
    "static",
    "template",
    "rsa_keypair",
    "ec_keypair",
    "ssh_keypair",
    "bcrypt_hash",
];
/// Most fields one recipe may have.
const MAX_FIELDS: usize = 64;
/// Longest field name.
const MAX_NAME: usize = 128;

/// Generation failed (the message names the step, never a value).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GenerateError(pub &'static str);

/// One field's generator with its checked config.
#[derive(Debug, Clone)]
pub enum Generator {
    Random(random::Random),
    Uuid(uuids::UuidVersion),
    Static(Value),
    Template(template::Template),
    Rsa(usize),
    Ec(keypair::Curve),
    Ssh(ssh::Ssh),
    Bcrypt(bcrypt_hash::Bcrypt),
}

impl Generator {
    /// Reads `config` for generator `name`; problems are recorded in `c`.
    fn parse(name: &str, c: &mut Config<'_>) -> Option<Self> {
        match name {
            "random" => random::Random::parse(c).map(Generator::Random),
            "hex" => random::parse_hex(c).map(Generator::Random),
            "uuid" => uuids::parse(c).map(Generator::Uuid),
            "static" => match c.raw("value") {
                Some(v) => Some(Generator::Static(v.clone())),
                None => {
                    c.problem("value", "is required");
                    None
                }
            },
            "template" => template::parse(c).map(Generator::Template),
            "rsa_keypair" => keypair::parse_rsa(c).map(Generator::Rsa),
            "ec_keypair" => keypair::parse_ec(c).map(Generator::Ec),
            "ssh_keypair" => ssh::parse(c).map(Generator::Ssh),
            "bcrypt_hash" => bcrypt_hash::parse(c).map(Generator::Bcrypt),
            _ => None,
        }
    }

    /// A fresh value.
    fn generate(&self, now: DateTime<Utc>) -> Result<Value, GenerateError> {
        Ok(match self {
            Generator::Random(r) => Value::String(r.generate()),
            Generator::Uuid(v) => Value::String(uuids::generate(*v, now)),
            Generator::Static(v) => v.clone(),
            Generator::Template(t) => Value::String(t.generate(now)),
            Generator::Rsa(bits) => keypair::rsa(*bits)?,
            Generator::Ec(curve) => keypair::ec(*curve)?,
            Generator::Ssh(s) => s.generate()?,
            Generator::Bcrypt(b) => b.generate()?,
        })
    }
}

/// A checked recipe: field names (unique, in order) with their generators.
#[derive(Debug, Clone)]
pub struct Recipe {
    fields: Vec<(String, Generator)>,
}

impl Recipe {
    /// Checks a recipe's `fields` (a JSON list of `{"name","generator","config"}`), reporting
    /// every problem under its full name.
    pub fn parse(fields: &Value) -> Result<Recipe, Problems> {
        let mut problems = Problems::new();
        let Some(list) = fields.as_array() else {
            return Err(vec![("fields".into(), "must be a list".into())]);
        };
        if list.is_empty() || list.len() > MAX_FIELDS {
            return Err(vec![(
                "fields".into(),
                format!("must list 1 to {MAX_FIELDS} fields"),
            )]);
        }
        let mut out = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let empty = Map::new();
        for (i, item) in list.iter().enumerate() {
            let at = format!("fields[{i}]");
            let Some(obj) = item.as_object() else {
                problems.push((at, "must be an object".into()));
                continue;
            };
            let name = match obj.get("name").and_then(Value::as_str) {
                Some(n) if valid_field_name(n) && names.contains(&n) => {
                    problems.push((
                        format!("{at}.name"),
                        "repeats an earlier field's name".into(),
                    ));
                    None
                }
                Some(n) if valid_field_name(n) => {
                    names.push(n);
                    Some(n)
                }
                _ => {
                    problems.push((
                        format!("{at}.name"),
                        format!(
                            "is required: 1 to {MAX_NAME} characters without control characters"
                        ),
                    ));
                    None
                }
            };
            let generator = match obj.get("generator").and_then(Value::as_str) {
                Some(g) if GENERATORS.contains(&g) => Some(g),
                _ => {
                    problems.push((
                        format!("{at}.generator"),
                        format!("must be one of {}", GENERATORS.join(", ")),
                    ));
                    None
                }
            };
            for k in obj.keys() {
                if !["name", "generator", "config"].contains(&k.as_str()) {
                    problems.push((
                        format!("{at}.{k}"),
                        "is not a field setting (name, generator, config)".into(),
                    ));
                }
            }
            let config = match obj.get("config") {
                None | Some(Value::Null) => &empty,
                Some(Value::Object(m)) => m,
                Some(_) => {
                    problems.push((format!("{at}.config"), "must be an object".into()));
                    continue;
                }
            };
            let Some(generator) = generator else {
                continue;
            };
            let mut c = Config::new(config, format!("{at}.config"), &mut problems);
            let parsed = Generator::parse(generator, &mut c);
            c.finish(generator);
            if let (Some(name), Some(g)) = (name, parsed) {
                out.push((name.to_string(), g));
            }
        }
        if problems.is_empty() {
            Ok(Recipe { fields: out })
        } else {
            Err(problems)
        }
    }

    /// A fresh `data` object. CPU-heavy for keys: run it on a blocking thread.
    pub fn generate(&self, now: DateTime<Utc>) -> Result<Map<String, Value>, GenerateError> {
        let mut data = Map::new();
        for (name, g) in &self.fields {
            data.insert(name.clone(), g.generate(now)?);
        }
        Ok(data)
    }

    /// [`Recipe::generate`] on a blocking thread (RSA key generation takes seconds).
    pub async fn generate_blocking(
        self,
        now: DateTime<Utc>,
    ) -> Result<Map<String, Value>, GenerateError> {
        tokio::task::spawn_blocking(move || self.generate(now))
            .await
            .unwrap_or(Err(GenerateError("the generating thread stopped")))
    }

    /// The field names, in order (what an audit row may say about a generated value).
    pub fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// A field name: 1 to 128 characters, no control characters.
fn valid_field_name(n: &str) -> bool {
    !n.is_empty() && n.chars().count() <= MAX_NAME && !n.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(fields: Value) -> Vec<String> {
        Recipe::parse(&fields)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn a_recipe_makes_one_key_per_field() {
        let r = Recipe::parse(&json!([
            {"name": "username", "generator": "static", "config": {"value": "svc"}},
            {"name": "password", "generator": "random", "config": {"length": 40}},
            {"name": "id", "generator": "uuid", "config": {"version": 7}},
            {"name": "token", "generator": "hex"},
        ]))
        .expect("valid");
        let d = r.generate(Utc::now()).expect("generated");
        assert_eq!(d["username"], "svc");
        assert_eq!(d["password"].as_str().map(str::len), Some(40));
        assert_eq!(d["token"].as_str().map(str::len), Some(32));
        assert_eq!(r.field_names(), ["username", "password", "id", "token"]);
    }

    #[test]
    fn every_problem_is_named() {
        assert_eq!(problems(json!("x")), ["fields"]);
        assert_eq!(problems(json!([])), ["fields"]);
        assert_eq!(
            problems(json!([
                {"name": "a", "generator": "random", "config": {"length": 0}},
                {"name": "a", "generator": "nope"},
                {"generator": "static"},
                {"name": "k", "generator": "rsa_keypair", "config": {"bits": 1024}},
                {"name": "e", "generator": "ec_keypair", "config": {"curve": "P-521"}},
                {"name": "s", "generator": "ssh_keypair", "config": {"key_type": "dsa"}},
                {"name": "b", "generator": "bcrypt_hash", "config": {"rounds": 16, "length": 73}},
                {"name": "u", "generator": "uuid", "config": {"version": 1}},
                {"name": "t", "generator": "template", "config": {"template": "{{x}}"}},
                {"name": "c", "generator": "hex", "config": "long"},
                7,
            ])),
            [
                "fields[0].config.length",
                "fields[1].name",
                "fields[1].generator",
                "fields[2].name",
                "fields[2].config.value",
                "fields[3].config.bits",
                "fields[4].config.curve",
                "fields[5].config.key_type",
                "fields[6].config.length",
                "fields[6].config.rounds",
                "fields[7].config.version",
                "fields[8].config.template",
                "fields[9].config",
                "fields[10]",
            ]
        );
    }
}
