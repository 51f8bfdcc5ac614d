//! The pipeline file: read, `${VAR}`-expanded, parsed and checked before anything runs.
//!
//! Every problem is reported with the file, line and column, and a near-miss key gets a
//! suggestion, because a typo in CI should cost one glance, not one failed release.

mod expand;
mod scan_only;
mod sections;

use std::path::{Path, PathBuf};

pub use sections::*;

use crate::error::{Error, Result};
use crate::names::Registry;

/// A place in a pipeline file, counted from 1 as editors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The line and column of a byte offset in `text`.
    pub fn of(text: &str, offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// A loaded, checked pipeline file and where it came from.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub path: PathBuf,
    pub file: PipelineFile,
}

impl Pipeline {
    /// Reads and checks a pipeline file, with `${VAR}` taken from the process environment.
    pub fn load(path: &Path) -> Result<Pipeline> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(format!("cannot read pipeline file {}: {e}", path.display()))
                .with_hint("pass an existing file with -p, such as -p pipelines/local.toml")
        })?;
        Pipeline::parse(path, &text, |name| std::env::var(name).ok())
    }

    /// Parses pipeline text; `path` is only used in messages.
    pub fn parse(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Pipeline> {
        let shown = path.display();
        let expanded = expand::expand(text, env).map_err(|err| {
            let at = err.at;
            let key = key_at(text, at);
            Error::input(format!(
                "{shown}:{}:{}: {key}: {}",
                at.line,
                at.column,
                err.message()
            ))
            .with_hint(err.hint())
        })?;
        let file: PipelineFile = toml::from_str(&expanded)
            .map_err(|e| describe_toml_error(&shown.to_string(), &expanded, &e))?;
        let pipeline = Pipeline {
            path: path.to_path_buf(),
            file,
        };
        pipeline.check()?;
        Ok(pipeline)
    }

    /// Only the `[scan]` table of a pipeline file, checked as in the whole file; the other
    /// tables are neither required nor expanded.
    pub fn load_scan(path: &Path) -> Result<ScanSection> {
        scan_only::load(path)
    }

    /// Rules that span more than one value.
    fn check(&self) -> Result<()> {
        let file = &self.file;
        let shown = self.path.display();
        if let Some(endpoint) = &file.registry.endpoint {
            Registry::parse(endpoint).map_err(|e| {
                Error::input(format!("{shown}: registry.endpoint: {e}"))
                    .with_hint("write the registry host as host[:port], such as 127.0.0.1:5055")
            })?;
        }
        let duration = file.auth.duration.0.as_secs();
        if !(900..=43200).contains(&duration) {
            return Err(Error::input(format!(
                "{shown}: auth.duration: {} is outside what STS allows",
                file.auth.duration
            ))
            .with_hint("use a duration from 15m to 12h"));
        }
        if file.auth.web_identity != WebIdentity::None && file.auth.role_arn.is_none() {
            return Err(Error::input(format!(
                "{shown}: auth.web-identity is set but auth.role-arn is missing"
            ))
            .with_hint("add role-arn = \"arn:aws:iam::<account>:role/<name>\" to [auth]"));
        }
        if let Err(e) = crate::version::check_templates(&file.tags) {
            let err = Error::input(format!("{shown}: tags: {}", e.message()));
            return Err(match e.hint() {
                Some(hint) => err.with_hint(hint),
                None => err,
            });
        }
        if file.scan.timeout.0.is_zero() {
            return Err(
                Error::input(format!("{shown}: scan.timeout: 0s would never wait"))
                    .with_hint("give the scan time to finish, such as timeout = \"10m\""),
            );
        }
        for entry in &file.scan.ignore {
            if entry.id.trim().is_empty() || entry.reason.trim().is_empty() {
                return Err(Error::input(format!(
                    "{shown}: scan.ignore: every entry needs an id and a reason"
                ))
                .with_hint("write why the finding is accepted in reason = \"...\""));
            }
        }
        Ok(())
    }

    /// The registry host: the endpoint override, else ECR's host for the account and region.
    /// `None` when neither an endpoint nor an account is known yet.
    pub fn registry(&self) -> Option<Registry> {
        let registry = &self.file.registry;
        match (&registry.endpoint, &registry.account) {
            (Some(endpoint), _) => Registry::parse(endpoint).ok(),
            (None, Some(account)) => {
                Some(Registry::ecr(account.as_str(), registry.region.as_str()))
            }
            (None, None) => None,
        }
    }
}

/// Turns a TOML or schema error into one line with the place, plus a hint.
fn describe_toml_error(shown: &str, text: &str, err: &toml::de::Error) -> Error {
    let message = err.message().trim().to_owned();
    let Some(span) = err.span() else {
        return Error::input(format!("{shown}: {message}"))
            .with_hint("fix the pipeline file; DESIGN.md section 3 lists its tables");
    };
    let at = Location::of(text, span.start);
    let place = format!("{shown}:{}:{}", at.line, at.column);
    if let Some(unknown) = between_backticks(&message, "unknown field `") {
        let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[span.start..]
            .find('\n')
            .map_or(text.len(), |i| span.start + i);
        let opens_table = scan_only::table_header(&text[line_start..line_end]).is_some();
        let expected = backticked_after(&message, "expected");
        let qualified = match (opens_table, table_at(text, line_start)) {
            (true, _) => format!("table [{unknown}]"),
            (false, table) if table.is_empty() => format!("key {unknown}"),
            (false, table) => format!("key [{table}] {unknown}"),
        };
        let err = Error::input(format!("{place}: unknown {qualified}"));
        return match suggest(unknown, &expected) {
            Some(near) => err.with_hint(format!("did you mean `{near}`?")),
            None if !expected.is_empty() => {
                err.with_hint(format!("known keys: {}", expected.join(", ")))
            }
            None => err,
        };
    }
    if let Some(missing) = between_backticks(&message, "missing field `") {
        let line_end = text[span.start..]
            .find('\n')
            .map_or(text.len(), |i| span.start + i);
        let table = table_at(text, line_end);
        let key = if table.is_empty() {
            missing.to_owned()
        } else {
            format!("{table}.{missing}")
        };
        return Error::input(format!("{place}: {key} is required"))
            .with_hint(format!("add {missing} = ... to the file"));
    }
    let key = key_at(text, at);
    let first_line = message.lines().next().unwrap_or_default();
    let err = Error::input(format!("{place}: {key}: {first_line}"));
    // The message names what is wrong with the value; a hint only where there is a list to
    // choose from.
    match backticked_after(&message, "expected one of") {
        values if !values.is_empty() => err.with_hint(format!("use one of {}", values.join(", "))),
        _ => err,
    }
}

fn between_backticks<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let start = message.find(prefix)? + prefix.len();
    let end = message[start..].find('`')?;
    Some(&message[start..start + end])
}

fn backticked_after(message: &str, marker: &str) -> Vec<String> {
    let Some(pos) = message.find(marker) else {
        return Vec::new();
    };
    message[pos..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The closest known key to a mistyped one, when it is close enough to be a typo.
fn suggest(unknown: &str, known: &[String]) -> Option<String> {
    let folded = unknown.replace('_', "-").to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::levenshtein(&folded, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

/// The `[table]` header in force at a byte offset.
fn table_at(text: &str, offset: usize) -> String {
    text[..offset.min(text.len())]
        .lines()
        .rev()
        .find_map(scan_only::table_header)
        .unwrap_or_default()
}

/// `table.key` for the line a location is on, for messages.
fn key_at(text: &str, at: Location) -> String {
    let line = text.lines().nth(at.line - 1).unwrap_or_default();
    let key = line.split('=').next().unwrap_or_default().trim();
    let offset: usize = text.lines().take(at.line - 1).map(|l| l.len() + 1).sum();
    let table = table_at(text, offset);
    match (table.is_empty(), key.is_empty()) {
        (_, true) => table,
        (true, false) => key.to_owned(),
        (false, false) => format!("{table}.{key}"),
    }
}

#[cfg(test)]
mod tests;
