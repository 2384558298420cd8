//! Opening a `file:` URL's path under `--file-root`: beneath the root only, without blocking,
//! and only a regular file, each checked by the kernel or on the opened descriptor, never on a
//! path that could change between a check and the open.
//!
//! The path is made relative to the root by its spelling (a `..` or a path elsewhere is refused
//! before the filesystem is asked anything), then opened relative to a descriptor of the root:
//! on Linux 5.6 and later with `openat2(RESOLVE_BENEATH)`, which follows symlinks only while
//! they stay under the root and fails at the first step out of it, before looking at what lies
//! beyond; elsewhere one component at a time with `O_NOFOLLOW`, refusing every symlink. Either
//! way nothing outside the root is ever looked up, so a refusal cannot tell whether a path out
//! there exists. `O_NONBLOCK` makes opening a FIFO return at once instead of waiting for a
//! writer (it held a blocking thread for ever), and `fstat` on the descriptor then refuses
//! anything but a regular file. Reading and its limits are the caller's (`Fetcher::read_file`).

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use super::error::FetchError;

/// The one answer for every path the root does not contain, whether or not it exists.
pub(super) fn outside_root() -> FetchError {
    FetchError::NotAllowed("the file is outside this server's --file-root".into())
}

fn not_regular() -> FetchError {
    FetchError::NotAllowed("the file is not a regular file".into())
}

fn missing() -> FetchError {
    FetchError::Upstream("no such file".into())
}

fn unopenable() -> FetchError {
    FetchError::Upstream("the file could not be opened".into())
}

/// `path` relative to `root`, judged by spelling alone: only plain names below the root.
fn relative_to(root: &Path, path: &Path) -> Result<PathBuf, FetchError> {
    let rest = path.strip_prefix(root).map_err(|_| outside_root())?;
    let mut relative = PathBuf::new();
    for component in rest.components() {
        match component {
            Component::Normal(name) => relative.push(name),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(outside_root())
            }
        }
    }
    Ok(relative)
}

/// Opens the regular file `path` names under `root` (canonical) for reading, and its length.
/// Never blocks on a FIFO and never resolves a name outside `root`.
pub(super) fn open_beneath(root: &Path, path: &Path) -> Result<(File, u64), FetchError> {
    let relative = relative_to(root, path)?;
    platform::open_beneath(root, &relative)
}

#[cfg(unix)]
mod platform {
    use std::ffi::{CString, OsStr};
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use super::{missing, not_regular, outside_root, unopenable, FetchError};

    /// Flags of every open of the file itself: read only, and return at once whatever it is.
    const FILE_FLAGS: libc::c_int =
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;

    pub(super) fn open_beneath(root: &Path, relative: &Path) -> Result<(File, u64), FetchError> {
        let root =
            open_at(libc::AT_FDCWD, root.as_os_str(), dir_flags()).map_err(|_| unopenable())?;
        // The root itself (an empty path) is opened as `.` and refused below as a directory.
        let relative = match relative.as_os_str() {
            name if name.is_empty() => OsStr::new("."),
            name => name,
        };
        let file = match resolve_beneath(&root, relative) {
            Some(opened) => opened,
            None => walk_without_symlinks(&root, relative),
        }?;
        let file = File::from(file);
        // The type is read from the descriptor opened, not from the path: a FIFO, a device, a
        // socket or a directory swapped in after any check of the path is still refused here.
        let metadata = file.metadata().map_err(|_| unopenable())?;
        if !metadata.file_type().is_file() {
            return Err(not_regular());
        }
        Ok((file, metadata.len()))
    }

    fn dir_flags() -> libc::c_int {
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC
    }

    #[cfg(target_os = "linux")]
    fn c_name(name: &OsStr) -> Result<CString, FetchError> {
        // A name with a NUL byte cannot exist.
        CString::new(name.as_bytes()).map_err(|_| missing())
    }

    fn open_at(dir: RawFd, name: &OsStr, flags: libc::c_int) -> io::Result<OwnedFd> {
        let name = CString::new(name.as_bytes()).map_err(|_| io::ErrorKind::NotFound)?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call; `dir` is AT_FDCWD or
        // a descriptor the caller holds open.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// What an errno of opening a name under the root answers.
    fn refusal(err: &io::Error) -> FetchError {
        match err.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR) => missing(),
            // A step out of the root (openat2), or a symlink where none is followed.
            Some(libc::EXDEV | libc::ELOOP) => outside_root(),
            // A socket, or a device without a driver: neither is a regular file.
            Some(libc::ENXIO | libc::ENODEV) => not_regular(),
            _ => unopenable(),
        }
    }

    /// `openat2` with `RESOLVE_BENEATH`; `None` where the kernel (before 5.6) or a seccomp
    /// filter (older container runtimes) does not offer it.
    #[cfg(target_os = "linux")]
    fn resolve_beneath(root: &OwnedFd, relative: &OsStr) -> Option<Result<OwnedFd, FetchError>> {
        /// `struct open_how` of linux/openat2.h (libc's is non-exhaustive, so not buildable here).
        #[repr(C)]
        struct OpenHow {
            flags: u64,
            mode: u64,
            resolve: u64,
        }
        let how = OpenHow {
            flags: FILE_FLAGS as u64,
            mode: 0,
            resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
        };
        let name = match c_name(relative) {
            Ok(name) => name,
            Err(err) => return Some(Err(err)),
        };
        // SAFETY: `name` is NUL-terminated and `how` a live `open_how` of the size passed; the
        // root descriptor is held open by the caller.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                name.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::ENOSYS | libc::EPERM | libc::E2BIG) => None,
                _ => Some(Err(refusal(&err))),
            };
        }
        // SAFETY: a non-negative return of openat2 is a new descriptor owned by nobody else
        // (and fits a RawFd: the kernel hands out ints).
        Some(Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    #[cfg(not(target_os = "linux"))]
    fn resolve_beneath(_: &OwnedFd, _: &OsStr) -> Option<Result<OwnedFd, FetchError>> {
        None
    }

    /// Opens `relative` one name at a time from the root, following no symlink: a name that is
    /// one is refused as a way out of the root, whatever it points at.
    pub(super) fn walk_without_symlinks(
        root: &OwnedFd,
        relative: &OsStr,
    ) -> Result<OwnedFd, FetchError> {
        let names: Vec<&OsStr> = Path::new(relative).iter().collect();
        let Some((last, parents)) = names.split_last() else {
            return Err(missing());
        };
        let mut dir: Option<OwnedFd> = None;
        for name in parents {
            let at = dir.as_ref().unwrap_or(root).as_raw_fd();
            let opened = open_at(at, name, dir_flags() | libc::O_NOFOLLOW)
                .map_err(|err| classify(at, name, &err))?;
            dir = Some(opened);
        }
        let at = dir.as_ref().unwrap_or(root).as_raw_fd();
        open_at(at, last, FILE_FLAGS | libc::O_NOFOLLOW).map_err(|err| classify(at, last, &err))
    }

    /// The answer for `name` under `dir` failing to open: a symlink (which `O_NOFOLLOW`
    /// reports as ELOOP, ENOTDIR or, on FreeBSD, EMLINK) is refused; anything else by errno.
    fn classify(dir: RawFd, name: &OsStr, err: &io::Error) -> FetchError {
        let Ok(c) = CString::new(name.as_bytes()) else {
            return missing();
        };
        // SAFETY: an all-zero `stat` is a valid value for fstatat to overwrite.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is NUL-terminated, `stat` is writable, `dir` is held open by the caller.
        let found = unsafe { libc::fstatat(dir, c.as_ptr(), &mut stat, libc::AT_SYMLINK_NOFOLLOW) };
        if found == 0 && stat.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return outside_root();
        }
        refusal(err)
    }

    #[cfg(test)]
    pub(super) fn open_root(root: &Path) -> OwnedFd {
        open_at(libc::AT_FDCWD, root.as_os_str(), dir_flags()).expect("the root opens")
    }
}

#[cfg(not(unix))]
mod platform {
    use std::fs::File;
    use std::path::Path;

    use super::FetchError;

    /// Without `openat` and `O_NONBLOCK` there is no safe way to open a path under a root.
    pub(super) fn open_beneath(_: &Path, _: &Path) -> Result<(File, u64), FetchError> {
        Err(FetchError::Upstream(
            "file: URLs are not supported on this platform".into(),
        ))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::time::{Duration, Instant};

    use super::*;

    /// A canonical temporary root, and a directory beside it (outside it).
    fn root_and_outside() -> (tempfile::TempDir, PathBuf, tempfile::TempDir) {
        let root = tempfile::tempdir().unwrap();
        let canonical = std::fs::canonicalize(root.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        (root, canonical, outside)
    }

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    }

    /// Opens a FIFO's writing end when dropped: a reader stuck in open() (the bug these tests
    /// guard against) is released, so a regression fails its test instead of hanging the run.
    struct ReleaseFifo(PathBuf);

    impl Drop for ReleaseFifo {
        fn drop(&mut self) {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.0);
        }
    }

    fn refusal(root: &Path, path: &Path) -> FetchError {
        open_beneath(root, path).expect_err("refused")
    }

    #[test]
    fn a_regular_file_under_the_root_opens_with_its_length() {
        let (_dir, root, _outside) = root_and_outside();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.png"), b"12345").unwrap();
        let (_, len) = open_beneath(&root, &root.join("sub/a.png")).unwrap();
        assert_eq!(len, 5);
    }

    #[test]
    fn a_fifo_under_the_root_is_refused_at_once_without_waiting_for_a_writer() {
        let (_dir, root, _outside) = root_and_outside();
        let fifo = root.join("pipe.png");
        mkfifo(&fifo);
        let _release = ReleaseFifo(fifo.clone());
        let started = Instant::now();
        assert_eq!(refusal(&root, &fifo), not_regular());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_directory_and_the_root_itself_are_refused_as_not_regular_files() {
        let (_dir, root, _outside) = root_and_outside();
        std::fs::create_dir(root.join("folder.png")).unwrap();
        assert_eq!(refusal(&root, &root.join("folder.png")), not_regular());
        assert_eq!(refusal(&root, &root), not_regular());
    }

    #[test]
    fn a_symlink_out_of_the_root_is_refused_whether_or_not_its_target_exists() {
        let (_dir, root, outside) = root_and_outside();
        std::fs::write(outside.path().join("secret.png"), b"secret").unwrap();
        let links = [
            ("to-file.png", outside.path().join("secret.png")),
            ("to-nothing.png", outside.path().join("missing.png")),
            ("to-dir", outside.path().to_owned()),
            (
                "relative.png",
                PathBuf::from("../../../../../../etc/hostname"),
            ),
        ];
        for (name, target) in &links {
            std::os::unix::fs::symlink(target, root.join(name)).unwrap();
        }
        for path in [
            root.join("to-file.png"),
            root.join("to-nothing.png"),
            root.join("to-dir/secret.png"),
            root.join("to-dir/missing.png"),
            root.join("relative.png"),
        ] {
            assert_eq!(refusal(&root, &path), outside_root(), "{path:?}");
        }
    }

    #[test]
    fn a_path_outside_the_root_is_refused_by_its_spelling_whether_or_not_it_exists() {
        let (_dir, root, outside) = root_and_outside();
        std::fs::write(outside.path().join("secret.png"), b"secret").unwrap();
        let sibling = outside.path().file_name().unwrap();
        for path in [
            outside.path().join("secret.png"),
            outside.path().join("missing.png"),
            root.join("..").join(sibling).join("secret.png"),
            root.join("..").join(sibling).join("missing.png"),
            PathBuf::from("/etc/hostname"),
            PathBuf::from("/no/such/place.png"),
        ] {
            assert_eq!(refusal(&root, &path), outside_root(), "{path:?}");
        }
        // A sibling whose name starts with the root's is not under it.
        let mut longer = root.clone().into_os_string();
        longer.push("-other/a.png");
        assert_eq!(refusal(&root, Path::new(&longer)), outside_root());
    }

    #[test]
    fn a_missing_file_under_the_root_is_no_such_file() {
        let (_dir, root, _outside) = root_and_outside();
        std::fs::write(root.join("a.png"), b"x").unwrap();
        for path in [
            root.join("missing.png"),
            root.join("no/dir.png"),
            root.join("a.png/x"),
        ] {
            assert_eq!(refusal(&root, &path), missing(), "{path:?}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_symlink_that_stays_under_the_root_is_followed_where_openat2_confines_it() {
        let (_dir, root, _outside) = root_and_outside();
        std::fs::create_dir(root.join("data")).unwrap();
        std::fs::write(root.join("data/a.png"), b"abc").unwrap();
        // How Kubernetes mounts a ConfigMap: each file a link through `..data`.
        std::os::unix::fs::symlink("data", root.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/a.png", root.join("a.png")).unwrap();
        let (_, len) = open_beneath(&root, &root.join("a.png")).unwrap();
        assert_eq!(len, 3);
    }

    #[test]
    fn the_walk_without_openat2_refuses_every_symlink_and_opens_plain_paths() {
        let (_dir, root, outside) = root_and_outside();
        std::fs::create_dir(root.join("data")).unwrap();
        std::fs::write(root.join("data/a.png"), b"abc").unwrap();
        std::os::unix::fs::symlink("data", root.join("inside-dir")).unwrap();
        std::os::unix::fs::symlink("data/a.png", root.join("inside.png")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        let fd = platform::open_root(&root);
        let walk = |relative: &str| platform::walk_without_symlinks(&fd, relative.as_ref());
        assert!(walk("data/a.png").is_ok());
        for relative in ["inside.png", "inside-dir/a.png", "out/anything.png"] {
            assert_eq!(walk(relative).err(), Some(outside_root()), "{relative}");
        }
        assert_eq!(walk("data/missing.png").err(), Some(missing()));
        let fifo = root.join("data/pipe.png");
        mkfifo(&fifo);
        let _release = ReleaseFifo(fifo);
        // The walk returns at once; the type is refused by `open_beneath` on the descriptor.
        let opened = File::from(walk("data/pipe.png").unwrap());
        assert!(!opened.metadata().unwrap().file_type().is_file());
    }
}
