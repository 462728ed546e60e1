//! TLS of the station's own (`--tls-cert/--tls-key`), for a station that other machines reach
//! with no reverse proxy in front: rustls (TLS 1.2 and 1.3, the `ring` provider, HTTP/1.1 by
//! ALPN) on a listener that axum serves as it serves a TCP listener.
//!
//! Handshakes happen off the accept path: a background task accepts TCP connections and runs
//! each handshake in a task of its own, bounded by [`HANDSHAKE_TIMEOUT`], so a client that
//! opens a connection and says nothing holds up no one; the listener hands axum only finished
//! handshakes. A failed handshake is dropped (plain HTTP sent to the TLS port among them).

use formscan::error::{Error, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A handshake that takes longer is dropped. Default 10 s: a keyer's browser on a LAN shakes
/// hands in milliseconds; a connection that sends nothing is not a browser.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finished handshakes waiting for axum. Default 64: a burst of keyers logging in at once.
const BACKLOG: usize = 64;

/// The certificate chain and private key files (PEM), as `--tls-cert` and `--tls-key` name
/// them.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The server configuration from the two files; an `Input` error names the file at fault.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>> {
    let bad = |path: &Path, what: &str| Error::input_at(path, format!("TLS: {what}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad(&files.cert, &format!("cannot read the certificate file ({e})")))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(&files.cert, &format!("not a PEM certificate chain ({e})")))?;
    if certs.is_empty() {
        return Err(bad(&files.cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| bad(&files.key, &format!("no PEM private key read ({e})")))?;
    // The `ring` provider: it builds with cc alone, where aws-lc's needs its own C build on
    // every fresh machine. rustls marks it deprecated for lacking post-quantum key exchange,
    // which a keying room's LAN does not need today; its classical suites are rustls's defaults.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&files.cert, &e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(&files.key, &format!("the key does not fit the certificate ({e})")))?;
    // The station speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS listener for `axum::serve` (module notes).
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp` in the background, shaking hands with `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, ready) = mpsc::channel(BACKLOG);
        tokio::spawn(async move {
            while !tx.is_closed() {
                let (stream, peer) = match tcp.accept().await {
                    Ok(x) => x,
                    // Out of file descriptors and the like: wait, as axum's own loop does.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(x) => x,
            // The accepting task ended: no connection will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
