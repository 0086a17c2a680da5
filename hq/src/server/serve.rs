//! Serving the router: over plain HTTP or TLS, on a runtime thread of its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::db::HqStore;

use super::limits::{Pages, PeerAddr};
use super::{Db, router_over};

/// TLS from PEM files: the certificate chain and its private key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("cannot read {path}: {reason}")]
    Pem { path: String, reason: String },
    #[error("bad TLS certificate or key: {0}")]
    Tls(String),
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pem = |path: &std::path::Path, reason: String| ServeError::Pem {
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| pem(&files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem(&files.cert, e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| pem(&files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TCP connections and completes their TLS handshake, dropping (and logging) any
/// client that fails it or takes more than ten seconds.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(10), self.acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::warn!(%addr, "TLS handshake failed: {e}"),
                Err(_) => tracing::warn!(%addr, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// A running server, for tests and embedding: it serves on its own runtime thread until
/// [`RunningServer::shutdown`] (dropping it leaves it serving).
#[derive(Debug)]
pub struct RunningServer {
    pub address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl RunningServer {
    /// Stops taking connections, lets every request in flight finish and answer, then
    /// returns: what `till-hq serve` does on SIGTERM, so a restart or a deploy loses no
    /// answer a till is waiting for.
    pub fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }

    /// The plain-HTTP URL; a TLS server is at the same address with `https://`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Starts HQ on `listen` (port 0 for any free port) with `store`, in the background, over
/// plain HTTP (behind a TLS-terminating proxy) or over TLS from the given files.
pub fn spawn_with(
    listen: &str,
    store: Box<dyn HqStore>,
    tls: Option<&TlsFiles>,
    pages: Pages,
) -> Result<RunningServer, ServeError> {
    let acceptor = tls.map(tls_acceptor).transpose()?;
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let db: Db = Arc::from(store);
    // The last reference is dropped on this thread once the runtime is gone: a backend may
    // close its connections by blocking (the postgres crate does), which a runtime's own
    // threads must not do.
    let last = db.clone();
    let app = router_over(db, pages);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        // Only `shutdown` stops the server; a dropped handle leaves it serving.
        if stopped.await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let thread = std::thread::Builder::new()
        .name("till-hq".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async move {
                let Ok(tcp) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let service = app.into_make_service_with_connect_info::<PeerAddr>();
                let _ = match acceptor {
                    Some(acceptor) => {
                        axum::serve(TlsListener { tcp, acceptor }, service)
                            .with_graceful_shutdown(stopped)
                            .await
                    }
                    None => {
                        axum::serve(tcp, service)
                            .with_graceful_shutdown(stopped)
                            .await
                    }
                };
            });
            drop(runtime);
            drop(last);
        })?;
    Ok(RunningServer {
        address,
        stop,
        thread,
    })
}

/// [`spawn_with`] over plain HTTP.
pub fn spawn(listen: &str, store: Box<dyn HqStore>) -> std::io::Result<RunningServer> {
    spawn_with(listen, store, None, Pages::fake()).map_err(|e| match e {
        ServeError::Listen(e) => e,
        other => std::io::Error::other(other.to_string()),
    })
}
