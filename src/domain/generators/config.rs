//! Reading one field's `config` object: typed settings with defaults and ranges, every
//! problem recorded under its full name (`fields[0].config.length`), unknown settings refused
//! so a misspelt one is not silently ignored. Messages never repeat a submitted value.

use serde_json::{Map, Value};

/// Field errors of a recipe: (dotted field name, message).
pub type Problems = Vec<(String, String)>;

/// One field's `config`, read setting by setting.
pub struct Config<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    known: Vec<&'static str>,
    pub problems: &'a mut Problems,
}

impl<'a> Config<'a> {
    /// The config at `prefix` (e.g. `fields[0].config`).
    pub fn new(map: &'a Map<String, Value>, prefix: String, problems: &'a mut Problems) -> Self {
        Self {
            map,
            prefix,
            known: Vec::new(),
            problems,
        }
    }

    /// The full name of setting `key`.
    pub fn name(&self, key: &str) -> String {
        format!("{}.{key}", self.prefix)
    }

    /// Records a problem with setting `key`.
    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        let name = self.name(key);
        self.problems.push((name, message.into()));
    }

    /// The raw value of `key` (null counts as absent).
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An integer setting in `range`, `default` when absent; None after recording a problem.
    pub fn int(
        &mut self,
        key: &'static str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
    ) -> Option<u64> {
        match self.raw(key) {
            None => Some(default),
            Some(v) => match v.as_u64().filter(|n| range.contains(n)) {
                Some(n) => Some(n),
                None => {
                    let msg = format!(
                        "must be an integer from {} to {}",
                        range.start(),
                        range.end()
                    );
                    self.problem(key, msg);
                    None
                }
            },
        }
    }

    /// An integer setting that must be one of `allowed` (the first is the default).
    pub fn one_of_int(&mut self, key: &'static str, allowed: &[u64]) -> Option<u64> {
        match self.raw(key) {
            None => allowed.first().copied(),
            Some(v) => match v.as_u64().filter(|n| allowed.contains(n)) {
                Some(n) => Some(n),
                None => {
                    let list: Vec<String> = allowed.iter().map(u64::to_string).collect();
                    self.problem(key, format!("must be one of {}", list.join(", ")));
                    None
                }
            },
        }
    }

    /// A string setting that must be one of `allowed` (the first is the default).
    pub fn one_of(&mut self, key: &'static str, allowed: &[&'static str]) -> Option<&'static str> {
        match self.raw(key) {
            None => allowed.first().copied(),
            Some(v) => match v.as_str().and_then(|s| allowed.iter().find(|a| **a == s)) {
                Some(a) => Some(*a),
                None => {
                    self.problem(key, format!("must be one of {}", allowed.join(", ")));
                    None
                }
            },
        }
    }

    /// A boolean setting, false when absent.
    pub fn flag(&mut self, key: &'static str) -> bool {
        match self.raw(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.problem(key, "must be true or false");
                false
            }
        }
    }

    /// A string setting of at most `max` characters without control characters; `None` when
    /// absent or after recording a problem (`required` says which to record).
    pub fn text(&mut self, key: &'static str, max: usize, required: bool) -> Option<String> {
        match self.raw(key) {
            None if required => {
                self.problem(key, "is required");
                None
            }
            None => None,
            Some(Value::String(s))
                if s.chars().count() <= max && !s.chars().any(char::is_control) =>
            {
                Some(s.clone())
            }
            Some(_) => {
                self.problem(
                    key,
                    format!(
                        "must be a string of at most {max} characters without control characters"
                    ),
                );
                None
            }
        }
    }

    /// Records every setting that is not one this generator reads.
    pub fn finish(self, generator: &str) {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for k in unknown {
            let name = format!("{}.{k}", self.prefix);
            self.problems.push((
                name,
                format!("is not a setting of the {generator} generator"),
            ));
        }
    }
}
