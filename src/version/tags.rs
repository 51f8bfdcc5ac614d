//! The image tags of a run (DESIGN.md section 4, rules 9 and 10): built-in candidate and
//! promote tags first, then the `[tags]` templates, every one sanitised, duplicates dropped.

use semver::Version;

use super::channel::{self, Channel};
use super::{Tags, rules, templates};
use crate::config::TagsSection;
use crate::error::Result;
use crate::names::ImageTag;

/// What the tags of a run are made from.
pub(super) struct TagPlan<'a> {
    pub version: &'a Version,
    /// HEAD carries the version as a release tag.
    pub tagged: bool,
    pub commit: &'a str,
    pub branch: Option<&'a str>,
    pub channel: &'a Channel,
    /// Every release of the repository, reachable or not, for the floating tags.
    pub all_releases: &'a [&'a Version],
}

impl TagPlan<'_> {
    /// The candidate and promote tags: built-in ones first, then the templates, each sanitised
    /// (rule 10), duplicates dropped with the first kept.
    pub fn tags(&self, templates: &TagsSection) -> Result<Tags> {
        let values = self.template_values();
        let render = |list: &[String]| -> Result<Vec<String>> {
            list.iter().map(|t| templates::render(t, &values)).collect()
        };
        let mut candidate = vec![format!("sha-{}", &self.commit[..7])];
        candidate.extend(render(&templates.candidate)?);
        let mut promote = self.builtin_promote();
        promote.extend(render(&templates.promote)?);
        Ok(Tags {
            candidate: sanitize_all(&candidate),
            promote: sanitize_all(&promote),
        })
    }

    /// Rule 9: a release moves its floating tags, a tagged pre-release gets its version alone,
    /// an untagged commit its version and its branch tag.
    fn builtin_promote(&self) -> Vec<String> {
        let version = rules::without_build(self.version).to_string();
        let mut tags = vec![version];
        if self.tagged && self.version.pre.is_empty() {
            tags.extend(rules::floating_tags(
                self.version,
                self.all_releases.iter().copied(),
            ));
        } else if !self.tagged {
            tags.extend(self.channel.branch_tag());
        }
        tags
    }

    fn template_values(&self) -> templates::Values {
        templates::Values {
            version: rules::without_build(self.version).to_string(),
            major: self.version.major,
            minor: self.version.minor,
            patch: self.version.patch,
            sha: self.commit[..7].to_owned(),
            branch: self.branch.map(channel::slug).unwrap_or_default(),
            channel: self.channel.to_string(),
        }
    }
}

/// Each name as a valid image tag, in order, without duplicates; a name with nothing usable in
/// it (a template that rendered empty) is left out.
fn sanitize_all(names: &[String]) -> Vec<ImageTag> {
    let mut out: Vec<ImageTag> = Vec::with_capacity(names.len());
    for name in names {
        match ImageTag::sanitize(name) {
            Some(tag) if !out.contains(&tag) => out.push(tag),
            Some(_) => {}
            None => tracing::debug!("tag `{name}` has nothing usable in it; left out"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn tags_of(tags: &[ImageTag]) -> Vec<&str> {
        tags.iter().map(ImageTag::as_str).collect()
    }

    fn plan<'a>(
        version: &'a Version,
        tagged: bool,
        channel: &'a Channel,
        all: &'a [&'a Version],
    ) -> TagPlan<'a> {
        TagPlan {
            version,
            tagged,
            commit: "abc1234def5678abc1234def5678abc1234def56",
            branch: Some("main"),
            channel,
            all_releases: all,
        }
    }

    #[test]
    fn untagged_commits_get_version_then_branch_tag() {
        let version = v("1.5.0-dev.7");
        let channel = Channel::Dev {
            slug: "main".into(),
        };
        let tags = plan(&version, false, &channel, &[])
            .tags(&TagsSection::default())
            .unwrap();
        assert_eq!(tags_of(&tags.candidate), ["sha-abc1234"]);
        assert_eq!(tags_of(&tags.promote), ["1.5.0-dev.7", "main"]);
    }

    #[test]
    fn build_metadata_never_reaches_a_tag() {
        let version = v("1.2.3+build.7");
        let releases = [&version];
        let channel = Channel::Detached;
        let tags = plan(&version, true, &channel, &releases)
            .tags(&TagsSection::default())
            .unwrap();
        assert_eq!(tags_of(&tags.promote), ["1.2.3", "1.2", "1", "latest"]);
    }

    #[test]
    fn templates_come_after_builtin_tags_and_duplicates_go() {
        let version = v("1.5.0-dev.7");
        let channel = Channel::Dev {
            slug: "main".into(),
        };
        let templates = TagsSection {
            candidate: vec!["sha-{sha}".into(), "{channel}-{sha}".into()],
            promote: vec![
                "{branch}".into(),
                "{major}.{minor}-edge".into(),
                "}{major}".into(),
            ],
        };
        let err = plan(&version, false, &channel, &[])
            .tags(&templates)
            .unwrap_err();
        assert!(err.message().contains("brace"));
        let templates = TagsSection {
            promote: vec!["{branch}".into(), "{major}.{minor}-edge".into()],
            ..templates
        };
        let tags = plan(&version, false, &channel, &[])
            .tags(&templates)
            .unwrap();
        assert_eq!(tags_of(&tags.candidate), ["sha-abc1234", "dev-abc1234"]);
        assert_eq!(tags_of(&tags.promote), ["1.5.0-dev.7", "main", "1.5-edge"]);
    }

    #[test]
    fn a_tagged_prerelease_gets_its_version_alone() {
        let version = v("1.0.0-rc.10");
        let channel = Channel::Dev {
            slug: "main".into(),
        };
        let tags = plan(&version, true, &channel, &[])
            .tags(&TagsSection::default())
            .unwrap();
        assert_eq!(tags_of(&tags.promote), ["1.0.0-rc.10"]);
    }

    #[test]
    fn empty_renderings_are_left_out() {
        assert_eq!(
            tags_of(&sanitize_all(&["".into(), "a".into(), "a".into()])),
            ["a"]
        );
    }
}
