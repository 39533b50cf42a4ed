//! The file-system seam: every byte the store reads or writes goes through a
//! [`Disk`], so the same store runs on the real file system ([`RealDisk`])
//! and on the deterministic simulated disk of the tests and the simulator
//! ([`super::sim::SimDisk`]).
//!
//! The trait is deliberately small and matches what the store needs: whole
//! file reads (recovery is one sequential read per file), append-only writes,
//! `fdatasync`/`fsync`, durable truncation, renames, removals and directory
//! fsync. Its contract, which `SimDisk` models exactly:
//! * bytes written to a file are durable only after [`DiskFile::sync_data`]
//!   (or `sync_all`) on that file returns;
//! * a new name (create, rename) or a removal is durable only after
//!   [`Disk::sync_dir`] on its parent directory returns;
//! * [`Disk::truncate_file`] is durable when it returns;
//! * directories made by [`Disk::create_dir_all`] are durable when it
//!   returns.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file opened for appending.
pub trait DiskFile: Send + Sync + fmt::Debug {
    /// Appends all of `buf` at the end of the file.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes every byte written so far durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes every byte written so far and the file's metadata durable
    /// (`fsync`).
    fn sync_all(&mut self) -> io::Result<()>;
}

/// An exclusive lock on a directory, released when dropped.
pub trait DirLock: Send + Sync + fmt::Debug {}

/// The operations the store performs on a file system.
pub trait Disk: Send + Sync + fmt::Debug {
    /// Creates `dir` and its parents; durable on return.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Whether `dir` exists and is a directory.
    fn dir_exists(&self, dir: &Path) -> io::Result<bool>;
    /// The names of the plain files directly in `dir`.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole content of a file.
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Creates `path` empty (truncating an existing file) and opens it for
    /// appending. The new name is durable only after a directory sync.
    fn create_file(&self, path: &Path) -> io::Result<Box<dyn DiskFile>>;
    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn DiskFile>>;
    /// Cuts a file to `len` bytes; durable on return.
    fn truncate_file(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`. Durable after a directory
    /// sync.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file. Durable after a directory sync.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes the names in `dir` durable (fsync of the directory).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes the exclusive lock of `dir` (a `LOCK` file in it). Fails with
    /// [`io::ErrorKind::WouldBlock`] when another holder has it.
    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>>;
}

/// The real file system, through `std::fs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealDisk;

#[derive(Debug)]
struct RealFile(File);

impl DiskFile for RealFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.0.sync_all()
    }
}

#[derive(Debug)]
struct RealLock {
    _file: File,
    _path: PathBuf,
}

impl DirLock for RealLock {}

impl Disk for RealDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        // Make the new directory's own entry durable in its parent.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.sync_dir(parent)?;
        }
        self.sync_dir(dir)
    }

    fn dir_exists(&self, dir: &Path) -> io::Result<bool> {
        match fs::metadata(dir) {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Ok(name) = entry.file_name().into_string() {
                    names.push(name);
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }

    fn create_file(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn DiskFile>> {
        let f = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(RealFile(f)))
    }

    fn truncate_file(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<Box<dyn DirLock>> {
        let path = dir.join(super::LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(RealLock {
                _file: file,
                _path: path,
            })),
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the directory is locked by another store",
            )),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}
