// The fuzz targets' properties (`fuzz/src/lib.rs`), run on stable over every seed
// (`fuzz/seeds/TARGET/`) and every crash the fuzzers found (`fuzz/regressions/TARGET/`), so a
// fixed crash stays fixed without nightly or libFuzzer; then a bounded random pass over
// mutations of the seeds, so CI fuzzes a little on every run (building the libFuzzer targets
// takes longer than CI's budget allows).

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Mutated inputs per target in the random pass; `KILN_FUZZ_MUTATIONS` changes it.
const MUTATIONS: u64 = 10_000;

/// Runs `property` on every file of the target's seeds and regressions, then on mutations of
/// the seeds; returns how many files there were.
fn replay(target: &str, property: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut seeds = Vec::new();
    let mut count = 0;
    for folder in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| property(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its property",
                path.display()
            );
            count += 1;
            seeds.push(data);
        }
    }
    mutation_pass(target, property, &seeds);
    count
}

/// The random pass: `property` on inputs made from the seeds by libFuzzer's kinds of edits (a
/// byte changed, inserted or erased, a run repeated or erased, a token of YAML or JSON syntax
/// inserted, two seeds spliced), one to four edits each, from a fixed PRNG seed
/// (`KILN_FUZZ_SEED` changes it) so a failure reproduces. Not coverage-guided: it tries what
/// lies near the seeds, where libFuzzer (README, Fuzzing) goes further. A failing input, or one
/// that runs over [`HANG`] (the process then aborts), is written under `target/fuzz-failures/`
/// to be kept in `fuzz/regressions/TARGET/` once fixed.
fn mutation_pass(target: &str, property: fn(&[u8]), seeds: &[Vec<u8>]) {
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let (mutations, seed) = (
        number("KILN_FUZZ_MUTATIONS", MUTATIONS),
        number("KILN_FUZZ_SEED", 0x6b69_6c6e),
    );
    let mut random = SplitMix(seed ^ target.len() as u64);
    // The input being judged and since when, for the watchdog.
    let running: Mutex<Option<(Instant, u64, Vec<u8>)>> = Mutex::new(None);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if let Some((since, round, input)) = &*running.lock().unwrap()
                    && since.elapsed() > HANG
                {
                    let path = keep_failure(target, seed, *round, input);
                    // Straight to stderr: the test harness would hold an eprintln! back, and
                    // the abort loses what it holds.
                    let _ = writeln!(
                        std::io::stderr(),
                        "{target}: mutation {round} of PRNG seed {seed} ran over {HANG:?}; input in {}",
                        path.display()
                    );
                    std::process::abort();
                }
            }
        });
        let _stop = StopOnDrop(&done);
        for round in 0..mutations {
            let mut input = seeds[random.below(seeds.len())].clone();
            for _ in 0..=random.below(4) {
                mutate(&mut input, seeds, &mut random);
            }
            *running.lock().unwrap() = Some((Instant::now(), round, input.clone()));
            let outcome = std::panic::catch_unwind(|| property(&input));
            *running.lock().unwrap() = None;
            if outcome.is_err() {
                let path = keep_failure(target, seed, round, &input);
                panic!(
                    "{target}: mutation {round} of PRNG seed {seed} fails its property; input in {}",
                    path.display()
                );
            }
        }
    });
}

/// Longest one input may take (debug build) before the pass calls it a hang and aborts.
const HANG: Duration = Duration::from_secs(20);

/// Ends the watchdog when the pass ends, by returning or by a failed property.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Writes a failing input where it can be picked up for `fuzz/regressions/TARGET/`.
fn keep_failure(target: &str, seed: u64, round: u64, input: &[u8]) -> PathBuf {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-failures");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(format!("{target}-{seed}-{round}"));
    std::fs::write(&path, input).unwrap();
    path
}

/// Pieces of YAML and JSON syntax, and characters kiln treats specially, for insertion.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b": ",
    b",",
    b"\n",
    b"\n- ",
    b"\n  ",
    b"\"",
    b"'",
    b"#",
    b"!!str ",
    b"!tag ",
    b"&a ",
    b"*a",
    b"<<: ",
    b"---\n",
    b"...\n",
    b"|\n",
    b">-\n",
    b"?",
    b"null",
    b"true",
    b"-1",
    b"1e400",
    b"0x1F",
    b"\\u2028",
    "\u{2028}".as_bytes(),
    "\u{85}".as_bytes(),
    b"\t",
    b"\r",
    b"\0",
    b"\xff",
    b"Ki",
    b"Mi",
    b"m",
    b"@sha256:",
];

fn mutate(input: &mut Vec<u8>, seeds: &[Vec<u8>], random: &mut SplitMix) {
    let at = random.below(input.len() + 1);
    match random.below(7) {
        0 if at < input.len() => input[at] = random.next() as u8,
        1 => input.insert(at, random.next() as u8),
        2 if at < input.len() => {
            let end = (at + 1 + random.below(16)).min(input.len());
            input.drain(at..end);
        }
        3 if at < input.len() => {
            let end = (at + 1 + random.below(32)).min(input.len());
            let run = input[at..end].to_vec();
            input.splice(at..at, run);
        }
        4 | 5 => {
            let token = TOKENS[random.below(TOKENS.len())];
            input.splice(at..at, token.iter().copied());
        }
        _ => {
            let other = &seeds[random.below(seeds.len())];
            let from = random.below(other.len() + 1);
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
    }
}

/// SplitMix64: a small PRNG with a fixed sequence per seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[test]
fn spec_loader() {
    assert!(replay("spec_loader", harness::spec_loader) >= 10);
}

#[test]
fn admission_review() {
    assert!(replay("admission_review", harness::admission_review) >= 10);
}

#[test]
fn quantity() {
    assert!(replay("quantity", harness::quantity) >= 10);
}

#[test]
fn image_reference() {
    assert!(replay("image_reference", harness::image_reference) >= 10);
}

#[test]
fn yaml_writer() {
    assert!(replay("yaml_writer", harness::yaml_writer) >= 10);
}
