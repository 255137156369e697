//! The allocator's side of connection bursts: when a runtime worker hands the memory that
//! closed connections freed back to the system.
//!
//! The binary allocates with mimalloc, which keeps a heap per thread. A connection's buffers
//! (TLS records, the HTTP read buffer: about 22 KiB) are allocated on the worker that polled
//! it first and often freed on the other one, since tokio moves tasks between workers. A free
//! from another thread is only queued on the page; the owning worker folds it in when it
//! allocates from that page again or collects its heap. After a burst of 2,000 slow
//! connections, a worker that went idle kept about 45 MiB this way, indefinitely.
//!
//! So the workers collect their heaps when a burst is over. A reclaimer thread looks at the
//! count of closed connections every [`TICK`]; when connections have closed since the last
//! collection and either none closed during the last tick (the burst ended) or at least
//! [`CHURN`] did (a long burst, or steady churn: at most one collection per tick), it starts a
//! collection round and wakes every worker with an empty task. Each worker collects its own
//! heap the next time it parks (has nothing left to run). A woken worker may run every wake
//! task before another worker is unparked, so that worker would keep its heap: the reclaimer
//! wakes the workers again on the next ticks (at most [`REWAKES`] times) until each collected
//! in the round. Steady traffic over kept-alive connections, as the API server sends it,
//! closes nothing and never collects.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the reclaimer looks at the count of closed connections.
pub const TICK: Duration = Duration::from_millis(250);

/// Closed connections in one tick that start a collection round while the burst goes on.
pub const CHURN: u64 = 64;

/// Ticks on which the reclaimer wakes the workers again while some did not collect yet.
const REWAKES: u32 = 8;

/// Connections closed since the process started.
static CLOSED: AtomicU64 = AtomicU64::new(0);

/// Collection rounds started; a worker collects when it parks and this moved.
static ROUND: AtomicU64 = AtomicU64::new(0);

/// Workers that collected in the current round (reset as a round starts).
static COLLECTED_WORKERS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// `ROUND` when this thread last collected its heap.
    static COLLECTED_IN_ROUND: Cell<u64> = const { Cell::new(0) };
}

// mimalloc's own API, linked in by the `mimalloc` crate (which wraps only the allocator
// interface). `mi_collect` frees the calling thread's empty pages, folding in frees queued by
// other threads, and purges them; it takes no pointer and is safe to call at any time.
#[allow(unsafe_code)]
unsafe extern "C" {
    safe fn mi_collect(force: bool);
}

/// Counts one closed connection; the server calls it as a connection ends.
pub fn connection_closed() {
    CLOSED.fetch_add(1, Ordering::Relaxed);
}

/// For the runtime's `on_thread_park`: collects this worker's heap once per round. Otherwise
/// an atomic load and a thread-local read.
pub fn on_worker_park() {
    // Acquire: the reset of COLLECTED_WORKERS that came with this round is seen before the
    // count below.
    let round = ROUND.load(Ordering::Acquire);
    if COLLECTED_IN_ROUND.with(|collected| collected.replace(round)) != round {
        mi_collect(true);
        COLLECTED_WORKERS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts the reclaimer thread for the runtime behind `runtime`, whose workers call
/// [`on_worker_park`]. It runs until the process exits.
pub fn start_reclaimer(runtime: tokio::runtime::Handle) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("kiln-reclaim".to_owned())
        .spawn(move || reclaim(&runtime))
        .map(drop)
}

fn reclaim(runtime: &tokio::runtime::Handle) {
    let workers = runtime.metrics().num_workers() as u64;
    let (mut at_last_round, mut at_last_tick, mut rewakes_left) = (0, 0, 0);
    loop {
        std::thread::sleep(TICK);
        let closed = CLOSED.load(Ordering::Relaxed);
        let burst_over = closed == at_last_tick;
        let churn = closed - at_last_tick >= CHURN;
        if closed != at_last_round && (burst_over || churn) {
            // Reset before the round moves (Release), so a worker's count lands in the new round.
            COLLECTED_WORKERS.store(0, Ordering::Relaxed);
            ROUND.fetch_add(1, Ordering::Release);
            at_last_round = closed;
            rewakes_left = REWAKES;
            wake_workers(runtime, workers);
        } else if rewakes_left > 0 {
            if COLLECTED_WORKERS.load(Ordering::Relaxed) < workers {
                rewakes_left -= 1;
                wake_workers(runtime, workers);
            } else {
                rewakes_left = 0;
            }
        }
        at_last_tick = closed;
    }
}

/// A task spawned from outside the runtime wakes a parked worker; each woken worker runs one
/// (or finds them taken) and parks again, collecting on the way.
fn wake_workers(runtime: &tokio::runtime::Handle, workers: u64) {
    for _ in 0..workers {
        drop(runtime.spawn(async {}));
    }
}
