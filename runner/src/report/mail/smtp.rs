//! Sending the mail over SMTP with lettre, to the server a URL names:
//!
//! - `smtp://host[:port]` (port 25): plain SMTP, for a local relay; no TLS at all;
//! - `smtp://host[:port]?tls=required` (port 587): STARTTLS, refused when the server
//!   does not offer it;
//! - `smtps://host[:port]` (port 465): TLS from the first byte.
//!
//! A user and password come from the URL (`smtp://user:pass@host`, percent-encoded) or
//! from `PONYSWARM_SMTP_USER` / `PONYSWARM_SMTP_PASSWORD` (read by the caller).
//!
//! Parsing the URL is pure; [`SmtpServer::send`] is the I/O.

use super::MailError;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;
use url::Url;

/// How long sending a mail may take by default, from connecting to the last answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (`smtp://`).
    ///
    /// ## Security
    /// The mail (and a password, if one were sent) crosses the network in the clear:
    /// meant for a relay on this machine or a trusted network. A password is refused
    /// with it unless the server is a loopback address.
    Plain,
    /// Plain connection upgraded with STARTTLS, which the server must offer
    /// (`smtp://…?tls=required`).
    StartTls,
    /// TLS from the start (`smtps://`).
    Tls,
}

/// An SMTP server to send through, parsed from its URL.
#[derive(Clone)]
pub struct SmtpServer {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
    /// Extra CAs (PEM) trusted besides the system's.
    roots: Vec<Vec<u8>>,
    timeout: Duration,
}

impl fmt::Debug for SmtpServer {
    // Never print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpServer({self})")
    }
}

impl fmt::Display for SmtpServer {
    /// The URL without credentials: how errors and notes name the server.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
            _ => self.host.clone(),
        };
        match self.security {
            Security::Plain => write!(f, "smtp://{host}:{}", self.port),
            Security::StartTls => write!(f, "smtp://{host}:{}?tls=required", self.port),
            Security::Tls => write!(f, "smtps://{host}:{}", self.port),
        }
    }
}

impl SmtpServer {
    /// Parses `url`; `user` and `password` (from the environment) are used when the URL
    /// has none.
    pub fn parse(
        url: &str,
        user: Option<String>,
        password: Option<String>,
    ) -> Result<SmtpServer, MailError> {
        let bad = |reason: &str| MailError::BadUrl {
            url: redact(url),
            reason: reason.to_string(),
        };
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let host = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(bad("it names no host")),
        };
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None | Some("none")) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls, 587),
            ("smtps", None | Some("required")) => (Security::Tls, 465),
            ("smtp" | "smtps", Some(other)) => {
                return Err(bad(&format!("tls={other} is not one of none, required")))
            }
            (other, _) => return Err(bad(&format!("the scheme {other}: is not smtp: or smtps:"))),
        };
        let credentials = credentials(&parsed, user, password).map_err(|r| bad(&r))?;
        let server = SmtpServer {
            host,
            port: parsed.port().unwrap_or(default_port),
            security,
            credentials,
            roots: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        };
        server.check_password_is_protected()?;
        Ok(server)
    }

    /// Also trusts the CA certificate(s) in `pem`, for a server whose certificate the
    /// system does not know (a private relay).
    pub fn trust_pem(mut self, pem: Vec<u8>) -> SmtpServer {
        self.roots.push(pem);
        self
    }

    /// How long sending may take, from connecting to the last answer (default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> SmtpServer {
        self.timeout = timeout;
        self
    }

    /// How the connection is protected.
    pub fn security(&self) -> Security {
        self.security
    }

    /// Sends `message` to its recipients.
    pub async fn send(&self, message: &Message) -> Result<(), MailError> {
        let transport = self.transport()?;
        // lettre's async timeout covers connecting, not a server that accepts and then
        // stays silent: bound the whole exchange, so the end of a run is never held.
        match tokio::time::timeout(self.timeout, transport.send(message.clone())).await {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(source)) => Err(MailError::Send {
                server: self.to_string(),
                reason: reason(&source, self.timeout),
            }),
            Err(_elapsed) => Err(MailError::Send {
                server: self.to_string(),
                reason: format!("no answer within {}s", self.timeout.as_secs()),
            }),
        }
    }

    /// lettre's transport for this server.
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(self.timeout));
        builder = match self.security {
            Security::Plain => builder.tls(Tls::None),
            Security::StartTls => builder.tls(Tls::Required(self.tls_parameters()?)),
            Security::Tls => builder.tls(Tls::Wrapper(self.tls_parameters()?)),
        };
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }

    /// TLS checked against the system's roots and the extra ones, for `host`.
    fn tls_parameters(&self) -> Result<TlsParameters, MailError> {
        let tls_error = |source: lettre::transport::smtp::Error| MailError::Send {
            server: self.to_string(),
            reason: format!("cannot set up TLS: {}", chain(&source)),
        };
        let mut builder = TlsParameters::builder(self.host.clone());
        for pem in &self.roots {
            builder = builder.add_root_certificate(Certificate::from_pem(pem).map_err(tls_error)?);
        }
        builder.build_rustls().map_err(tls_error)
    }

    /// A password over a plain connection only to this machine.
    fn check_password_is_protected(&self) -> Result<(), MailError> {
        let loopback = self.host == "localhost"
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if self.security == Security::Plain && self.credentials.is_some() && !loopback {
            return Err(MailError::BadUrl {
                url: self.to_string(),
                reason: "a password would be sent unencrypted: use smtp://…?tls=required \
                         (STARTTLS) or smtps://"
                    .to_string(),
            });
        }
        Ok(())
    }
}

/// The URL's user and password, else the environment's; both or neither.
fn credentials(
    url: &Url,
    user: Option<String>,
    password: Option<String>,
) -> Result<Option<(String, String)>, String> {
    let decode = |s: &str| {
        percent_encoding_decode(s).ok_or_else(|| "its user or password is not UTF-8".to_string())
    };
    let from_url = (!url.username().is_empty()).then(|| url.username());
    let user = match from_url {
        Some(u) => Some(decode(u)?),
        None => user.filter(|u| !u.is_empty()),
    };
    let password = match url.password() {
        Some(p) => Some(decode(p)?),
        None => password,
    };
    match (user, password) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, None) => Ok(None),
        (Some(u), None) => Err(format!(
            "user {u} has no password (in the URL or PONYSWARM_SMTP_PASSWORD)"
        )),
        (None, Some(_)) => Err("a password without a user".to_string()),
    }
}

/// Percent-decoding, as `url` leaves user and password encoded.
fn percent_encoding_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `url` with its password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        // Unparsable: it may still hold a password, so show only the scheme.
        Err(_) => match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://…"),
            None => "the SMTP URL".to_string(),
        },
    }
}

/// A lettre error as a reason a user understands.
fn reason(error: &lettre::transport::smtp::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {}s", timeout.as_secs());
    }
    if error.is_permanent() || error.is_transient() {
        // `permanent error (535): 5.7.8 Authentication credentials invalid`: keep the code
        // and the server's words.
        let text = error.to_string();
        let (answer, later) = match text.strip_prefix("transient error ") {
            Some(rest) => (rest, " (a temporary refusal: a later run may get through)"),
            None => (text.strip_prefix("permanent error ").unwrap_or(&text), ""),
        };
        return format!("the server refused {answer}{later}");
    }
    // lettre repeats its kind at each level: `Connection error: Connection error: …`.
    let mut text = chain(error);
    while let Some(rest) = text.strip_prefix("Connection error: ") {
        text = rest.to_string();
    }
    if text.contains("STARTTLS is not supported") {
        return "the server does not offer STARTTLS, which tls=required asks for".to_string();
    }
    if text.contains("certificate") {
        return format!(
            "the server's TLS certificate is not trusted ({text}); add its CA to the \
             system's certificates or to SSL_CERT_FILE"
        );
    }
    text
}

/// An error and its sources, `: `-separated, without repeats.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        #[rustfmt::skip]
        let table: &[(&str, &str, Security, bool)] = &[
            ("smtp://127.0.0.1:2525", "smtp://127.0.0.1:2525", Security::Plain, false),
            ("smtp://relay", "smtp://relay:25", Security::Plain, false),
            ("smtp://mail.example.org?tls=required", "smtp://mail.example.org:587?tls=required", Security::StartTls, false),
            ("smtps://u%40x:p%3Aw@mail.example.org", "smtps://mail.example.org:465", Security::Tls, true),
            ("smtp://[::1]:25", "smtp://[::1]:25", Security::Plain, false),
            ("smtp://me:secret@localhost:25", "smtp://localhost:25", Security::Plain, true),
        ];
        for (url, shown, security, has_credentials) in table {
            let s = SmtpServer::parse(url, None, None).expect(url);
            assert_eq!(s.to_string(), *shown, "{url}");
            assert_eq!(s.security, *security, "{url}");
            assert_eq!(s.credentials.is_some(), *has_credentials, "{url}");
        }
        let s = SmtpServer::parse("smtps://u%40x:p%3Aw@h", None, None).expect("parses");
        assert_eq!(s.credentials, Some(("u@x".into(), "p:w".into())));
        assert!(!format!("{s:?}").contains("p:w"));
    }

    #[test]
    fn credentials_from_the_environment_unless_in_the_url() {
        let env = || (Some("env-user".to_string()), Some("env-pw".to_string()));
        let (u, p) = env();
        let s = SmtpServer::parse("smtps://h", u, p).expect("parses");
        assert_eq!(s.credentials, Some(("env-user".into(), "env-pw".into())));
        let (u, p) = env();
        let s = SmtpServer::parse("smtps://me:pw@h", u, p).expect("parses");
        assert_eq!(s.credentials, Some(("me".into(), "pw".into())));
    }

    #[test]
    fn bad_urls_say_why_and_hide_the_password() {
        #[rustfmt::skip]
        let table: &[(&str, &str)] = &[
            ("http://mail.example.org", "the scheme http: is not smtp: or smtps:"),
            ("smtp://h?tls=maybe", "tls=maybe is not one of none, required"),
            ("smtp://me:secret@mail.example.org", "a password would be sent unencrypted"),
            ("smtps://me@h", "user me has no password"),
            ("not a url", "relative URL without a base"),
        ];
        for (url, want) in table {
            let e = SmtpServer::parse(url, None, None)
                .expect_err(url)
                .to_string();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("secret"), "{url}: {e}");
        }
    }
}
