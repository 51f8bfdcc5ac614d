//! The local stack behaves like ECR for the agent (DESIGN.md section 9): an image built and
//! pushed through the engine API shows up in the ECR API with the engine's digest, and its scan
//! reads back as the test's scenario says. Needs `scripts/stack up`.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_ecr::types::{FindingSeverity, ScanStatus};
use common::{Stack, basic_finding, unique_repository};
use serde_json::json;

/// Builds a one-RUN-step image on the stack's base image and pushes it as `repository:tag`;
/// returns the digest the engine reported.
async fn build_and_push(stack: &Stack, repository: &str, tag: &str) -> String {
    let docker = stack.docker().await;
    let image = stack.image_name(repository);
    // The repository name in the file makes every test's image (and digest) its own.
    let dockerfile = format!(
        "FROM {}\nRUN echo hi > /hello && echo {repository} > /name\n",
        stack.base_image
    );
    common::build_image(&docker, &format!("{image}:{tag}"), &dockerfile).await;
    let digest = common::push_image(&docker, &image, tag, stack.registry_credentials().await).await;
    let inspect = docker
        .inspect_image(&format!("{image}:{tag}"))
        .await
        .expect("inspect");
    assert!(
        inspect
            .repo_digests
            .unwrap_or_default()
            .contains(&format!("{image}@{digest}")),
        "the engine does not record {image}@{digest}"
    );
    digest
}

#[tokio::test]
async fn pushed_image_is_in_ecr_with_the_engine_digest_and_the_scenario_findings() {
    let stack = Stack::from_env();
    let repository = unique_repository("push");
    let finding = basic_finding("CVE-2026-10231", "HIGH", "openssl", "7.5");
    stack.set_scenario(&json!({"repository": repository, "findings": [finding]}));

    let digest = build_and_push(&stack, &repository, "v1").await;

    let ecr = stack.ecr();
    let image = common::wait_for_image(&ecr, &repository, &digest).await;
    assert_eq!(image.image_digest(), Some(digest.as_str()));
    assert_eq!(image.image_tags(), ["v1"]);
    assert_eq!(
        image.image_manifest_media_type(),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );

    let scan = common::wait_for_scan(&ecr, &repository, &digest, Duration::from_secs(30)).await;
    assert_eq!(
        scan.image_scan_status().unwrap().status(),
        Some(&ScanStatus::Complete)
    );
    let findings = scan
        .image_scan_findings()
        .expect("findings of a COMPLETE scan");
    assert_eq!(findings.findings().len(), 1);
    let found = &findings.findings()[0];
    assert_eq!(found.name(), Some("CVE-2026-10231"));
    assert_eq!(found.severity(), Some(&FindingSeverity::High));
    let package = found
        .attributes()
        .iter()
        .find(|a| a.key() == "package_name");
    assert_eq!(package.and_then(|a| a.value()), Some("openssl"));
    assert_eq!(
        findings.finding_severity_counts().unwrap()[&FindingSeverity::High],
        1
    );
}

#[tokio::test]
async fn repository_without_scenario_scans_clean() {
    let stack = Stack::from_env();
    let repository = unique_repository("clean");
    let digest = build_and_push(&stack, &repository, "v1").await;

    let ecr = stack.ecr();
    common::wait_for_image(&ecr, &repository, &digest).await;
    let scan = common::wait_for_scan(&ecr, &repository, &digest, Duration::from_secs(30)).await;
    assert_eq!(
        scan.image_scan_status().unwrap().status(),
        Some(&ScanStatus::Complete)
    );
    assert!(scan.image_scan_findings().unwrap().findings().is_empty());
}

#[tokio::test]
async fn failed_scenario_reads_back_failed() {
    let stack = Stack::from_env();
    let repository = unique_repository("failed");
    stack.set_scenario(&json!({"repository": repository, "status": "FAILED"}));
    let digest = build_and_push(&stack, &repository, "v1").await;

    let ecr = stack.ecr();
    common::wait_for_image(&ecr, &repository, &digest).await;
    let scan = common::wait_for_scan(&ecr, &repository, &digest, Duration::from_secs(30)).await;
    let status = scan.image_scan_status().unwrap();
    assert_eq!(status.status(), Some(&ScanStatus::Failed));
    assert!(
        status.description().unwrap().contains("not supported"),
        "{status:?}"
    );
    assert!(scan.image_scan_findings().is_none());
}

#[tokio::test]
async fn delayed_scenario_is_scan_not_found_then_in_progress_then_complete() {
    let stack = Stack::from_env();
    let repository = unique_repository("delayed");
    stack.set_scenario(&json!({"repository": repository, "delay": 3, "in_progress": 2}));
    let digest = build_and_push(&stack, &repository, "v1").await;
    let pushed = Instant::now();

    let ecr = stack.ecr();
    common::wait_for_image(&ecr, &repository, &digest).await;
    assert!(
        common::scan_findings(&ecr, &repository, &digest)
            .await
            .is_none(),
        "the scan started before its delay"
    );
    let mut seen = Vec::new();
    loop {
        let status = common::scan_findings(&ecr, &repository, &digest)
            .await
            .map(|out| {
                out.image_scan_status()
                    .unwrap()
                    .status()
                    .unwrap()
                    .as_str()
                    .to_string()
            })
            .unwrap_or_else(|| "ScanNotFound".to_string());
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "COMPLETE" {
            break;
        }
        assert!(
            pushed.elapsed() < Duration::from_secs(30),
            "scan not complete: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen, ["ScanNotFound", "IN_PROGRESS", "COMPLETE"]);
    assert!(
        pushed.elapsed() >= Duration::from_secs(5),
        "delay and in-progress time not honoured"
    );
}

#[tokio::test]
async fn second_tag_on_the_same_digest_keeps_one_image_and_its_scan() {
    let stack = Stack::from_env();
    let repository = unique_repository("retag");
    stack.set_scenario(&json!({
        "repository": repository,
        "findings": [basic_finding("CVE-2025-48822", "LOW", "util-linux", "2.5")],
    }));
    let digest = build_and_push(&stack, &repository, "sha-abc1234").await;
    let ecr = stack.ecr();
    common::wait_for_scan(&ecr, &repository, &digest, Duration::from_secs(30)).await;

    // Promotion in the registry (same manifest under a new tag) reaches the ECR API too.
    let docker = stack.docker().await;
    let image = stack.image_name(&repository);
    docker
        .tag_image(
            &format!("{image}:sha-abc1234"),
            Some(
                bollard::query_parameters::TagImageOptionsBuilder::default()
                    .repo(&image)
                    .tag("1.0.0")
                    .build(),
            ),
        )
        .await
        .expect("tag");
    let again =
        common::push_image(&docker, &image, "1.0.0", stack.registry_credentials().await).await;
    assert_eq!(again, digest);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let detail = common::wait_for_image(&ecr, &repository, &digest).await;
        let mut tags = detail.image_tags().to_vec();
        tags.sort();
        if tags == ["1.0.0", "sha-abc1234"] {
            break;
        }
        assert!(Instant::now() < deadline, "tags in ECR: {tags:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let scan = common::wait_for_scan(&ecr, &repository, &digest, Duration::from_secs(5)).await;
    let findings = scan.image_scan_findings().unwrap().findings();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].severity(), Some(&FindingSeverity::Low));
}

#[test]
fn bridge_rejects_an_unknown_scan_status() {
    let stack = Stack::from_env();
    let body = json!({"repository": unique_repository("bad"), "status": "DONE"}).to_string();
    let (status, answer) = common::http(&stack.bridge, "POST", "/scenarios", Some(&body)).unwrap();
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.contains("COMPLETE"),
        "the error lists the known statuses: {answer}"
    );
}
