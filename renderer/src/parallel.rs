//! Data parallelism for the hot loops (parsing input files, checking specs, rendering instances
//! and namespaces): scoped threads, one per core, the calling thread among them. Each takes
//! the next item from a shared counter, so an item slower than the others (an autoscaled
//! service renders more objects) does not leave a core idle while another works through a
//! fixed half of the list. Results come back in input order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many items per thread, fewer threads are faster: a spec checks or renders in
/// well under a millisecond, and a thread takes tens of microseconds to start.
const MIN_ITEMS_PER_THREAD: usize = 32;

/// `items.iter().map(f).collect()`, on every core when there is enough work.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, MIN_ITEMS_PER_THREAD, f)
}

/// [`map`] for items that each take milliseconds (a file of specs, a namespace's templates):
/// two items are enough to use two cores.
pub fn map_coarse<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, 1, f)
}

/// [`map`] for items of which the first `coarse` each take milliseconds (see [`map_coarse`])
/// and the rest are light: two coarse items are enough to use two cores.
pub fn map_mixed<T: Sync, R: Send>(
    items: &[T],
    coarse: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let min_items_per_thread = if coarse >= 2 { 1 } else { MIN_ITEMS_PER_THREAD };
    map_with(items, min_items_per_thread, f)
}

fn map_with<T: Sync, R: Send>(
    items: &[T],
    min_items_per_thread: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(items.len() / min_items_per_thread).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            done.push((index, f(item)));
        }
    };
    let mut results = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut results = work();
        for helper in helpers {
            results.extend(
                helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        results
    });
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Frees `garbage` on a thread of its own when it is `large`: the values of 10,000 specs take
/// a quarter of a second to free, one small allocation at a time, and nothing needs to wait
/// for that. A command may exit before the thread is done, which loses nothing.
pub fn drop_in_background<T: Send + 'static>(garbage: T, large: bool) {
    if large {
        // When no thread can start, `spawn` drops the closure, and `garbage` with it, here.
        let _ = std::thread::Builder::new().spawn(move || drop(garbage));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_input_order() {
        let items: Vec<u32> = (0..1000).collect();
        let expected: Vec<u32> = items.iter().map(|n| n * 2).collect();
        assert_eq!(super::map(&items, |n| n * 2), expected);
        assert_eq!(super::map_coarse(&items, |n| n * 2), expected);
        assert_eq!(super::map_mixed(&items[..40], 2, |n| n * 2), expected[..40]);
    }

    #[test]
    fn keeps_the_input_order_when_items_take_different_times() {
        let items: Vec<u64> = (0..64).collect();
        let slow_first = |n: &u64| {
            std::thread::sleep(std::time::Duration::from_micros(if *n < 8 {
                2000
            } else {
                10
            }));
            n + 1
        };
        assert_eq!(
            super::map_coarse(&items, slow_first),
            (1..=64).collect::<Vec<u64>>()
        );
    }
}
