//! The build context: which files go to the engine, decided as the Docker CLI decides, and the
//! walk that streams them as a tar while it reads the folder.
//!
//! Everything that can be refused is checked before the first byte is sent: the context
//! folder, the Dockerfile, the ignore file and its patterns. The walk visits each folder in
//! name order, skips what the patterns exclude (entering an excluded folder only when a `!`
//! pattern names something inside it, as Docker does), and always sends the Dockerfile and
//! `.dockerignore`, which the engine's classic builder reads and then drops itself.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use super::dockerignore::{self, Matcher};
use super::tarball::{Entry, Kind, TarStream};
use crate::error::{Error, Result};

const DOCKERIGNORE: &str = ".dockerignore";

/// What the walk sends, decided before it starts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The context folder with symlinks resolved, as Docker resolves it.
    pub root: PathBuf,
    /// The Dockerfile's name in the archive: its path in the context, or a generated
    /// `.dockerfile.<random>` for a Dockerfile outside it.
    pub dockerfile: String,
    /// The file the patterns came from, if any.
    pub ignore_file: Option<PathBuf>,
    /// The patterns the walk applies, including the ones that keep the build files.
    pub matcher: Matcher,
    /// The contents of a Dockerfile outside the context, sent under the generated name.
    outside_dockerfile: Option<Vec<u8>>,
    /// What to send as `.dockerignore` when it is not the file found in the folder.
    dockerignore: Option<Vec<u8>>,
    /// The modification time given to the entries this plan makes up.
    generated_mtime: i64,
    /// Things the user should know that do not stop the build.
    pub warnings: Vec<String>,
}

/// Resolves the context folder and Dockerfile and reads the ignore file that applies:
/// `<Dockerfile>.dockerignore` next to the Dockerfile when it exists, else `.dockerignore` at
/// the root of the context. A relative `dockerfile` is relative to the context.
pub fn plan(context: &Path, dockerfile: &Path) -> Result<Plan> {
    let root = fs::canonicalize(context).map_err(|e| {
        Error::input(format!(
            "the build context {} cannot be opened: {e}",
            context.display()
        ))
        .with_hint("set [image] context in the pipeline file to an existing folder")
    })?;
    if !root.is_dir() {
        return Err(Error::input(format!(
            "the build context {} is not a folder",
            context.display()
        ))
        .with_hint("set [image] context in the pipeline file to a folder"));
    }
    let given = if dockerfile.is_absolute() {
        dockerfile.to_path_buf()
    } else {
        root.join(dockerfile)
    };
    let resolved = fs::canonicalize(&given)
        .ok()
        .filter(|p| fs::metadata(p).is_ok_and(|m| !m.is_dir()))
        .ok_or_else(|| {
            Error::input(format!("Dockerfile not found: {}", given.display())).with_hint(
                "set [image] dockerfile in the pipeline file; a relative path is relative to \
                 the context",
            )
        })?;
    let generated_mtime = fs::metadata(&resolved).map(|m| mtime(&m)).unwrap_or(0);

    let specific = PathBuf::from(format!("{}.dockerignore", given.display()));
    let (ignore_file, precedence) = if specific.is_file() {
        (Some(specific), true)
    } else {
        let common = root.join(DOCKERIGNORE);
        (common.is_file().then_some(common), false)
    };
    let patterns = match &ignore_file {
        Some(path) => read_matcher(path)?,
        None => Matcher::default(),
    };

    let inside = resolved.strip_prefix(&root).ok().map(slash_path);
    let mut plan = Plan {
        root: root.clone(),
        dockerfile: String::new(),
        ignore_file,
        matcher: patterns.clone(),
        outside_dockerfile: None,
        dockerignore: None,
        generated_mtime,
        warnings: Vec::new(),
    };
    let found_dockerignore = root.join(DOCKERIGNORE);
    let found_dockerignore = found_dockerignore.is_file().then_some(found_dockerignore);

    let keep = |matcher: Matcher, path: &str| {
        matcher.with_reinclude(path).map_err(|e| {
            Error::input(format!(
                "the Dockerfile name cannot be used as a pattern: {e}"
            ))
            .with_hint("rename the Dockerfile without [, ], * or ? in its path")
        })
    };
    if !precedence && patterns.matches(DOCKERIGNORE) {
        plan.matcher = keep(plan.matcher, DOCKERIGNORE)?;
    }
    if let Some(rel) = &inside {
        plan.dockerfile = rel.clone();
        if patterns.matches(rel) {
            plan.matcher = keep(plan.matcher, rel)?;
        }
    } else {
        plan.dockerfile = format!(".dockerfile.{}", random_hex(20));
        plan.outside_dockerfile = Some(fs::read(&resolved).map_err(|e| {
            Error::input(format!(
                "cannot read the Dockerfile {}: {e}",
                resolved.display()
            ))
        })?);
    }

    // The engine reads `.dockerignore` from the archive to drop the Dockerfile and itself, so
    // when another file gave the patterns, or the Dockerfile has a generated name, the
    // `.dockerignore` it reads must say what to drop.
    let keeps_found =
        found_dockerignore.is_some() && (!precedence || !patterns.matches(DOCKERIGNORE));
    let found_text = match &found_dockerignore {
        Some(path) if keeps_found => Some(
            fs::read(path)
                .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?,
        ),
        _ => None,
    };
    match (&inside, precedence) {
        (None, _) => {
            let mut text = found_text.unwrap_or_else(|| DOCKERIGNORE.as_bytes().to_vec());
            text.extend_from_slice(format!("\n{}\n", plan.dockerfile).as_bytes());
            plan.dockerignore = Some(text);
        }
        (Some(rel), true) => {
            let drop_dockerfile = patterns.matches_or_parent_matches(rel);
            if let Some(text) = &found_text {
                let engine = Matcher::new(&dockerignore::read_patterns(text)).unwrap_or_default();
                if engine.matches(DOCKERIGNORE) || engine.matches(rel) != drop_dockerfile {
                    plan.warnings.push(format!(
                        "the engine applies .dockerignore to itself and to {rel} while {} \
                         decides the rest of the context; those two files may differ from a \
                         BuildKit build",
                        plan.ignore_file
                            .as_deref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ));
                }
            } else if drop_dockerfile {
                plan.dockerignore = Some(format!("{DOCKERIGNORE}\n{rel}\n").into_bytes());
            }
        }
        (Some(_), false) => {}
    }
    Ok(plan)
}

fn read_matcher(path: &Path) -> Result<Matcher> {
    let text =
        fs::read(path).map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
    Matcher::new(&dockerignore::read_patterns(&text)).map_err(|e| {
        Error::input(format!("{}: {e}", path.display()))
            .with_hint("fix the pattern; .dockerignore patterns follow Go's filepath.Match syntax")
    })
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn random_hex(len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

/// Why the walk stopped early.
#[derive(Debug)]
pub enum WalkError {
    /// The request went away, such as a cancelled build; nothing to report from here.
    Closed,
    /// Something in the context could not be sent.
    Failed(Error),
}

/// Walks the context and writes it to `out`, in the order and with the entries Docker sends.
pub fn send(plan: &Plan, out: TarStream) -> Result<(), WalkError> {
    let mut walk = Walk {
        plan,
        out,
        links: HashMap::new(),
        dockerignore_sent: false,
    };
    walk.dir(&plan.root, "", None)?;
    let generated = |name: &str, data: &[u8]| Entry {
        name: name.as_bytes().to_vec(),
        mode: 0o600,
        mtime: plan.generated_mtime,
        kind: Kind::File {
            size: data.len() as u64,
        },
    };
    if let Some(contents) = &plan.outside_dockerfile {
        let entry = generated(&plan.dockerfile, contents);
        walk.write(&entry, Some(contents), &plan.root)?;
    }
    if let (Some(text), false) = (&plan.dockerignore, walk.dockerignore_sent) {
        let entry = generated(DOCKERIGNORE, text);
        walk.write(&entry, Some(text), &plan.root)?;
    }
    let Walk { out, .. } = walk;
    let closed = out.is_closed();
    out.finish().map_err(|e| {
        if closed {
            WalkError::Closed
        } else {
            WalkError::Failed(Error::input(format!("cannot finish the context: {e}")))
        }
    })
}

struct Walk<'a> {
    plan: &'a Plan,
    out: TarStream,
    /// The archive name of the first path seen for each inode with more than one link.
    links: HashMap<u64, String>,
    dockerignore_sent: bool,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, rel: &str, parent: Option<&[bool]>) -> Result<(), WalkError> {
        let mut names: Vec<std::ffi::OsString> = fs::read_dir(dir)
            .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
            .map_err(|e| failed(dir, "cannot read the folder", e))?;
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for name in names {
            let path = dir.join(&name);
            let name = name.to_string_lossy();
            let child = if rel.is_empty() {
                name.into_owned()
            } else {
                format!("{rel}/{name}")
            };
            let meta = match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    tracing::debug!("{} disappeared while the context was sent", path.display());
                    continue;
                }
                Err(e) => return Err(failed(&path, "cannot read", e)),
            };
            let is_dir = meta.is_dir();
            let (excluded, flags) = self.plan.matcher.matches_using_parent(&child, parent);
            if excluded {
                if is_dir && self.plan.matcher.walks_into(&child) {
                    self.dir(&path, &child, Some(&flags))?;
                }
                continue;
            }
            self.add(&path, &child, &meta)?;
            if is_dir {
                self.dir(&path, &child, Some(&flags))?;
            }
        }
        Ok(())
    }

    fn add(&mut self, path: &Path, rel: &str, meta: &Metadata) -> Result<(), WalkError> {
        let file_type = meta.file_type();
        let mut entry = Entry {
            name: rel.as_bytes().to_vec(),
            mode: mode(meta),
            mtime: mtime(meta),
            kind: Kind::Dir,
        };
        if file_type.is_dir() {
            entry.name.push(b'/');
            return self.write(&entry, None, path);
        }
        if file_type.is_symlink() {
            let target = fs::read_link(path).map_err(|e| failed(path, "cannot read link", e))?;
            entry.kind = Kind::Symlink {
                target: target.into_os_string().into_encoded_bytes(),
            };
            return self.write(&entry, None, path);
        }
        if file_type.is_file() {
            let replaced = (rel == DOCKERIGNORE).then(|| self.plan.dockerignore.clone());
            if let Some(text) = replaced.flatten() {
                self.dockerignore_sent = true;
                entry.kind = Kind::File {
                    size: text.len() as u64,
                };
                return self.write(&entry, Some(&text), path);
            }
            if let Some(inode) = hard_link_inode(meta) {
                if let Some(first) = self.links.get(&inode) {
                    entry.kind = Kind::HardLink {
                        target: first.clone(),
                    };
                    return self.write(&entry, None, path);
                }
                self.links.insert(inode, rel.to_owned());
            }
            return self.file(entry, path, meta.len());
        }
        match special(meta) {
            Some(kind) => {
                entry.kind = kind;
                self.write(&entry, None, path)
            }
            None => {
                tracing::debug!(
                    "{} is a socket, which a context cannot hold",
                    path.display()
                );
                Ok(())
            }
        }
    }

    fn file(&mut self, mut entry: Entry, path: &Path, size: u64) -> Result<(), WalkError> {
        let mut file = File::open(path).map_err(|e| failed(path, "cannot read", e))?;
        entry.kind = Kind::File { size };
        let result = self.out.append(&entry, Some(&mut file));
        result.map_err(|e| self.write_error(path, e))
    }

    fn write(&mut self, entry: &Entry, data: Option<&[u8]>, path: &Path) -> Result<(), WalkError> {
        let result = match data {
            Some(mut bytes) => self.out.append(entry, Some(&mut bytes)),
            None => self.out.append(entry, None),
        };
        result.map_err(|e| self.write_error(path, e))
    }

    fn write_error(&self, path: &Path, e: io::Error) -> WalkError {
        if self.out.is_closed() {
            WalkError::Closed
        } else {
            failed(path, "cannot send", e)
        }
    }
}

fn failed(path: &Path, what: &str, e: io::Error) -> WalkError {
    WalkError::Failed(
        Error::input(format!("{what} {}: {e}", path.display()))
            .with_hint("make the file readable, or exclude it in .dockerignore"),
    )
}

#[cfg(unix)]
fn mode(meta: &Metadata) -> u32 {
    use std::os::unix::fs::MetadataExt;
    meta.mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(meta: &Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o555
    } else {
        0o755
    }
}

#[cfg(unix)]
fn mtime(meta: &Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime()
}

#[cfg(not(unix))]
fn mtime(meta: &Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(unix)]
fn hard_link_inode(meta: &Metadata) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    (meta.nlink() > 1).then(|| meta.ino())
}

#[cfg(not(unix))]
fn hard_link_inode(_meta: &Metadata) -> Option<u64> {
    None
}

/// Fifos and devices; `None` for a socket.
#[cfg(unix)]
fn special(meta: &Metadata) -> Option<Kind> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let file_type = meta.file_type();
    let rdev = meta.rdev();
    let major = (((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff)) as u32;
    let minor = ((rdev & 0xff) | ((rdev >> 12) & !0xff)) as u32;
    if file_type.is_fifo() {
        Some(Kind::Fifo)
    } else if file_type.is_char_device() {
        Some(Kind::Char { major, minor })
    } else if file_type.is_block_device() {
        Some(Kind::Block { major, minor })
    } else {
        None
    }
}

#[cfg(not(unix))]
fn special(_meta: &Metadata) -> Option<Kind> {
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc;

    use super::*;

    /// The archive the walk writes for a context: entry names with their type letters.
    fn archive(plan: &Plan) -> Vec<(String, char)> {
        let (tx, mut rx) = mpsc::channel(4);
        let plan = plan.clone();
        let walker = std::thread::spawn(move || {
            send(&plan, TarStream::new(tx, Arc::default())).map_err(|e| format!("{e:?}"))
        });
        let mut bytes = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            bytes.extend_from_slice(&chunk.expect("chunk"));
        }
        walker.join().expect("walker").expect("walk");
        let mut reader = tar::Archive::new(&bytes[..]);
        reader
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let kind = match e.header().entry_type() {
                    tar::EntryType::Directory => 'd',
                    tar::EntryType::Symlink => 'l',
                    tar::EntryType::Link => 'h',
                    _ => 'f',
                };
                (e.path().expect("path").display().to_string(), kind)
            })
            .collect()
    }

    fn names(plan: &Plan) -> Vec<String> {
        archive(plan).into_iter().map(|(n, _)| n).collect()
    }

    fn context(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for file in files {
            let path = dir.path().join(file);
            if let Some(rest) = file.strip_suffix('/') {
                fs::create_dir_all(dir.path().join(rest)).expect("mkdir");
                continue;
            }
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, file.as_bytes()).expect("write");
        }
        dir
    }

    #[test]
    fn a_missing_dockerfile_is_an_input_error() {
        let dir = context(&["app.txt"]);
        let err = plan(dir.path(), Path::new("Dockerfile")).unwrap_err();
        assert_eq!(err.exit_code().code(), 1);
        assert!(err.message().contains("Dockerfile not found"), "{err:?}");
    }

    #[test]
    fn entries_come_in_name_order_with_directories_before_their_contents() {
        let dir = context(&["Dockerfile", "b/z", "b/a", "a-b", "a/x"]);
        let plan = plan(dir.path(), Path::new("Dockerfile")).unwrap();
        assert_eq!(
            names(&plan),
            ["Dockerfile", "a/", "a/x", "a-b", "b/", "b/a", "b/z"]
        );
    }

    #[test]
    fn excluded_build_files_are_still_sent() {
        let dir = context(&["Dockerfile", "other"]);
        fs::write(dir.path().join(".dockerignore"), "*\n").unwrap();
        let plan = plan(dir.path(), Path::new("Dockerfile")).unwrap();
        assert_eq!(names(&plan), [".dockerignore", "Dockerfile"]);
    }

    #[test]
    fn an_excluded_folder_is_entered_only_for_a_reinclusion_inside_it() {
        let dir = context(&[
            "Dockerfile",
            "docs/keep.md",
            "docs/drop.md",
            "docs/sub/keep.md",
        ]);
        fs::write(
            dir.path().join(".dockerignore"),
            "docs\n!docs/keep.md\n!**/keep.md\n",
        )
        .unwrap();
        let plan = plan(dir.path(), Path::new("Dockerfile")).unwrap();
        // `docs/` itself is not sent; `docs/sub` is skipped whole, because no `!` pattern
        // starts with `docs/sub/`.
        assert_eq!(
            names(&plan),
            [".dockerignore", "Dockerfile", "docs/keep.md"]
        );
    }

    #[test]
    fn the_dockerfile_specific_ignore_file_takes_precedence() {
        let dir = context(&["app/Dockerfile", "a.txt", "b.txt"]);
        fs::write(dir.path().join(".dockerignore"), "a.txt\n").unwrap();
        fs::write(
            dir.path().join("app/Dockerfile.dockerignore"),
            "b.txt\n.dockerignore\napp/Dockerfile\n",
        )
        .unwrap();
        let plan = plan(dir.path(), Path::new("app/Dockerfile")).unwrap();
        assert!(
            plan.ignore_file
                .as_ref()
                .unwrap()
                .ends_with("app/Dockerfile.dockerignore")
        );
        let sent = names(&plan);
        assert!(sent.contains(&"a.txt".to_string()), "{sent:?}");
        assert!(!sent.contains(&"b.txt".to_string()), "{sent:?}");
        // The engine drops what the archive's `.dockerignore` names: here both build files.
        assert!(sent.contains(&".dockerignore".to_string()), "{sent:?}");
        assert!(sent.contains(&"app/Dockerfile".to_string()), "{sent:?}");
        assert_eq!(
            plan.dockerignore.as_deref(),
            Some(&b".dockerignore\napp/Dockerfile\n"[..])
        );
    }

    #[test]
    fn a_dockerfile_outside_the_context_goes_in_under_a_generated_name() {
        let outer = context(&["ctx/file", "Dockerfile.outside"]);
        let ctx = outer.path().join("ctx");
        let plan = plan(&ctx, Path::new("../Dockerfile.outside")).unwrap();
        assert!(
            plan.dockerfile.starts_with(".dockerfile."),
            "{}",
            plan.dockerfile
        );
        assert_eq!(plan.dockerfile.len(), ".dockerfile.".len() + 20);
        let sent = names(&plan);
        assert_eq!(sent, ["file", plan.dockerfile.as_str(), ".dockerignore"]);
        let expected = format!(".dockerignore\n{}\n", plan.dockerfile);
        assert_eq!(plan.dockerignore.as_deref(), Some(expected.as_bytes()));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_and_hard_links_are_sent_as_links() {
        let dir = context(&["Dockerfile", "data/file"]);
        std::os::unix::fs::symlink("data/file", dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("/nowhere", dir.path().join("dangling")).unwrap();
        fs::hard_link(dir.path().join("data/file"), dir.path().join("hard")).unwrap();
        let plan = plan(dir.path(), Path::new("Dockerfile")).unwrap();
        let entries = archive(&plan);
        assert!(entries.contains(&("link".into(), 'l')), "{entries:?}");
        assert!(entries.contains(&("dangling".into(), 'l')), "{entries:?}");
        assert!(entries.contains(&("hard".into(), 'h')), "{entries:?}");
    }

    #[test]
    fn a_bad_pattern_is_an_input_error_naming_the_file_and_line() {
        let dir = context(&["Dockerfile"]);
        fs::write(dir.path().join(".dockerignore"), "ok\n[\n").unwrap();
        let err = plan(dir.path(), Path::new("Dockerfile")).unwrap_err();
        assert_eq!(err.exit_code().code(), 1);
        assert!(err.message().contains(".dockerignore: line 2"), "{err:?}");
    }
}
