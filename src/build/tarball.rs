//! The tar stream of a build context, cut into chunks for the request body.
//!
//! Entries are written the way Docker's archiver writes them: owner 0:0 with no names, the
//! permission bits with setuid, setgid and sticky, modification times in whole seconds,
//! directories with a trailing `/`, and a PAX record for a path or link target too long for the
//! header. Chunks go to the engine through a bounded channel, so at most a few chunks of the
//! context are ever in memory.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use tar::{EntryType, Header};
use tokio::sync::mpsc;

/// Bytes per chunk handed to the request body.
pub const CHUNK: usize = 256 * 1024;
const BLOCK: usize = 512;

/// How far the stream has got, read by the progress display while the walker writes.
#[derive(Debug, Default)]
pub struct Sent {
    pub bytes: AtomicU64,
    pub entries: AtomicU64,
    /// Set once the whole archive has been handed to the request.
    pub done: AtomicBool,
}

/// What kind of entry, with what it needs beyond the common fields.
#[derive(Debug, Clone)]
pub enum Kind {
    File { size: u64 },
    Dir,
    Symlink { target: Vec<u8> },
    HardLink { target: String },
    Fifo,
    Char { major: u32, minor: u32 },
    Block { major: u32, minor: u32 },
}

/// The fields of one entry's header.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The path in the archive, `/`-separated, with a trailing `/` for directories.
    pub name: Vec<u8>,
    pub mode: u32,
    pub mtime: i64,
    pub kind: Kind,
}

/// Writes tar entries into chunks sent over a bounded channel.
pub struct TarStream {
    buf: BytesMut,
    tx: mpsc::Sender<io::Result<Bytes>>,
    sent: Arc<Sent>,
    closed: bool,
}

impl TarStream {
    pub fn new(tx: mpsc::Sender<io::Result<Bytes>>, sent: Arc<Sent>) -> TarStream {
        TarStream {
            buf: BytesMut::with_capacity(CHUNK),
            tx,
            sent,
            closed: false,
        }
    }

    /// Whether the request stopped taking chunks, such as when the build was cancelled.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Writes an entry; `data` must yield exactly the size of a file entry.
    pub fn append(&mut self, entry: &Entry, data: Option<&mut dyn Read>) -> io::Result<()> {
        let header = self.header(entry)?;
        self.write(header.as_bytes())?;
        if let Kind::File { size } = entry.kind {
            let data = data.ok_or_else(|| io::Error::other("a file entry needs its data"))?;
            self.copy_exact(data, size)?;
        }
        self.sent.entries.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Ends the archive with its two zero blocks and sends what is left.
    pub fn finish(mut self) -> io::Result<()> {
        self.write(&[0; 2 * BLOCK])?;
        self.flush()?;
        self.sent.done.store(true, Ordering::Release);
        Ok(())
    }

    fn header(&mut self, entry: &Entry) -> io::Result<Header> {
        let mut header = Header::new_ustar();
        let mut pax: Vec<(&str, &[u8])> = Vec::new();
        if header.set_path(bytes_path(&entry.name)).is_err() {
            pax.push(("path", &entry.name));
            set_truncated_name(&mut header, &entry.name);
        }
        header.set_mode(entry.mode & 0o7777);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(entry.mtime.max(0) as u64);
        header.set_size(0);
        match &entry.kind {
            Kind::File { size } => {
                header.set_entry_type(EntryType::Regular);
                header.set_size(*size);
            }
            Kind::Dir => header.set_entry_type(EntryType::Directory),
            Kind::Symlink { target } => {
                header.set_entry_type(EntryType::Symlink);
                if header.set_link_name(bytes_path(target)).is_err() {
                    pax.push(("linkpath", target));
                }
            }
            Kind::HardLink { target } => {
                header.set_entry_type(EntryType::Link);
                if header.set_link_name(target).is_err() {
                    pax.push(("linkpath", target.as_bytes()));
                }
            }
            Kind::Fifo => header.set_entry_type(EntryType::Fifo),
            Kind::Char { major, minor } | Kind::Block { major, minor } => {
                let ty = match entry.kind {
                    Kind::Char { .. } => EntryType::Char,
                    _ => EntryType::Block,
                };
                header.set_entry_type(ty);
                header.set_device_major(*major)?;
                header.set_device_minor(*minor)?;
            }
        }
        header.set_cksum();
        if !pax.is_empty() {
            self.write_pax(&entry.name, &pax)?;
        }
        Ok(header)
    }

    /// A PAX extended header carrying what does not fit the ustar header, named as Go names it.
    fn write_pax(&mut self, name: &[u8], records: &[(&str, &[u8])]) -> io::Result<()> {
        let mut data = Vec::new();
        for (key, value) in records {
            data.extend_from_slice(&pax_record(key, value));
        }
        let trimmed = name.strip_suffix(b"/").unwrap_or(name);
        let base = trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed);
        let mut pax_name = b"PaxHeaders.0/".to_vec();
        pax_name.extend_from_slice(base);
        let mut header = Header::new_ustar();
        set_truncated_name(&mut header, &pax_name);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        header.set_entry_type(EntryType::XHeader);
        header.set_cksum();
        self.write(header.as_bytes())?;
        self.write(&data)?;
        self.pad(data.len() as u64)
    }

    /// Copies exactly `size` bytes, reading straight into the chunk buffer; a file that
    /// shrank while it was sent is an error rather than a corrupt archive, and one that grew is
    /// cut at the size in its header, as Docker does.
    fn copy_exact(&mut self, data: &mut dyn Read, size: u64) -> io::Result<()> {
        let mut left = size;
        while left > 0 {
            if self.buf.len() == CHUNK {
                self.flush()?;
            }
            let room = (CHUNK - self.buf.len()).min(usize::try_from(left).unwrap_or(usize::MAX));
            let start = self.buf.len();
            self.buf.resize(start + room, 0);
            let read = match data.read(&mut self.buf[start..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(e);
                }
            };
            self.buf.truncate(start + read);
            if read == 0 && room > 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file became shorter while it was being sent",
                ));
            }
            left -= read as u64;
            self.sent.bytes.fetch_add(read as u64, Ordering::Relaxed);
        }
        self.pad(size)
    }

    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rest = (len % BLOCK as u64) as usize;
        if rest != 0 {
            self.write(&[0; BLOCK][..BLOCK - rest])?;
        }
        Ok(())
    }

    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.buf.len() == CHUNK {
                self.flush()?;
            }
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(())
    }

    /// Hands the filled part of the buffer to the request; fails once the request is gone,
    /// which is how a cancelled build stops the walk.
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.buf.reserve(CHUNK);
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            self.closed = true;
            io::Error::new(io::ErrorKind::BrokenPipe, "the build request ended")
        })
    }
}

#[cfg(unix)]
fn bytes_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn bytes_path(bytes: &[u8]) -> &Path {
    Path::new(std::str::from_utf8(bytes).unwrap_or("invalid"))
}

/// Puts the first bytes of a long name in the header; readers take the PAX `path` instead.
fn set_truncated_name(header: &mut Header, name: &[u8]) {
    if let Some(ustar) = header.as_ustar_mut() {
        ustar.prefix.fill(0);
    }
    let field = &mut header.as_old_mut().name;
    let len = name.len().min(field.len());
    field.fill(0);
    field[..len].copy_from_slice(&name[..len]);
}

/// `"<length> <key>=<value>\n"`, where the length counts the whole record, itself included.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut record = format!("{len} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(write: impl FnOnce(&mut TarStream) + Send + 'static) -> Vec<u8> {
        let (tx, mut rx) = mpsc::channel(4);
        let writer = std::thread::spawn(move || {
            let mut stream = TarStream::new(tx, Arc::default());
            write(&mut stream);
            stream.finish().expect("finish");
        });
        let mut out = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            out.extend_from_slice(&chunk.expect("chunk"));
        }
        writer.join().expect("writer");
        out
    }

    #[test]
    fn pax_records_count_their_own_length() {
        assert_eq!(pax_record("path", b"a"), b"9 path=a\n");
        let long = vec![b'x'; 95];
        let record = pax_record("path", &long);
        let stated: usize = String::from_utf8_lossy(&record[..3]).parse().unwrap();
        assert_eq!(stated, record.len());
    }

    #[test]
    fn entries_read_back_with_their_types_modes_and_long_names() {
        let long_dir = format!("{}/", "d".repeat(150));
        let long_file = format!("{long_dir}{}", "f".repeat(120));
        let long_target = "t".repeat(200);
        let (dir, file, target) = (long_dir.clone(), long_file.clone(), long_target.clone());
        let archive = collect(move |s| {
            let entry = |name: &str, mode, kind| Entry {
                name: name.as_bytes().to_vec(),
                mode,
                mtime: 1_700_000_000,
                kind,
            };
            s.append(&entry(&dir, 0o755, Kind::Dir), None).unwrap();
            let mut data: &[u8] = b"hello";
            let file_entry = entry(&file, 0o4755, Kind::File { size: 5 });
            s.append(&file_entry, Some(&mut data)).unwrap();
            let link = Kind::Symlink {
                target: target.into_bytes(),
            };
            s.append(&entry("link", 0o777, link), None).unwrap();
        });
        let mut reader = tar::Archive::new(&archive[..]);
        let entries: Vec<(String, EntryType, u32, u64, Option<String>)> = reader
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                let link = e.link_name().unwrap().map(|l| l.display().to_string());
                (
                    e.path().unwrap().display().to_string(),
                    h.entry_type(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    link,
                )
            })
            .collect();
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0].0.trim_end_matches('/'),
            long_dir.trim_end_matches('/')
        );
        assert_eq!(entries[0].1, EntryType::Directory);
        assert_eq!(entries[1].0, long_file);
        assert_eq!((entries[1].2, entries[1].3), (0o4755, 1_700_000_000));
        assert_eq!(entries[2].1, EntryType::Symlink);
        assert_eq!(entries[2].4.as_deref(), Some(long_target.as_str()));
    }

    #[test]
    fn a_file_that_shrank_is_an_error() {
        let (tx, _rx) = mpsc::channel(4);
        let mut stream = TarStream::new(tx, Arc::default());
        let entry = Entry {
            name: b"f".to_vec(),
            mode: 0o644,
            mtime: 0,
            kind: Kind::File { size: 10 },
        };
        let mut data: &[u8] = b"short";
        let err = stream.append(&entry, Some(&mut data)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_closed_request_stops_the_writer() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut stream = TarStream::new(tx, Arc::default());
        let big = vec![0u8; CHUNK * 2];
        let entry = Entry {
            name: b"big".to_vec(),
            mode: 0o644,
            mtime: 0,
            kind: Kind::File {
                size: big.len() as u64,
            },
        };
        let err = stream.append(&entry, Some(&mut &big[..])).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
