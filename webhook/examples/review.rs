// What one admission review costs without HTTP and TLS: `kiln_webhook::review` (read the body,
// decide, write the answer) run in a loop on one thread over an AdmissionReview body, with the
// webhook's allocator. bench/webhook.sh writes the body it posts to bench/out/webhook/body.json.
// With THREADS, that many threads each run COUNT reviews at once, sharing one `Kiln` as the
// server's workers do. With EVICT_KIB, each review is preceded by writing that much memory, as
// a server's TLS and HTTP work between two requests does, so that the chart data a review reads
// comes from farther caches: under `valgrind --tool=cachegrind`, the misses outside `evict`
// count the cache lines one review touches.
// usage: review BODY.json [validate|mutate] [COUNT] [THREADS] [EVICT_KIB]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use kiln::Kiln;
use kiln_webhook::admit::Endpoint;
use kiln_webhook::{AppState, metrics::Metrics, review};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: review BODY.json [validate|mutate] [COUNT] [THREADS] [EVICT_KIB]";
    let path = args.first().ok_or(usage)?;
    let endpoint = match args.get(1).map(String::as_str) {
        None | Some("validate") => Endpoint::Validate,
        Some("mutate") => Endpoint::Mutate,
        Some(other) => return Err(format!("{other:?} is not validate or mutate; {usage}")),
    };
    let count: u32 = match args.get(2) {
        None => 20_000,
        Some(text) => text.parse().map_err(|_| format!("{text:?}: {usage}"))?,
    };
    let threads: u32 = match args.get(3) {
        None => 1,
        Some(text) => text.parse().map_err(|_| format!("{text:?}: {usage}"))?,
    };
    let evict_kib: usize = match args.get(4) {
        None => 0,
        Some(text) => text.parse().map_err(|_| format!("{text:?}: {usage}"))?,
    };
    let body = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    kiln::pattern::build_full_dfas(); // as the server does
    let kiln = Kiln::load(&[], &[]).map_err(|e| e.to_string())?;
    kiln.compile_all();
    let state = AppState {
        kiln,
        metrics: Arc::new(Metrics::default()),
        ready: AtomicBool::new(true),
        request_timeout: Duration::from_secs(5),
    };
    // One answer shown, so that a run over a body kiln refuses is not taken for a fast one.
    let first = review(&state, &body, endpoint);
    println!(
        "{} {}",
        first.status,
        String::from_utf8_lossy(&first.body[..first.body.len().min(300)])
    );
    let run = || {
        let mut scratch = vec![0u8; evict_kib * 1024];
        let started = Instant::now();
        for round in 0..count {
            evict(&mut scratch, round as u8);
            std::hint::black_box(review(&state, std::hint::black_box(&body), endpoint));
        }
        started.elapsed().as_secs_f64() / f64::from(count.max(1))
    };
    let each: Vec<f64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1)).map(|_| scope.spawn(run)).collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a review panicked"))
            .collect()
    });
    let each = each.iter().sum::<f64>() / each.len() as f64;
    println!(
        "{} /{}: {:.1} µs per review ({count} reviews on each of {} threads)",
        path,
        endpoint.as_str(),
        each * 1e6,
        threads.max(1)
    );
    Ok(())
}

/// Writes every cache line of `scratch`, pushing what the last review read out of the nearer
/// caches.
#[inline(never)]
fn evict(scratch: &mut [u8], round: u8) {
    for line in scratch.chunks_mut(64) {
        line[0] = round;
    }
    std::hint::black_box(scratch);
}
