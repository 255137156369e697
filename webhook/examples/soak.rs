// The load side of bench/soak.sh: keeps CONNECTIONS kept-alive TLS connections busy with a
// mix of AdmissionReviews for SECONDS, reconnecting every 200 requests so certificate
// rotations are met by new handshakes, and prints one line per 10 s interval: requests,
// failures, p50 and p99 latency, the server's resident memory and the certificates seen.
// A failure is a well-formed review not answered 200, or a malformed one not answered 400.
// usage: soak --port PORT --ca FILE --pid PID --seconds N --connections N --bodies DIR

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

#[path = "../tests/util/client.rs"]
mod client;

use clap::Parser;

/// The soak load generator's flags.
#[derive(Parser)]
struct Args {
    /// The webhook's port on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// The CA certificate (PEM) the webhook's certificates chain to.
    #[arg(long)]
    ca: PathBuf,
    /// The webhook's process id, for its resident memory.
    #[arg(long)]
    pid: u32,
    /// How long to run.
    #[arg(long)]
    seconds: u64,
    /// Kept-alive connections to keep busy.
    #[arg(long)]
    connections: usize,
    /// Folder of AdmissionReview bodies (valid-*, invalid-*, malformed-*).
    #[arg(long)]
    bodies: PathBuf,
}

/// What one interval saw.
#[derive(Default)]
struct Interval {
    latencies: Vec<Duration>,
    failures: u64,
    certificates: HashSet<Vec<u8>>,
}

struct Body {
    bytes: Vec<u8>,
    status: u16,
}

#[tokio::main]
async fn main() {
    let Args {
        port,
        ca,
        pid,
        seconds,
        connections,
        bodies: bodies_dir,
    } = Args::parse();
    // valid-*.json and invalid-*.json are well-formed (200); malformed-* get 400.
    let mut bodies = Vec::new();
    for entry in std::fs::read_dir(&bodies_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let status = if name.starts_with("malformed") {
            400
        } else {
            200
        };
        bodies.push(Body {
            bytes: std::fs::read(&path).unwrap(),
            status,
        });
    }
    bodies.sort_by_key(|body| body.status);
    let bodies = Arc::new(bodies);
    let connector = client::connector(Some(&std::fs::read(ca).unwrap()));

    let intervals = Arc::new(Mutex::new(Vec::<Interval>::new()));
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..connections {
        let (connector, bodies, intervals) = (connector.clone(), bodies.clone(), intervals.clone());
        workers.push(tokio::spawn(async move {
            let mut sent = worker;
            while Instant::now() < end {
                let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                tcp.set_nodelay(true).unwrap();
                let mut tls = match connector
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
                    .await
                {
                    Ok(tls) => tls,
                    Err(error) => {
                        eprintln!("handshake failed: {error}");
                        record(&intervals, start, None, true, None);
                        continue;
                    }
                };
                let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
                for _ in 0..200 {
                    if Instant::now() >= end {
                        break;
                    }
                    let body = &bodies[sent % bodies.len()];
                    sent += 1;
                    let asked = Instant::now();
                    let status = client::review_on(&mut tls, &body.bytes).await.ok();
                    let failed = status != Some(body.status);
                    if failed {
                        eprintln!("expected {}, got {status:?}", body.status);
                    }
                    record(
                        &intervals,
                        start,
                        Some(asked.elapsed()),
                        failed,
                        Some(&leaf),
                    );
                    if status.is_none() {
                        break;
                    }
                }
            }
        }));
    }
    let mut memory = Vec::new();
    while Instant::now() < end {
        memory.push(client::memory_kib(pid, "VmRSS"));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    for worker in workers {
        worker.await.unwrap();
    }
    memory.push(client::memory_kib(pid, "VmRSS"));

    let intervals = intervals.lock().unwrap();
    println!(
        "| seconds | requests | failures | p50 | p99 | resident at start | certificates seen |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let (mut total, mut failures) = (0, 0);
    for (n, interval) in intervals.iter().enumerate() {
        let mut latencies = interval.latencies.clone();
        latencies.sort();
        let at = |p: usize| {
            latencies
                .get(latencies.len().saturating_sub(1) * p / 100)
                .map_or("-".to_owned(), |d| {
                    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
                })
        };
        println!(
            "| {}-{} | {} | {} | {} | {} | {} | {} |",
            n * 10,
            n * 10 + 10,
            latencies.len(),
            interval.failures,
            at(50),
            at(99),
            memory
                .get(n)
                .map_or("-".to_owned(), |kib| format!("{} MiB", kib / 1024)),
            interval.certificates.len()
        );
        total += latencies.len();
        failures += interval.failures;
    }
    let all: HashSet<&Vec<u8>> = intervals.iter().flat_map(|i| &i.certificates).collect();
    println!(
        "\n{total} requests, {failures} failures, {} distinct serving certificates seen; resident memory {} MiB at start, {} MiB at the end",
        all.len(),
        memory.first().copied().unwrap_or(0) / 1024,
        memory.last().copied().unwrap_or(0) / 1024
    );
    if failures > 0 {
        std::process::exit(1);
    }
}

fn record(
    intervals: &Mutex<Vec<Interval>>,
    start: Instant,
    latency: Option<Duration>,
    failed: bool,
    certificate: Option<&Vec<u8>>,
) {
    let index = (start.elapsed().as_secs() / 10) as usize;
    let mut intervals = intervals.lock().unwrap();
    while intervals.len() <= index {
        intervals.push(Interval::default());
    }
    let interval = &mut intervals[index];
    interval.latencies.extend(latency);
    interval.failures += u64::from(failed);
    if let Some(certificate) = certificate
        && !interval.certificates.contains(certificate)
    {
        interval.certificates.insert(certificate.clone());
    }
}
