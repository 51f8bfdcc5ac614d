//! The differential test of the build context: the same context, built by the classic
//! `docker build` and by `vitality-publish`, must give images holding the same files with the
//! same types, modes, link targets and contents. One test per set of `.dockerignore` rules in
//! `testdata/build/dockerignore`.

mod build_support;

use std::fs;
use std::path::{Path, PathBuf};

use build_support::{Images, docker, engine, image_files, make_tree, request, unique};
use vitality_publish::output::Output;

fn fixture(name: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/build/dockerignore")
        .join(name);
    fs::read_to_string(path).ok()
}

/// Where the Dockerfile is, relative to the context.
enum Dockerfile {
    Root,
    Subdir,
    Outside,
}

/// A context made from the generated tree and a case's ignore files; `reference` gives the
/// context for the classic CLI, which does not read `Dockerfile.dockerignore`.
fn context(case: &str, dockerfile: &Dockerfile, reference: bool) -> (tempfile::TempDir, PathBuf) {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("ctx");
    fs::create_dir(&root).unwrap();
    make_tree(&root);
    if let Dockerfile::Outside = dockerfile {
        fs::remove_file(root.join("Dockerfile")).unwrap();
        fs::write(
            top.path().join("Dockerfile.outside"),
            format!("FROM {}\nCOPY . /ctx/\n", build_support::BASE_IMAGE),
        )
        .unwrap();
    }
    let common = fixture(&format!("{case}.dockerignore"));
    let specific = fixture(&format!("{case}.Dockerfile.dockerignore"));
    if let Some(text) = &common {
        fs::write(root.join(".dockerignore"), text).unwrap();
    }
    if let Some(text) = &specific {
        fs::write(root.join("Dockerfile.dockerignore"), text).unwrap();
        if reference {
            fs::write(root.join(".dockerignore"), text).unwrap();
        }
    }
    (top, root)
}

async fn differential(case: &str, dockerfile: Dockerfile) {
    assert!(
        fixture(&format!("{case}.dockerignore")).is_some() || case == "none",
        "no fixture for {case}"
    );
    let docker_engine = engine().await;
    let name = unique(&format!("vitality-test/context-{case}"));
    let theirs = format!("{name}:docker");
    let ours = format!("{name}:ours");
    let _cleanup = Images(vec![theirs.clone(), ours.clone()]);

    let (_top_ref, reference) = context(case, &dockerfile, true);
    let file_flag = match dockerfile {
        Dockerfile::Root => reference.join("Dockerfile"),
        Dockerfile::Subdir => reference.join("app/Dockerfile"),
        Dockerfile::Outside => reference.parent().unwrap().join("Dockerfile.outside"),
    };
    docker(&[
        "build",
        "-q",
        "-t",
        &theirs,
        "-f",
        file_flag.to_str().unwrap(),
        reference.to_str().unwrap(),
    ]);

    let (_top_ours, root) = context(case, &dockerfile, false);
    let relative = match dockerfile {
        Dockerfile::Root => "Dockerfile",
        Dockerfile::Subdir => "app/Dockerfile",
        Dockerfile::Outside => "../Dockerfile.outside",
    };
    let built = vitality_publish::build::build(
        &docker_engine,
        &request(&root, relative, &ours),
        &Output::plain(),
    )
    .await
    .unwrap_or_else(|e| panic!("our build of {case} failed: {e:?}"));
    assert_eq!(built.reference, ours);

    let expected = image_files(&theirs, "ctx");
    let found = image_files(&ours, "ctx");
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !found.contains_key(*k))
        .collect();
    let extra: Vec<_> = found
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    let differ: Vec<_> = expected
        .iter()
        .filter_map(|(k, v)| found.get(k).filter(|f| *f != v).map(|f| (k, v, f)))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "{case}: docker build and ours differ\n  only in docker's image: {missing:?}\n  only in \
         ours: {extra:?}\n  different (docker, ours): {differ:?}"
    );
    assert!(
        expected.len() > 3,
        "{case}: the reference image holds almost nothing"
    );
}

#[tokio::test]
async fn context_without_dockerignore_matches_docker() {
    differential("none", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_anchoring_matches_docker() {
    differential("anchoring", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_star_and_question_mark_match_docker() {
    differential("star-and-question-mark", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_double_star_matches_docker() {
    differential("double-star", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_reinclude_matches_docker() {
    differential("reinclude", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_reinclude_glob_matches_docker() {
    differential("reinclude-glob", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_last_match_wins_like_docker() {
    differential("last-match-wins", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_pattern_cleaning_matches_docker() {
    differential("cleaning", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_build_files_are_sent_and_dropped_like_docker() {
    differential("build-files", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_character_classes_match_docker() {
    differential("classes", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_symlinks_match_docker() {
    differential("symlinks", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_dockerfile_dockerignore_takes_precedence() {
    differential("precedence-keep", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_dockerfile_dockerignore_can_drop_the_build_files() {
    differential("precedence-drop", Dockerfile::Root).await;
}

#[tokio::test]
async fn context_with_dockerfile_outside_matches_docker() {
    differential("outside-dockerfile", Dockerfile::Outside).await;
}

#[tokio::test]
async fn context_with_dockerfile_in_excluded_folder_matches_docker() {
    differential("dockerfile-in-subdir", Dockerfile::Subdir).await;
}
