//! `${VAR}` in pipeline files: expanded from the environment inside string values only, so a
//! comment that mentions `${VAR}` needs nothing set. A missing variable is an error, never an
//! empty string. `$${` writes a literal `${`. Any other `${` is an error, so that shell forms
//! such as `${VAR:-default}` or an unclosed `${VAR` never reach the build as literal text.

use super::Location;

/// A `${` that cannot be expanded, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unexpandable {
    pub problem: Problem,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `${NAME}` with `NAME` not set.
    Unset(String),
    /// `${` not followed by a plain name and `}`; holds what follows, up to a `}` or the line's end.
    Malformed(String),
    /// The value of `NAME` cannot go in a 'literal' string.
    NeedsBasicString(String),
}

impl Unexpandable {
    pub fn message(&self) -> String {
        match &self.problem {
            Problem::Unset(name) => format!("environment variable {name} is not set"),
            Problem::Malformed(text) => format!(
                "`{text}` is not a variable: only ${{NAME}} is expanded, with NAME of letters, \
                 digits and _"
            ),
            Problem::NeedsBasicString(name) => format!(
                "the value of {name} has a quote or a newline, which a 'literal' string cannot hold"
            ),
        }
    }

    pub fn hint(&self) -> String {
        match &self.problem {
            Problem::Unset(name) => {
                format!("set {name} in the environment, or write the value in the file")
            }
            Problem::Malformed(_) => "write ${NAME}, or $${ for a literal ${".to_owned(),
            Problem::NeedsBasicString(name) => {
                format!("put ${{{name}}} in a \"double-quoted\" string")
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    Basic,
    Literal,
}

/// Where the scanner is: outside any string, or inside one of the four TOML string forms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Outside,
    Comment,
    Inside { quote: Quote, multiline: bool },
}

/// Expands every `${NAME}` inside TOML strings, escaping values for the string they land in.
pub fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, Unexpandable> {
    let mut out = String::with_capacity(text.len());
    let mut state = State::Outside;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let offset = text.len() - rest.len();
        let mut step = c.len_utf8();
        match state {
            State::Comment if c == '\n' => state = State::Outside,
            State::Comment => {}
            State::Outside => match c {
                '#' => state = State::Comment,
                '"' | '\'' => {
                    let quote = if c == '"' {
                        Quote::Basic
                    } else {
                        Quote::Literal
                    };
                    let multiline = rest.starts_with(if c == '"' { "\"\"\"" } else { "\'\'\'" });
                    if multiline {
                        step = 3;
                    }
                    state = State::Inside { quote, multiline };
                }
                _ => {}
            },
            State::Inside { quote, multiline } => {
                let closer = if quote == Quote::Basic { '"' } else { '\'' };
                if quote == Quote::Basic && c == '\\' {
                    step += rest[1..].chars().next().map_or(0, char::len_utf8);
                } else if c == closer && !multiline {
                    state = State::Outside;
                } else if c == closer
                    && rest.starts_with(if c == '"' { "\"\"\"" } else { "\'\'\'" })
                {
                    step = 3;
                    state = State::Outside;
                } else if c == '\n' && !multiline {
                    state = State::Outside;
                } else if rest.starts_with("$${") {
                    out.push_str("${");
                    rest = &rest[3..];
                    continue;
                } else if rest.starts_with("${") {
                    let fail = |problem| Unexpandable {
                        problem,
                        at: Location::of(text, offset),
                    };
                    let name = variable_at(rest).ok_or_else(|| {
                        let line = rest.lines().next().unwrap_or(rest);
                        let shown = line.find('}').map_or(line, |end| &line[..=end]);
                        fail(Problem::Malformed(shown.to_owned()))
                    })?;
                    let value = lookup(name).ok_or_else(|| fail(Problem::Unset(name.into())))?;
                    if quote == Quote::Literal && value.contains(['\'', '\n']) {
                        return Err(fail(Problem::NeedsBasicString(name.into())));
                    }
                    push_escaped(&mut out, &value, quote);
                    rest = &rest[name.len() + 3..];
                    continue;
                }
            }
        }
        out.push_str(&rest[..step]);
        rest = &rest[step..];
    }
    Ok(out)
}

/// The variable name of a `${NAME}` at the start of `rest`, if there is one.
fn variable_at(rest: &str) -> Option<&str> {
    let body = rest.strip_prefix("${")?;
    let name = &body[..body.find('}')?];
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

fn push_escaped(out: &mut String, value: &str, quote: Quote) {
    match quote {
        Quote::Basic => {
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
                    c => out.push(c),
                }
            }
        }
        Quote::Literal => out.push_str(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "ROLE" => Some("arn:aws:iam::1:role/ci".into()),
            "QUOTED" => Some("a\"b\\c".into()),
            "APOSTROPHE" => Some("it's".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_inside_strings_only() {
        let text = "# ${NOT_SET} in a comment\nrole = \"${ROLE}\"\n";
        let out = expand(text, env).unwrap();
        assert_eq!(
            out,
            "# ${NOT_SET} in a comment\nrole = \"arn:aws:iam::1:role/ci\"\n"
        );
    }

    #[test]
    fn missing_variable_is_an_error_with_its_place() {
        let err = expand("a = 1\nrole-arn = \"${CI_ROLE}\"\n", env).unwrap_err();
        assert_eq!(err.problem, Problem::Unset("CI_ROLE".into()));
        assert_eq!((err.at.line, err.at.column), (2, 13));
    }

    #[test]
    fn values_are_escaped_for_basic_strings() {
        let out = expand("x = \"${QUOTED}\"", env).unwrap();
        let parsed: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(parsed["x"].as_str().unwrap(), "a\"b\\c");
    }

    #[test]
    fn shell_forms_and_unclosed_variables_are_errors() {
        let err = expand("x = \"a ${FOO:-x} b\"", env).unwrap_err();
        assert_eq!(err.problem, Problem::Malformed("${FOO:-x}".into()));
        assert_eq!((err.at.line, err.at.column), (1, 8));
        let err = expand("y = \"${BAR\"\nz = 1", env).unwrap_err();
        assert_eq!(err.problem, Problem::Malformed("${BAR\"".into()));
        assert!(err.hint().contains("$${"), "{}", err.hint());
    }

    #[test]
    fn a_value_with_a_quote_needs_a_basic_string() {
        let err = expand("x = '${APOSTROPHE}'", env).unwrap_err();
        assert_eq!(err.problem, Problem::NeedsBasicString("APOSTROPHE".into()));
        assert!(err.hint().contains("double-quoted"));
    }

    #[test]
    fn double_dollar_writes_a_literal() {
        assert_eq!(expand("x = \"$${ROLE}\"", env).unwrap(), "x = \"${ROLE}\"");
    }

    #[test]
    fn multiline_and_escaped_quotes_keep_the_scanner_in_step() {
        let text = "a = \"\"\"\nx\"${ROLE}\n\"\"\"\nb = \"q\\\"${ROLE}\" # ${NOPE}\n";
        let out = expand(text, env).unwrap();
        let parsed: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(parsed["a"].as_str().unwrap(), "x\"arn:aws:iam::1:role/ci\n");
        assert_eq!(parsed["b"].as_str().unwrap(), "q\"arn:aws:iam::1:role/ci");
    }

    #[test]
    fn a_hash_inside_a_string_is_not_a_comment() {
        let out = expand("x = \"#${ROLE}\"", env).unwrap();
        assert_eq!(out, "x = \"#arn:aws:iam::1:role/ci\"");
    }
}
