//! `SimDisk`: an in-memory, deterministic [`Disk`] that knows which bytes,
//! names and removals are durable, can crash, and can fail chosen operations.
//!
//! Model (one `SimDisk` is one machine's disk):
//! * a file is an inode with its bytes and the length of its durable prefix;
//!   the store only appends, so "durable prefix" is exact. `sync_data` and
//!   `sync_all` make every byte of the inode durable;
//! * the namespace has a current and a durable view; `create_file`,
//!   `rename` and `remove_file` change the current view, `sync_dir(dir)`
//!   copies the current view of `dir`'s files into the durable view;
//! * `truncate_file` and `create_dir_all` are durable at once (the real
//!   disk fsyncs them before returning);
//! * [`SimDisk::crash`] keeps only the durable view and durable bytes (or,
//!   with a tear, a prefix of the last unsynced write as well), releases
//!   locks and invalidates every handle opened before it: writes through an
//!   old handle fail, as the process that held them is gone;
//!   [`SimDisk::crash_tearing_filled`] also keeps the rest of the torn write
//!   as zeros or garbage ([`TearFill`]);
//! * [`SimDisk::corrupt_byte`] damages a durable byte in place (media
//!   damage), and [`SimDisk::durable_files`] says what a crash would keep.
//!
//! Fault injection counts *mutating* operations (create, write, sync_data,
//! sync_all, sync_dir, rename, remove, truncate) from 0; [`Fault`] makes the
//! operation with a chosen number fail with `EIO`, either once or from then
//! on ("the machine is going down").
//!
//! Nothing here reads a clock or a random source; all maps are ordered.
//! Cloning a `SimDisk` shares the same disk.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::disk::{DirLock, Disk, DiskFile};

/// An injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The number of the mutating operation that fails (0 is the first).
    pub at_op: u64,
    /// If true, every later mutating operation fails too, until
    /// [`SimDisk::crash`].
    pub then_dead: bool,
}

/// What survives of a torn write past the prefix that
/// [`SimDisk::crash_tearing_filled`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TearFill {
    /// Nothing: the file ends after the prefix.
    Nothing,
    /// The rest of the write reads as zeros.
    Zeros,
    /// The rest of the write reads as garbage (a fixed pseudo-random
    /// pattern of the byte's offset, so runs repeat exactly).
    Garbage,
}

/// The garbage byte at file offset `i` (a multiplicative hash).
fn garbage(i: usize) -> u8 {
    ((i as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        >> 56) as u8
}

/// Counters of what a `SimDisk` was asked to do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Mutating operations attempted (the numbering [`Fault`] uses).
    pub ops: u64,
    /// Writes that succeeded.
    pub writes: u64,
    /// File syncs that succeeded.
    pub file_syncs: u64,
    /// Directory syncs that succeeded.
    pub dir_syncs: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    synced: usize,
}

#[derive(Debug, Default)]
struct State {
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    names: BTreeMap<PathBuf, u64>,
    durable_names: BTreeMap<PathBuf, u64>,
    dirs: BTreeSet<PathBuf>,
    generation: u64,
    fault: Option<Fault>,
    dead: bool,
    locks: BTreeMap<PathBuf, u64>,
    next_lock: u64,
    /// (inode, offset, len) of the last successful write.
    last_write: Option<(u64, usize, usize)>,
    stats: SimStats,
}

/// A deterministic simulated disk. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("simulated I/O error: {what}"))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    )
}

impl State {
    /// Counts one mutating operation and decides whether it fails.
    fn begin(&mut self, what: &str) -> io::Result<()> {
        let n = self.stats.ops;
        self.stats.ops += 1;
        if self.dead {
            return Err(eio(what));
        }
        if let Some(f) = self.fault {
            if f.at_op == n {
                if f.then_dead {
                    self.dead = true;
                } else {
                    self.fault = None;
                }
                return Err(eio(what));
            }
        }
        Ok(())
    }

    fn parent_exists(&self, path: &Path) -> io::Result<()> {
        match path.parent() {
            Some(p) if self.dirs.contains(p) => Ok(()),
            _ => Err(not_found(path)),
        }
    }
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every mutation below completes or returns before any call that
        // could panic, so a poisoned lock still guards a consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms a fault (replacing any armed one).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.lock().fault = fault;
    }

    /// The counters so far.
    pub fn stats(&self) -> SimStats {
        self.lock().stats
    }

    /// Power loss: keeps only what is durable, releases locks, disarms the
    /// fault and invalidates every open handle.
    pub fn crash(&self) {
        self.crash_tearing(None);
    }

    /// Power loss during the last write: like [`SimDisk::crash`], but if the
    /// last successful write is not yet durable, its first `keep` bytes (and
    /// everything written before it to the same file) survive. `None` tears
    /// nothing.
    pub fn crash_tearing(&self, keep: Option<usize>) {
        self.crash_tearing_filled(keep, TearFill::Nothing);
    }

    /// Like [`SimDisk::crash_tearing`], but the rest of the torn write
    /// survives as `fill` (zeros or garbage) instead of vanishing, as on a
    /// file system that made the file's new length durable before its data.
    pub fn crash_tearing_filled(&self, keep: Option<usize>, fill: TearFill) {
        let mut s = self.lock();
        let torn = match (keep, s.last_write) {
            (Some(keep), Some((ino, off, len))) => Some((ino, off + keep.min(len), off + len)),
            _ => None,
        };
        let names = s.durable_names.clone();
        let live: BTreeSet<u64> = names.values().copied().collect();
        s.inodes.retain(|ino, _| live.contains(ino));
        for (ino, inode) in s.inodes.iter_mut() {
            let mut keep_len = inode.synced;
            let mut filled_to = 0;
            if let Some((t, upto, end)) = torn {
                if t == *ino && upto > keep_len {
                    keep_len = upto.min(inode.data.len());
                    filled_to = end.min(inode.data.len());
                }
            }
            inode.data.truncate(keep_len);
            for i in keep_len..filled_to {
                inode.data.push(match fill {
                    TearFill::Nothing => break,
                    TearFill::Zeros => 0,
                    TearFill::Garbage => garbage(i),
                });
            }
            inode.synced = inode.data.len();
        }
        s.names = names;
        s.generation += 1;
        s.locks.clear();
        s.fault = None;
        s.dead = false;
        s.last_write = None;
    }

    /// What a crash now would keep of the files of `dir` (before any tear):
    /// the name of each file in the durable view and the length of its
    /// durable (fsynced) prefix, in name order.
    pub fn durable_files(&self, dir: &Path) -> Vec<(String, usize)> {
        let s = self.lock();
        s.durable_names
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .filter_map(|(p, ino)| {
                let name = p.file_name()?.to_str()?.to_string();
                Some((name, s.inodes.get(ino)?.synced))
            })
            .collect()
    }

    /// The current (not necessarily durable) bytes of a file, for tests.
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        let ino = s.names.get(path)?;
        s.inodes.get(ino).map(|i| i.data.clone())
    }

    /// Overwrites one byte of a file in place, durably: media damage, for
    /// tests and the simulator's damage of a down member's log.
    pub fn corrupt_byte(&self, path: &Path, offset: usize, xor: u8) -> io::Result<()> {
        let mut s = self.lock();
        let ino = *s.names.get(path).ok_or_else(|| not_found(path))?;
        let inode = s.inodes.get_mut(&ino).ok_or_else(|| not_found(path))?;
        let b = inode
            .data
            .get_mut(offset)
            .ok_or_else(|| eio("offset beyond the end"))?;
        *b ^= xor;
        Ok(())
    }
}

#[derive(Debug)]
struct SimFile {
    disk: SimDisk,
    inode: u64,
    generation: u64,
}

impl SimFile {
    fn state(&self, what: &str) -> io::Result<MutexGuard<'_, State>> {
        let mut s = self.disk.lock();
        s.begin(what)?;
        if s.generation != self.generation || !s.inodes.contains_key(&self.inode) {
            return Err(eio("stale handle after a crash"));
        }
        Ok(s)
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut s = self.state("sync")?;
        if let Some(i) = s.inodes.get_mut(&self.inode) {
            i.synced = i.data.len();
        }
        s.stats.file_syncs += 1;
        Ok(())
    }
}

impl DiskFile for SimFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut s = self.state("write")?;
        let ino = self.inode;
        let off = match s.inodes.get_mut(&ino) {
            Some(i) => {
                let off = i.data.len();
                i.data.extend_from_slice(buf);
                off
            }
            None => return Err(eio("stale handle")),
        };
        s.last_write = Some((ino, off, buf.len()));
        s.stats.writes += 1;
        s.stats.bytes_written += buf.len() as u64;
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.sync()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.sync()
    }
}

#[derive(Debug)]
struct SimLock {
    disk: SimDisk,
    dir: PathBuf,
    token: u64,
}

impl DirLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut s = self.disk.lock();
        if s.locks.get(&self.dir) == Some(&self.token) {
            s.locks.remove(&self.dir);
        }
    }
}

impl Disk for SimDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        let mut d = Some(dir);
        while let Some(p) = d {
            if p.as_os_str().is_empty() {
                break;
            }
            s.dirs.insert(p.to_path_buf());
            d = p.parent();
        }
        Ok(())
    }

    fn dir_exists(&self, dir: &Path) -> io::Result<bool> {
        Ok(self.lock().dirs.contains(dir))
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(s.names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
            .collect())
    }

    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let s = self.lock();
        let ino = s.names.get(path).ok_or_else(|| not_found(path))?;
        s.inodes
            .get(ino)
            .map(|i| i.data.clone())
            .ok_or_else(|| not_found(path))
    }

    fn create_file(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let mut s = self.lock();
        s.begin("create")?;
        s.parent_exists(path)?;
        let ino = s.next_inode;
        s.next_inode += 1;
        s.inodes.insert(ino, Inode::default());
        s.names.insert(path.to_path_buf(), ino);
        let generation = s.generation;
        Ok(Box::new(SimFile {
            disk: self.clone(),
            inode: ino,
            generation,
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let s = self.lock();
        let ino = *s.names.get(path).ok_or_else(|| not_found(path))?;
        Ok(Box::new(SimFile {
            disk: self.clone(),
            inode: ino,
            generation: s.generation,
        }))
    }

    fn truncate_file(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut s = self.lock();
        s.begin("truncate")?;
        let ino = *s.names.get(path).ok_or_else(|| not_found(path))?;
        let len = usize::try_from(len).map_err(|_| eio("length"))?;
        if let Some(i) = s.inodes.get_mut(&ino) {
            i.data.truncate(len);
            i.synced = i.data.len();
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.begin("rename")?;
        s.parent_exists(to)?;
        let ino = s.names.remove(from).ok_or_else(|| not_found(from))?;
        s.names.insert(to.to_path_buf(), ino);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.begin("remove")?;
        s.names.remove(path).ok_or_else(|| not_found(path))?;
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.begin("sync_dir")?;
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let State {
            names,
            durable_names,
            ..
        } = &mut *s;
        durable_names.retain(|p, _| p.parent() != Some(dir));
        for (p, ino) in names.iter() {
            if p.parent() == Some(dir) {
                durable_names.insert(p.clone(), *ino);
            }
        }
        s.stats.dir_syncs += 1;
        Ok(())
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>> {
        let mut s = self.lock();
        if !s.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        if s.locks.contains_key(dir) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the directory is locked by another store",
            ));
        }
        let token = s.next_lock;
        s.next_lock += 1;
        s.locks.insert(dir.to_path_buf(), token);
        Ok(Box::new(SimLock {
            disk: self.clone(),
            dir: dir.to_path_buf(),
            token,
        }))
    }
}
