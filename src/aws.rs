//! The AWS SDK set up once: the standard credential chain, the region of the pipeline, the
//! process's one TLS stack, and endpoint overrides (`AWS_ENDPOINT_URL_ECR`,
//! `AWS_ENDPOINT_URL_STS`), which the SDK reads itself, for VPC endpoints and the local stack.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The SDK settings for a region, with credentials from the standard chain (environment,
/// profile, web identity file, container, instance).
pub async fn sdk_config(region: &str) -> SdkConfig {
    crate::cli::install_crypto_provider();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .http_client(http)
        .load()
        .await
}
