//! The operator's HTTP endpoint: `/metrics`, `/healthz` and `/readyz`.
//!
//! Prometheus scrapes `/metrics` (the registry in [`crate::metrics`]). An orchestrator asks
//! `/healthz` whether the process is alive and answering, and `/readyz` whether it is doing
//! its job: connected to the source and the sink, streaming, hearing from the source (an
//! event or a heartbeat within `source.read_timeout_ms`), not blocked by the broker, and no
//! further behind the source than `http.ready_max_lag_seconds`. Readiness is read from
//! the same gauges the metrics show, so the two never disagree.

use std::net::SocketAddr;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::metrics::METRICS;
use crate::section::ConfigError;

/// Prometheus' registry of default ports lists 9187 as free for exporters nearby; any port
/// will do. Loopback only by default: metrics are not for the whole network.
const DEFAULT_LISTEN: &str = "127.0.0.1:9187";
const DEFAULT_READY_MAX_LAG_SECONDS: u64 = 60;

/// `[http]`: the metrics and health endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `host:port` to listen on; empty turns the endpoint off.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// `/readyz` answers 503 while the reader is further behind the source than this.
    #[serde(default = "default_ready_max_lag_seconds")]
    pub ready_max_lag_seconds: u64,
}

fn default_listen() -> String {
    DEFAULT_LISTEN.into()
}
fn default_ready_max_lag_seconds() -> u64 {
    DEFAULT_READY_MAX_LAG_SECONDS
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            ready_max_lag_seconds: DEFAULT_READY_MAX_LAG_SECONDS,
        }
    }
}

impl HttpConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.address().map(|_| ())
    }

    /// The address to listen on, `None` when the endpoint is off.
    pub fn address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.listen.trim().is_empty() {
            return Ok(None);
        }
        self.listen.trim().parse().map(Some).map_err(|e| {
            ConfigError::key(
                "http.listen",
                format!(
                    "{:?} is not HOST:PORT ({e}); use an IP address and port such as \"127.0.0.1:9187\", or \"\" to turn the endpoint off",
                    self.listen
                ),
            )
        })
    }
}

/// The endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen on {address} for /metrics, /healthz and /readyz: {source}; set http.listen to a free address, or to \"\" to turn the endpoint off"
)]
pub struct HttpError {
    pub address: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// Asks a running daemon's endpoint for `path` and returns the HTTP status. This is the
/// `binlog-relay health` command a container's `HEALTHCHECK` runs, so the image needs no
/// shell or curl. One fixed request to our own server: a plain HTTP/1.0 GET.
pub async fn probe(address: &str, path: &str, timeout: std::time::Duration) -> Result<u16, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| format!("cannot connect to {address}: {e}"))?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        let text = String::from_utf8_lossy(&response);
        text.split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP answer from {address}"))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer from {address} within {timeout:?}"))?
}

/// Binds the listener (so a taken port fails at start-up, before replication begins).
pub async fn bind(address: SocketAddr) -> Result<TcpListener, HttpError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| HttpError { address, source })
}

/// What `/readyz` requires besides connections and a running stream.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    /// `http.ready_max_lag_seconds`.
    pub max_lag_seconds: u64,
    /// `source.read_timeout_ms`: longer without an event or heartbeat is a silent stream.
    pub max_silence: std::time::Duration,
}

/// Serves the endpoint until the process exits.
pub async fn serve(listener: TcpListener, readiness: Readiness) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(move || async move { readyz(readiness) }));
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "serving /metrics, /healthz and /readyz");
    }
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the metrics and health endpoint stopped");
    }
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        METRICS.render(),
    )
}

/// The process answers: its runtime is running. Liveness only; see `/readyz` for work.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when every check passes; the body lists each.
fn readyz(readiness: Readiness) -> (StatusCode, String) {
    let lag = METRICS.lag_seconds.get();
    let waiting_since = METRICS.read_waiting_since.get();
    // Silence counts while the reader waits on the stream; back-pressure is not silence.
    let silent_for = if waiting_since > 0.0 {
        crate::metrics::unix_now() - waiting_since.max(METRICS.last_read_at.get())
    } else {
        0.0
    };
    let checks = [
        ("source connected", METRICS.source_connected.get() == 1),
        ("sink connected", METRICS.sink_connected.get() == 1),
        ("streaming", METRICS.streaming.get() == 1),
        (
            "stream not silent (an event or heartbeat within source.read_timeout_ms)",
            silent_for <= readiness.max_silence.as_secs_f64(),
        ),
        ("broker not blocking", METRICS.broker_blocked_now.get() == 0),
        (
            "lag within http.ready_max_lag_seconds",
            lag <= readiness.max_lag_seconds as f64,
        ),
    ];
    let mut body = String::new();
    for (name, ok) in &checks {
        body.push_str(if *ok { "ok   " } else { "FAIL " });
        body.push_str(name);
        body.push('\n');
    }
    body.push_str(&format!("lag_seconds {lag:.0}\n"));
    let status = if checks.iter().all(|(_, ok)| *ok) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listen_address_is_checked() {
        let mut c = HttpConfig::default();
        assert_eq!(
            c.address().unwrap(),
            Some("127.0.0.1:9187".parse().unwrap())
        );
        c.listen = String::new();
        assert_eq!(c.address().unwrap(), None);
        c.listen = "localhost".into();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("http.listen") && err.contains("HOST:PORT"),
            "{err}"
        );
    }
}
