//! The result of a promotion: every tag's decision, as a table for people, JSON for machines and
//! a Markdown table for the GitHub step summary.

use std::fmt::Write as _;

use serde::Serialize;

use super::Decision;
use crate::names::{Digest, Repository};
use crate::output::Report;

#[derive(Debug, Clone, Serialize)]
pub struct PromotionReport {
    pub digest: Digest,
    pub repository: Repository,
    pub decisions: Vec<Decision>,
}

/// The algorithm and the first 12 hex, enough to tell images apart in a table.
fn short(digest: &Digest) -> String {
    format!("{}:{}", digest.algorithm(), digest.short())
}

impl Report for PromotionReport {
    fn human(&self, out: &mut String) {
        let _ = writeln!(out, "promoted {} in {}", self.digest, self.repository);
        let rows: Vec<[String; 4]> = self
            .decisions
            .iter()
            .map(|d| {
                [
                    d.tag.to_string(),
                    d.action.as_str().to_owned(),
                    d.previous.as_ref().map_or("-".to_owned(), short),
                    d.reason.clone(),
                ]
            })
            .collect();
        let header = ["TAG", "ACTION", "PREVIOUS", "REASON"].map(str::to_owned);
        let width = |i: usize| {
            rows.iter()
                .chain([&header])
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths = [width(0), width(1), width(2)];
        for row in [&header].into_iter().chain(&rows) {
            let _ = writeln!(
                out,
                "  {:w0$}  {:w1$}  {:w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
        }
    }

    fn markdown(&self) -> Option<String> {
        let mut md = format!(
            "### Promotion of `{}` in `{}`\n\n| tag | action | previous | reason |\n|---|---|---|---|\n",
            self.digest, self.repository
        );
        for d in &self.decisions {
            let previous = d
                .previous
                .as_ref()
                .map_or("".to_owned(), |p| format!("`{}`", short(p)));
            let _ = writeln!(
                md,
                "| `{}` | {} | {previous} | {} |",
                d.tag,
                d.action.as_str(),
                d.reason.replace('|', "\\|")
            );
        }
        Some(md)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promote::Action;

    fn report() -> PromotionReport {
        let digest = |c: char| -> Digest {
            format!("sha256:{}", c.to_string().repeat(64))
                .parse()
                .unwrap()
        };
        PromotionReport {
            digest: digest('b'),
            repository: "vitality-dev-app".parse().unwrap(),
            decisions: vec![
                Decision {
                    tag: "1.9.1".parse().unwrap(),
                    action: Action::Created,
                    previous: None,
                    reason: "new version tag".into(),
                },
                Decision {
                    tag: "latest".parse().unwrap(),
                    action: Action::Kept,
                    previous: Some(digest('a')),
                    reason: "`latest` is 2.0.1, higher than 1.9.1".into(),
                },
            ],
        }
    }

    #[test]
    fn json_has_one_entry_per_tag() {
        let json = serde_json::to_value(report()).unwrap();
        assert_eq!(json["repository"], "vitality-dev-app");
        assert_eq!(json["decisions"][0]["action"], "created");
        assert_eq!(json["decisions"][0]["previous"], serde_json::Value::Null);
        assert_eq!(json["decisions"][1]["tag"], "latest");
        assert_eq!(
            json["decisions"][1]["previous"],
            format!("sha256:{}", "a".repeat(64))
        );
        let keys: Vec<&String> = json["decisions"][1].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
    }

    #[test]
    fn the_table_lines_up() {
        let mut text = String::new();
        report().human(&mut text);
        let expected = format!(
            "promoted sha256:{b} in vitality-dev-app\n\
             \x20 TAG     ACTION   PREVIOUS             REASON\n\
             \x20 1.9.1   created  -                    new version tag\n\
             \x20 latest  kept     sha256:aaaaaaaaaaaa  `latest` is 2.0.1, higher than 1.9.1\n",
            b = "b".repeat(64)
        );
        assert_eq!(text, expected);
    }
}
