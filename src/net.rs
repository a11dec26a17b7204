//! What both network connections (the database and the broker) share.

/// Whether `host` (a name or an address, without a port) is this machine: traffic to it
/// never crosses a network, so plain text there is not flagged.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The TLS failure behind an error, if any: a certificate the peer or we rejected, a
/// handshake that failed. Found by walking the error's sources, where the clients put the
/// rustls error, sometimes inside an I/O error.
pub fn tls_cause(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(tls.to_string());
        }
        next = e.source();
    }
    None
}

/// Server error codes that mean "you may not", not "not now": retrying cannot help.
const MYSQL_REFUSALS: [u16; 6] = [
    1044, // ER_DBACCESS_DENIED_ERROR
    1045, // ER_ACCESS_DENIED_ERROR
    1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR (e.g. no REPLICATION SLAVE)
    1236, // ER_MASTER_FATAL_ERROR_READING_BINLOG (purged or bad position)
    1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    3118, // ER_ACCOUNT_HAS_BEEN_LOCKED
];

/// Network failures, dropped connections and server-side interruptions (shutdown, killed
/// connection, too many connections) heal; refusals and bad URLs do not.
pub fn mysql_error_heals(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        mysql_async::Error::Server(s) => !MYSQL_REFUSALS.contains(&s.code),
        _ => false,
    }
}
