//! The replica connection: server checks, start positions, and the binlog event stream.

use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts, OptsBuilder, Pool, Row};
use mysql_common::binlog::events::Event;
use mysql_common::packets::BinlogDumpFlags;
use tracing::{info, warn};

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::SourceConfig;
use super::error::SourceError;
use super::tls::TlsMode;
use crate::position::{BinlogPosition, FIRST_EVENT_OFFSET};

/// The server sends a heartbeat after this long without events (1 s, in nanoseconds).
const HEARTBEAT_PERIOD_NS: u64 = 1_000_000_000;

/// TCP keepalive probes start after this long idle: they keep NAT and firewall entries of
/// quiet connections alive, and let the kernel notice a dead peer.
const TCP_KEEPALIVE: Duration = Duration::from_secs(10);

/// How long closing a connection may take: a dead one may never answer a polite close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The server's error code for "the binlog file or position you asked for is gone".
const ER_MASTER_FATAL_ERROR_READING_BINLOG: u16 = 1236;

/// Facts about the source server that later stages need.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// `@@version`, e.g. `10.11.6-MariaDB-log`.
    pub version: String,
    pub is_mariadb: bool,
    /// The server's own `@@server_id`, which the checkpoint records.
    pub server_id: u32,
    /// `@@binlog_row_image`; anything but FULL loses columns from update/delete images.
    pub binlog_row_image: String,
    /// `@@server_uuid` (MySQL only), recorded in checkpoints beside the server_id.
    pub server_uuid: Option<String>,
}

/// The connection side of the source: a pool for metadata queries, plus the ability to open
/// a replica stream.
#[derive(Clone)]
pub struct BinlogSource {
    opts: Opts,
    pool: Pool,
    /// With `source.tls.mode = "preferred"`: the plain-text connection settings, taken once
    /// the server turns out to offer no TLS.
    plain: Option<Arc<OnceLock<(Opts, Pool)>>>,
    tls_mode: TlsMode,
    address: String,
    pub(super) replica_server_id: u32,
    connect_timeout: Duration,
    read_timeout: Duration,
    query_timeout: Duration,
    /// Ask a MariaDB server for its ANNOTATE_ROWS events (`output.row_query`).
    annotate_rows: bool,
}

impl BinlogSource {
    pub fn new(config: &SourceConfig) -> Self {
        let opts: Opts = OptsBuilder::default()
            .ip_or_hostname(config.host.clone())
            .tcp_port(config.port)
            .user(Some(config.user.clone()))
            .pass(Some(config.password.expose().to_owned()))
            .prefer_socket(false)
            .tcp_keepalive(Some(TCP_KEEPALIVE))
            .ssl_opts(config.tls.ssl_opts())
            .into();
        // A source is made for every run and reconnection: say it once per process.
        static CAVEAT: std::sync::Once = std::sync::Once::new();
        CAVEAT.call_once(|| {
            if let Some(caveat) = config.tls.caveat() {
                warn!("{caveat}");
            }
            if let Some(exposure) = config.tls.exposure(&config.host) {
                warn!("{exposure}");
            }
        });
        Self {
            pool: Pool::new(opts.clone()),
            opts,
            plain: (config.tls.mode == TlsMode::Preferred).then(Default::default),
            tls_mode: config.tls.mode,
            address: format!("{}:{}", config.host, config.port),
            replica_server_id: config.server_id,
            connect_timeout: Duration::from_millis(config.connect_timeout_ms),
            read_timeout: Duration::from_millis(config.read_timeout_ms),
            query_timeout: Duration::from_millis(config.query_timeout_ms),
            annotate_rows: false,
        }
    }

    /// Streams ask a MariaDB server for the statement behind each row change (its
    /// ANNOTATE_ROWS events), which it sends a replica only when asked. MySQL sends its
    /// ROWS_QUERY events whenever `binlog_rows_query_log_events` is on.
    pub fn with_row_query(mut self, on: bool) -> Self {
        self.annotate_rows = on;
        self
    }

    /// `work` (a connection attempt) within `source.connect_timeout_ms`.
    async fn connecting<T>(
        &self,
        work: impl Future<Output = Result<T, mysql_async::Error>>,
    ) -> Result<Result<T, mysql_async::Error>, SourceError> {
        tokio::time::timeout(self.connect_timeout, work)
            .await
            .map_err(|_| SourceError::ConnectTimeout {
                address: self.address.clone(),
                millis: duration_ms(self.connect_timeout),
            })
    }

    /// The answer to `query` (what `work` sends) within `source.query_timeout_ms`.
    pub(crate) async fn answer<T>(
        &self,
        query: &'static str,
        work: impl Future<Output = Result<T, mysql_async::Error>>,
    ) -> Result<T, SourceError> {
        match tokio::time::timeout(self.query_timeout, work).await {
            Ok(answer) => answer.map_err(|source| SourceError::Query { query, source }),
            Err(_) => Err(SourceError::QueryTimeout {
                address: self.address.clone(),
                query,
                millis: duration_ms(self.query_timeout),
            }),
        }
    }

    /// `source.query_timeout_ms`: the bound on one metadata query.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// `work`, several queries, within `source.query_timeout_ms`.
    pub(crate) async fn bounded<T>(
        &self,
        what: &'static str,
        work: impl Future<Output = Result<T, SourceError>>,
    ) -> Result<T, SourceError> {
        tokio::time::timeout(self.query_timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(SourceError::QueryTimeout {
                    address: self.address.clone(),
                    query: what,
                    millis: duration_ms(self.query_timeout),
                })
            })
    }

    /// The value of global variable `name` (`SHOW GLOBAL VARIABLES LIKE 'name'`), `None`
    /// when the server has no such variable (it answers with no row). `name` is one of
    /// ours, never user input.
    pub(crate) async fn global_variable(
        &self,
        conn: &mut Conn,
        name: &str,
    ) -> Result<Option<String>, SourceError> {
        let row: Option<(String, String)> = self
            .answer(
                "SHOW GLOBAL VARIABLES",
                conn.query_first(format!("SHOW GLOBAL VARIABLES LIKE '{name}'")),
            )
            .await?;
        Ok(row.map(|(_, value)| value))
    }

    /// The settings in use: the configured ones, or plain text once `preferred` found the
    /// server without TLS.
    fn active(&self) -> (&Opts, &Pool) {
        match self.plain.as_ref().and_then(|p| p.get()) {
            Some((opts, pool)) => (opts, pool),
            None => (&self.opts, &self.pool),
        }
    }

    /// A pool for queries beside the stream (schema lookups, positions).
    pub fn pool(&self) -> &Pool {
        self.active().1
    }

    /// Connects with `connect`; with `preferred` TLS, a server that offers none is used in
    /// plain text from then on, with a warning.
    async fn with_fallback<T, F, Fut>(&self, connect: F) -> Result<T, SourceError>
    where
        F: Fn(Opts, Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, mysql_async::Error>>,
    {
        let (opts, pool) = self.active();
        let first = self.connecting(connect(opts.clone(), pool.clone())).await?;
        let source = match first {
            Ok(value) => return Ok(value),
            Err(source) => source,
        };
        let no_tls = offers_no_tls(&source);
        match &self.plain {
            Some(plain) if no_tls && plain.get().is_none() => {
                warn!(address = %self.address, "the source server offers no TLS; connecting in plain text (source.tls.mode = \"preferred\"; set \"required\" or a verifying mode to refuse this)");
                let opts: Opts = OptsBuilder::from_opts(self.opts.clone())
                    .ssl_opts(None)
                    .into();
                let (opts, pool) = plain.get_or_init(|| (opts.clone(), Pool::new(opts)));
                self.connecting(connect(opts.clone(), pool.clone()))
                    .await?
                    .map_err(|source| self.connect_error(source))
            }
            _ => Err(self.connect_error(source)),
        }
    }

    /// Names TLS failures as such: they need a certificate or mode fixed, not a retry.
    fn connect_error(&self, source: mysql_async::Error) -> SourceError {
        let address = self.address.clone();
        let mode = self.tls_mode.as_str();
        if offers_no_tls(&source) {
            return SourceError::NoTls { address, mode };
        }
        let tls_message = match &source {
            mysql_async::Error::Io(mysql_async::IoError::Tls(e)) => Some(e.to_string()),
            other => crate::net::tls_cause(other),
        };
        match tls_message {
            Some(message) => SourceError::Tls {
                address,
                mode,
                message,
            },
            None => SourceError::Connect { address, source },
        }
    }

    /// A connection of its own, outside the pool: for a session whose state (a named lock)
    /// must end with it.
    pub(crate) async fn dedicated_conn(&self) -> Result<mysql_async::Conn, SourceError> {
        self.with_fallback(|opts, _| mysql_async::Conn::new(opts))
            .await
    }

    pub(crate) fn address(&self) -> &str {
        &self.address
    }

    /// A connection from the metadata pool.
    pub(crate) async fn conn(&self) -> Result<mysql_async::Conn, SourceError> {
        self.with_fallback(|_, pool| async move { pool.get_conn().await })
            .await
    }

    /// Checks that the server writes a ROW binlog we can read, and says what it is.
    pub async fn check_server(&self) -> Result<ServerInfo, SourceError> {
        const Q: &str =
            "SELECT @@version, @@log_bin, @@binlog_format, @@server_id, @@binlog_row_image";
        let mut conn = self.conn().await?;
        let row: Option<(String, i64, String, u32, String)> =
            self.answer(Q, conn.query_first(Q)).await?;
        let Some((version, log_bin, format, server_id, row_image)) = row else {
            return Err(SourceError::BinlogDisabled);
        };
        if log_bin == 0 {
            return Err(SourceError::BinlogDisabled);
        }
        if !format.eq_ignore_ascii_case("ROW") {
            return Err(SourceError::NotRowFormat(format));
        }
        if server_id == self.replica_server_id {
            return Err(SourceError::ServerIdClash(server_id));
        }
        if !row_image.eq_ignore_ascii_case("FULL") {
            warn!(
                binlog_row_image = %row_image,
                "the server does not log full row images; unchanged columns will be missing from updates and deletes (set binlog_row_image=FULL)"
            );
        }
        if !row_image.eq_ignore_ascii_case("FULL") {
            // MySQL 8 only.
            if let Some(value) = self
                .global_variable(&mut conn, "binlog_row_value_options")
                .await?
                && value.to_ascii_uppercase().contains("PARTIAL_JSON")
            {
                warn!(
                    binlog_row_value_options = %value,
                    binlog_row_image = %row_image,
                    "the server logs partial JSON updates without full before images; such an update cannot be rebuilt and will stop the stream with an error (set binlog_row_image=FULL or binlog_row_value_options='')"
                );
            }
        }
        let is_mariadb = version.to_ascii_lowercase().contains("mariadb");
        // MySQL only.
        let server_uuid = self.global_variable(&mut conn, "server_uuid").await?;
        Ok(ServerInfo {
            version,
            is_mariadb,
            server_id,
            binlog_row_image: row_image,
            server_uuid,
        })
    }

    /// The server's current write position (`SHOW MASTER STATUS` and its newer names).
    pub async fn current_position(&self) -> Result<BinlogPosition, SourceError> {
        let mut conn = self.conn().await?;
        // MySQL 8.2+ renamed the statement; MariaDB and older MySQL know the old name.
        let mut last_err = None;
        for query in ["SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"] {
            match tokio::time::timeout(self.query_timeout, conn.query_first::<Row, _>(query))
                .await
                .map_err(|_| SourceError::QueryTimeout {
                    address: self.address.clone(),
                    query,
                    millis: duration_ms(self.query_timeout),
                })? {
                Ok(Some(row)) => {
                    let file: Option<String> = row.get(0);
                    let offset: Option<u64> = row.get(1);
                    return match (file, offset) {
                        (Some(file), Some(offset)) => Ok(BinlogPosition::new(file, offset)),
                        _ => Err(SourceError::BinlogDisabled),
                    };
                }
                Ok(None) => return Err(SourceError::BinlogDisabled),
                Err(source) => last_err = Some(SourceError::Query { query, source }),
            }
        }
        Err(last_err.unwrap_or(SourceError::BinlogDisabled))
    }

    /// The start of the oldest binlog file the server still has.
    pub async fn earliest_position(&self) -> Result<BinlogPosition, SourceError> {
        const Q: &str = "SHOW BINARY LOGS";
        let mut conn = self.conn().await?;
        let row: Option<Row> = self.answer(Q, conn.query_first(Q)).await?;
        let file: Option<String> = row.and_then(|r| r.get(0));
        file.map(|f| BinlogPosition::new(f, FIRST_EVENT_OFFSET))
            .ok_or(SourceError::NoBinlogFiles)
    }

    /// The binlog files the server still has, oldest first, with their sizes.
    pub async fn binlog_files(&self) -> Result<Vec<(String, u64)>, SourceError> {
        const Q: &str = "SHOW BINARY LOGS";
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = self.answer(Q, conn.query(Q)).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| Some((r.get::<String, _>(0)?, r.get::<u64, _>(1)?)))
            .collect())
    }

    /// Checks that the server still has the binlog file `position` points into, so a
    /// purge is reported as such (and not as a stream error) before anything starts.
    pub async fn check_available(&self, position: &BinlogPosition) -> Result<(), SourceError> {
        let files = self.binlog_files().await?;
        let Some((earliest, _)) = files.first() else {
            return Err(SourceError::NoBinlogFiles);
        };
        if files.iter().any(|(f, _)| *f == position.file) {
            return Ok(());
        }
        let earliest_position = BinlogPosition::new(earliest.clone(), FIRST_EVENT_OFFSET);
        if position.reached(&earliest_position) {
            // A later file the server has not written yet: the stream will wait for it.
            return Ok(());
        }
        Err(SourceError::BinlogPurged {
            file: position.file.clone(),
            position: position.clone(),
            earliest: earliest_position.to_string(),
        })
    }

    /// A connection of its own (not from the pool), for a binlog stream.
    pub(super) async fn replica_conn(&self) -> Result<Conn, SourceError> {
        self.with_fallback(|opts, _| Conn::new(opts)).await
    }

    /// Registers as a replica and requests the binlog from `position`.
    pub async fn stream_from(
        &self,
        position: &BinlogPosition,
        server: &ServerInfo,
    ) -> Result<SourceEvents, SourceError> {
        let mut conn = self.replica_conn().await?;
        if server.is_mariadb {
            // Capability 4 (MARIA_SLAVE_CAPABILITY_GTID): the server sends its GTID events
            // instead of rewriting them as BEGIN queries, so transactions carry their GTID.
            const Q: &str = "SET @mariadb_slave_capability=4";
            self.answer(Q, conn.query_drop(Q)).await?;
        }
        // Heartbeats while the binlog is idle tell the reader it is caught up (lag 0) and
        // show a silent network failure within seconds.
        let heartbeat = format!("SET @master_heartbeat_period = {HEARTBEAT_PERIOD_NS}");
        self.answer("SET @master_heartbeat_period", conn.query_drop(&heartbeat))
            .await?;
        let mut request = BinlogStreamRequest::new(self.replica_server_id)
            .with_filename(position.file.as_bytes())
            .with_pos(position.offset);
        if server.is_mariadb && self.annotate_rows {
            request = request.with_flags(BinlogDumpFlags::BINLOG_SEND_ANNOTATE_ROWS_EVENT);
        }
        let stream = tokio::time::timeout(self.query_timeout, conn.get_binlog_stream(request))
            .await
            .map_err(|_| SourceError::QueryTimeout {
                address: self.address.clone(),
                query: "COM_BINLOG_DUMP",
                millis: duration_ms(self.query_timeout),
            })?
            .map_err(|source| classify_stream_error(source, position))?;
        info!(%position, replica_server_id = self.replica_server_id, "streaming binlog");
        Ok(SourceEvents {
            stream,
            requested: position.clone(),
            address: self.address.clone(),
            read_timeout: self.read_timeout,
        })
    }

    /// Closes the metadata pool (giving up on connections that do not answer).
    pub async fn close(self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.pool.disconnect()).await;
    }
}

/// Whole milliseconds of `d`, for messages.
fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn classify_stream_error(source: mysql_async::Error, position: &BinlogPosition) -> SourceError {
    // The event parser marks what it refuses (vendor/mysql_common): a damaged event, not a
    // failed connection, whatever the error's kind.
    if let mysql_async::Error::Io(mysql_async::IoError::Io(e)) = &source
        && e.get_ref()
            .is_some_and(|inner| inner.is::<mysql_common::binlog::MalformedEvent>())
    {
        return SourceError::DamagedEvent {
            message: e.to_string(),
        };
    }
    match &source {
        mysql_async::Error::Server(e) if e.code == ER_MASTER_FATAL_ERROR_READING_BINLOG => {
            SourceError::PositionUnavailable {
                position: position.clone(),
                message: e.message.clone(),
            }
        }
        _ => SourceError::Stream { source },
    }
}

/// The server's events, in binlog order: the live stream.
pub struct SourceEvents {
    stream: BinlogStream,
    requested: BinlogPosition,
    address: String,
    /// Nothing (no event, no heartbeat) for this long: the connection is dead.
    read_timeout: Duration,
}

impl SourceEvents {
    /// The next event; `None` when the server closed the stream;
    /// [`SourceError::StreamSilent`] when nothing came for `source.read_timeout_ms`.
    pub async fn next(&mut self) -> Option<Result<Event, SourceError>> {
        let item = match tokio::time::timeout(self.read_timeout, self.stream.next()).await {
            Ok(item) => item?,
            Err(_) => {
                return Some(Err(SourceError::StreamSilent {
                    address: self.address.clone(),
                    millis: duration_ms(self.read_timeout),
                }));
            }
        };
        Some(item.map_err(|e| classify_stream_error(e, &self.requested)))
    }

    /// Closes the stream, giving up on a connection that does not answer.
    pub async fn close(self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.stream.close()).await;
    }
}

impl super::EventSource for SourceEvents {
    /// A live stream never ends: the server closing it is [`SourceError::StreamClosed`].
    async fn next(&mut self) -> Option<Result<Event, SourceError>> {
        Some(
            SourceEvents::next(self)
                .await
                .unwrap_or(Err(SourceError::StreamClosed)),
        )
    }

    async fn close(self) {
        SourceEvents::close(self).await
    }
}

/// The server answered a TLS request with a handshake that has no TLS in it.
fn offers_no_tls(e: &mysql_async::Error) -> bool {
    matches!(
        e,
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_the_parser_refuses_stops_the_stream_and_a_broken_connection_does_not() {
        let at = BinlogPosition::new("bin.000001", 4);
        // What the vendored parser returns for a damaged event, of any kind.
        let mut reader = mysql_common::binlog::EventStreamReader::new(
            mysql_common::binlog::consts::BinlogVersion::Version4,
        );
        for damaged in [&[0u8; 10][..], &[0u8; 25][..]] {
            let Err(e) = reader.read(damaged) else {
                panic!("{damaged:?} read as an event");
            };
            let refused = classify_stream_error(e.into(), &at);
            assert!(
                matches!(refused, SourceError::DamagedEvent { .. }),
                "{refused:?}"
            );
            assert!(!refused.is_transient());
        }
        // The connection's own failures, invalid data from TLS included: reconnect.
        let io = |kind, msg: &str| {
            mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::new(
                kind,
                msg.to_owned(),
            )))
        };
        for (kind, msg) in [
            (std::io::ErrorKind::InvalidData, "bad TLS record"),
            (std::io::ErrorKind::UnexpectedEof, "eof"),
            (std::io::ErrorKind::ConnectionReset, "reset"),
        ] {
            let lost = classify_stream_error(io(kind, msg), &at);
            assert!(matches!(lost, SourceError::Stream { .. }), "{lost:?}");
            assert!(lost.is_transient());
        }
    }
}
