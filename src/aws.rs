//! The AWS SDK set up once: the standard credential chain, the region of the pipeline, the
//! process's one TLS stack, and endpoint overrides (`AWS_ENDPOINT_URL_ECR`,
//! `AWS_ENDPOINT_URL_STS`), which the SDK reads itself, for VPC endpoints and the local stack.
//! Also what an SDK failure means for the run: worth a retry (exit 2) or a setting to fix.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::error::{Error, Kind};

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

/// Error codes AWS services use for throttling and their own trouble.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "ServerException",
    "IDPCommunicationError",
];

/// Whether an SDK failure is throttling, an outage or a network problem, i.e. worth a retry.
pub fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || service.raw().status().as_u16() == 429
                || service
                    .err()
                    .code()
                    .is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        _ => false,
    }
}

/// The error code AWS answered with, such as `AccessDenied`.
pub fn error_code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// An SDK failure as a product error: exit 2 when worth a retry, else exit 1 with `hint`. The
/// message ends with what AWS said, since that is what a person searches for.
pub fn sdk_error<E>(what: &str, err: SdkError<E, HttpResponse>, hint: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let said = said(&err);
    if is_transient(&err) {
        Error::new(Kind::Infrastructure, format!("{what}: {said}"))
            .with_hint("AWS or the network had trouble; run again")
            .with_source(err)
    } else {
        Error::new(Kind::Input, format!("{what}: {said}"))
            .with_hint(hint)
            .with_source(err)
    }
}

/// What AWS or the network said, in a few words: the error code and message of a refusal, or
/// the innermost cause of a transport failure.
pub fn said<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("an error");
            let detail = service.err().message().unwrap_or_default();
            format!("{code}: {detail}")
                .trim_end_matches([':', ' '])
                .to_owned()
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(_) => format!("could not reach AWS ({})", root_cause(err)),
        SdkError::ResponseError(_) => format!("unreadable answer ({})", root_cause(err)),
        other => DisplayErrorContext(other).to_string(),
    }
}

/// The innermost cause, such as "Connection refused (os error 111)", which says the most in the
/// fewest words.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = err;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::error::ErrorMetadata;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use aws_smithy_types::body::SdkBody;

    fn service_error(status: u16, code: &str) -> SdkError<AssumeRoleError, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("said no")
            .build();
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        SdkError::service_error(AssumeRoleError::generic(meta), raw)
    }

    #[test]
    fn throttling_and_outages_are_worth_a_retry() {
        assert!(is_transient(&service_error(400, "Throttling")));
        assert!(is_transient(&service_error(503, "Whatever")));
        assert!(is_transient(&service_error(429, "Whatever")));
        assert!(!is_transient(&service_error(403, "AccessDenied")));
    }

    #[test]
    fn refusals_are_exit_1_with_the_hint_and_what_aws_said() {
        let err = sdk_error(
            "cannot assume role r",
            service_error(403, "AccessDenied"),
            "check the trust policy",
        );
        assert_eq!(err.kind(), Kind::Input);
        assert_eq!(err.message(), "cannot assume role r: AccessDenied: said no");
        assert_eq!(err.hint(), Some("check the trust policy"));
        let err = sdk_error("x", service_error(500, "InternalFailure"), "unused");
        assert_eq!(err.kind(), Kind::Infrastructure);
    }
}
