//! Tooling for the people who own charts: `kiln chart new` (a working chart to start from),
//! `kiln chart lint` (everything kiln checks when it loads a chart, and its exports) and
//! `kiln chart test` (the chart's own cases). Nothing here judges or renders on its own:
//! cases and lint go through the same `Kiln` as `kiln render`.

pub mod cases;
pub mod lint;
pub mod scaffold;

/// `1 rule`, `2 rules`.
fn counted(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}
