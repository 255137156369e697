//! Did-you-mean: the known name closest to a typo, for every message that names a field,
//! a schema keyword or a chart file.

/// The known name closest to `name`, if one is close enough to be what was meant.
pub fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|candidate| {
            let distance = strsim::levenshtein(&name.to_lowercase(), &candidate.to_lowercase());
            (distance, *candidate)
        })
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min()
        .map(|(_, candidate)| candidate)
}

/// `; did you mean `x`?` for the closest known name, or nothing: the tail of a message about
/// a misspelt key in a chart or values file.
pub fn did_you_mean(name: &str, known: &[&str]) -> String {
    closest(name, known)
        .map(|candidate| format!("; did you mean `{candidate}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name() {
        let known = ["msName", "replicas", "needAuth"];
        assert_eq!(closest("replica", &known), Some("replicas"));
        assert_eq!(closest("msname", &known), Some("msName"));
        assert_eq!(closest("needauth", &known), Some("needAuth"));
        assert_eq!(closest("completelyDifferent", &known), None);
    }
}
