//! kiln-webhook: kiln's defaults (as a JSON patch) and rules (as denials) at `kubectl apply`
//! time. `router()` builds the app so tests can call it without sockets; `serve()` runs it
//! over rustls. The decision itself is `admit`, which knows nothing of HTTP.

pub mod admit;
mod api;
pub use api::{Answer, review};
pub mod certs;
pub mod decode;
pub mod memory;
pub mod metrics;
pub mod server;
pub mod tls;
mod unique_keys;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use kiln::Kiln;

/// Shared by every request: the compiled chart, the metrics, readiness.
pub struct AppState {
    pub kiln: Kiln,
    pub metrics: Arc<metrics::Metrics>,
    pub ready: AtomicBool,
    pub request_timeout: Duration,
}

/// How the server runs; the binary fills it from flags.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// How often the certificate files are checked for a new pair.
    pub cert_poll_interval: Duration,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    pub connections: server::ConnectionLimits,
}

/// The application: admission endpoints, probes and metrics.
pub fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/validate", post(api::validate))
        .route("/mutate", post(api::mutate))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_timeout,
        ))
        .with_state(state)
}

/// Bounds each request, body read included, so a slow client cannot hold a worker.
async fn request_timeout(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => api::reject(
            &state,
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("request not complete within {:?}", state.request_timeout),
        )
        .into_response(),
    }
}

/// Serves until SIGTERM or SIGINT, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    kiln: Kiln,
    config: ServeConfig,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let files = tls::CertificateFiles {
        cert: config.tls_cert.clone(),
        key: config.tls_key.clone(),
    };
    let loaded = {
        let files = files.clone();
        tokio::task::spawn_blocking(move || files.load()).await??
    };
    let metrics = Arc::new(metrics::Metrics::default());
    tls::record(&metrics, &loaded);
    let served = tls::Current::new(loaded.config.clone());
    tokio::spawn(tls::keep_current(
        files,
        served.clone(),
        loaded,
        metrics.clone(),
        config.cert_poll_interval,
    ));
    let state = Arc::new(AppState {
        kiln,
        metrics: metrics.clone(),
        ready: AtomicBool::new(true),
        request_timeout: config.request_timeout,
    });
    let app = router(state.clone(), config.max_body_bytes);
    let grace = config.shutdown_grace;
    let shutdown = async move {
        wait_for_termination().await;
        tracing::info!(
            ?grace,
            "shutting down: no new connections, finishing in-flight requests"
        );
        state
            .ready
            .store(false, std::sync::atomic::Ordering::Relaxed);
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    // The bound address, not the flag: with port 0 the log says which port was taken.
    let listen = listener.local_addr()?;
    tracing::info!(%listen, limits = ?config.connections, "serving");
    server::serve(
        listener,
        served,
        app,
        config.connections,
        metrics,
        shutdown,
        grace,
    )
    .await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_termination() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
