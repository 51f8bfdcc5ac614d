//! Helpers shared by the integration tests that run against the local stack (`scripts/stack`,
//! DESIGN.md section 9): where the stack is, a repository name of one's own, scan scenarios,
//! an ECR client, and building and pushing an image through the engine API.
//!
//! A test that needs the stack calls [`Stack::from_env`], which panics when the stack is not
//! there: such a test fails, it never skips.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_ecr::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput;
use aws_sdk_ecr::types::{ImageDetail, ImageIdentifier};
use base64::Engine as _;
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{BuildImageOptionsBuilder, PushImageOptionsBuilder};
use futures_util::StreamExt;
use serde_json::Value;

const NOT_UP: &str = "local stack not up: run scripts/stack up and eval \"$(scripts/stack env)\"";

/// Where the local stack is, as `scripts/stack env` exports it.
#[derive(Debug, Clone)]
pub struct Stack {
    /// `host:port` of the registry, e.g. `127.0.0.1:5055`.
    pub registry: String,
    /// Base URL of the bridge, e.g. `http://127.0.0.1:5057`.
    pub bridge: String,
    /// The image every test Dockerfile starts `FROM`.
    pub base_image: String,
    pub account: String,
    pub region: String,
    /// The ECR API (moto), e.g. `http://127.0.0.1:5056`.
    pub ecr_endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

fn required(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{NOT_UP} ({name} is not set)"),
    }
}

impl Stack {
    /// Reads the stack's variables and checks that the bridge answers; panics otherwise.
    pub fn from_env() -> Stack {
        let stack = Stack {
            registry: required("VITALITY_STACK_REGISTRY"),
            bridge: required("VITALITY_STACK_BRIDGE"),
            base_image: required("VITALITY_STACK_BASE_IMAGE"),
            account: required("VITALITY_STACK_ACCOUNT"),
            region: required("AWS_REGION"),
            ecr_endpoint: required("AWS_ENDPOINT_URL_ECR"),
            access_key_id: required("AWS_ACCESS_KEY_ID"),
            secret_access_key: required("AWS_SECRET_ACCESS_KEY"),
        };
        let (status, body) = http(&stack.bridge, "GET", "/health", None)
            .unwrap_or_else(|err| panic!("{NOT_UP} (bridge {}: {err})", stack.bridge));
        assert_eq!(status, 200, "{NOT_UP} (bridge health: {status} {body})");
        stack
    }

    /// `registry/repository`, the name to tag and push an image under.
    pub fn image_name(&self, repository: &str) -> String {
        format!("{}/{repository}", self.registry)
    }

    /// Sets the scan result of every image pushed to `scenario["repository"]` from now on.
    /// Keys: `repository`, `status` (any ECR ScanStatus, default COMPLETE), `findings` (basic
    /// findings as DescribeImageScanFindings returns them, default none), `enhancedFindings`,
    /// `description`, `delay` (seconds before the scan starts; ScanNotFoundException until then),
    /// `in_progress` (seconds the started scan reads IN_PROGRESS).
    pub fn set_scenario(&self, scenario: &Value) {
        let (status, body) = http(
            &self.bridge,
            "POST",
            "/scenarios",
            Some(&scenario.to_string()),
        )
        .unwrap_or_else(|err| panic!("{NOT_UP} (POST /scenarios: {err})"));
        assert_eq!(status, 200, "bridge refused scenario {scenario}: {body}");
    }

    /// An ECR client for the stack's ECR API, with the fake static credentials.
    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        let credentials = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            None,
            None,
            "stack",
        );
        let config = aws_sdk_ecr::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(&self.ecr_endpoint)
            .credentials_provider(credentials)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_ecr::Client::from_conf(config)
    }

    /// Registry credentials the way the agent gets them: GetAuthorizationToken, decoded.
    pub async fn registry_credentials(&self) -> DockerCredentials {
        let out = self
            .ecr()
            .get_authorization_token()
            .send()
            .await
            .expect("GetAuthorizationToken");
        let token = out.authorization_data()[0]
            .authorization_token()
            .expect("a token");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token)
            .expect("base64");
        let decoded = String::from_utf8(decoded).expect("utf-8 token");
        let (user, password) = decoded.split_once(':').expect("user:password");
        DockerCredentials {
            username: Some(user.to_string()),
            password: Some(password.to_string()),
            serveraddress: Some(self.registry.clone()),
            ..Default::default()
        }
    }

    /// The engine at DOCKER_HOST (or the default socket), API version negotiated.
    pub async fn docker(&self) -> Docker {
        Docker::connect_with_defaults()
            .unwrap_or_else(|err| panic!("{NOT_UP} (docker: {err})"))
            .negotiate_version()
            .await
            .unwrap_or_else(|err| panic!("{NOT_UP} (docker version: {err})"))
    }
}

/// A repository name no other test (in this run or an earlier one) uses, so that scenarios and
/// images of tests running in parallel never meet.
pub fn unique_repository(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "test/{prefix}-{}-{n}-{:x}",
        std::process::id(),
        nanos % 0xffff_ffff
    )
}

/// A basic finding as DescribeImageScanFindings returns it, for scenarios.
pub fn basic_finding(name: &str, severity: &str, package: &str, cvss3: &str) -> Value {
    serde_json::json!({
        "name": name,
        "description": format!("{name} in {package}"),
        "uri": format!("https://security-tracker.debian.org/tracker/{name}"),
        "severity": severity,
        "attributes": [
            {"key": "package_name", "value": package},
            {"key": "package_version", "value": "1.0.0-1"},
            {"key": "CVSS3_SCORE", "value": cvss3},
        ],
    })
}

/// Builds `dockerfile` (a context holding only it) through the engine API as `tag`.
pub async fn build_image(docker: &Docker, tag: &str, dockerfile: &str) {
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true);
    let mut stream = docker.build_image(
        options.build(),
        None,
        Some(bollard::body_full(context_tar(dockerfile))),
    );
    let mut log = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => log.push_str(info.stream.as_deref().unwrap_or_default()),
            Err(err) => panic!("build of {tag} failed: {err}\n{log}"),
        }
    }
}

/// A build context tar, in memory, with the Dockerfile as its only file.
pub fn context_tar(dockerfile: &str) -> bytes::Bytes {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    tar.into_inner().unwrap().into()
}

/// Pushes `image:tag` through the engine API, credentials in X-Registry-Auth; returns the
/// digest the engine reports.
pub async fn push_image(
    docker: &Docker,
    image: &str,
    tag: &str,
    credentials: DockerCredentials,
) -> String {
    let options = PushImageOptionsBuilder::default().tag(tag).build();
    let mut stream = docker.push_image(image, Some(options), Some(credentials));
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = item.unwrap_or_else(|err| panic!("push of {image}:{tag} failed: {err}"));
        // The engine ends with "<tag>: digest: sha256:... size: N".
        if let Some(rest) = info
            .status
            .as_deref()
            .and_then(|s| s.split_once("digest: "))
        {
            digest = rest.1.split_whitespace().next().map(str::to_string);
        }
    }
    digest.unwrap_or_else(|| panic!("push of {image}:{tag} reported no digest"))
}

/// Waits until the ECR API lists `digest` in `repository` (the bridge works asynchronously).
pub async fn wait_for_image(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    digest: &str,
) -> ImageDetail {
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = ImageIdentifier::builder().image_digest(digest).build();
    loop {
        let out = ecr
            .describe_images()
            .repository_name(repository)
            .image_ids(id.clone())
            .send()
            .await;
        match out {
            Ok(out) if !out.image_details().is_empty() => return out.image_details()[0].clone(),
            Ok(_) => {}
            Err(err) => {
                let service = err.as_service_error();
                let pending = service.is_some_and(|e| {
                    e.is_image_not_found_exception() || e.is_repository_not_found_exception()
                });
                assert!(pending, "DescribeImages {repository}@{digest}: {err:?}");
            }
        }
        assert!(
            Instant::now() < deadline,
            "{repository}@{digest} not in the ECR API after 30s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One DescribeImageScanFindings read by digest; `None` for ScanNotFoundException.
pub async fn scan_findings(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    digest: &str,
) -> Option<DescribeImageScanFindingsOutput> {
    let id = ImageIdentifier::builder().image_digest(digest).build();
    let out = ecr
        .describe_image_scan_findings()
        .repository_name(repository)
        .image_id(id)
        .send()
        .await;
    match out {
        Ok(out) => Some(out),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_scan_not_found_exception()) =>
        {
            None
        }
        Err(err) => panic!("DescribeImageScanFindings {repository}@{digest}: {err:?}"),
    }
}

/// Waits for the image in the ECR API, then polls its scan until the status is neither absent
/// nor IN_PROGRESS/PENDING.
pub async fn wait_for_scan(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    digest: &str,
    timeout: Duration,
) -> DescribeImageScanFindingsOutput {
    wait_for_image(ecr, repository, digest).await;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(out) = scan_findings(ecr, repository, digest).await {
            let status = out
                .image_scan_status()
                .and_then(|s| s.status())
                .map(|s| s.as_str());
            if !matches!(status, Some("IN_PROGRESS" | "PENDING") | None) {
                return out;
            }
        }
        assert!(
            Instant::now() < deadline,
            "scan of {repository}@{digest} not done in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A minimal blocking HTTP/1.1 exchange with a loopback server: (status, body).
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = json.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
