// The `kiln-webhook` binary: flags, logging and the crypto provider, then `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

// Each review allocates a few hundred small values on the runtime's worker threads;
// mimalloc is markedly cheaper there than glibc's allocator (bench/webhook.sh). Its heaps
// are per thread: `kiln_webhook::memory` says when the workers give memory back.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use kiln::Kiln;
use kiln_webhook::server::ConnectionLimits;

#[derive(Debug, Parser)]
#[command(
    name = "kiln-webhook",
    version,
    about = "Admission webhook for MicroServiceDeploy: kiln's defaults as a JSON patch (/mutate) and its rules as denials (/validate)"
)]
struct Flags {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// PEM certificate chain served to the API server.
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// PEM private key of that certificate.
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    /// Use the chart in DIR (the same charts CI renders with); as `kiln --chart`, repeatable.
    #[arg(long = "chart", value_name = "DIR")]
    charts: Vec<PathBuf>,
    /// Values merged over the chart's values.yaml, in order.
    #[arg(long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// Largest AdmissionReview body accepted; larger ones get 413.
    #[arg(long, default_value_t = 3 * 1024 * 1024, value_name = "BYTES")]
    max_body_bytes: usize,
    /// Time allowed for one request, body read included, in milliseconds.
    #[arg(long, default_value_t = 4000, value_name = "MS")]
    request_timeout_ms: u64,
    /// How often the certificate files are checked for a new pair, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    cert_poll_ms: u64,
    /// Time in-flight requests get to finish after SIGTERM, in seconds.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    shutdown_grace_seconds: u64,
    /// Time a client gets to finish the TLS handshake, in milliseconds.
    #[arg(long, default_value_t = ms(ConnectionLimits::DEFAULT.handshake_timeout), value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    handshake_timeout_ms: u64,
    /// Time a client gets to send a whole request head, in milliseconds: from the end of the
    /// handshake for the first request, from its first byte for later ones.
    #[arg(long, default_value_t = ms(ConnectionLimits::DEFAULT.header_read_timeout), value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout_ms: u64,
    /// Time a kept-alive connection may sit silent between requests, in milliseconds. Longer
    /// than the 90 s Go clients such as kube-apiserver keep an idle connection, so the client
    /// always closes first and never sends on a connection the server is closing.
    #[arg(long, default_value_t = ms(ConnectionLimits::DEFAULT.idle_timeout), value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// Most connections open at once; further ones wait in the accept queue.
    #[arg(long, default_value_t = ConnectionLimits::DEFAULT.max_connections as u32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let kiln = match load_kiln(&flags) {
        Ok(kiln) => kiln,
        Err(error) => {
            tracing::error!(%error, "cannot load the chart");
            return ExitCode::from(2);
        }
    };
    let config = kiln_webhook::ServeConfig {
        listen: flags.listen,
        tls_cert: flags.tls_cert,
        tls_key: flags.tls_key,
        cert_poll_interval: Duration::from_millis(flags.cert_poll_ms),
        max_body_bytes: flags.max_body_bytes,
        request_timeout: Duration::from_millis(flags.request_timeout_ms),
        shutdown_grace: Duration::from_secs(flags.shutdown_grace_seconds),
        connections: ConnectionLimits {
            handshake_timeout: Duration::from_millis(flags.handshake_timeout_ms),
            header_read_timeout: Duration::from_millis(flags.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(flags.idle_timeout_ms),
            max_connections: flags.max_connections as usize,
        },
    };
    raise_file_limit(flags.max_connections);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(kiln_webhook::memory::on_worker_park)
        .build()
        .expect("a tokio runtime starts");
    if let Err(error) = kiln_webhook::memory::start_reclaimer(runtime.handle().clone()) {
        // The webhook still serves; memory freed after a burst of connections stays with the
        // allocator for reuse instead of going back to the system.
        tracing::warn!(%error, "cannot start the memory reclaimer thread");
    }
    // On a worker, not on this thread: the accept loop allocates every connection's task, and
    // only workers give freed memory back (`kiln_webhook::memory`).
    let served = runtime.block_on(runtime.spawn(kiln_webhook::serve(kiln, config)));
    match served {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot serve");
            ExitCode::from(1)
        }
        Err(panicked) => {
            tracing::error!(error = %panicked, "the server stopped");
            ExitCode::from(1)
        }
    }
}

/// A duration as whole milliseconds, for flag defaults.
const fn ms(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// Raises the open-file limit, and says so when even the hard limit leaves too few for
/// `--max-connections`.
fn raise_file_limit(max_connections: u32) {
    let available = kiln_webhook::server::raise_open_file_limit();
    // Listener, certificate reads, logs and metrics take a few more.
    let needed = u64::from(max_connections) + 64;
    if let Some(available) = available.filter(|available| *available < needed) {
        tracing::warn!(
            available,
            needed,
            "the open-file limit is below --max-connections; connections beyond it wait until others close"
        );
    }
}

fn load_kiln(flags: &Flags) -> Result<Kiln, kiln::chart::ChartError> {
    // A server matches each pattern many times: worth determinizing once, at start.
    kiln::pattern::build_full_dfas();
    let kiln = Kiln::load(&flags.charts, &flags.values)?;
    // Built-in charts would otherwise compile on the first request of their kind.
    kiln.compile_all();
    Ok(kiln)
}
