//! The `image-reference` format: an OCI image reference, `[registry/]repository[:tag][@digest]`,
//! following the grammar of distribution/reference, with the part that is wrong named.

use crate::finding::{Finding, PathRef};

/// The parts of a valid image reference that the rules care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Parses an image reference, or says which part is wrong.
pub fn parse_image_reference(text: &str) -> Result<ImageReference<'_>, &'static str> {
    if text.is_empty() {
        return Err("must not be empty");
    }
    if text.chars().any(char::is_whitespace) {
        return Err("must not contain spaces");
    }
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (text, None),
    };
    if let Some(digest) = digest
        && !is_digest(digest)
    {
        return Err("has an invalid digest; expected algorithm:hex such as sha256:<64 hex digits>");
    }
    // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match rest[last_slash..].find(':') {
        Some(colon) => (
            &rest[..last_slash + colon],
            Some(&rest[last_slash + colon + 1..]),
        ),
        None => (rest, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return Err(
            "has an invalid tag: letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-'",
        );
    }
    if repository.len() > 255 {
        return Err("has a repository name longer than 255 characters");
    }
    let mut components = repository.split('/').peekable();
    let first = components.next().unwrap_or_default();
    let has_more = components.peek().is_some();
    // The first component is a registry when it looks like a host: has '.', ':' or is localhost.
    let is_registry = has_more
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    if is_registry {
        if !is_registry_host(first) {
            return Err("has an invalid registry host");
        }
    } else if !is_path_component(first) {
        return Err(
            "has an invalid repository name: lowercase letters, digits and separators (. _ __ -) only",
        );
    }
    for component in components {
        if !is_path_component(component) {
            return Err(
                "has an invalid repository name: lowercase letters, digits and separators (. _ __ -) only",
            );
        }
    }
    Ok(ImageReference {
        repository,
        tag,
        digest,
    })
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn is_path_component(text: &str) -> bool {
    let bytes = text.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &text[start..i];
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !valid {
            return false;
        }
    }
    true
}

/// `host[:port]`, the host being DNS components or a bracketed IPv6 address.
fn is_registry_host(text: &str) -> bool {
    let port_ok = |port: Option<&str>| {
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if let Some(bracketed) = text.strip_prefix('[') {
        let Some((ipv6, rest)) = bracketed.split_once(']') else {
            return false;
        };
        let port = match rest {
            "" => None,
            _ => match rest.strip_prefix(':') {
                Some(port) => Some(port),
                None => return false,
            },
        };
        return ipv6.parse::<std::net::Ipv6Addr>().is_ok() && port_ok(port);
    }
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    let host_ok = host.split('.').all(|part| {
        let bytes = part.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
    });
    host_ok && port_ok(port)
}

fn is_tag(text: &str) -> bool {
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|b| word(*b) || matches!(b, b'.' | b'-'))
}

/// `algorithm:hex`; sha256 and sha512 must have their exact lengths.
fn is_digest(text: &str) -> bool {
    let Some((algorithm, hex)) = text.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['+', '.', '-', '_']).all(|part| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric())
    });
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let length_ok = match algorithm {
        "sha256" => hex.len() == 64,
        "sha512" => hex.len() == 128,
        _ => true,
    };
    algorithm_ok && hex_ok && length_ok
}

/// The `image-reference` format: a finding when `text` is not a valid reference.
pub fn check(text: &str, field: &PathRef<'_>) -> Option<Finding> {
    let problem = parse_image_reference(text).err()?;
    Some(
        Finding::error(
            "image-reference",
            field.to_path(),
            format!("is not a valid OCI image reference: {problem}"),
        )
        .got_str(text)
        .hint("write [registry/]repository:tag or repository@sha256:<digest>, e.g. registry.example.com/team/app:1.2.3"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_references() {
        for good in [
            "nginx",
            "nginx:1.27",
            "library/nginx:1.27-alpine",
            "registry.example.com/team/ms-sample:1.0",
            "localhost:5000/app:dev",
            "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "registry.example.com:443/a/b/c:v1.2.3_build",
            "[::1]:5000/app:1",
            "a__b/c--d:1",
        ] {
            assert!(
                parse_image_reference(good).is_ok(),
                "{good} should be valid"
            );
        }
    }

    #[test]
    fn rejects_what_a_registry_would() {
        for bad in [
            "just a image url",
            "",
            "app/UPPER:1",
            "app:",
            "app:-1",
            "app@sha256:abc",
            "app:1@md5",
            "registry.example.com/Team/app",
            "a/b//c",
            "app:1:2",
            "-app",
        ] {
            assert!(
                parse_image_reference(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn splits_tag_from_port() {
        let reference = parse_image_reference("localhost:5000/app:2").unwrap();
        assert_eq!(reference.repository, "localhost:5000/app");
        assert_eq!(reference.tag, Some("2"));
    }
}
