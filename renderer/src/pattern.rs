//! Regular expressions as charts write them: CEL's `matches` and `find`, and a schema's
//! `pattern`. The regex crate's engine with its syntax and meaning (RE2 syntax, Unicode,
//! leftmost-first), built without the literal prefilters the regex crate looks for by
//! default. Those speed up searches through long texts, and kiln matches short field values;
//! working them out is most of building a pattern with an alternation of words, such as the
//! microservice chart's secret-key check (5.8 million instructions with them, 1.0 without),
//! and every CLI run builds the patterns its specs reach.
//!
//! A long-running process (the webhook) asks for full DFAs too ([`build_full_dfas`]): each
//! pattern is then also determinized once, up front, into a pair of dense DFAs, when those
//! stay under [`FULL_DFA_LIMIT`]. A search through one reads only its table, where the regex
//! crate's engine first takes a cache from a pool (by a mutex on every thread but the one
//! that made the pool) and reads the cache's lazily built states: in a server whose caches
//! TLS and HTTP have cooled since the last review, about 32 cache lines per match. Building
//! them costs up to about 20 ms for the secret-key check, which a CLI run does not repay.

use std::sync::atomic::{AtomicBool, Ordering};

use regex_automata::dfa::{self, Automaton as _, dense};
use regex_automata::{Input, meta};

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: meta::Regex,
    /// The same pattern as full DFAs, when asked for and small enough.
    full: Option<dfa::regex::Regex>,
}

/// The most memory the two DFAs of one pattern may take (the secret-key check takes 230 KiB).
pub const FULL_DFA_LIMIT: usize = 1 << 20;

static FULL_DFAS: AtomicBool = AtomicBool::new(false);

/// From now on, patterns are also built as full DFAs ([`Pattern`] says when that pays), and
/// a CEL expression's literal patterns are built when it compiles rather than when it first
/// matches ([`builds_up_front`]).
pub fn build_full_dfas() {
    FULL_DFAS.store(true, Ordering::Relaxed);
}

/// Whether this process asked for [`build_full_dfas`]: it is long-running, and building a
/// pattern up front is what keeps that build off the first request that reaches it (up to
/// about 30 ms for the secret-key check).
pub fn builds_up_front() -> bool {
    FULL_DFAS.load(Ordering::Relaxed)
}

impl Pattern {
    /// Compiles `source`; the error is the regex crate's own text.
    pub fn new(source: &str) -> Result<Pattern, String> {
        Pattern::build(source, builds_up_front())
    }

    /// Compiles `source`, also as full DFAs with `full`.
    fn build(source: &str, full: bool) -> Result<Pattern, String> {
        // The configuration `regex::Regex::new` uses, but for the prefilters.
        let config = meta::Regex::config()
            .match_kind(regex_automata::MatchKind::LeftmostFirst)
            .utf8_empty(true)
            .nfa_size_limit(Some(10 * (1 << 20)))
            .hybrid_cache_capacity(2 * (1 << 20))
            .auto_prefilter(false)
            // The engine's own full DFAs, for tiny patterns, stay off as in a build without
            // them: whether a pattern gets one is `build_full_dfas`'s choice.
            .dfa(false);
        let syntax = regex_automata::util::syntax::Config::new().utf8(true);
        match meta::Builder::new()
            .configure(config)
            .syntax(syntax)
            .build(source)
        {
            Ok(regex) => Ok(Pattern {
                source: source.to_owned(),
                regex,
                full: full.then(|| full_dfas(source, syntax)).flatten(),
            }),
            // A pattern that fails here fails there too, with the message users know.
            Err(error) => Err(match regex::Regex::new(source) {
                Err(regex_error) => regex_error.to_string(),
                Ok(_) => error.to_string(),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        // A full DFA without quit bytes does not fail; if one ever did, the engine decides.
        if let Some(full) = &self.full
            && let Ok(found) = full
                .forward()
                .try_search_fwd(&Input::new(text).earliest(true))
        {
            return found.is_some();
        }
        self.regex.is_match(text)
    }

    /// The first match in `text`, as a range of it.
    pub fn find(&self, text: &str) -> Option<std::ops::Range<usize>> {
        if let Some(full) = &self.full
            && let Ok(found) = full.try_search(&Input::new(text))
        {
            return found.map(|found| found.range());
        }
        self.regex.find(text).map(|found| found.range())
    }
}

/// `source` as a forward and a reverse dense DFA with the engine's meaning (leftmost-first,
/// empty matches only between characters), or `None` when the pair would pass
/// [`FULL_DFA_LIMIT`] or uses what DFAs cannot do (a Unicode word boundary).
fn full_dfas(
    source: &str,
    syntax: regex_automata::util::syntax::Config,
) -> Option<dfa::regex::Regex> {
    let config = dense::Config::new()
        .match_kind(regex_automata::MatchKind::LeftmostFirst)
        // Minimizing would shrink the tables at several times the build time.
        .minimize(false)
        .dfa_size_limit(Some(FULL_DFA_LIMIT / 2))
        .determinize_size_limit(Some(FULL_DFA_LIMIT));
    dfa::regex::Builder::new()
        .syntax(syntax)
        .dense(config)
        .build(source)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::Pattern;
    use proptest::prelude::*;

    const PATTERNS: [&str; 6] = [
        "(?mi)^[^=:\\n]*(password|secret|token)[^=:\\n]*[=:][ \\t]*[^ \\t\\r\\n]",
        "^(0|[1-9][0-9]*)[.](0|[1-9][0-9]*)$",
        "^/[^\\s?#]*$",
        "[0-9]+",
        "a|ab|b*",
        "",
    ];

    #[test]
    #[allow(
        clippy::invalid_regex,
        reason = "the invalid pattern is what the test is about"
    )]
    fn a_bad_pattern_gives_the_regex_crate_s_message() {
        let expected = regex::Regex::new("(").unwrap_err().to_string();
        assert_eq!(Pattern::new("(").unwrap_err(), expected);
        assert!(expected.contains("unclosed group"), "{expected}");
    }

    proptest! {
        /// Matches and first matches are the regex crate's, on any text.
        #[test]
        fn means_what_the_regex_crate_means(text in "(?s).{0,40}|[ -~\\n]{0,40}", which in 0..6usize) {
            let source = PATTERNS[which];
            let theirs = regex::Regex::new(source).unwrap();
            for full in [false, true] {
                let ours = Pattern::build(source, full).unwrap();
                prop_assert_eq!(ours.full.is_some(), full);
                prop_assert_eq!(ours.is_match(&text), theirs.is_match(&text));
                prop_assert_eq!(ours.find(&text), theirs.find(&text).map(|m| m.range()));
            }
        }
    }

    #[test]
    fn patterns_dfas_cannot_run_or_too_large_for_them_use_the_engine() {
        // A Unicode word boundary: DFAs refuse it.
        let boundary = Pattern::build(r"\bword\b", true).unwrap();
        assert!(boundary.full.is_none());
        assert!(boundary.is_match("a word here") && !boundary.is_match("swordfish"));
        // Fifty-one Unicode letters in a row determinize past the limit.
        let large = Pattern::build(r"\pL{50}x", true).unwrap();
        assert!(large.full.is_none());
        assert!(large.is_match(&format!("{}x", "é".repeat(50))));
    }

    #[test]
    fn the_test_patterns_and_the_secret_key_check_fit_in_full_dfas() {
        for source in PATTERNS {
            assert!(
                Pattern::build(source, true).unwrap().full.is_some(),
                "{source}"
            );
        }
        let secret = "(?mi)^[^=:\\n]*(password|passwd|secret|token|apikey|api_key|api-key|credential|private_key|privatekey)[^=:\\n]*[=:][ \\t]*[^ \\t\\r\\n]";
        let pattern = Pattern::build(secret, true).unwrap();
        assert!(pattern.full.is_some());
        assert_eq!(pattern.find("a=1\nX_Token: y"), Some(4..14));
    }

    #[test]
    fn the_secret_key_check_finds_keys_in_any_case() {
        let pattern = Pattern::new(PATTERNS[0]).unwrap();
        let text = "a=1\nDB_PASSWORD = x\n";
        assert_eq!(
            pattern.find(text).map(|r| &text[r]),
            Some("DB_PASSWORD = x")
        );
        assert!(!pattern.is_match("a=1\npassword=\n"));
    }
}
