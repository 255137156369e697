//! Regular expressions as charts write them: CEL's `matches` and `find`, and a schema's
//! `pattern`. The regex crate's engine with its syntax and meaning (RE2 syntax, Unicode,
//! leftmost-first), built without the literal prefilters the regex crate looks for by
//! default. Those speed up searches through long texts, and kiln matches short field values;
//! working them out is most of building a pattern with an alternation of words, such as the
//! microservice chart's secret-key check (5.8 million instructions with them, 1.0 without),
//! and every CLI run builds the patterns its specs reach.

use regex_automata::meta;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: meta::Regex,
}

impl Pattern {
    /// Compiles `source`; the error is the regex crate's own text.
    pub fn new(source: &str) -> Result<Pattern, String> {
        // The configuration `regex::Regex::new` uses, but for the prefilters.
        let config = meta::Regex::config()
            .match_kind(regex_automata::MatchKind::LeftmostFirst)
            .utf8_empty(true)
            .nfa_size_limit(Some(10 * (1 << 20)))
            .hybrid_cache_capacity(2 * (1 << 20))
            .auto_prefilter(false);
        let syntax = regex_automata::util::syntax::Config::new().utf8(true);
        match meta::Builder::new()
            .configure(config)
            .syntax(syntax)
            .build(source)
        {
            Ok(regex) => Ok(Pattern {
                source: source.to_owned(),
                regex,
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
        self.regex.is_match(text)
    }

    /// The first match in `text`, as a range of it.
    pub fn find(&self, text: &str) -> Option<std::ops::Range<usize>> {
        self.regex.find(text).map(|found| found.range())
    }
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
            let ours = Pattern::new(source).unwrap();
            let theirs = regex::Regex::new(source).unwrap();
            prop_assert_eq!(ours.is_match(&text), theirs.is_match(&text));
            prop_assert_eq!(ours.find(&text), theirs.find(&text).map(|m| m.range()));
        }
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
