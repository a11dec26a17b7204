//! A loopback TCP proxy the test controls, for network faults: it relays, swallows
//! everything (a peer that accepts bytes and never answers), or goes silent (reads nothing,
//! sends nothing: a dead route with the connection still open), for every connection or
//! only for those already open (a dead NAT entry: new connections get through).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with the bytes of every connection through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Relay,
    /// Reads both sides and forwards nothing.
    Blackhole,
    /// Reads nothing and forwards nothing; the bytes wait in the sockets.
    Silent,
    /// Connections numbered up to this one are silent; later ones relay.
    SilentUpTo(u64),
    /// Connection `cut` and every one opened after `open` are silent; the others relay: a
    /// partition that spares the connections already open except one.
    Partition {
        cut: u64,
        open: u64,
    },
}

impl Mode {
    /// What this mode means for connection number `id`.
    fn for_connection(self, id: u64) -> Mode {
        match self {
            Mode::SilentUpTo(last) if id <= last => Mode::Silent,
            Mode::SilentUpTo(_) => Mode::Relay,
            Mode::Partition { cut, open } if id == cut || id > open => Mode::Silent,
            Mode::Partition { .. } => Mode::Relay,
            other => other,
        }
    }
}

/// A proxy on 127.0.0.1 in front of `target`.
pub struct Proxy {
    pub port: u16,
    mode: Arc<watch::Sender<Mode>>,
    accepted: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Proxy {
    pub async fn start(target: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let (tx, rx) = watch::channel(Mode::Relay);
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = accepted.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let id = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let Ok(server) = TcpStream::connect((target.0.as_str(), target.1)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, rx.clone(), id));
                tokio::spawn(pipe(server_read, client_write, rx.clone(), id));
            }
        });
        Self {
            port,
            mode: Arc::new(tx),
            accepted,
            accept,
        }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Connection `cut` goes silent, and so does every new one; the others open now relay.
    pub fn cut_one_and_new(&self, cut: u64) {
        self.set(Mode::Partition {
            cut,
            open: self.accepted.load(Ordering::SeqCst),
        });
    }

    /// Every connection open now goes silent; new ones get through.
    pub fn silence_existing(&self) {
        self.set(Mode::SilentUpTo(self.accepted.load(Ordering::SeqCst)));
    }
}

/// Copies `from` to `to` as the mode says for connection `id`, until either side closes.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    id: u64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let now = |mode: &watch::Receiver<Mode>| mode.borrow().for_connection(id);
    loop {
        if now(&mode) == Mode::Silent {
            if mode
                .wait_for(|m| m.for_connection(id) != Mode::Silent)
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // A change to Silent takes effect before the next read.
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        // Bytes read just as the proxy went silent wait for it to speak again.
        let current = match now(&mode) {
            Mode::Silent => match mode
                .wait_for(|m| m.for_connection(id) != Mode::Silent)
                .await
            {
                Ok(m) => m.for_connection(id),
                Err(_) => return,
            },
            other => other,
        };
        if current == Mode::Relay && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
