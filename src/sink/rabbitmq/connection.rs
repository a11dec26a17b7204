//! The broker connection: opening it (with TLS when the URI says `amqps://`) to one node of
//! the configured addresses, in turn, each attempt bounded in time; and watching it for
//! flow control and failure.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_rs::TokioRuntime;
use async_rs::traits::Reactor;
use lapin::tcp::{AsyncTcpStream, OwnedTLSConfig};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Connection, ConnectionProperties};
use tracing::{info, warn};

use super::RabbitmqConfig;
use crate::metrics::METRICS;
use crate::sink::SinkError;

/// The address to try first on the next connection: the last one that worked, or the
/// one after the node whose connection was lost.
static PREFERRED: AtomicUsize = AtomicUsize::new(0);

/// After a lost broker connection: start the next attempt at the node after the one in
/// use, so a dead node is not waited on first.
pub fn prefer_next_address() {
    PREFERRED.fetch_add(1, Ordering::Relaxed);
}

/// A connection to one node, and which (`host:port`).
pub struct Connected {
    pub connection: Connection,
    pub node: String,
}

/// Opens a connection to the broker with the configured TLS settings, trying the
/// configured addresses in turn from the preferred one; each attempt may take
/// `connect_timeout_ms`. Refusals every node would repeat (credentials, TLS) end the
/// attempts at once.
pub async fn connect_broker(config: &RabbitmqConfig) -> Result<Connected, SinkError> {
    let endpoints = config.endpoints();
    let count = endpoints.len().max(1);
    let first = PREFERRED.load(Ordering::Relaxed) % count;
    let timeout = Duration::from_millis(config.connect_timeout_ms);
    let mut last_error = None;
    for i in 0..endpoints.len() {
        let index = (first + i) % count;
        let Some((uri, node)) = endpoints.get(index) else {
            continue;
        };
        match tokio::time::timeout(timeout, connect_one(config, uri, node)).await {
            Ok(Ok(connection)) => {
                PREFERRED.store(index, Ordering::Relaxed);
                for (_, other) in &endpoints {
                    let up = i64::from(other == node);
                    METRICS.broker_node.with_label_values(&[other]).set(up);
                }
                return Ok(Connected {
                    connection,
                    node: node.clone(),
                });
            }
            Ok(Err(e)) if !e.is_transient() => return Err(e),
            Ok(Err(e)) => {
                warn!(node = %node, error = %e, "cannot connect to this RabbitMQ node; trying the next");
                last_error = Some(e);
            }
            Err(_) => {
                let e = SinkError::ConnectTimeout {
                    address: node.clone(),
                    millis: config.connect_timeout_ms,
                };
                warn!(node = %node, error = %e, "no answer from this RabbitMQ node; trying the next");
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| SinkError::Lost("no broker address to connect to".into())))
}

/// One attempt at one node.
///
/// lapin drives the connection from a thread of its own, started before the handshake; an
/// attempt given up on (the caller's timeout drops this future) would leave that thread
/// and its socket waiting for ever on a peer that accepted the connection and says
/// nothing. So the socket is opened here, a second handle to it kept until the handshake
/// ends, and an abandoned attempt shuts the socket down, which ends lapin's thread too.
async fn connect_one(
    config: &RabbitmqConfig,
    uri: &str,
    node: &str,
) -> Result<Connection, SinkError> {
    let tls = config.tls.load()?;
    let address = format!("{node}/{}", config.vhost());
    let runtime = lapin::runtime::default_runtime().map_err(|source| SinkError::Connect {
        address: address.clone(),
        source,
    })?;
    let uri: AMQPUri = uri
        .parse()
        .map_err(|_| SinkError::Lost(format!("the URI for {address} does not parse")))?;
    let attempt = Attempt::new();
    let socket = attempt.0.clone();
    let connected = Connection::connector(
        uri,
        runtime,
        async move |uri: AMQPUri, runtime: TokioRuntime| {
            open_socket(&uri, &runtime, &tls, &socket)
                .await
                .map_err(lapin::Error::from)
        },
        ConnectionProperties::default(),
    )
    .await;
    attempt.settle();
    connected.map_err(|source| match crate::net::tls_cause(&source) {
        // A certificate problem is for the operator to fix, not to retry.
        Some(message) => SinkError::Tls { address, message },
        None => SinkError::Connect { address, source },
    })
}

/// The socket of a connection attempt, while its handshake runs.
enum Socket {
    /// Opening; the second handle once the TCP connection is up.
    Opening(Option<std::net::TcpStream>),
    /// The handshake ended (either way): later sockets are lapin's alone.
    Settled,
    /// Given up on: the socket was shut down, and no new one may be opened.
    Abandoned,
}

/// Shuts the attempt's socket down when dropped before [`Attempt::settle`].
struct Attempt(Arc<Mutex<Socket>>);

impl Attempt {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Socket::Opening(None))))
    }

    fn finish(&self, end: Socket) {
        let abandon = matches!(end, Socket::Abandoned);
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Socket::Opening(Some(socket)) = std::mem::replace(&mut *state, end)
            && abandon
        {
            // lapin's thread reads end of file and stops.
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The handshake ended: drop the second handle, so the socket closes with lapin's.
    fn settle(self) {
        self.finish(Socket::Settled);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let settled = matches!(
            *self.0.lock().unwrap_or_else(PoisonError::into_inner),
            Socket::Settled
        );
        if !settled {
            self.finish(Socket::Abandoned);
        }
    }
}

/// Opens the TCP connection (and TLS over it for `amqps://`) as lapin's own connector does,
/// keeping a second handle to the socket while the attempt is open.
async fn open_socket(
    uri: &AMQPUri,
    runtime: &TokioRuntime,
    tls: &OwnedTLSConfig,
    socket: &Mutex<Socket>,
) -> std::io::Result<AsyncTcpStream<<TokioRuntime as Reactor>::TcpStream>> {
    let abandoned = || {
        std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the connection attempt was given up (sink.rabbitmq.connect_timeout_ms)",
        )
    };
    if matches!(
        *socket.lock().unwrap_or_else(PoisonError::into_inner),
        Socket::Abandoned
    ) {
        return Err(abandoned());
    }
    let addresses = runtime.to_socket_addrs((uri.authority.host.clone(), uri.authority.port));
    let plain = runtime.tcp_connect(addresses).await?;
    let handle = std::net::TcpStream::from(plain.get_ref().as_fd().try_clone_to_owned()?);
    match &mut *socket.lock().unwrap_or_else(PoisonError::into_inner) {
        Socket::Opening(slot) => *slot = Some(handle),
        Socket::Settled => drop(handle),
        Socket::Abandoned => return Err(abandoned()),
    }
    let stream = AsyncTcpStream::Plain(plain);
    match uri.scheme {
        AMQPScheme::AMQP => Ok(stream),
        AMQPScheme::AMQPS => stream.into_tls(&uri.authority.host, tls.as_ref()).await,
    }
}

/// Logs and counts the broker's flow control, and reports a failed connection. While
/// RabbitMQ blocks the connection (a memory or disk alarm), lapin stops writing to the
/// socket, so publishing pauses, confirms stop arriving, and the bounded pipeline stops
/// reading the binlog: nothing piles up here.
pub(super) async fn watch_connection(
    events: impl futures_util::Stream<Item = lapin::Event> + Send + 'static,
    broker: String,
    lost: tokio::sync::watch::Sender<Option<String>>,
    blocked: Arc<crate::sink::Blocking>,
) {
    use futures_util::StreamExt;
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            lapin::Event::ConnectionBlocked(reason) => {
                blocked.block();
                crate::metrics::METRICS.broker_blocked.inc();
                crate::metrics::METRICS.broker_blocked_now.set(1);
                warn!(
                    %broker,
                    %reason,
                    blocked_total = crate::metrics::METRICS.broker_blocked.get(),
                    "RabbitMQ blocked publishing (resource alarm); waiting for it to clear, the binlog is not read meanwhile"
                );
            }
            lapin::Event::ConnectionUnblocked => {
                blocked.release();
                crate::metrics::METRICS.broker_blocked_now.set(0);
                info!(%broker, "RabbitMQ unblocked publishing; resuming");
            }
            lapin::Event::SendFlow(false) => {
                warn!(%broker, "RabbitMQ paused the channel (channel.flow); waiting");
            }
            lapin::Event::Error(e) => {
                blocked.release();
                crate::metrics::METRICS
                    .broker_node
                    .with_label_values(&[&broker])
                    .set(0);
                crate::metrics::METRICS.sink_connected.set(0);
                crate::metrics::METRICS.broker_blocked_now.set(0);
                let _ = lost.send(Some(e.to_string()));
            }
            _ => {}
        }
    }
}
