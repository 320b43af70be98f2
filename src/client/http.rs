//! Calls to a scaivault server: one `reqwest` client (rustls) with the bearer token, JSON in and
//! out, and the server's error envelope (`{"error":{"code","message","request_id"}}`) turned into
//! [`ClientError::Api`] so the command prints the server's code and exits non-zero. Neither the
//! token nor a request body ever enters an error or a `Debug` line.

use super::settings::ClientSettings;
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with its error envelope (or a non-JSON error).
    #[error("{code}: {message} (HTTP {status}{})", request_id.as_ref().map(|r| format!(", request {r}")).unwrap_or_default())]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// The server could not be reached or its answer not read.
    #[error("{0}")]
    Transport(String),
    /// Nothing to authenticate with.
    #[error("no token: run `scaivault login` or set SCAIVAULT_TOKEN")]
    NoToken,
    /// The client could not be set up (bad address, unreadable CA file).
    #[error("{0}")]
    Setup(String),
}

impl ClientError {
    /// The server's error code, if the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A connection to one server with one token.
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    token: Option<SecretString>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ApiClient {
    /// A client for `settings` (its token may be absent: then only anonymous calls work).
    pub fn new(settings: &ClientSettings) -> Result<Self, ClientError> {
        let base = Url::parse(&settings.addr).map_err(|e| {
            ClientError::Setup(format!(
                "the server address {} is not a URL ({e}); e.g. http://127.0.0.1:8210",
                settings.addr
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientError::Setup(format!(
                "the server address {} must be http:// or https://",
                settings.addr
            )));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("scaivault-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(file) = &settings.ca {
            let pem = std::fs::read(file).map_err(|e| {
                ClientError::Setup(format!("cannot read the CA file {}: {e}", file.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| {
                ClientError::Setup(format!("{} holds no PEM certificate", file.display()))
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Setup(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            token: settings.token.clone(),
        })
    }

    /// The server's base address.
    pub fn base(&self) -> &str {
        self.base.as_str()
    }

    /// `base` + `/v1/` + the segments (each percent-encoded as needed) + the query.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push("v1");
            for s in segments {
                path.extend(s.split('/'));
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Sends a request and returns its JSON body (`Null` for an empty one).
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        self.call_with_timeout(method, url, body, Duration::from_secs(60))
            .await
    }

    /// [`ApiClient::call`] with its own overall time limit (long polls wait longer).
    pub async fn call_with_timeout(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let token = self.token.as_ref().ok_or(ClientError::NoToken)?;
        let shown = without_query(&url);
        let mut rb = self
            .http
            .request(method, url)
            .timeout(timeout)
            .bearer_auth(token.expose_secret());
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let res = rb.send().await.map_err(|e| {
            ClientError::Transport(format!("{shown} did not answer: {}", chain(&e)))
        })?;
        let status = res.status();
        let request_id = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = res.bytes().await.map_err(|e| {
            ClientError::Transport(format!("{shown}: the answer broke off: {}", chain(&e)))
        })?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            return Ok(json.unwrap_or(Value::Null));
        }
        let err = json.as_ref().map(|j| &j["error"]);
        let text = |k: &str| err.and_then(|e| e[k].as_str()).map(str::to_string);
        Err(ClientError::Api {
            status: status.as_u16(),
            code: text("code").unwrap_or_else(|| format!("http_{}", status.as_u16())),
            message: text("message").unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("unexpected answer")
                    .to_string()
            }),
            request_id: text("request_id").or(request_id),
        })
    }

    /// GET of `/v1/<segments>?<query>`.
    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Value, ClientError> {
        self.call(Method::GET, self.url(segments, query), None)
            .await
    }
}

/// The URL without its query (what a message may show).
fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

/// An error and its causes on one line (reqwest's own message omits the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
