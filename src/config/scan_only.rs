//! The `[scan]` table alone, for judging a saved scan offline: a policy file needs no other
//! table, and the variables of other tables need not be set where the gate runs.

use std::path::Path;

use super::{Pipeline, ScanSection};
use crate::error::{Error, Result};

/// The `[scan]` table of a pipeline file, checked as in the whole file. The other tables are
/// blanked (their lines kept, so places in messages stay right) and a stand-in `[registry]` is
/// appended, so a file that is only a policy, or whose other tables use variables that are not
/// set here, still reads.
pub(super) fn load(path: &Path) -> Result<ScanSection> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input(format!("cannot read pipeline file {}: {e}", path.display()))
            .with_hint("pass an existing file with -p, or leave -p out to use the default policy")
    })?;
    let mut kept = only_scan_tables(&text);
    kept.push_str("\n[registry]\nregion = \"us-east-1\"\nrepository = \"offline\"\n");
    let pipeline = Pipeline::parse(path, &kept, |name| std::env::var(name).ok())?;
    Ok(pipeline.file.scan)
}

fn only_scan_tables(text: &str) -> String {
    let mut in_scan = false;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if let Some(table) = table_header(line) {
            in_scan = table == "scan" || table.starts_with("scan.");
        }
        if in_scan {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The table a `[table]` or `[[table]]` header line opens.
pub(super) fn table_header(line: &str) -> Option<String> {
    let line = line.split('#').next().unwrap_or_default().trim();
    let inner = line
        .strip_prefix("[[")
        .and_then(|l| l.strip_suffix("]]"))
        .or_else(|| line.strip_prefix('[').and_then(|l| l.strip_suffix(']')))?;
    let key: String = inner
        .split('.')
        .map(|part| part.trim().trim_matches('"'))
        .collect::<Vec<_>>()
        .join(".");
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ');
    (!key.is_empty() && key.chars().all(bare)).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_scan_tables_are_kept_in_place() {
        let text = "[registry]\nregion = \"${UNSET_REGION}\"\n\n[scan]\nfail-on = \"low\"\n\
                    \n[[scan.ignore]]\nid = \"CVE-1\"\n[promote] # comment\nlatest = \"never\"\n";
        let kept = only_scan_tables(text);
        assert_eq!(kept.lines().count(), text.lines().count());
        assert_eq!(
            kept,
            "\n\n\n[scan]\nfail-on = \"low\"\n\n[[scan.ignore]]\nid = \"CVE-1\"\n\n\n"
        );
    }

    #[test]
    fn a_policy_only_file_reads_and_keeps_error_places() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        let text =
            "[registry]\naccount = \"${UNSET_ACCOUNT_FOR_TEST}\"\n[scan]\nfail-on = \"low\"\n";
        std::fs::write(&path, text).unwrap();
        let scan = load(&path).unwrap();
        assert_eq!(scan.fail_on, crate::gate::severity::FailOn::Low);
        std::fs::write(&path, "# policy\n[scan]\nfail_on = \"high\"\n").unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.message().contains("policy.toml:3:1"), "{err:?}");
        assert_eq!(err.hint(), Some("did you mean `fail-on`?"));
    }
}
