//! Connections: the only file that accepts sockets, runs TLS handshakes and drives HTTP/1.1.
//! Everything a client could stretch out is bounded here, so a slow or silent peer costs a
//! connection slot for a bounded time and nothing more:
//!
//! - at most `max_connections` connections are open; further ones wait in the kernel's accept
//!   queue and are taken as slots free, so connections in flight are never disturbed;
//! - the TLS handshake must finish within `handshake_timeout`;
//! - a request head must be complete within `header_read_timeout`, counted from the end of the
//!   handshake for the first request and from its first byte for later ones;
//! - a kept-alive connection may sit silent between requests for `idle_timeout`.
//!
//! Once a request is being handled, `request_timeout` (a middleware in `lib.rs`) bounds it,
//! body read included. The timers watch bytes arriving (`Watched`) and requests starting and
//! ending (the service wrapper), so TLS records that carry no data do not count as activity.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::metrics::{DropLabels, Metrics};
use crate::tls;

/// How long each stage of a connection may take, and how many may be open at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// kiln-webhook's defaults (its flags start from these).
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        handshake_timeout: Duration::from_secs(5),
        header_read_timeout: Duration::from_secs(10),
        // Longer than the 90 s Go clients such as kube-apiserver keep an idle connection, so
        // the client always closes first and never sends on a connection being closed.
        idle_timeout: Duration::from_secs(120),
        max_connections: 2048,
    };
}

/// Each connection holds a file descriptor: raises the soft open-file limit to the hard one
/// (as Go programs do) and returns the soft limit now in force, `None` when unlimited.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    // Refused (a hard limit the kernel will not grant): the current limit stays, read below.
    let _ = setrlimit(Resource::Nofile, raised);
    getrlimit(Resource::Nofile).current
}

/// A request head is a few hundred bytes; this bounds what one connection may buffer while
/// it is read (hyper's default is 400 KiB). Bodies are streamed through it in chunks.
const MAX_READ_BUFFER: usize = 64 * 1024;

/// Accepts connections on `listener` until `shutdown` completes, then stops accepting, asks
/// every connection to finish its current request, and returns once all are closed or `grace`
/// has passed.
pub async fn serve(
    listener: TcpListener,
    tls: tls::Current,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    metrics.connection_limit.set(limits.max_connections as i64);
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first, then accept: while every slot is taken, new connections wait in the
        // kernel's queue rather than being accepted and starved.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => tcp,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // keep serving the open connections and try again shortly.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let connection = Connection {
            limits,
            metrics: metrics.clone(),
            stopped: stopped.clone(),
            _slot: slot,
        };
        tokio::spawn(connection.run(tcp, tls.current(), app.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            open = limits.max_connections - slots.available_permits(),
            "closing connections still open after the grace period"
        );
    }
}

/// One accepted connection and the slot it holds until it closes.
struct Connection {
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    stopped: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, tcp: TcpStream, tls: Arc<rustls::ServerConfig>, app: Router) {
        let _open = OpenGauge::new(&self.metrics);
        let _ = tcp.set_nodelay(true);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let stream =
            match tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%error, "TLS handshake failed");
                    return self.dropped("handshake_failed");
                }
                Err(_) => return self.dropped("handshake_timeout"),
            };
        let clock = Arc::new(Clock::new(self.limits));
        let service = {
            let clock = clock.clone();
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                clock.request_started();
                let clock = clock.clone();
                let response = app.clone().oneshot(request.map(axum::body::Body::new));
                async move {
                    let response = response.await;
                    clock.request_answered();
                    response
                }
            })
        };
        let io = TokioIo::new(Watched {
            inner: stream,
            clock: clock.clone(),
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        // The timers below replace hyper's own header timeout, which would need its timer.
        http.header_read_timeout(None)
            .max_buf_size(MAX_READ_BUFFER)
            .keep_alive(true);
        let mut served = std::pin::pin!(http.serve_connection(io, service));
        let mut draining = false;
        loop {
            let deadline = clock.deadline();
            tokio::select! {
                result = served.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                () = clock.changed.notified() => {}
                () = sleep_until(deadline) => {
                    if let Some(reason) = clock.expired() {
                        // Dropping the connection closes the socket; no request is in flight.
                        return self.dropped(reason);
                    }
                }
                _ = self.stopped.changed(), if !draining => {
                    // Shutting down: finish the request in flight, then close.
                    draining = true;
                    served.as_mut().graceful_shutdown();
                }
            }
        }
    }

    fn dropped(&self, reason: &'static str) {
        self.metrics
            .connections_dropped
            .get_or_create(&DropLabels { reason })
            .inc();
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Counts a connection as open for as long as it lives.
struct OpenGauge<'a>(&'a Metrics);

impl<'a> OpenGauge<'a> {
    fn new(metrics: &'a Metrics) -> Self {
        metrics.connections.inc();
        OpenGauge(metrics)
    }
}

impl Drop for OpenGauge<'_> {
    fn drop(&mut self) {
        self.0.connections.dec();
        crate::memory::connection_closed();
    }
}

/// What a connection is waiting for, and since when.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The head of a request, whose first byte (or the end of the handshake) came at `since`.
    Head { since: Instant },
    /// A request is being handled; `request_timeout` bounds it.
    Handling,
    /// Nothing: the last response went out at `since`.
    Idle { since: Instant },
}

/// The per-connection timers. Hyper's own header timeout starts when a connection is ready
/// for a request, so it cannot tell a kept-alive idle connection from a slow head; this can.
struct Clock {
    limits: ConnectionLimits,
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Clock {
    fn new(limits: ConnectionLimits) -> Self {
        Clock {
            limits,
            phase: Mutex::new(Phase::Head {
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn set(&self, next: impl FnOnce(Phase) -> Option<Phase>) {
        let mut phase = self.phase.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(next) = next(*phase) {
            *phase = next;
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Bytes of a request arrived: an idle connection starts reading a head.
    fn bytes_arrived(&self) {
        self.set(|phase| match phase {
            Phase::Idle { .. } => Some(Phase::Head {
                since: Instant::now(),
            }),
            _ => None,
        });
    }

    fn request_started(&self) {
        self.set(|_| Some(Phase::Handling));
    }

    fn request_answered(&self) {
        self.set(|_| {
            Some(Phase::Idle {
                since: Instant::now(),
            })
        });
    }

    /// When the current phase runs out of time, and what to call it then.
    fn limit(&self) -> Option<(Instant, &'static str)> {
        match *self.phase.lock().unwrap_or_else(|p| p.into_inner()) {
            Phase::Head { since } => {
                Some((since + self.limits.header_read_timeout, "header_timeout"))
            }
            Phase::Idle { since } => Some((since + self.limits.idle_timeout, "idle_timeout")),
            Phase::Handling => None,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.limit().map(|(deadline, _)| deadline)
    }

    /// The reason to close, if the current phase has run out of time.
    fn expired(&self) -> Option<&'static str> {
        self.limit()
            .filter(|(deadline, _)| Instant::now() >= *deadline)
            .map(|(_, reason)| reason)
    }
}

/// The TLS stream, telling the clock when request bytes arrive.
struct Watched<S> {
    inner: S,
    clock: Arc<Clock>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.bytes_arrived();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
