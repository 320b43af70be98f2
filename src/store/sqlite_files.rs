//! Owner-only files for the embedded database (SPEC §13): the folder scaivault creates for it
//! is `0700`, the database file and its `-wal`, `-shm` and `-journal` companions are `0600`
//! whatever the umask (an existing, looser file is tightened). SQLite gives its companion files
//! the database file's mode, so creating that file first with `0600` covers them; they are
//! checked again once the database is open.

use std::io;
use std::path::{Path, PathBuf};

/// Mode of the database file and its companions.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// Mode of each folder created for the database.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Creates the missing folders of `file` (`0700`) and the file itself (`0600`, empty: SQLite
/// takes an empty file as a new database), and tightens the file and any companion left from
/// an earlier run.
pub fn prepare(file: &Path) -> io::Result<()> {
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dirs(parent)?;
    }
    create_file(file)?;
    tighten(file)
}

/// Sets `0600` on the database file and each companion that exists and is looser.
pub fn tighten(file: &Path) -> io::Result<()> {
    for path in std::iter::once(file.to_path_buf()).chain(companions(file)) {
        restrict(&path)?;
    }
    Ok(())
}

/// `<file>-wal`, `<file>-shm`, `<file>-journal`.
fn companions(file: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    ["-wal", "-shm", "-journal"].into_iter().map(move |suffix| {
        let mut name = file.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    })
}

#[cfg(unix)]
fn create_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    // The umask may have narrowed the mode; set it exactly.
    for d in missing {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

#[cfg(unix)]
fn create_file(file: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.permissions().mode() & 0o777 != FILE_MODE {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_dirs(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(not(unix))]
fn create_file(_file: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> io::Result<()> {
    Ok(())
}
