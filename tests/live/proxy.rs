//! A loopback TCP proxy the test controls, for network faults: it relays, swallows
//! everything (a peer that accepts bytes and never answers), or goes silent (reads nothing,
//! sends nothing: a dead route with the connection still open).

use std::sync::Arc;

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
}

/// A proxy on 127.0.0.1 in front of `target`.
pub struct Proxy {
    pub port: u16,
    mode: Arc<watch::Sender<Mode>>,
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
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect((target.0.as_str(), target.1)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, rx.clone()));
                tokio::spawn(pipe(server_read, client_write, rx.clone()));
            }
        });
        Self {
            port,
            mode: Arc::new(tx),
            accept,
        }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

/// Copies `from` to `to` as the mode says, until either side closes.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if *mode.borrow() == Mode::Silent {
            if mode.wait_for(|m| *m != Mode::Silent).await.is_err() {
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
        let now = *mode.borrow();
        let now = if now == Mode::Silent {
            match mode.wait_for(|m| *m != Mode::Silent).await {
                Ok(m) => *m,
                Err(_) => return,
            }
        } else {
            now
        };
        if now == Mode::Relay && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
