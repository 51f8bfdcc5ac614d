//! The tables of a pipeline file, with their defaults. Values that name things parse into the
//! domain types here, so a bad value is reported at its line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::gate::severity::FailOn;
use crate::names::Repository;

/// A whole pipeline file: one image, where it goes, and the rules it must pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PipelineFile {
    #[serde(default)]
    pub image: ImageSection,
    pub registry: RegistrySection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub version: VersionSection,
    #[serde(default)]
    pub tags: TagsSection,
    #[serde(default)]
    pub scan: ScanSection,
    #[serde(default)]
    pub promote: PromoteSection,
}

/// `[image]`: what to build. Paths are relative to the directory the command runs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImageSection {
    #[serde(default = "default_context")]
    pub context: PathBuf,
    /// Relative to the context, as with `docker build -f`.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: PathBuf,
    pub target: Option<String>,
    pub platform: Option<String>,
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The `org.opencontainers.image.source` label; the git remote `origin` when unset.
    pub source: Option<String>,
}

fn default_context() -> PathBuf {
    PathBuf::from(".")
}

fn default_dockerfile() -> PathBuf {
    PathBuf::from("Dockerfile")
}

impl Default for ImageSection {
    fn default() -> Self {
        ImageSection {
            context: default_context(),
            dockerfile: default_dockerfile(),
            target: None,
            platform: None,
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            source: None,
        }
    }
}

/// `[registry]`: the ECR repository the image goes to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegistrySection {
    #[serde(default)]
    pub kind: RegistryKind,
    pub region: Region,
    /// The 12-digit account; when unset it is read from the caller's identity.
    pub account: Option<Account>,
    pub repository: Repository,
    /// A registry host to use instead of ECR's own (`host[:port]`, `http://` only on loopback).
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    #[default]
    Ecr,
}

/// An AWS region name such as `us-east-1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('-').collect();
        let shaped = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        if shaped {
            Ok(Region(s))
        } else {
            Err(format!("`{s}` is not an AWS region such as us-east-1"))
        }
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Account(String);

impl Account {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Account {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Account(s))
        } else {
            Err(format!(
                "`{s}` is not an AWS account id: expected 12 digits"
            ))
        }
    }
}

impl From<Account> for String {
    fn from(a: Account) -> String {
        a.0
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[auth]`: the CI push role and how the job proves who it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuthSection {
    /// The role to assume; without one, the chain's own credentials are used as they are.
    pub role_arn: Option<RoleArn>,
    pub session_name: Option<SessionName>,
    #[serde(default)]
    pub web_identity: WebIdentity,
    #[serde(default = "default_session_duration")]
    pub duration: Seconds,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            role_arn: None,
            session_name: None,
            web_identity: WebIdentity::default(),
            duration: default_session_duration(),
        }
    }
}

fn default_session_duration() -> Seconds {
    Seconds(Duration::from_secs(3600))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebIdentity {
    /// A GitHub Actions OIDC token, requested from the runner.
    Github,
    /// A token file named by `AWS_WEB_IDENTITY_TOKEN_FILE`.
    File,
    /// Plain `AssumeRole` with the chain's credentials.
    #[default]
    None,
}

/// An IAM role ARN: `arn:<partition>:iam::<12 digits>:role/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleArn(String);

impl RoleArn {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RoleArn {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "iam"
            && parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && parts[5]
                .strip_prefix("role/")
                .is_some_and(|name| !name.is_empty());
        if ok {
            Ok(RoleArn(s))
        } else {
            Err(format!(
                "`{s}` is not an IAM role ARN such as arn:aws:iam::123456789012:role/ci-push"
            ))
        }
    }
}

impl From<RoleArn> for String {
    fn from(r: RoleArn) -> String {
        r.0
    }
}

/// An STS session name: 2 to 64 characters of `[A-Za-z0-9_+=,.@-]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionName(String);

impl SessionName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Makes a valid session name from any text, such as a GitHub run id and repository.
    pub fn sanitize(raw: &str) -> SessionName {
        let mut name: String = raw
            .chars()
            .map(|c| if SessionName::allowed(c) { c } else { '-' })
            .take(64)
            .collect();
        while name.len() < 2 {
            name.push('-');
        }
        SessionName(name)
    }

    fn allowed(c: char) -> bool {
        c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
    }
}

impl TryFrom<String> for SessionName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if (2..=64).contains(&s.len()) && s.chars().all(SessionName::allowed) {
            Ok(SessionName(s))
        } else {
            Err(format!(
                "session name `{s}` must be 2 to 64 characters of A-Z a-z 0-9 _ + = , . @ -"
            ))
        }
    }
}

impl From<SessionName> for String {
    fn from(s: SessionName) -> String {
        s.0
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[version]`: how release tags are named and how the next version is found.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VersionSection {
    #[serde(default = "default_tag_prefix")]
    pub tag_prefix: String,
    #[serde(default = "default_initial")]
    pub initial: semver::Version,
    #[serde(default)]
    pub bump: BumpMode,
    #[serde(default = "default_branch")]
    pub default_branch: String,
}

fn default_tag_prefix() -> String {
    "v".into()
}

fn default_initial() -> semver::Version {
    semver::Version::new(0, 1, 0)
}

fn default_branch() -> String {
    "main".into()
}

impl Default for VersionSection {
    fn default() -> Self {
        VersionSection {
            tag_prefix: default_tag_prefix(),
            initial: default_initial(),
            bump: BumpMode::default(),
            default_branch: default_branch(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BumpMode {
    /// Conventional Commits decide major, minor or patch.
    #[default]
    Conventional,
    /// Every untagged commit is the next patch.
    Patch,
}

/// `[tags]`: extra tag templates, such as `"{major}.{minor}-stable"` or `"{channel}"`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TagsSection {
    #[serde(default)]
    pub candidate: Vec<String>,
    #[serde(default)]
    pub promote: Vec<String>,
}

/// `[scan]`: the gate's policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScanSection {
    #[serde(default = "default_fail_on")]
    pub fail_on: FailOn,
    pub max_cvss: Option<Cvss>,
    #[serde(default)]
    pub fixed_only: bool,
    #[serde(default)]
    pub on_unsupported: OnUnsupported,
    #[serde(default = "default_scan_timeout")]
    pub timeout: Seconds,
    /// How long a missing scan is waited for after the push before scan on push is called off.
    #[serde(default = "default_start_grace")]
    pub start_grace: Seconds,
    #[serde(default)]
    pub ignore: Vec<IgnoreEntry>,
}

fn default_fail_on() -> FailOn {
    FailOn::High
}

fn default_scan_timeout() -> Seconds {
    Seconds(Duration::from_secs(600))
}

fn default_start_grace() -> Seconds {
    Seconds(Duration::from_secs(60))
}

impl Default for ScanSection {
    fn default() -> Self {
        ScanSection {
            fail_on: default_fail_on(),
            max_cvss: None,
            fixed_only: false,
            on_unsupported: OnUnsupported::default(),
            timeout: default_scan_timeout(),
            start_grace: default_start_grace(),
            ignore: Vec::new(),
        }
    }
}

/// A CVSS score limit between 0 and 10: findings scored above it block.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Cvss(f64);

impl Cvss {
    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Cvss {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if (0.0..=10.0).contains(&v) {
            Ok(Cvss(v))
        } else {
            Err(format!("max-cvss {v} is outside 0.0 to 10.0"))
        }
    }
}

impl From<Cvss> for f64 {
    fn from(c: Cvss) -> f64 {
        c.0
    }
}

/// What a scan that could not look at the image (`FAILED`, `UNSUPPORTED_IMAGE`) means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnsupported {
    #[default]
    Fail,
    /// Pass, with a warning in the report.
    Pass,
}

/// A finding the team decided to accept for a while.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IgnoreEntry {
    pub id: String,
    pub reason: String,
    pub expires: Day,
}

/// A calendar day, written `2027-01-31` (a TOML date or a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "DayInput", into = "String")]
pub struct Day(pub time::Date);

#[derive(Deserialize)]
#[serde(untagged)]
enum DayInput {
    Toml(toml::value::Datetime),
    Text(String),
}

impl TryFrom<DayInput> for Day {
    type Error = String;
    fn try_from(input: DayInput) -> Result<Self, String> {
        let text = match input {
            DayInput::Toml(dt) if dt.time.is_none() => dt.to_string(),
            DayInput::Toml(dt) => {
                return Err(format!(
                    "`{dt}` has a time; write the day alone, such as 2027-01-31"
                ));
            }
            DayInput::Text(s) => s,
        };
        text.parse()
    }
}

impl FromStr for Day {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(s, format)
            .map(Day)
            .map_err(|_| format!("`{s}` is not a day: write it as YYYY-MM-DD, such as 2027-01-31"))
    }
}

impl From<Day> for String {
    fn from(d: Day) -> String {
        d.to_string()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }
}

/// `[promote]`: how release tags move.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PromoteSection {
    #[serde(default)]
    pub latest: LatestPolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LatestPolicy {
    /// `latest` only moves to a higher version than the one it points at.
    #[default]
    Monotonic,
    /// `latest` is never set.
    Never,
}

/// A duration written `90s`, `10m`, `1h` or as a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SecondsInput", into = "String")]
pub struct Seconds(pub Duration);

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "not a duration: write it as \"90s\", \"10m\" or \"1h\", or a number of seconds"
)]
enum SecondsInput {
    Number(u64),
    Text(String),
}

impl TryFrom<SecondsInput> for Seconds {
    type Error = String;
    fn try_from(input: SecondsInput) -> Result<Self, String> {
        match input {
            SecondsInput::Number(n) => Ok(Seconds(Duration::from_secs(n))),
            SecondsInput::Text(s) => s.parse(),
        }
    }
}

impl FromStr for Seconds {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a duration: write it as 90s, 10m or 1h");
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let n: u64 = number.parse().map_err(|_| bad())?;
        let factor = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => return Err(bad()),
        };
        let secs = n.checked_mul(factor).ok_or_else(bad)?;
        Ok(Seconds(Duration::from_secs(secs)))
    }
}

impl From<Seconds> for String {
    fn from(s: Seconds) -> String {
        s.to_string()
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        match secs {
            s if s > 0 && s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s > 0 && s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}
