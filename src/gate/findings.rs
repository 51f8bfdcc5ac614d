//! What a scan says: ECR's `DescribeImageScanFindings` answer, read from the SDK or from a file
//! saved with the AWS CLI, turned into one [`ScanResponse`] whose basic and enhanced findings
//! are the same [`Finding`] type, so the policy never has to know which scanner spoke.

use std::fmt;

use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput;
use aws_sdk_ecr::types::{EnhancedImageScanFinding, ImageScanFinding};
use serde::{Deserialize, Serialize};

use super::severity::Severity;
use crate::names::Digest;

/// One vulnerability in one package of the image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The vulnerability id, such as `CVE-2026-10231`.
    pub id: String,
    pub severity: Severity,
    pub package: String,
    pub installed_version: String,
    /// The first version without the vulnerability, when the scanner knows one.
    pub fixed_version: Option<String>,
    /// The CVSS base score, when the scanner gives one.
    pub score: Option<f64>,
    /// Whether a fix exists: `None` when the scanner does not say (basic scanning never does).
    pub fix_available: Option<bool>,
}

impl Finding {
    /// Whether upgrading can remove this finding, which `fixed-only` requires for it to block.
    pub fn has_fix(&self) -> bool {
        self.fix_available == Some(true)
    }

    fn sort_key(&self) -> (std::cmp::Reverse<Severity>, &str, &str, &str) {
        (
            std::cmp::Reverse(self.severity),
            &self.id,
            &self.package,
            &self.installed_version,
        )
    }
}

/// ECR's scan status. Unknown names are kept, so a message can name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStatus {
    Pending,
    InProgress,
    Complete,
    Active,
    Failed,
    UnsupportedImage,
    Other(String),
}

impl ScanStatus {
    pub fn parse(name: &str) -> ScanStatus {
        match name {
            "PENDING" => ScanStatus::Pending,
            "IN_PROGRESS" => ScanStatus::InProgress,
            "COMPLETE" => ScanStatus::Complete,
            "ACTIVE" => ScanStatus::Active,
            "FAILED" => ScanStatus::Failed,
            "UNSUPPORTED_IMAGE" => ScanStatus::UnsupportedImage,
            other => ScanStatus::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ScanStatus::Pending => "PENDING",
            ScanStatus::InProgress => "IN_PROGRESS",
            ScanStatus::Complete => "COMPLETE",
            ScanStatus::Active => "ACTIVE",
            ScanStatus::Failed => "FAILED",
            ScanStatus::UnsupportedImage => "UNSUPPORTED_IMAGE",
            ScanStatus::Other(name) => name,
        }
    }

    /// The scan is still to come: waiting is the only thing to do.
    pub fn is_running(&self) -> bool {
        matches!(self, ScanStatus::Pending | ScanStatus::InProgress)
    }

    /// The scan finished and its findings can be judged.
    pub fn has_findings(&self) -> bool {
        matches!(self, ScanStatus::Complete | ScanStatus::Active)
    }

    /// The scanner could not look at the image; `on-unsupported` decides.
    pub fn is_unusable(&self) -> bool {
        matches!(self, ScanStatus::Failed | ScanStatus::UnsupportedImage)
    }
}

impl fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One whole `DescribeImageScanFindings` answer, every page merged.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanResponse {
    pub status: ScanStatus,
    pub description: Option<String>,
    /// Sorted most severe first, so two reads of the same scan compare equal.
    pub findings: Vec<Finding>,
    /// The findings came from enhanced scanning (Amazon Inspector), which keeps adding them for
    /// a while after the status turns final.
    pub enhanced: bool,
    pub repository: Option<String>,
    pub digest: Option<Digest>,
}

impl ScanResponse {
    /// Merges the pages of one SDK answer; the status is the first page's.
    pub fn from_sdk_pages(pages: &[DescribeImageScanFindingsOutput]) -> ScanResponse {
        let first = pages.first();
        let status = first.and_then(|p| p.image_scan_status());
        let mut findings = Vec::new();
        let mut enhanced = false;
        for found in pages.iter().filter_map(|p| p.image_scan_findings()) {
            findings.extend(found.findings().iter().map(basic_from_sdk));
            enhanced |= found.enhanced_findings.is_some();
            for finding in found.enhanced_findings() {
                findings.extend(enhanced_from_sdk(finding));
            }
        }
        let status = ScanStatus::parse(
            status
                .and_then(|s| s.status())
                .map_or("", |status| status.as_str()),
        );
        ScanResponse::new(
            status,
            first
                .and_then(|p| p.image_scan_status())
                .and_then(|s| s.description())
                .map(str::to_owned),
            findings,
            enhanced,
            first.and_then(|p| p.repository_name()).map(str::to_owned),
            first
                .and_then(|p| p.image_id())
                .and_then(|id| id.image_digest())
                .and_then(|d| d.parse().ok()),
        )
    }

    /// Reads a saved answer as `aws ecr describe-image-scan-findings` prints it.
    pub fn from_cli_json(text: &str) -> Result<ScanResponse, serde_json::Error> {
        let doc: wire::Response = serde_json::from_str(text)?;
        let found = doc.image_scan_findings.unwrap_or_default();
        let enhanced = found.enhanced_findings.is_some();
        let mut findings: Vec<Finding> = found
            .findings
            .unwrap_or_default()
            .iter()
            .map(wire::BasicFinding::to_finding)
            .collect();
        for finding in found.enhanced_findings.unwrap_or_default() {
            findings.extend(finding.to_findings());
        }
        let status = doc.image_scan_status;
        Ok(ScanResponse::new(
            ScanStatus::parse(status.status.as_deref().unwrap_or("")),
            status.description,
            findings,
            enhanced,
            doc.repository_name,
            doc.image_id.and_then(|id| id.image_digest?.parse().ok()),
        ))
    }

    fn new(
        status: ScanStatus,
        description: Option<String>,
        mut findings: Vec<Finding>,
        enhanced: bool,
        repository: Option<String>,
        digest: Option<Digest>,
    ) -> ScanResponse {
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        ScanResponse {
            enhanced: enhanced || status == ScanStatus::Active,
            status,
            description,
            findings,
            repository,
            digest,
        }
    }
}

/// ECR's severities, plus Inspector's `UNTRIAGED`, which has no place in the order yet.
fn severity(name: &str) -> Severity {
    name.parse().unwrap_or_else(|_| {
        if !name.eq_ignore_ascii_case("UNTRIAGED") {
            tracing::warn!("unknown severity `{name}` read as UNDEFINED");
        }
        Severity::Undefined
    })
}

fn basic_finding(
    name: Option<&str>,
    severity_name: Option<&str>,
    attribute: impl Fn(&str) -> Option<String>,
) -> Finding {
    let score = attribute("CVSS3_SCORE")
        .or_else(|| attribute("CVSS2_SCORE"))
        .and_then(|s| s.trim().parse().ok());
    Finding {
        id: name.unwrap_or_default().to_owned(),
        severity: severity(severity_name.unwrap_or("UNDEFINED")),
        package: attribute("package_name").unwrap_or_default(),
        installed_version: attribute("package_version").unwrap_or_default(),
        fixed_version: None,
        score,
        fix_available: None,
    }
}

fn basic_from_sdk(finding: &ImageScanFinding) -> Finding {
    basic_finding(
        finding.name(),
        finding.severity().map(|s| s.as_str()),
        |key| {
            finding
                .attributes()
                .iter()
                .find(|a| a.key() == key)
                .and_then(|a| a.value())
                .map(str::to_owned)
        },
    )
}

/// What an enhanced finding says about one vulnerable package.
struct EnhancedPackage<'a> {
    name: Option<&'a str>,
    version: Option<&'a str>,
    release: Option<&'a str>,
    fixed_in: Option<&'a str>,
}

/// The parts of an enhanced finding shared by its packages.
struct EnhancedCommon<'a> {
    id: &'a str,
    severity: &'a str,
    score: Option<f64>,
    fix_available: Option<&'a str>,
}

/// One finding per vulnerable package: each is its own upgrade to make.
fn enhanced_findings(common: &EnhancedCommon, packages: &[EnhancedPackage]) -> Vec<Finding> {
    let fallback = [EnhancedPackage {
        name: None,
        version: None,
        release: None,
        fixed_in: None,
    }];
    let packages = if packages.is_empty() {
        &fallback[..]
    } else {
        packages
    };
    packages
        .iter()
        .map(|package| {
            // Inspector writes `NotAvailable` where no fixed version exists.
            let fixed_version = package
                .fixed_in
                .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("NotAvailable"))
                .map(str::to_owned);
            let fix_available = match (&fixed_version, common.fix_available) {
                (Some(_), _) => Some(true),
                (None, Some(fix)) => Some(fix.eq_ignore_ascii_case("YES")),
                (None, None) => None,
            };
            let installed = match (package.version, package.release) {
                (Some(v), Some(r)) if !r.is_empty() => format!("{v}-{r}"),
                (Some(v), _) => v.to_owned(),
                (None, _) => String::new(),
            };
            Finding {
                id: common.id.to_owned(),
                severity: severity(common.severity),
                package: package.name.unwrap_or_default().to_owned(),
                installed_version: installed,
                fixed_version,
                score: common.score,
                fix_available,
            }
        })
        .collect()
}

fn enhanced_from_sdk(finding: &EnhancedImageScanFinding) -> Vec<Finding> {
    let details = finding.package_vulnerability_details();
    let id = details
        .and_then(|d| d.vulnerability_id())
        .or(finding.title())
        .unwrap_or_default();
    let cvss = details.and_then(|d| d.cvss().iter().map(|c| c.base_score()).reduce(f64::max));
    // The SDK reads an absent score as 0.0; a zero score only counts when no CVSS backs it up.
    let score = match finding.score() {
        s if s > 0.0 => Some(s),
        _ => cvss,
    };
    let common = EnhancedCommon {
        id,
        severity: finding.severity().unwrap_or("UNDEFINED"),
        score,
        fix_available: finding.fix_available(),
    };
    let packages: Vec<EnhancedPackage> = details
        .map(|d| d.vulnerable_packages())
        .unwrap_or_default()
        .iter()
        .map(|p| EnhancedPackage {
            name: p.name(),
            version: p.version(),
            release: p.release(),
            fixed_in: p.fixed_in_version(),
        })
        .collect();
    enhanced_findings(&common, &packages)
}

/// The AWS CLI's JSON, camelCase as the API's own wire format; only what the gate reads.
mod wire {
    use super::*;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Response {
        pub repository_name: Option<String>,
        pub image_id: Option<ImageId>,
        /// Every answer has a status; a document without one is not an answer.
        pub image_scan_status: Status,
        pub image_scan_findings: Option<Findings>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ImageId {
        pub image_digest: Option<String>,
    }

    #[derive(Deserialize, Default)]
    pub struct Status {
        pub status: Option<String>,
        pub description: Option<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct Findings {
        pub findings: Option<Vec<BasicFinding>>,
        pub enhanced_findings: Option<Vec<EnhancedFinding>>,
    }

    #[derive(Deserialize)]
    pub struct BasicFinding {
        name: Option<String>,
        severity: Option<String>,
        #[serde(default)]
        attributes: Vec<Attribute>,
    }

    #[derive(Deserialize)]
    struct Attribute {
        key: String,
        value: Option<String>,
    }

    impl BasicFinding {
        pub fn to_finding(&self) -> Finding {
            basic_finding(self.name.as_deref(), self.severity.as_deref(), |key| {
                self.attributes
                    .iter()
                    .find(|a| a.key == key)
                    .and_then(|a| a.value.clone())
            })
        }
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct EnhancedFinding {
        title: Option<String>,
        severity: Option<String>,
        score: Option<f64>,
        fix_available: Option<String>,
        package_vulnerability_details: Option<Details>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Details {
        vulnerability_id: Option<String>,
        #[serde(default)]
        cvss: Vec<Cvss>,
        #[serde(default)]
        vulnerable_packages: Vec<Package>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Cvss {
        base_score: Option<f64>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Package {
        name: Option<String>,
        version: Option<String>,
        release: Option<String>,
        fixed_in_version: Option<String>,
    }

    impl EnhancedFinding {
        pub fn to_findings(&self) -> Vec<Finding> {
            let details = self.package_vulnerability_details.as_ref();
            let id = details
                .and_then(|d| d.vulnerability_id.as_deref())
                .or(self.title.as_deref())
                .unwrap_or_default();
            let cvss =
                details.and_then(|d| d.cvss.iter().filter_map(|c| c.base_score).reduce(f64::max));
            let common = EnhancedCommon {
                id,
                severity: self.severity.as_deref().unwrap_or("UNDEFINED"),
                score: self.score.or(cvss),
                fix_available: self.fix_available.as_deref(),
            };
            let packages: Vec<EnhancedPackage> = details
                .map(|d| d.vulnerable_packages.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|p| EnhancedPackage {
                    name: p.name.as_deref(),
                    version: p.version.as_deref(),
                    release: p.release.as_deref(),
                    fixed_in: p.fixed_in_version.as_deref(),
                })
                .collect();
            enhanced_findings(&common, &packages)
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecr::types::{
        Attribute, FindingSeverity, ImageScanFindings, ImageScanStatus,
        PackageVulnerabilityDetails, ScanStatus as SdkStatus, VulnerablePackage,
    };

    use super::*;

    fn case(name: &str) -> String {
        let path = format!("{}/testdata/scan/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn basic_findings_read_their_attributes() {
        let scan = ScanResponse::from_cli_json(&case("complete-high.json")).unwrap();
        assert_eq!(scan.status, ScanStatus::Complete);
        assert!(!scan.enhanced);
        assert_eq!(scan.repository.as_deref(), Some("vitality-dev-app"));
        assert_eq!(
            scan.findings[0],
            Finding {
                id: "CVE-2026-10231".into(),
                severity: Severity::High,
                package: "openssl".into(),
                installed_version: "3.0.11-1~deb12u2".into(),
                fixed_version: None,
                score: Some(7.5),
                fix_available: None,
            }
        );
        assert_eq!(scan.findings[1].id, "CVE-2025-48822");
        assert_eq!(scan.findings[1].severity, Severity::Low);
    }

    #[test]
    fn enhanced_findings_read_package_fix_and_score() {
        let scan = ScanResponse::from_cli_json(&case("active-enhanced.json")).unwrap();
        assert_eq!(scan.status, ScanStatus::Active);
        assert!(scan.enhanced);
        let xz = &scan.findings[0];
        assert_eq!(
            (xz.id.as_str(), xz.severity, xz.package.as_str()),
            ("CVE-2026-20417", Severity::Medium, "xz-utils")
        );
        assert_eq!(xz.installed_version, "5.4.1-1");
        assert_eq!(xz.fixed_version.as_deref(), Some("5.4.1-0.2"));
        assert_eq!((xz.score, xz.fix_available), (Some(5.5), Some(true)));
        let text = &scan.findings[1];
        assert_eq!(text.package, "libtext-format");
        assert_eq!(
            (text.fixed_version.clone(), text.fix_available),
            (None, Some(false))
        );
    }

    #[test]
    fn statuses_without_findings_read_their_description() {
        let scan = ScanResponse::from_cli_json(&case("failed-unsupported.json")).unwrap();
        assert_eq!(scan.status, ScanStatus::Failed);
        assert!(scan.description.unwrap().contains("UnsupportedImageError"));
        assert!(scan.findings.is_empty());
        let scan = ScanResponse::from_cli_json(&case("pending.json")).unwrap();
        assert!(scan.status.is_running());
    }

    #[test]
    fn unknown_statuses_keep_their_name() {
        let status = ScanStatus::parse("SCAN_ELIGIBILITY_EXPIRED");
        assert_eq!(status.as_str(), "SCAN_ELIGIBILITY_EXPIRED");
        assert!(!status.is_running() && !status.has_findings() && !status.is_unusable());
    }

    fn sdk_page(
        findings: ImageScanFindings,
        token: Option<&str>,
    ) -> DescribeImageScanFindingsOutput {
        DescribeImageScanFindingsOutput::builder()
            .repository_name("app")
            .image_scan_status(
                ImageScanStatus::builder()
                    .status(SdkStatus::Complete)
                    .description("done")
                    .build(),
            )
            .image_scan_findings(findings)
            .set_next_token(token.map(str::to_owned))
            .build()
    }

    #[test]
    fn sdk_pages_merge_into_one_response() {
        let attr = |k: &str, v: &str| Attribute::builder().key(k).value(v).build().unwrap();
        let basic = ImageScanFinding::builder()
            .name("CVE-1")
            .severity(FindingSeverity::Critical)
            .attributes(attr("package_name", "zlib"))
            .attributes(attr("package_version", "1.2"))
            .attributes(attr("CVSS2_SCORE", "9.3"))
            .build();
        let enhanced = EnhancedImageScanFinding::builder()
            .severity("HIGH")
            .fix_available("PARTIAL")
            .package_vulnerability_details(
                PackageVulnerabilityDetails::builder()
                    .vulnerability_id("CVE-2")
                    .vulnerable_packages(
                        VulnerablePackage::builder()
                            .name("curl")
                            .version("8.0")
                            .fixed_in_version("NotAvailable")
                            .build(),
                    )
                    .build(),
            )
            .build();
        let pages = [
            sdk_page(
                ImageScanFindings::builder().findings(basic).build(),
                Some("t"),
            ),
            sdk_page(
                ImageScanFindings::builder()
                    .enhanced_findings(enhanced)
                    .build(),
                None,
            ),
        ];
        let scan = ScanResponse::from_sdk_pages(&pages);
        assert_eq!(scan.status, ScanStatus::Complete);
        assert!(scan.enhanced);
        assert_eq!(scan.findings.len(), 2);
        let (zlib, curl) = (&scan.findings[0], &scan.findings[1]);
        assert_eq!((zlib.id.as_str(), zlib.score), ("CVE-1", Some(9.3)));
        assert_eq!((curl.id.as_str(), curl.severity), ("CVE-2", Severity::High));
        assert_eq!(
            (curl.fixed_version.clone(), curl.fix_available),
            (None, Some(false))
        );
        assert_eq!(curl.score, None);
    }
}
