//! The operator's HTTP endpoint: `/metrics`, `/healthz` and `/readyz`.
//!
//! Prometheus scrapes `/metrics` (the registry in [`crate::metrics`]). An orchestrator asks
//! `/healthz` whether the process is alive and answering, and `/readyz` whether it is doing
//! its job: connected to the source and the sink, streaming, hearing from the source (an
//! event or a heartbeat within `source.read_timeout_ms`), not blocked by the broker, and no
//! further behind the source than `http.ready_max_lag_seconds`. Readiness is read from
//! the same gauges the metrics show, so the two never disagree.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

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
    /// Where Maxwell's probe paths (`/ping`, `/healthcheck`, `/prometheus`) are served:
    /// Maxwell's `http_path_prefix`.
    #[serde(default = "default_maxwell_prefix")]
    pub maxwell_prefix: String,
}

fn default_maxwell_prefix() -> String {
    "/".into()
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
            maxwell_prefix: default_maxwell_prefix(),
        }
    }
}

impl HttpConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let prefix = &self.maxwell_prefix;
        if !prefix.starts_with('/')
            || prefix.contains("//")
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c))
        {
            return Err(ConfigError::key(
                "http.maxwell_prefix",
                format!(
                    "{prefix:?} is not a URL path; use \"/\" or a path such as \"/maxwell\" (letters, digits, -, _, ., ~ between slashes)"
                ),
            ));
        }
        self.address().map(|_| ())
    }

    /// The path of one of Maxwell's probes (`ping`, `healthcheck`, `prometheus`) under
    /// `maxwell_prefix`.
    pub fn maxwell_path(&self, name: &str) -> String {
        format!("{}/{name}", self.maxwell_prefix.trim_end_matches('/'))
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
    fetch(address, path, timeout).await.map(|(code, _)| code)
}

/// One GET of `path` from a daemon's endpoint at `address`: the status code and the body
/// (at most 1 MiB; a larger answer is cut).
pub async fn fetch(
    address: &str,
    path: &str,
    timeout: std::time::Duration,
) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const MAX_ANSWER: u64 = 1 << 20;
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
            .take(MAX_ANSWER)
            .read_to_end(&mut response)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        let text = String::from_utf8_lossy(&response);
        let code = text
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP answer from {address}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        Ok((code, body))
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

/// Connections served at once; more wait in the listen backlog. A scraper and a probe or
/// two need a handful: the limit keeps a flood of idle connections from costing memory.
const MAX_CONNECTIONS: usize = 32;
/// A client gets this long to send its request's headers (a slow-header client is cut off).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// And this long for the whole connection, keep-alive included.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves the endpoint until the process exits.
///
/// Maxwell's probes are answered too, at `config.maxwell_path(..)`, so that load balancers,
/// orchestrators and scrapers set up for Maxwell keep working: `ping` answers `pong`,
/// `healthcheck` answers as Maxwell's Dropwizard servlet does (200, or 500 for 15 minutes
/// after a message failed), and `prometheus` serves the metrics.
pub async fn serve(listener: TcpListener, readiness: Readiness, config: &HttpConfig) {
    let ping = config.maxwell_path("ping");
    let healthcheck = config.maxwell_path("healthcheck");
    let prometheus = config.maxwell_path("prometheus");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/healthz", get(healthz))
        .route("/readyz", get(move || async move { readyz(readiness) }))
        // Dropwizard's PingServlet prints its answer with a line end.
        .route(&ping, get(|| async { "pong\n" }))
        .route(&healthcheck, get(|| async { maxwell_healthcheck() }))
        .route(&prometheus, get(metrics));
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, %ping, %healthcheck, %prometheus, "serving /metrics, /healthz and /readyz, and Maxwell's probes");
    }
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        // Wait for a free slot before accepting: the next client waits in the backlog.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(error = %e, "the metrics and health endpoint cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            // Errors here are the client's (gone, too slow, not HTTP): nothing to report.
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            drop(slot);
        });
    }
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        METRICS.render(),
    )
}

/// `/status`: one JSON document with what `binlog-relay status` shows (the same numbers
/// as `/metrics`, plus what a series cannot carry: the checkpoint's file, the last error,
/// the table a bootstrap reads).
async fn status() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        status_document().to_string(),
    )
}

/// The `/status` document (`binlog-relay status` reads it).
pub fn status_document() -> serde_json::Value {
    let m = &*METRICS;
    let facts = crate::metrics::STATUS.facts();
    let count = |kind: &str| m.messages_published.get(kind).map_or(0, |c| c.get());
    let saved_at = m.checkpoint_saved_at.get();
    let bootstrap = (m.bootstrap_request.get() > 0).then(|| {
        serde_json::json!({
            "request": m.bootstrap_request.get(),
            "table": facts.bootstrap_table,
            "rows_read": m.bootstrap_rows_read.get(),
            "rows_expected": m.bootstrap_rows_expected.get(),
        })
    });
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "now": crate::metrics::unix_now(),
        "role": if m.leader.get() == 1 { "leader" } else { "standby" },
        "streaming": m.streaming.get() == 1,
        "source_connected": m.source_connected.get() == 1,
        "sink_connected": m.sink_connected.get() == 1,
        "broker_blocked": m.broker_blocked_now.get() == 1,
        "position": facts.position,
        "checkpoint_saved_at": (saved_at > 0.0).then_some(saved_at),
        "lag_seconds": m.lag_seconds.get(),
        "in_flight": m.in_flight.get(),
        "published": {
            "insert": count("insert"),
            "update": count("update"),
            "delete": count("delete"),
            "ddl": count("ddl"),
            "bootstrap-insert": count("bootstrap-insert"),
        },
        "confirmed": m.messages_confirmed.get(),
        "reconnects": {
            "source": m.reconnects.with_label_values(&["source"]).get(),
            "sink": m.reconnects.with_label_values(&["sink"]).get(),
        },
        "last_error": facts.last_error,
        "bootstrap": bootstrap,
    })
}

/// The process answers: its runtime is running. Liveness only; see `/readyz` for work.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Maxwell's `/healthcheck`: Dropwizard's health-check servlet's answer for Maxwell's one
/// check, `MaxwellHealth`, with Maxwell's rule: unhealthy (500) while a message failed to
/// be sent in the last 15 minutes, healthy (200) otherwise, however far behind. A probe
/// set up for Maxwell so neither restarts nor drains the daemon while it catches up; use
/// `/readyz` for readiness.
fn maxwell_healthcheck() -> impl IntoResponse {
    let failed_at = crate::metrics::STATUS.facts().message_failed_at;
    let (status, json) = maxwell_health(failed_at, crate::metrics::unix_now());
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
}

/// Maxwell's verdict at `now` for a last failed message at `failed_at`.
fn maxwell_health(failed_at: Option<f64>, now: f64) -> (StatusCode, serde_json::Value) {
    const WINDOW_SECONDS: f64 = 15.0 * 60.0;
    let recent = failed_at.filter(|at| now - at < WINDOW_SECONDS);
    match recent {
        None => (
            StatusCode::OK,
            serde_json::json!({"MaxwellHealth": {"healthy": true}}),
        ),
        Some(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({"MaxwellHealth": {
                "healthy": false,
                "message": "messages failed to be sent to RabbitMQ in the past 15 minutes (they are sent again; nothing is lost)"
            }}),
        ),
    }
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
        (
            "leader (a standby publishes nothing until it takes over)",
            METRICS.leader.get() == 1,
        ),
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

    async fn endpoint() -> SocketAddr {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let address = listener.local_addr().unwrap();
        let readiness = Readiness {
            max_lag_seconds: 60,
            max_silence: Duration::from_secs(10),
        };
        let config = HttpConfig {
            maxwell_prefix: "/mx/".into(),
            ..HttpConfig::default()
        };
        tokio::spawn(async move { serve(listener, readiness, &config).await });
        address
    }

    #[test]
    fn maxwells_prefix_must_be_a_path() {
        let with = |prefix: &str| HttpConfig {
            maxwell_prefix: prefix.into(),
            ..HttpConfig::default()
        };
        assert!(with("/").validate().is_ok());
        assert!(with("/maxwell/").validate().is_ok());
        assert_eq!(with("/").maxwell_path("ping"), "/ping");
        assert_eq!(with("/mx/").maxwell_path("ping"), "/mx/ping");
        for bad in ["", "mx", "/a//b", "/a b", "/{x}"] {
            let error = with(bad).validate().expect_err(bad).to_string();
            assert!(error.contains("http.maxwell_prefix"), "{error}");
        }
    }

    /// Status and body of a GET.
    async fn fetch(address: SocketAddr, path: &str, timeout: Duration) -> Option<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
            let request = format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
            stream.write_all(request.as_bytes()).await.ok()?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await.ok()?;
            let text = String::from_utf8_lossy(&response).into_owned();
            let (head, body) = text.split_once("\r\n\r\n")?;
            let status = head.split(' ').nth(1)?.parse().ok()?;
            Some((status, body.to_owned()))
        };
        tokio::time::timeout(timeout, exchange).await.ok()?
    }

    #[test]
    fn maxwells_health_is_unhealthy_for_15_minutes_after_a_failed_message() {
        // Not streaming, far behind: still healthy, as Maxwell's check has it.
        let (status, json) = maxwell_health(None, 1_000.0);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            json,
            serde_json::json!({"MaxwellHealth": {"healthy": true}})
        );
        let (status, json) = maxwell_health(Some(1_000.0), 1_000.0 + 899.0);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json["MaxwellHealth"]["healthy"], false);
        assert!(
            json["MaxwellHealth"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("15 minutes"))
        );
        let (status, _) = maxwell_health(Some(1_000.0), 1_000.0 + 900.0);
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn maxwells_probes_answer_under_the_prefix() {
        let address = endpoint().await;
        let (status, body) = fetch(address, "/mx/ping", Duration::from_secs(5))
            .await
            .expect("ping answers");
        assert_eq!((status, body.as_str()), (200, "pong\n"));
        // Dropwizard's answer, whichever it is (the verdict's rule is tested below).
        let (status, body) = fetch(address, "/mx/healthcheck", Duration::from_secs(5))
            .await
            .expect("healthcheck answers");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(
            json["MaxwellHealth"]["healthy"].as_bool(),
            Some(status == 200),
            "{status} {body}"
        );
        let (status, body) = fetch(address, "/mx/prometheus", Duration::from_secs(5))
            .await
            .expect("prometheus answers");
        assert_eq!(status, 200);
        assert!(
            body.contains("binlog_relay_messages_confirmed_total"),
            "{body}"
        );
        // Only under the prefix.
        let (status, _) = fetch(address, "/ping", Duration::from_secs(5))
            .await
            .expect("answers");
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = endpoint().await;
        let mut slow = tokio::net::TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        // The server closes the connection (an answer, if any, is a 408) once the
        // header-read timeout passes; a server without one would keep it open.
        let closed = tokio::time::timeout(
            HEADER_READ_TIMEOUT + Duration::from_secs(5),
            slow.read_to_end(&mut buf),
        )
        .await;
        assert!(closed.is_ok(), "still open after {:?}", started.elapsed());
        assert!(started.elapsed() >= HEADER_READ_TIMEOUT - Duration::from_millis(500));
    }

    #[tokio::test]
    async fn idle_connections_beyond_the_limit_wait_and_cannot_starve_it_for_ever() {
        let address = endpoint().await;
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            idle.push(tokio::net::TcpStream::connect(address).await.unwrap());
        }
        let address = address.to_string();
        // Every slot is held by a client that says nothing: a probe waits...
        let early = probe(&address, "/healthz", Duration::from_secs(1)).await;
        assert!(early.is_err(), "answered past the limit: {early:?}");
        // ...until the header-read timeout frees the slots.
        let later = probe(
            &address,
            "/healthz",
            HEADER_READ_TIMEOUT + Duration::from_secs(5),
        )
        .await;
        assert_eq!(later, Ok(200));
        drop(idle);
    }

    /// `status` reads whatever listens at the address it is given: an endpoint that never
    /// stops sending costs it 1 MiB and ends the read, not its memory or its wait.
    #[tokio::test]
    async fn an_endless_answer_is_cut_at_one_mebibyte() {
        use tokio::io::AsyncWriteExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
            let chunk = vec![b'x'; 64 * 1024];
            // Until the client goes away.
            while stream.write_all(&chunk).await.is_ok() {}
        });
        let (code, body) = super::fetch(&address, "/status", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(code, 200);
        let head = "HTTP/1.1 200 OK\r\n\r\n".len();
        assert_eq!(body.len(), (1 << 20) - head);
        assert!(body.bytes().all(|b| b == b'x'));
        server.abort();
    }
}
