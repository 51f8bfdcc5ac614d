//! What the version stage reads from git, through libgit2: the repository and HEAD, the release
//! tags (peeled once), and walks of the history that each stop as soon as their answer is known.
//!
//! Nothing here knows the version rules; it answers narrow questions about the commit graph.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use git2::{ErrorClass, ErrorCode, ObjectType, Oid, Repository, StatusOptions};
use semver::Version;

use super::rules;
use crate::error::{Error, Kind, Result};

/// How deep a chain of tags pointing at tags is followed before giving up on it.
const MAX_TAG_CHAIN: usize = 8;

/// A release tag of the repository, peeled to its commit.
#[derive(Debug, Clone)]
pub struct ReleaseTag {
    pub version: Version,
    pub commit: Oid,
}

/// HEAD of the repository.
#[derive(Debug, Clone)]
pub struct Head {
    pub commit: Oid,
    /// Commit time, seconds since the epoch.
    pub time: i64,
    /// The branch HEAD is on; `None` when detached.
    pub branch: Option<String>,
}

/// What a walk from HEAD toward its nearest release found.
#[derive(Debug, Default)]
pub struct Nearest {
    /// The first commit met that carries a release without pre-release part; `None` when the
    /// walk ran out of history first.
    pub base: Option<Oid>,
    /// Every commit the walk met: all reachable from HEAD. When `base` is `None`, this is the
    /// whole history of HEAD.
    pub seen: HashSet<Oid>,
    /// The walk met a commit whose parents were cut off by a shallow clone.
    pub hit_shallow_end: bool,
}

/// An open repository.
pub struct Git {
    repo: Repository,
}

impl Git {
    /// Opens the repository that contains `dir`, with one clear error for each way git can
    /// refuse (DESIGN.md section 4, rule 12).
    pub fn open(dir: &Path) -> Result<Git> {
        // The command that named the directory says where the name came from.
        if !dir.exists() {
            return Err(Error::input(format!(
                "directory {} does not exist",
                dir.display()
            )));
        }
        // Messages name the directory as an absolute path, which is what safe.directory and
        // people reading CI logs need.
        let dir = &std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        match Repository::discover(dir) {
            Ok(repo) => Ok(Git { repo }),
            Err(e) if e.code() == ErrorCode::Owner => Err(refused_by_owner(dir, &e)),
            Err(e) if e.code() == ErrorCode::NotFound => Err(Error::input(format!(
                "{} is not in a git repository",
                dir.display()
            ))
            .with_hint(
                "run inside the application's git checkout, or point [image] context at it \
                 (`version` also takes --repo DIR)",
            )
            .with_source(e)),
            Err(e) => Err(Error::input(format!(
                "cannot open the git repository at {}",
                dir.display()
            ))
            .with_source(e)),
        }
    }

    /// The directory people know the repository by: the work tree, or the git directory when
    /// bare.
    pub fn location(&self) -> PathBuf {
        let path = self.repo.workdir().unwrap_or_else(|| self.repo.path());
        // libgit2 keeps a trailing slash on directories; people's paths have none.
        path.components().collect()
    }

    pub fn head(&self) -> Result<Head> {
        let reference = self.repo.head().map_err(|e| match e.code() {
            ErrorCode::UnbornBranch | ErrorCode::NotFound => Error::input(format!(
                "the repository at {} has no commit yet",
                self.location().display()
            ))
            .with_hint("commit something first: the version is derived from HEAD"),
            _ => self.read_error("HEAD", e),
        })?;
        let commit = reference
            .peel_to_commit()
            .map_err(|e| self.read_error("the commit of HEAD", e))?;
        let branch = reference
            .name()
            .ok()
            .filter(|_| reference.is_branch())
            .and_then(|name| name.strip_prefix("refs/heads/"))
            .map(str::to_owned);
        Ok(Head {
            commit: commit.id(),
            time: commit.time().seconds(),
            branch,
        })
    }

    /// Whether the work tree is not exactly HEAD: tracked files changed, or untracked files
    /// that git does not ignore (they would be built into the image). Ignored files do not
    /// count. A bare repository is never dirty.
    pub fn is_dirty(&self) -> Result<bool> {
        if self.repo.is_bare() {
            return Ok(false);
        }
        let mut options = StatusOptions::new();
        options
            .include_untracked(true)
            .recurse_untracked_dirs(false)
            .include_ignored(false)
            .exclude_submodules(true);
        let statuses = self
            .repo
            .statuses(Some(&mut options))
            .map_err(|e| self.read_error("the status of the work tree", e))?;
        Ok(!statuses.is_empty())
    }

    /// Every release tag of the repository, each peeled to its commit once. Tags that are not
    /// releases are skipped silently, as are tags whose objects are missing or not commits.
    pub fn release_tags(&self, prefix: &str) -> Result<Vec<ReleaseTag>> {
        let odb = self
            .repo
            .odb()
            .map_err(|e| self.read_error("the object database", e))?;
        let references = self
            .repo
            .references_glob("refs/tags/*")
            .map_err(|e| self.read_error("the tags", e))?;
        let mut tags = Vec::new();
        for reference in references {
            let reference = reference.map_err(|e| self.read_error("the tags", e))?;
            let Some(name) = reference
                .name()
                .ok()
                .and_then(|name| name.strip_prefix("refs/tags/"))
            else {
                continue;
            };
            let Some(version) = rules::release_version(name, prefix) else {
                continue;
            };
            // Packed refs often carry the peeled commit already, which spares reading the tag.
            let commit = match (reference.target_peel(), reference.target()) {
                (Some(peeled), _) => Some(peeled),
                (None, Some(target)) => self.peel_to_commit(&odb, target),
                (None, None) => reference
                    .resolve()
                    .ok()
                    .and_then(|r| r.target())
                    .and_then(|target| self.peel_to_commit(&odb, target)),
            };
            match commit {
                Some(commit) => tags.push(ReleaseTag { version, commit }),
                None => tracing::debug!("tag {name} does not point at a commit here; skipped"),
            }
        }
        Ok(tags)
    }

    /// The commit `oid` stands for, reading only tag objects: a commit is recognised by its
    /// header alone.
    fn peel_to_commit(&self, odb: &git2::Odb<'_>, mut oid: Oid) -> Option<Oid> {
        let mut kind = odb.read_header(oid).ok()?.1;
        for _ in 0..MAX_TAG_CHAIN {
            match kind {
                ObjectType::Commit => return Some(oid),
                ObjectType::Tag => {
                    let tag = self.repo.find_tag(oid).ok()?;
                    oid = tag.target_id();
                    kind = tag.target_type()?;
                }
                _ => return None,
            }
        }
        None
    }

    /// Walks back from `head`, newest commit first, until a commit for which `is_release` holds.
    /// Newest first makes the nearest release by date the first one met, which is the base in
    /// almost every history; the caller checks higher releases separately.
    pub fn walk_to_nearest(&self, head: Oid, is_release: impl Fn(Oid) -> bool) -> Result<Nearest> {
        let mut nearest = Nearest::default();
        let mut queue = BinaryHeap::new();
        let mut order = 0u64;
        queue.push(Queued::new(self.commit(head)?, order));
        nearest.seen.insert(head);
        while let Some(Queued { commit, .. }) = queue.pop() {
            if is_release(commit.id()) {
                nearest.base = Some(commit.id());
                break;
            }
            if commit.parent_count() == 0 && self.repo.is_shallow() && has_parent_lines(&commit) {
                nearest.hit_shallow_end = true;
            }
            for parent in commit.parent_ids() {
                if nearest.seen.insert(parent) {
                    order += 1;
                    queue.push(Queued::new(self.commit(parent)?, order));
                }
            }
        }
        Ok(nearest)
    }

    /// The number of commits reachable from `head`, in libgit2's own walk, which reads only
    /// parents.
    pub fn count(&self, head: Oid) -> Result<u64> {
        let mut walk = self
            .repo
            .revwalk()
            .map_err(|e| self.read_error("the history", e))?;
        walk.push(head)
            .map_err(|e| self.read_error("the history", e))?;
        let mut count = 0;
        for oid in walk {
            oid.map_err(|e| self.read_error("the history", e))?;
            count += 1;
        }
        Ok(count)
    }

    pub fn is_shallow(&self) -> bool {
        self.repo.is_shallow()
    }

    /// Which of `candidates` are not reachable from `head`, in one walk that stops once every
    /// path left is known to be reachable from `head`.
    pub fn unreachable_among(&self, head: Oid, candidates: &[Oid]) -> Result<HashSet<Oid>> {
        let odb = self
            .repo
            .odb()
            .map_err(|e| self.read_error("the object database", e))?;
        let mut walk = self
            .repo
            .revwalk()
            .map_err(|e| self.read_error("the history", e))?;
        walk.hide(head)
            .map_err(|e| self.read_error("the history", e))?;
        let mut missing = HashSet::new();
        for &candidate in candidates {
            if odb.exists(candidate) {
                walk.push(candidate)
                    .map_err(|e| self.read_error("a tagged commit", e))?;
            } else {
                missing.insert(candidate);
            }
        }
        let wanted: HashSet<Oid> = candidates.iter().copied().collect();
        let mut unreachable = missing;
        for oid in walk {
            let oid = oid.map_err(|e| self.read_error("the history", e))?;
            if wanted.contains(&oid) {
                unreachable.insert(oid);
            }
        }
        Ok(unreachable)
    }

    /// The number of commits reachable from `head` and not from `base` (`git rev-list --count
    /// base..head`), handing their messages to `read` while `read_messages` holds and `read`
    /// keeps returning `true`.
    pub fn range(
        &self,
        head: Oid,
        base: Oid,
        read_messages: bool,
        mut read: impl FnMut(&str) -> bool,
    ) -> Result<u64> {
        let mut walk = self
            .repo
            .revwalk()
            .map_err(|e| self.read_error("the history", e))?;
        walk.push(head)
            .and_then(|()| walk.hide(base))
            .map_err(|e| self.read_error("the history", e))?;
        let mut count = 0;
        let mut reading = read_messages;
        for oid in walk {
            let oid = oid.map_err(|e| self.read_error("the history", e))?;
            count += 1;
            if reading {
                let commit = self.commit(oid)?;
                reading = read(&String::from_utf8_lossy(commit.message_bytes()));
            }
        }
        Ok(count)
    }

    fn commit(&self, oid: Oid) -> Result<git2::Commit<'_>> {
        self.repo
            .find_commit(oid)
            .map_err(|e| self.read_error(&format!("commit {oid}"), e))
    }

    fn read_error(&self, what: &str, e: git2::Error) -> Error {
        // An operating system failure (a full disk, a vanished mount) may pass on a retry; a
        // broken or odd repository will not.
        let kind = if e.class() == ErrorClass::Os {
            Kind::Infrastructure
        } else {
            Kind::Input
        };
        let location = self.location();
        Error::new(
            kind,
            format!(
                "cannot read {what} in the git repository at {}",
                location.display()
            ),
        )
        .with_source(e)
    }
}

/// A commit waiting in the newest-first walk; each commit is read once, when queued.
struct Queued<'r> {
    time: i64,
    /// Among commits of the same second, the one queued first comes out first.
    order: std::cmp::Reverse<u64>,
    commit: git2::Commit<'r>,
}

impl<'r> Queued<'r> {
    fn new(commit: git2::Commit<'r>, order: u64) -> Self {
        Queued {
            time: commit.time().seconds(),
            order: std::cmp::Reverse(order),
            commit,
        }
    }
}

impl PartialEq for Queued<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Queued<'_> {}

impl PartialOrd for Queued<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.order).cmp(&(other.time, other.order))
    }
}

/// A commit whose object names parents that the repository does not show: the edge of a
/// shallow clone.
fn has_parent_lines(commit: &git2::Commit<'_>) -> bool {
    commit
        .raw_header_bytes()
        .split(|&b| b == b'\n')
        .any(|line| line.starts_with(b"parent "))
}

/// The error for a repository that git's ownership check refuses, with the exact command that
/// lets git trust it.
fn refused_by_owner(dir: &Path, e: &git2::Error) -> Error {
    let path = quoted_path(e.message()).unwrap_or_else(|| dir.display().to_string());
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix("/.git").unwrap_or(path);
    Error::input(format!(
        "git refuses the repository at {path}: it is owned by another user"
    ))
    .with_hint(format!(
        "if you trust it, run `git config --global --add safe.directory {path}`"
    ))
}

/// The first `'...'` in a libgit2 message.
fn quoted_path(message: &str) -> Option<String> {
    let start = message.find('\'')? + 1;
    let len = message[start..].find('\'')?;
    Some(message[start..start + len].to_owned())
}

/// Commits carrying release tags, with the versions on each.
pub fn by_commit(tags: &[ReleaseTag]) -> HashMap<Oid, Vec<&Version>> {
    let mut map: HashMap<Oid, Vec<&Version>> = HashMap::with_capacity(tags.len());
    for tag in tags {
        map.entry(tag.commit).or_default().push(&tag.version);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_taken_from_the_ownership_message() {
        let message = "repository path '/srv/app/' is not owned by current user";
        assert_eq!(quoted_path(message).as_deref(), Some("/srv/app/"));
        assert_eq!(quoted_path("no quotes"), None);
    }
}
