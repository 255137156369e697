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
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
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
        let mut look = std::pin::pin!(tokio::time::sleep_until(clock.next_look(Instant::now())));
        let mut draining = false;
        loop {
            tokio::select! {
                result = served.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                () = look.as_mut() => {
                    let now = Instant::now();
                    if let Some(reason) = clock.expired(now) {
                        // Dropping the connection closes the socket; no request is in flight.
                        return self.dropped(reason);
                    }
                    look.as_mut().reset(clock.next_look(now));
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
#[derive(Debug, Clone, Copy, PartialEq)]
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
///
/// A request moves the phase three times (bytes arrive, handling starts, the answer goes
/// out), so a move is one atomic store: no lock, and no wake-up of the connection's task.
/// The connection's watcher instead looks at the phase at deadlines it sets itself
/// ([`Clock::next_look`]): while no head is being read it looks again at least every
/// `header_read_timeout`, so a head that starts in between is seen before its own deadline
/// and that deadline is then kept to the timer's precision.
struct Clock {
    limits: ConnectionLimits,
    /// The zero of the times stored in `phase`.
    origin: Instant,
    /// The phase, as [`Clock::encode_at`] packs it.
    phase: AtomicU64,
}

const HEAD: u64 = 0;
const HANDLING: u64 = 1;
const IDLE: u64 = 2;

impl Clock {
    fn new(limits: ConnectionLimits) -> Self {
        let origin = Instant::now();
        Clock {
            limits,
            origin,
            phase: AtomicU64::new(Clock::encode_at(origin, Phase::Head { since: origin })),
        }
    }

    /// The phase's tag in the low two bits, its `since` in nanoseconds after `origin` above
    /// them (enough for 146 years of connection).
    fn encode_at(origin: Instant, phase: Phase) -> u64 {
        let after =
            |since: Instant| (since - origin).as_nanos().min(u128::from(u64::MAX >> 2)) as u64;
        match phase {
            Phase::Head { since } => after(since) << 2 | HEAD,
            Phase::Handling => HANDLING,
            Phase::Idle { since } => after(since) << 2 | IDLE,
        }
    }

    fn phase(&self) -> Phase {
        let word = self.phase.load(Ordering::Relaxed);
        let since = self.origin + Duration::from_nanos(word >> 2);
        match word & 3 {
            HEAD => Phase::Head { since },
            HANDLING => Phase::Handling,
            _ => Phase::Idle { since },
        }
    }

    /// Relaxed is enough: the connection's reads, its service and its watcher are all polled
    /// within the connection's one task, so never at the same time.
    fn set(&self, phase: Phase) {
        self.phase
            .store(Clock::encode_at(self.origin, phase), Ordering::Relaxed);
    }

    /// Bytes of a request arrived: an idle connection starts reading a head.
    fn bytes_arrived(&self) {
        if self.phase.load(Ordering::Relaxed) & 3 == IDLE {
            self.set(Phase::Head {
                since: Instant::now(),
            });
        }
    }

    fn request_started(&self) {
        self.set(Phase::Handling);
    }

    fn request_answered(&self) {
        self.set(Phase::Idle {
            since: Instant::now(),
        });
    }

    /// When the current phase runs out of time, and what to call it then.
    fn limit(&self) -> Option<(Instant, &'static str)> {
        match self.phase() {
            Phase::Head { since } => {
                Some((since + self.limits.header_read_timeout, "header_timeout"))
            }
            Phase::Idle { since } => Some((since + self.limits.idle_timeout, "idle_timeout")),
            Phase::Handling => None,
        }
    }

    /// When the watcher should look at the phase next, `now` being when it looks: at the
    /// current phase's deadline, and no later than one `header_read_timeout` from now, since
    /// a head may start at any moment without telling it.
    fn next_look(&self, now: Instant) -> Instant {
        let soon = now + self.limits.header_read_timeout;
        match self.limit() {
            Some((deadline, _)) => deadline.min(soon),
            None => soon,
        }
    }

    /// The reason to close, if the current phase has run out of time at `now`.
    fn expired(&self, now: Instant) -> Option<&'static str> {
        self.limit()
            .filter(|(deadline, _)| now >= *deadline)
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        handshake_timeout: Duration::from_secs(5),
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(120),
        max_connections: 1,
    };

    fn since(clock: &Clock) -> Instant {
        match clock.phase() {
            Phase::Head { since } | Phase::Idle { since } => since,
            Phase::Handling => panic!("handling has no start"),
        }
    }

    #[test]
    fn each_phase_keeps_its_start_and_runs_out_at_its_own_limit() {
        let clock = Clock::new(LIMITS);
        // The first head is counted from the end of the handshake.
        assert_eq!(
            clock.phase(),
            Phase::Head {
                since: clock.origin
            }
        );
        let head_ends = clock.origin + LIMITS.header_read_timeout;
        assert_eq!(clock.expired(head_ends - Duration::from_nanos(1)), None);
        assert_eq!(clock.expired(head_ends), Some("header_timeout"));

        clock.request_started();
        assert_eq!(clock.phase(), Phase::Handling);
        assert_eq!(
            clock.expired(clock.origin + Duration::from_secs(3600)),
            None
        );

        clock.request_answered();
        let idle_since = since(&clock);
        assert!(matches!(clock.phase(), Phase::Idle { .. }));
        let idle_ends = idle_since + LIMITS.idle_timeout;
        assert_eq!(clock.expired(idle_ends - Duration::from_nanos(1)), None);
        assert_eq!(clock.expired(idle_ends), Some("idle_timeout"));

        // Bytes in the middle of a head do not restart it; the first byte after idling does.
        clock.bytes_arrived();
        let head_since = since(&clock);
        assert!(matches!(clock.phase(), Phase::Head { .. }) && head_since >= idle_since);
        clock.bytes_arrived();
        assert_eq!(clock.phase(), Phase::Head { since: head_since });
    }

    /// The watcher is not told when a head starts: looking at least every
    /// header_read_timeout while idle or handling, it still sees the head before its deadline
    /// and then waits for exactly that deadline.
    #[test]
    fn a_head_that_starts_while_idle_is_cut_off_at_its_own_deadline() {
        let clock = Clock::new(LIMITS);
        clock.request_started();
        let look = clock.next_look(Instant::now());
        assert!(look <= Instant::now() + LIMITS.header_read_timeout);
        clock.request_answered();
        let looked_at = Instant::now();
        let next = clock.next_look(looked_at);
        assert_eq!(next, looked_at + LIMITS.header_read_timeout);
        assert!(next < since(&clock) + LIMITS.idle_timeout);

        clock.bytes_arrived();
        let deadline = since(&clock) + LIMITS.header_read_timeout;
        assert!(
            next <= deadline,
            "the watcher would look only after the head's deadline"
        );
        assert_eq!(
            clock.expired(next.min(deadline - Duration::from_nanos(1))),
            None
        );
        assert_eq!(clock.next_look(next), deadline);
        assert_eq!(clock.expired(deadline), Some("header_timeout"));
    }

    #[test]
    fn an_idle_connection_is_looked_at_until_its_idle_limit() {
        let clock = Clock::new(LIMITS);
        clock.request_answered();
        let idle_ends = since(&clock) + LIMITS.idle_timeout;
        let mut look = since(&clock);
        let mut looks = 0;
        while clock.expired(look).is_none() {
            look = clock.next_look(look);
            looks += 1;
        }
        assert_eq!(look, idle_ends);
        assert_eq!(looks, 12, "one look per header_read_timeout over 120 s");
    }
}
