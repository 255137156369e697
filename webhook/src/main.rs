// The `kiln-webhook` binary: flags, logging and the crypto provider, then `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

// Each review allocates a few hundred small values on the runtime's worker threads;
// mimalloc is markedly cheaper there than glibc's allocator (bench/webhook.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use kiln::Kiln;

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
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    match runtime.block_on(kiln_webhook::serve(kiln, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "cannot serve");
            ExitCode::from(1)
        }
    }
}

fn load_kiln(flags: &Flags) -> Result<Kiln, kiln::chart::ChartError> {
    Kiln::load(&flags.charts, &flags.values)
}
