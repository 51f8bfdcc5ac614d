use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a finding is, in ECR's order: UNDEFINED < INFORMATIONAL < LOW < MEDIUM < HIGH <
/// CRITICAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Undefined,
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Undefined,
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Undefined => "UNDEFINED",
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl FromStr for Severity {
    type Err = String;

    /// Accepts ECR's spellings in any case; an unknown one is an error, never a guess.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown severity `{s}`"))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `fail-on` threshold: findings at or above it block, `none` never blocks on severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    None,
    Undefined,
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl FailOn {
    pub fn blocks(self, severity: Severity) -> bool {
        self.threshold().is_some_and(|t| severity >= t)
    }

    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::None => None,
            FailOn::Undefined => Some(Severity::Undefined),
            FailOn::Informational => Some(Severity::Informational),
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::Critical => Some(Severity::Critical),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_ecr() {
        assert!(Severity::Undefined < Severity::Informational);
        assert!(Severity::Medium < Severity::High && Severity::High < Severity::Critical);
        assert_eq!("high".parse::<Severity>().unwrap(), Severity::High);
    }

    #[test]
    fn fail_on_blocks_at_and_above_its_threshold() {
        assert!(FailOn::High.blocks(Severity::High));
        assert!(FailOn::High.blocks(Severity::Critical));
        assert!(!FailOn::High.blocks(Severity::Medium));
        assert!(!FailOn::None.blocks(Severity::Critical));
    }
}
