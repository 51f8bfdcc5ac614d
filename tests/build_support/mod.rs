//! Helpers of the build tests: the engine of the local stack, the docker CLI beside it, a
//! generated context with every kind of entry, and the files found inside a built image.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};
use vitality_publish::build::BuildRequest;
use vitality_publish::version::{Bump, Tags, VersionInfo};

pub const BASE_IMAGE: &str = "vitality.local/busybox:1";

/// The engine of the local stack; a test that cannot reach it fails saying how to start it.
pub async fn engine() -> bollard::Docker {
    match vitality_publish::engine::connect().await {
        Ok(docker) => docker,
        Err(err) => panic!(
            "the local stack's Docker engine is not reachable ({err:?}): run \
             scripts/stack up and eval \"$(scripts/stack env)\""
        ),
    }
}

/// A name no other test uses, for images and repositories.
pub fn unique(what: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{what}-{}-{n}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Runs the docker CLI with the classic builder; panics with its output when it fails.
pub fn docker(args: &[&str]) -> Vec<u8> {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the docker CLI: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Removes images at the end of a test, whatever happened. Their parent layers stay: another
/// test building the same steps at the same time may be using them as its cache.
pub struct Images(pub Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for image in &self.0 {
            let _ = Command::new("docker")
                .args(["rmi", "-f", "--no-prune", image])
                .output();
        }
    }
}

/// A version as the version stage hands it over.
pub fn version() -> VersionInfo {
    VersionInfo {
        version: "1.5.0-dev.7".parse().unwrap(),
        release: false,
        base: Some("1.4.2".parse().unwrap()),
        distance: 7,
        bump: Bump::Minor,
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        branch: Some("main".into()),
        channel: "dev".into(),
        tags: Tags {
            candidate: vec!["sha-0123456".parse().unwrap()],
            promote: vec![],
        },
        commit_time: 1_700_000_000,
        dirty: false,
    }
}

/// A request for `context` with the given Dockerfile and tag, labelled as the build command does.
pub fn request(context: &Path, dockerfile: &str, tag: &str) -> BuildRequest {
    let image = vitality_publish::config::ImageSection {
        context: context.to_path_buf(),
        dockerfile: dockerfile.into(),
        ..Default::default()
    };
    BuildRequest::new(
        &image,
        &version(),
        Some("https://example.com/app.git"),
        tag.to_owned(),
    )
}

/// One entry of an image as `docker export` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: char,
    pub mode: u32,
    pub link: Option<String>,
    pub sha256: Option<String>,
}

/// The entries under `/<under>/` of an image, with type, mode, link target and content digest
/// (except for `.dockerignore`, whose content Docker rewrites with a random name).
pub fn image_files(image: &str, under: &str) -> BTreeMap<String, Found> {
    let id = String::from_utf8(docker(&["create", image, "true"])).unwrap();
    let id = id.trim();
    let archive = docker(&["export", id]);
    docker(&["rm", id]);
    let mut files = BTreeMap::new();
    let mut reader = tar::Archive::new(&archive[..]);
    let prefix = format!("{under}/");
    for entry in reader.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let Some(rel) = path.trim_end_matches('/').strip_prefix(&prefix) else {
            continue;
        };
        let rel = rel.to_owned();
        let header = entry.header().clone();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            tar::EntryType::Regular => 'f',
            other => panic!("unexpected entry type {other:?} for {rel}"),
        };
        let link = entry.link_name().unwrap().map(|l| l.display().to_string());
        let mut sha256 = None;
        if kind == 'f' && !rel.ends_with(".dockerignore") {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            sha256 = Some(hex::encode(Sha256::digest(&data)));
        }
        files.insert(
            rel,
            Found {
                kind,
                mode: header.mode().unwrap() & 0o7777,
                link,
                sha256,
            },
        );
    }
    files
}

fn write(root: &Path, rel: &str, mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, format!("content of {rel}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

fn dir(root: &Path, rel: &str, mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A context with every kind of entry the rules care about: nested folders, names with
/// spaces, brackets and non-ASCII letters, a name past 100 bytes, modes from 0400 to setuid,
/// symlinks (to a file, to a folder, absolute, dangling), a hard link and an empty folder.
pub fn make_tree(root: &Path) {
    let files: &[(&str, u32)] = &[
        ("README.md", 0o644),
        ("CHANGES.md", 0o644),
        ("notes.txt", 0o600),
        ("run.sh", 0o755),
        ("setuid-tool", 0o4755),
        ("setgid-tool", 0o2750),
        ("secret", 0o400),
        ("temp1", 0o644),
        ("temp22", 0o644),
        ("keep.log", 0o644),
        (".env", 0o600),
        (".git/HEAD", 0o644),
        (".git/config", 0o644),
        ("app/main.go", 0o644),
        ("app/main_test.go", 0o644),
        ("app/temp.txt", 0o644),
        ("app/util/helpers.go", 0o644),
        ("app/util/helpers_test.go", 0o644),
        ("app/tmp/cache.bin", 0o644),
        ("app/Dockerfile", 0o644),
        ("docs/guide.md", 0o644),
        ("docs/keep.md", 0o644),
        ("docs/api/index.md", 0o644),
        ("docs/api/keep.md", 0o644),
        ("logs/a.log", 0o644),
        ("logs/keep.log", 0o644),
        ("logs/deep/b.log", 0o644),
        ("logs/deep/keep.log", 0o644),
        ("node_modules/x/index.js", 0o644),
        ("web/node_modules/y/index.js", 0o644),
        ("web/src/app.js", 0o644),
        ("tempx/file", 0o644),
        ("file[1].txt", 0o644),
        ("space name.txt", 0o644),
        ("dir with spaces/inner.txt", 0o644),
        ("café.md", 0o644),
        ("data.bin", 0o644),
        ("hard-a", 0o644),
    ];
    for (rel, mode) in files {
        write(root, rel, *mode);
    }
    let long = format!("deep/{}/{}.txt", "d".repeat(60), "f".repeat(110));
    write(root, &long, 0o644);
    dir(root, "empty-dir", 0o755);
    dir(root, "private-dir", 0o700);
    write(root, "private-dir/inside", 0o640);
    dir(root, "sticky", 0o1777);
    write(root, "sticky/file", 0o666);
    fs::write(
        root.join("Dockerfile"),
        format!("FROM {BASE_IMAGE}\nCOPY . /ctx/\n"),
    )
    .unwrap();
    fs::write(
        root.join("app/Dockerfile"),
        format!("FROM {BASE_IMAGE}\nCOPY . /ctx/\n"),
    )
    .unwrap();
    fs::hard_link(root.join("hard-a"), root.join("hard-b")).unwrap();
    std::os::unix::fs::symlink("README.md", root.join("link-to-readme")).unwrap();
    std::os::unix::fs::symlink("docs", root.join("link-to-docs")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", root.join("dangling")).unwrap();
    std::os::unix::fs::symlink("../README.md", root.join("docs/api/up-link")).unwrap();
}
