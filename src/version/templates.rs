//! Tag templates of `[tags]`, such as `"{major}.{minor}-stable"`: parsed once, rendered with the
//! values of a run. `{{` and `}}` stand for literal braces.

use crate::config::TagsSection;
use crate::error::{Error, Result};

/// The variables a template may use.
pub const VARIABLES: [&str; 7] = [
    "version", "major", "minor", "patch", "sha", "branch", "channel",
];

/// The values of the variables for one run.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// The version without build metadata.
    pub version: String,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The first 7 hex of the commit, as in the candidate tag.
    pub sha: String,
    /// The branch slug; empty when detached.
    pub branch: String,
    pub channel: String,
}

impl Values {
    fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "version" => self.version.clone(),
            "major" => self.major.to_string(),
            "minor" => self.minor.to_string(),
            "patch" => self.patch.to_string(),
            "sha" => self.sha.clone(),
            "branch" => self.branch.clone(),
            "channel" => self.channel.clone(),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Variable(&'a str),
}

/// Splits a template into text and variables; an unknown variable or a stray brace is an
/// input error naming the template.
fn parse(template: &str) -> Result<Vec<Piece<'_>>> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + 1..];
        if rest[at..].starts_with("{{") || rest[at..].starts_with("}}") {
            pieces.push(Piece::Brace(rest.as_bytes()[at] as char));
            rest = &after[1..];
            continue;
        }
        if rest.as_bytes()[at] == b'}' {
            return Err(stray_brace(template));
        }
        let end = after.find('}').ok_or_else(|| stray_brace(template))?;
        let name = &after[..end];
        if !VARIABLES.contains(&name) {
            return Err(Error::input(format!(
                "tag template `{template}` uses unknown variable `{{{name}}}`"
            ))
            .with_hint(format!("use one of {}", variable_list())));
        }
        pieces.push(Piece::Variable(name));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

fn stray_brace(template: &str) -> Error {
    Error::input(format!("tag template `{template}` has an unmatched brace"))
        .with_hint("write a variable as {name}, and a literal brace as {{ or }}")
}

fn variable_list() -> String {
    VARIABLES
        .iter()
        .map(|v| format!("{{{v}}}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders one template with the values of a run.
pub fn render(template: &str, values: &Values) -> Result<String> {
    let mut out = String::new();
    for piece in parse(template)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Brace(c) => out.push(c),
            Piece::Variable(name) => {
                out.push_str(&values.get(name).expect("parse admits known variables only"))
            }
        }
    }
    Ok(out)
}

/// Checks every template of `[tags]` without rendering, so a typo is reported when the pipeline
/// file is loaded rather than after a build.
pub fn check_templates(tags: &TagsSection) -> Result<()> {
    for template in tags.candidate.iter().chain(&tags.promote) {
        parse(template)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            version: "1.5.0-dev.7".into(),
            major: 1,
            minor: 5,
            patch: 0,
            sha: "abc1234".into(),
            branch: "main".into(),
            channel: "dev".into(),
        }
    }

    #[test]
    fn every_variable_renders() {
        let rendered = render(
            "{version}|{major}.{minor}.{patch}|{sha}|{branch}|{channel}",
            &values(),
        )
        .unwrap();
        assert_eq!(rendered, "1.5.0-dev.7|1.5.0|abc1234|main|dev");
    }

    #[test]
    fn doubled_braces_are_literal() {
        assert_eq!(render("{{x}}-{major}", &values()).unwrap(), "{x}-1");
    }

    #[test]
    fn unknown_variables_are_named() {
        let err = render("{major}-{flavour}", &values()).unwrap_err();
        assert!(err.message().contains("`{flavour}`"), "{}", err.message());
        assert!(err.hint().unwrap().contains("{channel}"));
    }

    #[test]
    fn stray_braces_are_errors() {
        for template in ["{major", "major}", "{"] {
            assert!(render(template, &values()).is_err(), "{template}");
        }
    }

    #[test]
    fn templates_are_checked_without_values() {
        let ok = TagsSection {
            candidate: vec!["{sha}-{channel}".into()],
            promote: vec!["{major}.{minor}-stable".into()],
        };
        assert!(check_templates(&ok).is_ok());
        let bad = TagsSection {
            candidate: vec![],
            promote: vec!["{majr}".into()],
        };
        assert!(
            check_templates(&bad)
                .unwrap_err()
                .message()
                .contains("{majr}")
        );
    }
}
