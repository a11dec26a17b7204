//! What can go wrong talking to the source server, each message saying what to change, and
//! which of those failures may heal by themselves.

use crate::position::BinlogPosition;

/// What went wrong talking to the source server. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(
        "reading the statements between {from} and {to} ahead of the schema capture stopped in {reached}: the server sent nothing for 30 s. Check that the binlog files in that range are still on the server"
    )]
    ScanIncomplete {
        from: String,
        to: String,
        reached: String,
    },
    #[error(
        "cannot connect to MySQL/MariaDB at {address}: {source}; check source.host, source.port, source.user and the password"
    )]
    Connect {
        address: String,
        #[source]
        source: mysql_async::Error,
    },
    #[error(
        "TLS to MySQL/MariaDB at {address} failed (source.tls.mode = \"{mode}\"; verify-identity is the default): {message}. Set source.tls.ca_file to the CA that signed the server's certificate and, with verify-identity, make source.host a name the certificate holds; a server with a self-signed certificate and no CA (MySQL's own) can be used encrypted but unverified with mode = \"required\""
    )]
    Tls {
        address: String,
        mode: &'static str,
        message: String,
    },
    #[error(
        "the source server at {address} offers no TLS, and source.tls.mode = \"{mode}\" refuses plain text, so the login was not sent: give the server a certificate (ssl_ca, ssl_cert, ssl_key) and set source.tls.ca_file to its CA for verify-identity (the default), or, where the network is trusted (loopback, a private link), set source.tls.mode = \"disabled\""
    )]
    NoTls { address: String, mode: &'static str },
    #[error("query `{query}` failed on the source server: {source}")]
    Query {
        query: &'static str,
        #[source]
        source: mysql_async::Error,
    },
    #[error(
        "the source server does not write a binlog (log_bin=OFF): start it with log_bin, binlog_format=ROW and a server_id"
    )]
    BinlogDisabled,
    #[error(
        "the source server logs binlog_format={0}; binlog-relay needs binlog_format=ROW (SET GLOBAL binlog_format='ROW' and make it permanent in the server's config)"
    )]
    NotRowFormat(String),
    #[error(
        "source.server_id {0} is the source server's own server_id; pick a number no server or replica in this topology uses"
    )]
    ServerIdClash(u32),
    #[error("the source server lists no binlog files; is log_bin enabled?")]
    NoBinlogFiles,
    #[error(
        "the binlog file {file} that the checkpoint points into ({position}) is no longer on the server, which now starts at {earliest}: the changes in between are gone from the binlog. Either re-sync the consumers from the database and move the checkpoint on with `binlog-relay positions set --config F FILE:POS` (see `binlog-relay positions show`), or restore the binlog files"
    )]
    BinlogPurged {
        file: String,
        position: BinlogPosition,
        earliest: String,
    },
    #[error(
        "the server cannot send the binlog from {position}: {message}. If that file was purged, restart from a position the server still has (source.start = \"earliest\" with a fresh checkpoint) and re-sync consumers"
    )]
    PositionUnavailable {
        position: BinlogPosition,
        message: String,
    },
    #[error(
        "this server's binlog does not hold the transactions after GTID position {wanted} (the server is at {server_has}): it is behind, or does not replicate from the server the checkpoint was taken on. Point source.host at a server that has them, or re-sync the consumers and use `binlog-relay positions set`"
    )]
    GtidNotOnServer { wanted: String, server_has: String },
    #[error("cannot find where GTID position {wanted} is in this server's binlog: {message}")]
    GtidUnresolved { wanted: String, message: String },
    #[error(
        "reading the binlog ahead of the pipeline stopped after {position}: malformed {message}"
    )]
    ScanEvent {
        position: BinlogPosition,
        message: String,
    },
    #[error("cannot read the GTIDs before the start position: event at {position}: {message}")]
    GtidScan {
        position: BinlogPosition,
        message: String,
    },
    #[error(
        "cannot start from Maxwell's position in {table}: {message}. Reading it needs SELECT on that table for source.user"
    )]
    MaxwellPosition { table: String, message: String },
    #[error(
        "cannot hand the position back to Maxwell in {table}: {message}. Writing it needs SELECT on Maxwell's heartbeats, positions and schemas tables and INSERT and UPDATE on positions for source.user (`binlog-relay check` lists them)"
    )]
    MaxwellExport { table: String, message: String },
    #[error("the server closed the binlog stream")]
    StreamClosed,
    #[error(
        "no answer from MySQL/MariaDB at {address} within {millis} ms (source.connect_timeout_ms): the address may be dark or unreachable; retrying"
    )]
    ConnectTimeout { address: String, millis: u64 },
    #[error(
        "the source server at {address} did not answer `{query}` within {millis} ms (source.query_timeout_ms); taking the connection as lost"
    )]
    QueryTimeout {
        address: String,
        query: &'static str,
        millis: u64,
    },
    #[error(
        "nothing arrived on the binlog stream from {address} for {millis} ms, not even the server's heartbeat (source.read_timeout_ms); taking the connection as lost"
    )]
    StreamSilent { address: String, millis: u64 },
    #[error(transparent)]
    File(#[from] super::file::FileError),
    #[error("the binlog stream failed: {source}")]
    Stream {
        #[source]
        source: mysql_async::Error,
    },
    /// The server (or something between) sent an event the parser refuses: reading it
    /// again would fail again, so this stops the stream for an operator to look at.
    #[error("the next binlog event is damaged: {message}")]
    DamagedEvent { message: String },
}

impl SourceError {
    /// Whether retrying later may succeed: a lost connection, a server restarting, a
    /// network blip. Refusals (credentials, grants, a purged position) and everything the
    /// operator must change are not transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { source, .. } | Self::Query { source, .. } | Self::Stream { source } => {
                crate::net::mysql_error_heals(source)
            }
            Self::StreamClosed
            | Self::ConnectTimeout { .. }
            | Self::QueryTimeout { .. }
            | Self::StreamSilent { .. } => true,
            _ => false,
        }
    }
}
