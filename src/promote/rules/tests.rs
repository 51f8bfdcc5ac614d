use super::*;

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

fn tag(s: &str) -> ImageTag {
    s.parse().unwrap()
}

fn observed(tags: &[(&str, Option<char>)]) -> Vec<Observed> {
    tags.iter()
        .map(|(t, c)| Observed {
            tag: tag(t),
            current: c.map(digest),
        })
        .collect()
}

fn version(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn promotion<'a>(digest: &'a Digest, version: &'a Version) -> Promotion<'a> {
    Promotion {
        digest,
        version: Some(version),
        policy: LatestPolicy::Monotonic,
    }
}

fn actions(decisions: &[Decision]) -> Vec<(&str, Action)> {
    decisions
        .iter()
        .map(|d| (d.tag.as_str(), d.action))
        .collect()
}

#[test]
fn tags_already_on_the_digest_are_unchanged() {
    let (ours, v) = (digest('a'), version("1.4.0"));
    let seen = observed(&[
        ("1.4.0", Some('a')),
        ("1.4", Some('a')),
        ("latest", Some('a')),
    ]);
    let plan = plan(&promotion(&ours, &v), &seen, None).unwrap();
    assert!(
        plan.iter().all(|d| d.action == Action::Unchanged),
        "{plan:?}"
    );
    assert!(plan.iter().all(|d| d.previous == Some(ours.clone())));
}

#[test]
fn a_version_tag_on_another_digest_is_refused_naming_both() {
    let (ours, v) = (digest('b'), version("1.4.0"));
    let seen = observed(&[("1.4.0", Some('a')), ("1.4", None), ("latest", None)]);
    let err = plan(&promotion(&ours, &v), &seen, None).unwrap_err();
    assert_eq!(err.exit_code().code(), 1);
    assert!(err.message().contains(digest('a').as_str()), "{err:?}");
    assert!(err.message().contains(digest('b').as_str()), "{err:?}");
    assert!(err.message().contains("1.4.0"), "{err:?}");
}

#[test]
fn only_exact_versions_are_immutable() {
    let (ours, v) = (digest('b'), version("1.5.0-rc.2"));
    let seen = observed(&[
        ("1.5.0-rc.2", Some('a')),
        ("1.5", Some('a')),
        ("main", Some('c')),
    ]);
    let plan = plan(&promotion(&ours, &v), &seen, None).unwrap();
    assert_eq!(
        actions(&plan),
        vec![
            ("1.5.0-rc.2", Action::Moved),
            ("1.5", Action::Moved),
            ("main", Action::Moved)
        ]
    );
    assert_eq!(plan[2].previous, Some(digest('c')));
}

#[test]
fn versions_are_written_first_and_latest_last() {
    let (ours, v) = (digest('b'), version("2.0.0"));
    let seen = observed(&[
        ("latest", None),
        ("2", None),
        ("2.0.0", None),
        ("main", Some('a')),
    ]);
    let plan = plan(&promotion(&ours, &v), &seen, None).unwrap();
    assert_eq!(
        actions(&plan),
        vec![
            ("2.0.0", Action::Created),
            ("2", Action::Created),
            ("main", Action::Moved),
            ("latest", Action::Created),
        ]
    );
}

#[test]
fn latest_moves_only_forward() {
    let ours = digest('b');
    let seen = observed(&[("latest", Some('a'))]);
    let cases = [
        ("2.0.0", "1.9.1", Action::Moved, "lower than 2.0.0"),
        ("1.9.1", "2.0.1", Action::Kept, "2.0.1, higher than 1.9.1"),
        ("1.9.1", "1.9.1", Action::Kept, "the same version"),
        (
            "1.0.0",
            "1.0.0-rc.10",
            Action::Moved,
            "pre-release 1.0.0-rc.10",
        ),
        (
            "1.0.0+build.2",
            "1.0.0+build.1",
            Action::Kept,
            "the same version",
        ),
    ];
    for (promoted, labelled, action, reason) in cases {
        let v = version(promoted);
        let label = LatestLabel::Version(version(labelled));
        let plan = plan(&promotion(&ours, &v), &seen, Some(&label)).unwrap();
        assert_eq!(plan[0].action, action, "{promoted} over {labelled}");
        assert!(plan[0].reason.contains(reason), "{:?}", plan[0]);
    }
}

#[test]
fn latest_without_a_readable_label_moves_and_says_so() {
    let (ours, v) = (digest('b'), version("1.0.0"));
    let seen = observed(&[("latest", Some('a'))]);
    let missing = plan(&promotion(&ours, &v), &seen, Some(&LatestLabel::Missing)).unwrap();
    assert_eq!(missing[0].action, Action::Moved);
    assert!(
        missing[0].reason.contains("no version label"),
        "{missing:?}"
    );
    let odd = LatestLabel::parse(Some("nightly"));
    let unreadable = plan(&promotion(&ours, &v), &seen, Some(&odd)).unwrap();
    assert_eq!(unreadable[0].action, Action::Moved);
    assert!(
        unreadable[0].reason.contains("`nightly` is not SemVer"),
        "{unreadable:?}"
    );
}

#[test]
fn latest_is_not_moved_on_a_label_that_was_not_read() {
    let (ours, v) = (digest('b'), version("1.0.0"));
    let seen = observed(&[("latest", Some('a'))]);
    assert_eq!(
        plan(&promotion(&ours, &v), &seen, None).unwrap()[0].action,
        Action::Kept
    );
}

#[test]
fn latest_is_never_set_when_the_policy_says_never() {
    let (ours, v) = (digest('b'), version("9.0.0"));
    let never = Promotion {
        policy: LatestPolicy::Never,
        ..promotion(&ours, &v)
    };
    let absent = plan(&never, &observed(&[("latest", None)]), None).unwrap();
    assert_eq!(absent[0].action, Action::Skipped);
    let present = observed(&[("latest", Some('a'))]);
    assert_eq!(latest_to_inspect(&never, &present), None);
    let kept = plan(&never, &present, None).unwrap();
    assert_eq!(
        (kept[0].action, kept[0].reason.contains("never")),
        (Action::Kept, true)
    );
}

#[test]
fn latest_needs_the_version_being_promoted() {
    let ours = digest('b');
    let unknown = Promotion {
        digest: &ours,
        version: None,
        policy: LatestPolicy::Monotonic,
    };
    let err = plan(&unknown, &observed(&[("latest", None)]), None).unwrap_err();
    assert!(err.hint().unwrap().contains("--version"), "{err:?}");
    let floating = plan(&unknown, &observed(&[("main", None)]), None).unwrap();
    assert_eq!(floating[0].action, Action::Created);
}

#[test]
fn only_a_latest_on_another_image_is_inspected() {
    let (ours, v) = (digest('b'), version("1.0.0"));
    let p = promotion(&ours, &v);
    let elsewhere = observed(&[("1.0.0", None), ("latest", Some('a'))]);
    assert_eq!(latest_to_inspect(&p, &elsewhere), Some(&digest('a')));
    assert_eq!(
        latest_to_inspect(&p, &observed(&[("latest", Some('b'))])),
        None
    );
    assert_eq!(latest_to_inspect(&p, &observed(&[("latest", None)])), None);
}

#[test]
fn labels_parse_with_or_without_a_v() {
    assert_eq!(
        LatestLabel::parse(Some("v2.0.1")),
        LatestLabel::Version(version("2.0.1"))
    );
    assert_eq!(
        LatestLabel::parse(Some("2.0.1")),
        LatestLabel::Version(version("2.0.1"))
    );
    assert_eq!(LatestLabel::parse(None), LatestLabel::Missing);
}

#[test]
fn latest_is_never_put_on_a_pre_release() {
    let (ours, v) = (digest('b'), version("1.0.1-dev.1"));
    for current in [None, Some('a')] {
        let seen = observed(&[("1.0.1-dev.1", None), ("latest", current)]);
        let label = LatestLabel::Version(version("1.0.0"));
        let err = plan(&promotion(&ours, &v), &seen, Some(&label)).unwrap_err();
        assert_eq!(err.exit_code().code(), 1);
        assert!(err.message().contains("pre-release"), "{err:?}");
    }
}

#[test]
fn a_release_takes_latest_back_from_a_pre_release() {
    let (ours, v) = (digest('b'), version("1.0.0"));
    let seen = observed(&[("latest", Some('a'))]);
    let label = LatestLabel::Version(version("1.0.1-dev.1"));
    let plan = plan(&promotion(&ours, &v), &seen, Some(&label)).unwrap();
    assert_eq!(actions(&plan), vec![("latest", Action::Moved)]);
    assert!(plan[0].reason.contains("pre-release"), "{plan:?}");
}
