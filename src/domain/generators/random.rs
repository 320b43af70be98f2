//! The `random` and `hex` generators: strings drawn uniformly from a character set with the
//! OS CSPRNG, optionally guaranteed to hold at least one upper-case letter, lower-case letter,
//! digit or symbol (SPEC §9).

use super::config::Config;
use rand::rngs::OsRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, TryRngCore};

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";
const HEX: &str = "0123456789abcdef";
/// The symbols of the `symbols` charset.
pub const SYMBOLS: &str = "!#$%&*+-=?@^_";
/// Longest string the generators make.
pub const MAX_LENGTH: u64 = 1024;
/// Most characters a custom charset may list.
const MAX_CUSTOM: usize = 256;

/// The OS CSPRNG (a failure of the OS source panics: nothing secure can run then).
pub fn os_rng() -> rand::rand_core::UnwrapErr<OsRng> {
    OsRng.unwrap_err()
}

/// A class of characters a `require_*` setting asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Upper,
    Lower,
    Digit,
    Symbol,
}

impl Class {
    /// Whether `c` belongs to this class (a symbol is anything not a letter or digit).
    pub fn holds(self, c: char) -> bool {
        match self {
            Class::Upper => c.is_uppercase(),
            Class::Lower => c.is_lowercase(),
            Class::Digit => c.is_ascii_digit(),
            Class::Symbol => !c.is_alphanumeric(),
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Class::Upper => "require_upper",
            Class::Lower => "require_lower",
            Class::Digit => "require_digit",
            Class::Symbol => "require_symbol",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Class::Upper => "an upper-case letter",
            Class::Lower => "a lower-case letter",
            Class::Digit => "a digit",
            Class::Symbol => "a symbol",
        }
    }
}

/// A random string recipe: `length` characters of `alphabet`, with one of each `require`d
/// class at least.
#[derive(Debug, Clone)]
pub struct Random {
    pub length: usize,
    pub alphabet: Vec<char>,
    pub require: Vec<Class>,
}

/// The characters of a named charset (`custom` is read from `chars`).
pub fn named_charset(name: &str) -> Option<String> {
    Some(match name {
        "alphanumeric" => format!("{UPPER}{LOWER}{DIGITS}"),
        "alpha" => format!("{UPPER}{LOWER}"),
        "numeric" => DIGITS.to_string(),
        "hex" => HEX.to_string(),
        "safe" => format!("{UPPER}{LOWER}{DIGITS}-_"),
        "symbols" => format!("{UPPER}{LOWER}{DIGITS}{SYMBOLS}"),
        _ => return None,
    })
}

impl Random {
    /// `length` characters of `charset` (a named one), nothing required.
    pub fn of(charset: &str, length: usize) -> Self {
        Random {
            length,
            alphabet: named_charset(charset).unwrap_or_default().chars().collect(),
            require: Vec::new(),
        }
    }

    /// The `random` generator's config.
    pub fn parse(c: &mut Config<'_>) -> Option<Self> {
        let length = c.int("length", 1..=MAX_LENGTH, 32);
        let charset = c.one_of(
            "charset",
            &[
                "alphanumeric",
                "alpha",
                "numeric",
                "hex",
                "safe",
                "symbols",
                "custom",
            ],
        );
        let alphabet: Option<Vec<char>> = match charset {
            Some("custom") => custom_chars(c),
            Some(name) => {
                if c.raw("chars").is_some() {
                    c.problem("chars", "is only read with charset custom");
                }
                named_charset(name).map(|s| s.chars().collect())
            }
            None => {
                c.raw("chars");
                None
            }
        };
        let mut require = Vec::new();
        for class in [Class::Upper, Class::Lower, Class::Digit, Class::Symbol] {
            if c.flag(class.setting()) {
                match &alphabet {
                    Some(a) if !a.iter().any(|ch| class.holds(*ch)) => c.problem(
                        class.setting(),
                        format!("the charset has no {}", class.what()),
                    ),
                    _ => require.push(class),
                }
            }
        }
        let length = length? as usize;
        if require.len() > length {
            c.problem("length", "is shorter than the number of required classes");
            return None;
        }
        Some(Random {
            length,
            alphabet: alphabet?,
            require,
        })
    }

    /// A fresh string.
    pub fn generate(&self) -> String {
        let mut rng = os_rng();
        let mut out: Vec<char> = Vec::with_capacity(self.length);
        for class in &self.require {
            let members: Vec<char> = self
                .alphabet
                .iter()
                .copied()
                .filter(|c| class.holds(*c))
                .collect();
            if let Some(c) = members.choose(&mut rng) {
                out.push(*c);
            }
        }
        while out.len() < self.length {
            if self.alphabet.is_empty() {
                break;
            }
            out.push(self.alphabet[rng.random_range(0..self.alphabet.len())]);
        }
        // The required characters go anywhere, not only at the start.
        out.shuffle(&mut rng);
        out.into_iter().collect()
    }
}

/// The `chars` of a custom charset: 1 to 256 distinct characters, none a control character
/// (duplicates would make some characters likelier).
fn custom_chars(c: &mut Config<'_>) -> Option<Vec<char>> {
    let Some(raw) = c.raw("chars") else {
        c.problem("chars", "is required with charset custom");
        return None;
    };
    let mut chars: Vec<char> = match raw.as_str() {
        Some(s) if !s.is_empty() && !s.chars().any(char::is_control) => s.chars().collect(),
        _ => {
            c.problem(
                "chars",
                "must be a non-empty string without control characters",
            );
            return None;
        }
    };
    chars.sort_unstable();
    chars.dedup();
    if chars.len() > MAX_CUSTOM {
        c.problem(
            "chars",
            format!("must list at most {MAX_CUSTOM} distinct characters"),
        );
        return None;
    }
    Some(chars)
}

/// The `hex` generator's config: `length` lower-case hex digits.
pub fn parse_hex(c: &mut Config<'_>) -> Option<Random> {
    let length = c.int("length", 1..=MAX_LENGTH, 32)?;
    Some(Random::of("hex", length as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parse(config: Value) -> Result<Random, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let map = config.as_object().cloned().unwrap_or_default();
        let mut c = Config::new(&map, "f".into(), &mut problems);
        let r = Random::parse(&mut c);
        c.finish("random");
        match r {
            Some(r) if problems.is_empty() => Ok(r),
            _ => Err(problems),
        }
    }

    #[test]
    fn every_charset_and_requirement_holds_over_many_samples() {
        for (charset, allowed) in [
            ("alphanumeric", format!("{UPPER}{LOWER}{DIGITS}")),
            ("alpha", format!("{UPPER}{LOWER}")),
            ("numeric", DIGITS.to_string()),
            ("hex", HEX.to_string()),
            ("safe", format!("{UPPER}{LOWER}{DIGITS}-_")),
            ("symbols", format!("{UPPER}{LOWER}{DIGITS}{SYMBOLS}")),
        ] {
            let r = parse(json!({"charset": charset, "length": 12})).expect(charset);
            for _ in 0..500 {
                let s = r.generate();
                assert_eq!(s.chars().count(), 12, "{charset}");
                assert!(s.chars().all(|c| allowed.contains(c)), "{charset}: {s}");
            }
        }
        // Short strings make a missing class likely if the guarantee did not hold.
        let r = parse(
            json!({"charset": "symbols", "length": 4, "require_upper": true,
            "require_lower": true, "require_digit": true, "require_symbol": true}),
        )
        .expect("valid");
        for _ in 0..500 {
            let s = r.generate();
            assert_eq!(s.chars().count(), 4);
            assert!(s.chars().any(|c| c.is_ascii_uppercase()), "{s}");
            assert!(s.chars().any(|c| c.is_ascii_lowercase()), "{s}");
            assert!(s.chars().any(|c| c.is_ascii_digit()), "{s}");
            assert!(s.chars().any(|c| SYMBOLS.contains(c)), "{s}");
        }
    }

    #[test]
    fn the_required_characters_are_not_always_first() {
        let r = parse(json!({"charset": "alphanumeric", "length": 8, "require_digit": true}))
            .expect("valid");
        let first_is_digit = (0..200)
            .filter(|_| r.generate().starts_with(|c: char| c.is_ascii_digit()))
            .count();
        assert!(first_is_digit < 200);
    }

    #[test]
    fn custom_charsets_use_only_their_characters() {
        let r = parse(json!({"charset": "custom", "chars": "ab!ab", "length": 64,
            "require_symbol": true}))
        .expect("valid");
        assert_eq!(r.alphabet, vec!['!', 'a', 'b']);
        for _ in 0..500 {
            let s = r.generate();
            assert!(s.chars().all(|c| "ab!".contains(c)));
            assert!(s.contains('!'));
        }
    }

    #[test]
    fn defaults_are_32_alphanumeric() {
        let r = parse(json!({})).expect("valid");
        let s = r.generate();
        assert_eq!(s.len(), 32);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn bad_configs_name_the_setting() {
        let fields = |v: Value| -> Vec<String> {
            parse(v)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.0)
                .collect()
        };
        assert_eq!(fields(json!({"length": 0})), ["f.length"]);
        assert_eq!(fields(json!({"length": 1025})), ["f.length"]);
        assert_eq!(fields(json!({"length": "x"})), ["f.length"]);
        assert_eq!(fields(json!({"charset": "emoji"})), ["f.charset"]);
        assert_eq!(fields(json!({"charset": "custom"})), ["f.chars"]);
        assert_eq!(
            fields(json!({"charset": "numeric", "require_upper": true})),
            ["f.require_upper"]
        );
        assert_eq!(
            fields(json!({"require_symbol": "yes"})),
            ["f.require_symbol"]
        );
        assert_eq!(
            fields(json!({"length": 1, "require_upper": true, "require_digit": true})),
            ["f.length"]
        );
        assert_eq!(fields(json!({"lenght": 5})), ["f.lenght"]);
        assert_eq!(fields(json!({"chars": "abc"})), ["f.chars"]);
    }
}
