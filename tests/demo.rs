//! The README's demo command, run as written: it must end with the promoted tags listed by the
//! registry and the gate's verdict.

mod common;

use std::process::Command;

#[test]
fn the_demo_publishes_the_sample_app_and_lists_its_tags_and_verdict() {
    common::Stack::from_env();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg("scripts/demo")
        .current_dir(root)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the demo failed:\n{stdout}\n{stderr}");

    let listing = stdout
        .lines()
        .find(|line| line.starts_with("{\"name\":\"vitality-dev-app\""))
        .unwrap_or_else(|| panic!("the demo listed no tags:\n{stdout}"));
    let tags: serde_json::Value = serde_json::from_str(listing).unwrap();
    let tags: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    for tag in ["1.0.0", "1.0", "1", "latest"] {
        assert!(tags.contains(&tag), "{tag} missing from {tags:?}");
    }
    assert!(
        tags.iter().any(|t| t.starts_with("sha-")),
        "no candidate tag in {tags:?}"
    );
    assert!(
        stdout.contains("verdict   pass"),
        "no verdict in the summary:\n{stdout}"
    );
    assert!(
        stdout.contains("verdict: pass"),
        "no verdict from the gate:\n{stdout}"
    );
}
