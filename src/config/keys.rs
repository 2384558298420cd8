//! The API keys in force: the fixed ones from `--api-keys` and those read from `--api-keys-file`
//! (one per line, `#` comment lines), which is read when the configuration is validated (it must
//! be readable then) and again on SIGHUP (`reload`), so keys rotate without a restart. Keys are
//! compared in constant time and never shown: `Debug` counts them. Which key a request sent, and
//! what is answered without one, is authentication's (`http/auth.rs`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use subtle::ConstantTimeEq;

/// A set of keys. `Debug` never shows them.
#[derive(Clone, Default)]
struct KeySet(Vec<Vec<u8>>);

impl KeySet {
    fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        KeySet(
            lines
                .into_iter()
                .map(str::trim)
                .filter(|k| !k.is_empty() && !k.starts_with('#'))
                .map(|k| k.as_bytes().to_vec())
                .collect(),
        )
    }

    /// Whether `candidate` is one of the keys, comparing every key in constant time.
    fn contains(&self, candidate: &[u8]) -> bool {
        // No short-circuit: the time taken does not reveal which key (or how much of one) matched.
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |acc, key| {
                acc | key.ct_eq(candidate)
            })
            .into()
    }
}

/// The configured API keys: the fixed ones from `--api-keys` and those last read from the keys
/// file. `Debug` never shows them.
#[derive(Default)]
pub struct ApiKeys {
    fixed: KeySet,
    file: Option<PathBuf>,
    from_file: RwLock<Arc<KeySet>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ApiKeys([{} + {} redacted], file: {:?})",
            self.fixed.0.len(),
            self.file_keys().0.len(),
            self.file
        )
    }
}

/// Why the keys file could not be used; the previous keys stay in force.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the API keys file {} (--api-keys-file): {source}", path.display())]
pub struct KeysFileError {
    path: PathBuf,
    source: std::io::Error,
}

fn read_keys_file(path: &Path) -> Result<KeySet, KeysFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeysFileError {
        path: path.to_owned(),
        source,
    })?;
    // Editors on Windows start a UTF-8 file with a byte-order mark; it is not part of the first
    // key (or comment). A line ends at LF, CRLF or a lone CR (no key holds either), and
    // `from_lines` trims the spaces and tabs around a key.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(KeySet::from_lines(text.split(['\r', '\n'])))
}

impl ApiKeys {
    /// Keys from configuration (blank entries are dropped) and, when `file` is given, from that
    /// file, which must be readable now.
    pub fn new(keys: &[String], file: Option<&Path>) -> Result<Self, KeysFileError> {
        let from_file = match file {
            Some(path) => read_keys_file(path)?,
            None => KeySet::default(),
        };
        Ok(ApiKeys {
            fixed: KeySet::from_lines(keys.iter().map(String::as_str)),
            file: file.map(Path::to_owned),
            from_file: RwLock::new(Arc::new(from_file)),
        })
    }

    fn file_keys(&self) -> Arc<KeySet> {
        // A poisoned lock still holds a whole set: the writer only swaps an Arc.
        match self.from_file.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the keys file and returns how many keys are now accepted. When the file cannot
    /// be read, the keys in force stay as they were.
    pub fn reload(&self) -> Result<usize, KeysFileError> {
        if let Some(path) = &self.file {
            let keys = Arc::new(read_keys_file(path)?);
            match self.from_file.write() {
                Ok(mut current) => *current = keys,
                Err(poisoned) => *poisoned.into_inner() = keys,
            }
        }
        Ok(self.count())
    }

    /// How many keys are accepted now.
    pub fn count(&self) -> usize {
        self.fixed.0.len() + self.file_keys().0.len()
    }

    /// Whether authentication is on: some key is configured, or a keys file is (an empty file
    /// then refuses every request rather than opening the service to everyone).
    pub fn is_enabled(&self) -> bool {
        self.file.is_some() || !self.fixed.0.is_empty()
    }

    /// Whether `candidate` is one of the keys.
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        // Both sets are always compared, so the time taken does not say which one matched.
        let fixed = self.fixed.contains(candidate);
        let from_file = self.file_keys().contains(candidate);
        fixed | from_file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(fixed: &[&str], file: Option<&Path>) -> ApiKeys {
        let fixed: Vec<String> = fixed.iter().map(|k| (*k).to_owned()).collect();
        ApiKeys::new(&fixed, file).expect("keys")
    }

    #[test]
    fn api_keys_accept_only_configured_keys_and_never_show_them() {
        let keys = keys(&["alpha", " beta ", ""], None);
        assert!(keys.is_enabled());
        assert!(keys.accepts(b"alpha"));
        assert!(keys.accepts(b"beta"));
        assert!(!keys.accepts(b"alph"));
        assert!(!keys.accepts(b""));
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains("alpha") && !shown.contains("beta"),
            "{shown}"
        );
        assert!(!ApiKeys::new(&[], None).expect("no keys").is_enabled());
    }

    #[test]
    fn the_keys_file_has_one_key_per_line_with_comments_and_reloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys");
        std::fs::write(&path, "# rotated 2026-12-01\n  alpha  \n\n#beta\ngamma\n").expect("write");
        let keys = keys(&["fixed"], Some(&path));
        assert_eq!(keys.count(), 3);
        for key in ["alpha", "gamma", "fixed"] {
            assert!(keys.accepts(key.as_bytes()), "{key}");
        }
        assert!(!keys.accepts(b"#beta"));
        assert!(!keys.accepts(b"beta"));

        std::fs::write(&path, "delta\n").expect("write");
        assert_eq!(keys.reload().expect("reloads"), 2);
        assert!(keys.accepts(b"delta"));
        assert!(!keys.accepts(b"alpha"));
        assert!(keys.accepts(b"fixed"), "--api-keys stay");

        // An unreadable file keeps the keys in force, and the error names the file, not a key.
        std::fs::remove_file(&path).expect("remove");
        let err = keys.reload().expect_err("file is gone");
        assert!(err.to_string().contains("keys"), "{err}");
        assert!(keys.accepts(b"delta"));
    }

    #[test]
    fn a_byte_order_mark_crlf_line_ends_and_spaces_or_tabs_around_keys_change_no_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys");
        // What Notepad saves: a byte-order mark, CRLF line ends; and stray blanks around keys.
        // And lone CRs, the line end of old Mac editors.
        let written = "\u{feff}alpha\r\n beta \t\r\n\tgamma\r\n# comment \r\n\r\ndelta\repsilon\r";
        std::fs::write(&path, written).expect("write");

        let keys = keys(&[], Some(&path));

        assert_eq!(keys.count(), 5);
        for key in ["alpha", "beta", "gamma", "delta", "epsilon"] {
            assert!(keys.accepts(key.as_bytes()), "{key}");
        }
        assert!(!keys.accepts("\u{feff}alpha".as_bytes()));

        // A file that is only a mark and a comment holds no key.
        std::fs::write(&path, "\u{feff}# rotated\r\n").expect("write");
        assert_eq!(keys.reload().expect("reloads"), 0);
    }

    #[test]
    fn an_empty_keys_file_refuses_everyone_instead_of_turning_auth_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys");
        std::fs::write(&path, "# no keys yet\n").expect("write");
        let keys = keys(&[], Some(&path));
        assert!(keys.is_enabled());
        assert_eq!(keys.count(), 0);
        assert!(!keys.accepts(b""));
        assert!(ApiKeys::new(&[], Some(&dir.path().join("missing"))).is_err());
    }
}
