//! Provider classification (API.md section 3): decoded text -> `Provider`, by a table of rules.
//!
//! The rules are data. The default table is `rules.toml`, compiled in; `--rules FILE` replaces it
//! with a file of the same shape. Text is parsed as a URL with the WHATWG parser (`url` crate), so
//! case, IDN, full-width dots, `%2E` and userinfo tricks are normalised before any rule looks at
//! the host. Pure: no I/O beyond reading a rules file at start-up.

use std::path::Path;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// The rules compiled into the binary.
const DEFAULT_RULES: &str = include_str!("rules.toml");

/// The provider enum of the cli.im API, spelled exactly as its contract spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Provider {
    Alipay,
    WechatPay,
    WechatOfficialAccountPost,
    JD,
    Caoliao,
    Other,
}

impl Provider {
    /// The enum spelling (`WechatPay`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Alipay => "Alipay",
            Provider::WechatPay => "WechatPay",
            Provider::WechatOfficialAccountPost => "WechatOfficialAccountPost",
            Provider::JD => "JD",
            Provider::Caoliao => "Caoliao",
            Provider::Other => "Other",
        }
    }
}

/// One row of the table. Every field present must match; `scheme` or `host` must be present.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub provider: Provider,
    /// The URL scheme, lower case. Without it the row only matches `http` and `https`.
    pub scheme: Option<String>,
    /// A domain: matches itself and its subdomains.
    pub host: Option<String>,
    /// Path prefixes (ASCII case-insensitive); any one matching is enough.
    #[serde(default)]
    pub paths: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rule: Vec<Rule>,
}

/// Why a rules table was refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("rules are not valid TOML of the expected shape: {0}")]
    Parse(#[from] toml::de::Error),
    #[error(
        "rule {index} ({provider:?}) has neither `scheme` nor `host`, so it would match everything"
    )]
    Unanchored { index: usize, provider: Provider },
}

/// An ordered rules table; the first matching row wins, scheme-only rows before host rows.
#[derive(Clone, Debug)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Default for Rules {
    fn default() -> Self {
        // The compiled-in table is covered by the unit tests below, so this cannot fail at run time.
        #[allow(clippy::expect_used)]
        Rules::from_toml(DEFAULT_RULES).expect("the built-in rules.toml is valid")
    }
}

impl Rules {
    /// Parses a table from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let file: RulesFile = toml::from_str(text)?;
        let mut rules = file.rule;
        for (index, rule) in rules.iter_mut().enumerate() {
            if rule.scheme.is_none() && rule.host.is_none() {
                return Err(RulesError::Unanchored {
                    index,
                    provider: rule.provider,
                });
            }
            rule.scheme = rule.scheme.take().map(|s| s.to_ascii_lowercase());
            rule.host = rule
                .host
                .take()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
        }
        // "Scheme rules are checked before host rules": a stable sort keeps the file's order within each group.
        rules.sort_by_key(|rule| rule.host.is_some());
        Ok(Rules { rules })
    }

    /// Reads a table from a TOML file (`--rules FILE`).
    pub fn from_file(path: &Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// The provider of a decoded text.
    pub fn classify(&self, text: &str) -> Provider {
        let Ok(url) = Url::parse(text.trim()) else {
            return Provider::Other;
        };
        let host = match url.host() {
            Some(Host::Domain(domain)) => Some(domain.trim_end_matches('.').to_ascii_lowercase()),
            // An IP literal never belongs to a provider.
            Some(Host::Ipv4(_)) | Some(Host::Ipv6(_)) => return Provider::Other,
            None => None,
        };
        self.rules
            .iter()
            .find(|rule| rule.matches(&url, host.as_deref()))
            .map_or(Provider::Other, |rule| rule.provider)
    }
}

impl Rule {
    fn matches(&self, url: &Url, host: Option<&str>) -> bool {
        let scheme_ok = match &self.scheme {
            Some(scheme) => url.scheme() == scheme,
            None => matches!(url.scheme(), "http" | "https"),
        };
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(domain), Some(host)) => {
                host == domain
                    || (host.len() > domain.len()
                        && host.ends_with(domain.as_str())
                        && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
            }
            (Some(_), None) => false,
        };
        let path_ok =
            self.paths.is_empty() || self.paths.iter().any(|p| path_has_prefix(url.path(), p));
        scheme_ok && host_ok && path_ok
    }
}

/// `/s` matches `/s` and `/s/abc` but not `/search`; a prefix ending in `/` matches anything below it.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    let (path, prefix) = (path.as_bytes(), prefix.as_bytes());
    if path.len() < prefix.len() || !path[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return false;
    }
    prefix.ends_with(b"/") || path.len() == prefix.len() || path[prefix.len()] == b'/'
}

#[cfg(test)]
mod tests {
    use super::*;
    use Provider::*;

    fn classify(text: &str) -> Provider {
        Rules::default().classify(text)
    }

    #[test]
    fn the_must_hold_cases_of_api_md_hold() {
        let rows = [
            ("HTTPS://QR.ALIPAY.COM/FKX07101FL", Alipay),
            ("https://qr.alipay.com./x", Alipay),
            ("https://qr.alipay.com.evil.example/x", Other),
            ("https://qr.alipay.com@evil.example/x", Other),
            ("https://evil.example\\@qr.alipay.com/", Other),
            ("https://ｑｒ．ａｌｉｐａｙ．ｃｏｍ/x", Alipay),
            ("https://notjd.com/", Other),
            ("https://jd.com.cn/", Other),
            ("WXP://F2F0ABC", WechatPay),
            ("https://MP.WEIXIN.QQ.COM/S/abc", WechatOfficialAccountPost),
            ("https://mp.weixin.qq.com/mp/profile_ext?action=home", Other),
            ("qr.alipay.com/fkx", Other),
            ("https://cli.im", Caoliao),
        ];
        for (text, expected) in rows {
            assert_eq!(classify(text), expected, "{text}");
        }
    }

    #[test]
    fn every_rule_of_the_default_table_has_a_matching_example() {
        let rows = [
            ("https://qr.alipay.com/bax03431", Alipay),
            ("https://render.alipay.com/p/s/i?x=1", Alipay),
            ("alipays://platformapi/startapp?appId=20000067", Alipay),
            ("alipay://platformapi/startapp", Alipay),
            ("alipayqr://platformapi/startapp?saId=10000007", Alipay),
            ("wxp://f2f0123456789", WechatPay),
            ("wxhb://f2f0abc", WechatPay),
            ("weixin://wxpay/bizpayurl?pr=abc", WechatPay),
            ("https://payapp.weixin.qq.com/qr/abc", WechatPay),
            ("https://wechatpay.cn/x", WechatPay),
            ("https://pay.wechatpay.cn/x", WechatPay),
            ("https://wx.tenpay.com/f2f?t=abc", WechatPay),
            ("https://wxpay.tenpay.com/md/abc", WechatPay),
            (
                "https://mp.weixin.qq.com/s/AbCdEf",
                WechatOfficialAccountPost,
            ),
            (
                "https://mp.weixin.qq.com/s?__biz=MzA&mid=1",
                WechatOfficialAccountPost,
            ),
            (
                "http://mp.weixin.qq.com/mp/appmsg/show?__biz=x",
                WechatOfficialAccountPost,
            ),
            ("https://item.jd.com/100012043978.html", JD),
            ("https://jd.com", JD),
            ("https://u.3.cn/abc", JD),
            ("https://www.jd.hk/x", JD),
            ("openapp.jdmobile://virtual?params=%7B%7D", JD),
            ("https://cli.im/url/abc", Caoliao),
            ("https://qr61.cn/abc", Caoliao),
            ("https://qr71.cn/abc", Caoliao),
            ("https://qr69.cn/abc", Caoliao),
            ("https://qr46.cn/abc", Caoliao),
            ("https://qr14.cn/abc", Caoliao),
            ("https://w.clewm.net/abc", Caoliao),
        ];
        for (text, expected) in rows {
            assert_eq!(classify(text), expected, "{text}");
        }
    }

    #[test]
    fn near_misses_are_other() {
        let rows = [
            "https://mp.weixin.qq.com/mp/appmsgalbum?__biz=x",
            "https://mp.weixin.qq.com/search?q=1",
            "https://weixin.qq.com/r/abcdef",
            "weixin://dl/business/?t=abc",
            "https://wx.tenpay.com/other",
            "https://wxpay.tenpay.com/mdx",
            "javascript://qr.alipay.com/%0aalert(1)",
            "http://127.0.0.1/qr.alipay.com",
            "http://[::1]/",
            "hello world",
            "",
            "https://example.com/?u=https://qr.alipay.com/x",
        ];
        for text in rows {
            assert_eq!(classify(text), Other, "{text}");
        }
    }

    #[test]
    fn a_rules_file_replaces_the_table() {
        let rules = Rules::from_toml(
            r#"
            [[rule]]
            provider = "JD"
            host = "example.com"
            "#,
        )
        .unwrap();
        assert_eq!(rules.classify("https://shop.example.com/"), JD);
        assert_eq!(rules.classify("https://qr.alipay.com/x"), Other);
    }

    #[test]
    fn a_rule_without_scheme_or_host_is_refused() {
        let err = Rules::from_toml("[[rule]]\nprovider = \"JD\"\n").unwrap_err();
        assert!(matches!(err, RulesError::Unanchored { index: 0, .. }));
    }

    #[test]
    fn an_unknown_provider_is_refused() {
        assert!(Rules::from_toml("[[rule]]\nprovider = \"Paypal\"\nhost = \"x.com\"\n").is_err());
    }
}
