//! The ECR side of the gate: scan findings by digest (every page), and the image a tag or digest
//! names, through the SDK with throttling and server errors retried by [`crate::retry`].

use std::time::{Duration, SystemTime};

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsError;
use aws_sdk_ecr::operation::describe_images::DescribeImagesError;
use aws_sdk_ecr::types::ImageIdentifier;

use super::findings::ScanResponse;
use super::wait::ScanSource;
use crate::aws;
use crate::error::{Error, Result};
use crate::names::{Digest, ImageTag, Repository};
use crate::retry::{Backoff, retry};

/// Scans of one ECR repository.
pub struct EcrScans {
    client: aws_sdk_ecr::Client,
    registry_id: Option<String>,
    repository: Repository,
}

/// An image ECR holds: its digest and when it was pushed.
#[derive(Debug, Clone)]
pub struct Image {
    pub digest: Digest,
    pub pushed: Option<SystemTime>,
}

impl Image {
    /// How long ago the image was pushed, as far as this machine's clock can tell.
    pub fn age(&self) -> Duration {
        self.pushed
            .and_then(|p| SystemTime::now().duration_since(p).ok())
            .unwrap_or_default()
    }
}

impl EcrScans {
    pub fn new(
        client: aws_sdk_ecr::Client,
        registry_id: Option<String>,
        repository: Repository,
    ) -> EcrScans {
        EcrScans {
            client,
            registry_id,
            repository,
        }
    }

    /// The image a tag points at.
    pub async fn image_by_tag(&self, tag: &ImageTag) -> Result<Image> {
        let id = ImageIdentifier::builder().image_tag(tag.as_str()).build();
        self.describe_image(id, &format!("tag {tag}")).await
    }

    /// The image with a digest, which must be in the repository.
    pub async fn image_by_digest(&self, digest: &Digest) -> Result<Image> {
        let id = ImageIdentifier::builder()
            .image_digest(digest.as_str())
            .build();
        self.describe_image(id, &format!("image {digest}")).await
    }

    async fn describe_image(&self, id: ImageIdentifier, what: &str) -> Result<Image> {
        let repository = self.repository.as_str();
        let out = retry(
            Backoff::default(),
            aws::is_transient,
            |n, e, wait| log_retry("DescribeImages", n, e, wait),
            || {
                self.client
                    .describe_images()
                    .set_registry_id(self.registry_id.clone())
                    .repository_name(repository)
                    .image_ids(id.clone())
                    .send()
            },
        )
        .await
        .map_err(|err| match err.as_service_error() {
            Some(DescribeImagesError::ImageNotFoundException(_)) => {
                Error::input(format!("{what} is not in repository {repository}"))
                    .with_hint("check the tag or digest, and that the image was pushed")
            }
            Some(DescribeImagesError::RepositoryNotFoundException(_)) => missing_repository(self),
            _ => api_error("read the image", self, err),
        })?;
        let detail = out.image_details().first().ok_or_else(|| {
            Error::input(format!("{what} is not in repository {repository}"))
                .with_hint("check the tag or digest, and that the image was pushed")
        })?;
        let digest = detail
            .image_digest()
            .unwrap_or_default()
            .parse()
            .map_err(|e| Error::infra(format!("ECR answered an unreadable digest: {e}")))?;
        Ok(Image {
            digest,
            pushed: detail
                .image_pushed_at()
                .and_then(|t| SystemTime::try_from(*t).ok()),
        })
    }

    async fn read_page(
        &self,
        digest: &Digest,
        token: Option<String>,
    ) -> Result<
        aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput,
        SdkError<DescribeImageScanFindingsError>,
    > {
        retry(
            Backoff::default(),
            aws::is_transient,
            |n, e, wait| log_retry("DescribeImageScanFindings", n, e, wait),
            || {
                self.client
                    .describe_image_scan_findings()
                    .set_registry_id(self.registry_id.clone())
                    .repository_name(self.repository.as_str())
                    .image_id(
                        ImageIdentifier::builder()
                            .image_digest(digest.as_str())
                            .build(),
                    )
                    .max_results(1000)
                    .set_next_token(token.clone())
                    .send()
            },
        )
        .await
    }
}

impl ScanSource for EcrScans {
    async fn read(&self, digest: &Digest) -> Result<Option<ScanResponse>> {
        let mut pages = Vec::new();
        let mut token = None;
        loop {
            let page = match self.read_page(digest, token.take()).await {
                Ok(page) => page,
                Err(err) => {
                    return match err.as_service_error() {
                        // The digest was confirmed by the registry (after a push) or looked
                        // up in the API (`gate --digest`), so an image the API does not list
                        // yet is one it has not caught up with: no scan yet, within the grace.
                        Some(
                            DescribeImageScanFindingsError::ScanNotFoundException(_)
                            | DescribeImageScanFindingsError::ImageNotFoundException(_),
                        ) => Ok(None),
                        Some(DescribeImageScanFindingsError::RepositoryNotFoundException(_)) => {
                            Err(missing_repository(self))
                        }
                        _ => Err(api_error("read the scan findings", self, err)),
                    };
                }
            };
            token = page.next_token().map(str::to_owned);
            pages.push(page);
            if token.is_none() {
                return Ok(Some(ScanResponse::from_sdk_pages(&pages)));
            }
        }
    }
}

fn log_retry<E>(call: &str, attempt: u32, err: &SdkError<E>, wait: Duration)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    tracing::warn!(
        "{call} failed ({}); retry {attempt} in {:.1}s",
        aws::said(err),
        wait.as_secs_f64()
    );
}

fn missing_repository(scans: &EcrScans) -> Error {
    Error::input(format!("repository {} does not exist", scans.repository))
        .with_hint("check [registry] repository and account in the pipeline file")
}

fn api_error<E>(what: &str, scans: &EcrScans, err: SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().unwrap_or("").to_owned();
    if code.contains("AccessDenied") || code == "UnrecognizedClientException" {
        return Error::input(format!(
            "ECR refused to {what} in {}: {code}",
            scans.repository
        ))
        .with_hint(
            "the role needs ecr:DescribeImages and ecr:DescribeImageScanFindings on the repository",
        )
        .with_source(err);
    }
    let retried = aws::is_transient(&err);
    let error = Error::infra(format!(
        "cannot {what} in {}: {}",
        scans.repository,
        aws::said(&err)
    ))
    .with_source(err);
    if retried {
        error.with_hint("ECR or the network failed after several tries; run the gate again")
    } else {
        error
    }
}
