//! Getting image bytes for a `url` (API.md section 5): `ImageUrl` is the parsed, checked input,
//! and `Fetcher` downloads it under every limit — address policy, redirect cap, connect and total
//! timeouts, byte cap — all from the configuration (`config::Engine`, whose `FetchOptions` are
//! checked once, so building a `Fetcher` cannot fail).
//!
//! `http`/`https` go through one reqwest client built at start-up, whose resolver (`policy.rs`)
//! only ever hands out allowed addresses; `data:` URLs are decoded without any network; `file:`
//! URLs are read only from regular files under `--file-root` (`file.rs`), within the download's
//! time and byte limits. Every byte is pushed into a `HeldBytes` as it arrives, which enforces
//! the byte cap and takes it from the server's `ByteBudget`. Errors say what class of failure
//! happened and never carry a resolved address or an internal error string. This module never
//! decodes images.

mod error;
mod file;
pub mod policy;

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use url::{Host, Url};

pub use self::error::FetchError;
use self::policy::{AddressPolicy, HostPolicy, Lookup, PolicyResolver, ResolveError};
use crate::budget::{ByteBudget, HeldBytes};

/// Every fetch limit and policy knob; built once at start-up by `EngineFlags::validate`.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    pub addresses: AddressPolicy,
    pub hosts: HostPolicy,
    /// `file:` URLs are served from under this directory only; `None` refuses `file:`.
    pub file_root: Option<PathBuf>,
    /// Every download goes through this proxy; `None`: no proxy, whatever the environment says.
    pub proxy: Option<Proxy>,
    pub connect_timeout: Duration,
    /// The whole download, headers and body.
    pub fetch_timeout: Duration,
    pub max_redirects: usize,
    pub max_bytes: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            addresses: AddressPolicy::default(),
            hosts: HostPolicy::default(),
            file_root: None,
            proxy: None,
            connect_timeout: Duration::from_secs(3),
            fetch_timeout: Duration::from_secs(10),
            max_redirects: 5,
            max_bytes: 10 * 1024 * 1024,
        }
    }
}

/// An HTTP proxy for every download (`--proxy`), checked when it is made: an `http` or `https`
/// URL with a host, as reqwest takes it. A `Fetcher` uses it without a second check.
#[derive(Clone, Debug)]
pub struct Proxy {
    url: Url,
    proxy: reqwest::Proxy,
}

/// Why a URL is not a proxy downloads can go through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("scheme `{0}` is not supported; use an http:// or https:// proxy")]
    Scheme(String),
    #[error("the proxy URL names no host")]
    NoHost,
    #[error("not a usable proxy URL: {0}")]
    Invalid(String),
}

impl Proxy {
    /// The proxy at `url`.
    pub fn new(url: Url) -> Result<Self, ProxyError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ProxyError::Scheme(url.scheme().to_owned()));
        }
        if url.host().is_none() {
            return Err(ProxyError::NoHost);
        }
        let proxy = reqwest::Proxy::all(url.as_str()).map_err(|err| {
            // reqwest's own message is "builder error"; what went wrong is in its sources.
            let mut message = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                message = format!("{message}: {cause}");
                source = cause.source();
            }
            ProxyError::Invalid(message)
        })?;
        Ok(Proxy { url, proxy })
    }

    /// The proxy's URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// The longest base64 text that can carry an image of `max_bytes`, wrapped at 76 columns with
/// `\r\n` (as MIME writes it; the `base64` command's `\n` is shorter), with room for a `data:`
/// header: the one bound on encoded images, for `data:` URLs and base64 uploads, and (plus their
/// framing) for the request bodies that carry them.
pub fn max_base64_len(max_bytes: u64) -> u64 {
    let unwrapped = max_bytes.div_ceil(3).saturating_mul(4);
    let line_breaks = unwrapped.div_ceil(76).saturating_mul(2);
    unwrapped.saturating_add(line_breaks).saturating_add(1024)
}

const BLOCKED_ADDRESSES: &str =
    "the image host resolves only to addresses this server does not fetch from";

/// A `url` that passed parsing and the static checks: scheme, host lists, IP-literal hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageUrl {
    Http(Url),
    Data(String),
    File(PathBuf),
}

impl ImageUrl {
    /// Parses untrusted input; past this point nobody re-checks the scheme or a literal address.
    pub fn parse(input: &str, options: &FetchOptions) -> Result<Self, FetchError> {
        let input = input.trim();
        let url = Url::parse(input)
            .map_err(|e| FetchError::InvalidUrl(format!("not an absolute URL ({e})")))?;
        match url.scheme() {
            "http" | "https" => {
                check_http_target(&url, options)?;
                Ok(ImageUrl::Http(url))
            }
            "data" => Ok(ImageUrl::Data(input.to_owned())),
            "file" if options.file_root.is_some() => {
                let path = url.to_file_path().map_err(|()| {
                    FetchError::InvalidUrl("a file: URL must name a local absolute path".into())
                })?;
                Ok(ImageUrl::File(path))
            }
            "file" => Err(FetchError::InvalidUrl(
                "file: URLs are disabled on this server (no --file-root)".into(),
            )),
            other => Err(FetchError::InvalidUrl(format!(
                "scheme `{other}` is not allowed; use http, https or data"
            ))),
        }
    }
}

/// The checks an http(s) URL must pass before any packet is sent: on the first URL and on every
/// redirect target. Names are checked again, on their addresses, by the resolver.
fn check_http_target(url: &Url, options: &FetchOptions) -> Result<(), FetchError> {
    let host = url
        .host()
        .ok_or_else(|| FetchError::InvalidUrl("the URL has no host".into()))?;
    let host_text = match &host {
        Host::Domain(d) => (*d).to_owned(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    };
    if !options.hosts.permits(&host_text) {
        return Err(FetchError::NotAllowed(
            "the image host is not on this server's list of allowed hosts".into(),
        ));
    }
    // reqwest's connector never asks the resolver about IP literals, so they are judged here.
    let literal = match host {
        Host::Ipv4(ip) => Some(std::net::IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(std::net::IpAddr::V6(ip)),
        Host::Domain(_) => None,
    };
    if let Some(ip) = literal {
        if !options.addresses.permits(ip) {
            return Err(FetchError::NotAllowed(BLOCKED_ADDRESSES.into()));
        }
    }
    Ok(())
}

/// Installs ring as rustls' process-wide crypto provider. reqwest is built without a bundled
/// provider (so no aws-lc C build); every client needs this first. Later calls are no-ops.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why a redirect was refused; found again in reqwest's error chain to pick the code.
#[derive(Debug, thiserror::Error)]
enum RedirectRefusal {
    #[error("too many redirects")]
    TooMany,
    #[error("redirect loop")]
    Loop,
    #[error("{0}")]
    Target(FetchError),
}

/// Downloads images under the limits of `FetchOptions`. Cheap to clone; build one at start-up.
#[derive(Clone)]
pub struct Fetcher {
    client: Arc<LazyClient>,
    options: Arc<FetchOptions>,
}

/// The HTTP client, built on first use: building it loads the system's root certificates, 20 ms
/// that were most of a `qrscan scan` over a few local files, which never fetch. The server warms
/// it at start-up (`Fetcher::warm`). What can be wrong in the settings (the proxy URL) was
/// checked before, when the configuration was (`Proxy::new`).
struct LazyClient {
    builder: std::sync::Mutex<Option<reqwest::ClientBuilder>>,
    client: std::sync::OnceLock<Result<reqwest::Client, String>>,
}

impl LazyClient {
    fn get(&self) -> Result<&reqwest::Client, FetchError> {
        let built = self.client.get_or_init(|| {
            let builder = self.builder.lock().ok().and_then(|mut b| b.take());
            let builder =
                builder.ok_or_else(|| "the HTTP client was not configured".to_string())?;
            builder
                .build()
                .map_err(|e| format!("the HTTP client could not start: {e}"))
        });
        built
            .as_ref()
            .map_err(|message| FetchError::Upstream(message.clone()))
    }
}

impl Fetcher {
    /// A fetcher resolving names with the operating system's resolver.
    pub fn new(options: FetchOptions) -> Self {
        Self::with_lookup(options, Arc::new(policy::SystemLookup))
    }

    /// A fetcher resolving names through `lookup` (tests give a stub).
    pub fn with_lookup(options: FetchOptions, lookup: Arc<dyn Lookup>) -> Self {
        install_crypto_provider();
        let options = Arc::new(options);
        let resolver = PolicyResolver::new(Arc::new(options.addresses.clone()), lookup);
        let redirect_options = options.clone();
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > redirect_options.max_redirects {
                return attempt.error(RedirectRefusal::TooMany);
            }
            if attempt.previous().contains(attempt.url()) {
                return attempt.error(RedirectRefusal::Loop);
            }
            let target = attempt.url();
            if !matches!(target.scheme(), "http" | "https") {
                let refusal = FetchError::NotAllowed("a redirect led to a non-http(s) URL".into());
                return attempt.error(RedirectRefusal::Target(refusal));
            }
            match check_http_target(target, &redirect_options) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(RedirectRefusal::Target(refusal)),
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("qrscan/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .redirect(redirect)
            // reqwest sends the URL a redirect came from, query string included, as `Referer`
            // to the next host: a token in an image URL must not leak to wherever it redirects.
            .referer(false)
            .dns_resolver(resolver);
        builder = match &options.proxy {
            Some(proxy) => builder.proxy(proxy.proxy.clone()),
            None => builder.no_proxy(),
        };
        let client = LazyClient {
            builder: std::sync::Mutex::new(Some(builder)),
            client: std::sync::OnceLock::new(),
        };
        Fetcher {
            client: Arc::new(client),
            options,
        }
    }

    /// Builds the HTTP client now rather than on the first download, so that a server fails at
    /// start-up, not on its first request, if it cannot.
    pub fn warm(&self) -> Result<(), FetchError> {
        self.client.get().map(|_| ())
    }

    /// The options this fetcher enforces.
    pub fn options(&self) -> &FetchOptions {
        &self.options
    }

    /// The bytes behind `url`, within every limit, held against `budget`.
    pub async fn fetch(
        &self,
        url: &ImageUrl,
        budget: &ByteBudget,
    ) -> Result<HeldBytes, FetchError> {
        match url {
            ImageUrl::Http(url) => {
                let download = self.fetch_http(url, budget);
                tokio::time::timeout(self.options.fetch_timeout, download)
                    .await
                    .map_err(|_| FetchError::Timeout)?
            }
            ImageUrl::Data(text) => decode_data_url(text, self.options.max_bytes, budget),
            ImageUrl::File(path) => self.read_file(path, budget).await,
        }
    }

    async fn fetch_http(&self, url: &Url, budget: &ByteBudget) -> Result<HeldBytes, FetchError> {
        let limit = self.options.max_bytes;
        let mut response = self
            .client
            .get()?
            .get(url.clone())
            .send()
            .await
            .map_err(classify_reqwest_error)?;
        let status = response.status();
        if status.is_redirection() {
            // reqwest hands back, unfollowed, a redirect whose target is not http(s).
            return Err(unfollowed_redirect(response.url(), response.headers()));
        }
        if !status.is_success() {
            return Err(FetchError::Upstream(format!(
                "upstream answered {}",
                status.as_u16()
            )));
        }
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        // The declared length only caps how far the buffer grows; it reserves nothing.
        let mut body = budget
            .buffer(limit)
            .expecting(response.content_length().unwrap_or(limit));
        while let Some(chunk) = response.chunk().await.map_err(classify_reqwest_error)? {
            body.push(&chunk)?;
        }
        Ok(body)
    }

    /// A `file:` URL's bytes, opened beneath `--file-root` (`file.rs`) and read, like a
    /// download, within `--fetch-timeout` and the byte limit. Opening runs on a blocking thread
    /// but cannot wait on a FIFO, so no request holds one past its timeout.
    async fn read_file(&self, path: &Path, budget: &ByteBudget) -> Result<HeldBytes, FetchError> {
        let limit = self.options.max_bytes;
        let root = self
            .options
            .file_root
            .clone()
            .ok_or_else(file::outside_root)?;
        let path = path.to_owned();
        let read = async move {
            let (file, len) = tokio::task::spawn_blocking(move || file::open_beneath(&root, &path))
                .await
                .map_err(|_| FetchError::Upstream("the file could not be opened".into()))??;
            if len > limit {
                return Err(FetchError::TooLarge { limit });
            }
            let mut file = tokio::fs::File::from_std(file);
            let mut body = budget.buffer(limit).expecting(len);
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let read = file
                    .read(&mut chunk)
                    .await
                    .map_err(|_| FetchError::Upstream("the file could not be read".into()))?;
                if read == 0 {
                    return Ok(body);
                }
                body.push(&chunk[..read])?;
            }
        };
        tokio::time::timeout(self.options.fetch_timeout, read)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

/// Why a redirect response reached us instead of being followed.
fn unfollowed_redirect(from: &Url, headers: &reqwest::header::HeaderMap) -> FetchError {
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| from.join(location).ok());
    match target {
        Some(target) if !matches!(target.scheme(), "http" | "https") => {
            FetchError::NotAllowed("a redirect led to a non-http(s) URL".into())
        }
        _ => FetchError::Upstream("upstream answered a redirect without a usable Location".into()),
    }
}

/// Decodes a `data:` URL under the byte limit, holding the bytes against `budget` as they come.
pub fn decode_data_url(
    text: &str,
    limit: u64,
    budget: &ByteBudget,
) -> Result<HeldBytes, FetchError> {
    let url = data_url::DataUrl::process(text)
        .map_err(|_| FetchError::InvalidUrl("malformed data: URL".into()))?;
    // A URL longer than the longest base64 of the limit cannot fit it.
    if text.len() as u64 > max_base64_len(limit) {
        return Err(FetchError::TooLarge { limit });
    }
    // The decoded bytes are never longer than the URL.
    let mut body = budget.buffer(limit).expecting(text.len() as u64);
    url.decode(|bytes| body.push(bytes).map_err(FetchError::from))
        .map_err(|err| match err {
            data_url::forgiving_base64::DecodeError::WriteError(err) => err,
            data_url::forgiving_base64::DecodeError::InvalidBase64(_) => {
                FetchError::InvalidUrl("the data: URL has malformed base64".into())
            }
        })?;
    Ok(body)
}

/// Maps a reqwest error to a failure class, looking through its causes for our own refusals.
fn classify_reqwest_error(err: reqwest::Error) -> FetchError {
    if let Some(refusal) = find_cause::<RedirectRefusal>(&err) {
        return match refusal {
            RedirectRefusal::TooMany => FetchError::Upstream("too many redirects".into()),
            RedirectRefusal::Loop => FetchError::Upstream("redirect loop".into()),
            RedirectRefusal::Target(inner) => inner.clone(),
        };
    }
    if let Some(resolve) = find_cause::<ResolveError>(&err) {
        return match resolve {
            ResolveError::Blocked => FetchError::NotAllowed(BLOCKED_ADDRESSES.into()),
            ResolveError::Lookup(_) => {
                FetchError::Upstream("the image host name could not be resolved".into())
            }
        };
    }
    if err.is_timeout() && err.is_connect() {
        return FetchError::ConnectTimeout;
    }
    if err.is_timeout() {
        return FetchError::Timeout;
    }
    if err.is_connect() {
        return FetchError::Upstream("could not connect to the image host".into());
    }
    if err.is_body() || err.is_decode() {
        return FetchError::Upstream("the connection broke while reading the image".into());
    }
    FetchError::Upstream("the image host did not answer with a usable HTTP response".into())
}

/// The first cause of type `T` in an error's source chain.
pub fn find_cause<'e, T: StdError + 'static>(err: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn options() -> FetchOptions {
        FetchOptions::default()
    }

    #[test]
    fn ip_literal_spellings_of_blocked_addresses_are_refused_before_sending() {
        for url in [
            "http://127.0.0.1/a.png",
            "http://2130706433/a.png",
            "http://0x7f.1/a.png",
            "http://0177.0.0.1/a.png",
            "http://127.1/a.png",
            "http://[::1]/a.png",
            "http://[::ffff:127.0.0.1]/a.png",
            "http://[::ffff:7f00:1]/a.png",
            "http://0.0.0.0/a.png",
            "http://0/a.png",
            "http://10.0.0.1/a.png",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00::1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::]/",
            "https://192.168.1.1:8443/",
        ] {
            let err = ImageUrl::parse(url, &options()).unwrap_err();
            assert!(matches!(err, FetchError::NotAllowed(_)), "{url}: {err:?}");
        }
    }

    #[test]
    fn public_literals_and_names_pass_the_static_checks() {
        for url in [
            "http://93.184.216.34/a.png",
            "https://example.com/a.png",
            "http://[2606:4700::1]/",
        ] {
            assert!(
                matches!(ImageUrl::parse(url, &options()), Ok(ImageUrl::Http(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn other_schemes_and_relative_urls_are_invalid() {
        for url in [
            "ftp://example.com/a.png",
            "/a.png",
            "a.png",
            "gopher://x/",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "http://",
        ] {
            let err = ImageUrl::parse(url, &options()).unwrap_err();
            assert!(matches!(err, FetchError::InvalidUrl(_)), "{url}: {err:?}");
        }
    }

    #[test]
    fn denied_and_unlisted_hosts_are_not_allowed() {
        let opts = FetchOptions {
            hosts: HostPolicy {
                allow: vec!["*.images.example".parse().unwrap()],
                deny: vec!["bad.images.example".parse().unwrap()],
            },
            ..options()
        };
        assert!(ImageUrl::parse("https://cdn.images.example/a.png", &opts).is_ok());
        for url in [
            "https://bad.images.example/a.png",
            "https://elsewhere.example/a.png",
        ] {
            assert!(
                matches!(ImageUrl::parse(url, &opts), Err(FetchError::NotAllowed(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn data_urls_decode_in_memory_under_the_byte_limit() {
        let png = [0x89u8, b'P', b'N', b'G', 1, 2, 3];
        let encoded = base64::engine::general_purpose::STANDARD.encode(png);
        let url = format!("data:image/png;base64,{encoded}");
        let budget = ByteBudget::unbounded();
        let decode =
            |text: &str, limit| decode_data_url(text, limit, &budget).map(|b| b.as_ref().to_vec());
        assert_eq!(decode(&url, 100).unwrap(), png);
        assert_eq!(decode(&url, 6), Err(FetchError::TooLarge { limit: 6 }));
        assert!(matches!(
            decode("data:image/png;base64,@@@not base64@@@", 100),
            Err(FetchError::InvalidUrl(_))
        ));
        assert!(matches!(
            decode("data:nocomma", 100),
            Err(FetchError::InvalidUrl(_))
        ));
        let huge = format!("data:image/png;base64,{}", "A".repeat(4000));
        assert_eq!(
            decode(&huge, 1000),
            Err(FetchError::TooLarge { limit: 1000 })
        );
        let small = ByteBudget::new(4);
        assert!(matches!(
            decode_data_url(&url, 100, &small),
            Err(FetchError::Busy(_))
        ));
    }

    #[test]
    fn the_base64_bound_fits_an_image_at_the_limit_wrapped_at_76_columns_with_crlf() {
        for max_bytes in [1usize, 57, 1000, 2048, 1 << 20] {
            let encoded = base64::engine::general_purpose::STANDARD.encode(vec![7u8; max_bytes]);
            let lines: Vec<&str> = encoded
                .as_bytes()
                .chunks(76)
                .map(|line| std::str::from_utf8(line).unwrap())
                .collect();
            let data_url = format!("data:image/png;base64,{}\r\n", lines.join("\r\n"));
            assert!(
                max_base64_len(max_bytes as u64) >= data_url.len() as u64,
                "{max_bytes}"
            );
        }
    }

    #[test]
    fn file_urls_need_a_file_root() {
        let opts = FetchOptions {
            file_root: Some(PathBuf::from("/srv/images")),
            ..options()
        };
        assert_eq!(
            ImageUrl::parse("file:///srv/images/a.png", &opts),
            Ok(ImageUrl::File(PathBuf::from("/srv/images/a.png")))
        );
    }

    #[tokio::test]
    async fn file_urls_outside_the_root_are_not_allowed_even_through_symlinks_or_dotdot() {
        let outside = tempfile::tempdir().unwrap();
        let root_dir = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.png"), b"secret").unwrap();
        std::fs::write(root_dir.path().join("ok.png"), b"fine").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.png"),
            root_dir.path().join("link.png"),
        )
        .unwrap();
        let root = std::fs::canonicalize(root_dir.path()).unwrap();
        let fetcher = Fetcher::new(FetchOptions {
            file_root: Some(root.clone()),
            ..options()
        });
        let parse = |p: &Path| {
            ImageUrl::parse(Url::from_file_path(p).unwrap().as_str(), fetcher.options()).unwrap()
        };

        assert_eq!(
            fetcher
                .fetch(&parse(&root.join("ok.png")), &ByteBudget::unbounded())
                .await
                .unwrap()
                .as_ref(),
            b"fine"
        );
        let escape = ImageUrl::File(
            root.join("../")
                .join(outside.path().file_name().unwrap())
                .join("secret.png"),
        );
        for url in [parse(&root.join("link.png")), escape] {
            assert!(
                matches!(
                    fetcher.fetch(&url, &ByteBudget::unbounded()).await,
                    Err(FetchError::NotAllowed(_))
                ),
                "{url:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_file_over_the_byte_limit_is_refused_from_its_length() {
        let root_dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(root_dir.path()).unwrap();
        std::fs::write(root.join("big.png"), b"12345").unwrap();
        std::fs::write(root.join("fits.png"), b"1234").unwrap();
        let fetcher = Fetcher::new(FetchOptions {
            file_root: Some(root.clone()),
            max_bytes: 4,
            ..options()
        });
        let fetch = |name: &str| {
            let url = ImageUrl::File(root.join(name));
            let fetcher = fetcher.clone();
            async move { fetcher.fetch(&url, &ByteBudget::unbounded()).await }
        };

        assert_eq!(
            fetch("big.png").await.err(),
            Some(FetchError::TooLarge { limit: 4 })
        );
        assert_eq!(fetch("fits.png").await.unwrap().as_ref(), b"1234");
    }
}
