use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::NameError;

const MAX_LEN: usize = 128;
/// A cut name keeps this many characters, then `-` and 8 hex of a hash of the whole name.
const CUT_LEN: usize = 119;

/// An image tag that the registry accepts: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
///
/// The only ways to make one are a checked parse and [`ImageTag::sanitize`], so every tag that
/// reaches the registry is valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageTag(String);

impl ImageTag {
    /// Turns any name into a valid tag (DESIGN.md section 4, rule 10): runs of characters outside
    /// the grammar become `-`, leading `.` and `-` are dropped, and a name over 128 characters is
    /// cut to 119 and given `-` plus 8 hex of a hash of the whole name, so two long names that
    /// share a start never collide. Returns `None` when nothing usable is left.
    pub fn sanitize(name: &str) -> Option<ImageTag> {
        let mut out = String::with_capacity(name.len());
        let mut in_run = false;
        for c in name.chars() {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                out.push(c);
                in_run = false;
            } else if !in_run {
                out.push('-');
                in_run = true;
            }
        }
        let trimmed = out.trim_start_matches(['.', '-']);
        if trimmed.is_empty() {
            return None;
        }
        if trimmed.len() <= MAX_LEN {
            return Some(ImageTag(trimmed.to_owned()));
        }
        let hash = hex::encode(Sha256::digest(name.as_bytes()));
        Some(ImageTag(format!("{}-{}", &trimmed[..CUT_LEN], &hash[..8])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this tag names one exact version (`X.Y.Z`), which never moves once set.
    pub fn is_exact_version(&self) -> bool {
        let parts: Vec<&str> = self.0.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }
}

impl FromStr for ImageTag {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = s.bytes();
        let valid_first = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        let valid_rest =
            bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid_first || !valid_rest || s.len() > MAX_LEN {
            return Err(NameError(format!(
                "`{s}` is not a valid image tag: use up to 128 of A-Z a-z 0-9 _ . -, \
                 not starting with . or -"
            )));
        }
        Ok(ImageTag(s.to_owned()))
    }
}

impl TryFrom<String> for ImageTag {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ImageTag> for String {
    fn from(t: ImageTag) -> String {
        t.0
    }
}

impl fmt::Display for ImageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_replaces_runs_and_drops_leading_separators() {
        assert_eq!(
            ImageTag::sanitize("my/feature#1245").unwrap().as_str(),
            "my-feature-1245"
        );
        assert_eq!(ImageTag::sanitize("..-x").unwrap().as_str(), "x");
        assert_eq!(ImageTag::sanitize("a  +b").unwrap().as_str(), "a-b");
        assert!(ImageTag::sanitize("///").is_none());
    }

    #[test]
    fn long_names_are_cut_with_a_hash_of_the_whole_name() {
        let a = ImageTag::sanitize(&format!("{}a", "x".repeat(200))).unwrap();
        let b = ImageTag::sanitize(&format!("{}b", "x".repeat(200))).unwrap();
        assert_eq!(a.as_str().len(), 128);
        assert_ne!(a, b);
        assert!(a.as_str().parse::<ImageTag>().is_ok());
    }

    #[test]
    fn parse_checks_the_registry_grammar() {
        assert!("1.2.3".parse::<ImageTag>().is_ok());
        assert!("_x".parse::<ImageTag>().is_ok());
        assert!(".x".parse::<ImageTag>().is_err());
        assert!("a+b".parse::<ImageTag>().is_err());
        assert!("".parse::<ImageTag>().is_err());
        assert!("x".repeat(129).parse::<ImageTag>().is_err());
    }

    #[test]
    fn exact_versions_are_recognised() {
        assert!(ImageTag::sanitize("1.2.3").unwrap().is_exact_version());
        assert!(!ImageTag::sanitize("1.2").unwrap().is_exact_version());
        assert!(!ImageTag::sanitize("1.2.3-rc.1").unwrap().is_exact_version());
        assert!(!ImageTag::sanitize("latest").unwrap().is_exact_version());
    }
}
