//! Renaming variables in an expression's source (`self` to `object.spec`), where they are
//! read and nowhere else: not as a field (`x.self`), not inside a string or a comment. This
//! is how a rule written at a schema node becomes a ValidatingAdmissionPolicy's expression.

/// `source` with each variable of `renames` replaced where it is read (not where it is a
/// field, `x.self`, or inside a string): how a node's rule becomes a policy's expression.
pub fn rename_variables(source: &str, renames: &[(&str, &str)]) -> String {
    let code = without_literals(source);
    let bytes = code.as_bytes();
    let mut out = String::with_capacity(source.len());
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        if !is_ident_start(bytes[at]) || (at > 0 && is_ident_char(bytes[at - 1])) {
            at += 1;
            continue;
        }
        let (name, end) = identifier(bytes, at);
        if previous_non_space(bytes, at) != Some(b'.')
            && let Some((_, to)) = renames.iter().find(|(from, _)| *from == name)
        {
            // Identifiers are ASCII and literals keep their length, so these are boundaries.
            out.push_str(&source[copied..at]);
            out.push_str(to);
            copied = end;
        }
        at = end;
    }
    out.push_str(&source[copied..]);
    out
}

fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

fn is_ident_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn identifier(bytes: &[u8], start: usize) -> (&str, usize) {
    let mut end = start;
    while end < bytes.len() && is_ident_char(bytes[end]) {
        end += 1;
    }
    // Identifier bytes are ASCII, so this slice is valid UTF-8.
    (std::str::from_utf8(&bytes[start..end]).unwrap_or(""), end)
}

fn previous_non_space(bytes: &[u8], at: usize) -> Option<u8> {
    bytes[..at]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .copied()
}

/// The source with every string or bytes literal and every comment replaced by spaces, so
/// that `'self.x'` inside quotes is not taken for a read.
fn without_literals(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'/' && bytes.get(at + 1) == Some(&b'/') {
            while at < bytes.len() && bytes[at] != b'\n' {
                out.push(b' ');
                at += 1;
            }
            continue;
        }
        if byte != b'\'' && byte != b'"' {
            out.push(if byte.is_ascii() { byte } else { b' ' });
            at += 1;
            continue;
        }
        // A raw literal's prefix (r, R, possibly with b) sits right before the quote.
        let raw = out
            .iter()
            .rev()
            .take_while(|b| matches!(b, b'r' | b'R' | b'b' | b'B'))
            .any(|b| matches!(b, b'r' | b'R'));
        let triple = bytes.get(at + 1) == Some(&byte) && bytes.get(at + 2) == Some(&byte);
        let quote_len = if triple { 3 } else { 1 };
        let mut end = at + quote_len;
        loop {
            if end >= bytes.len() {
                break;
            }
            if bytes[end] == b'\\' && !raw {
                end += 2;
                continue;
            }
            if bytes[end] == byte
                && (!triple
                    || (bytes.get(end + 1) == Some(&byte) && bytes.get(end + 2) == Some(&byte)))
            {
                end += quote_len;
                break;
            }
            end += 1;
        }
        let end = end.min(bytes.len());
        out.extend(std::iter::repeat_n(b' ', end - at));
        at = end;
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_renamed_where_read_only() {
        assert_eq!(
            rename_variables(
                "self.a + 'self' + x.self + values.n + selfish + self",
                &[("self", "object.spec"), ("values", "variables.values")]
            ),
            "object.spec.a + 'self' + x.self + variables.values.n + selfish + object.spec"
        );
        assert_eq!(rename_variables("'é' + self", &[("self", "o")]), "'é' + o");
        assert_eq!(
            rename_variables(
                "'self.a' + \"\"\"self.b\"\"\" + r'\\' + self.c // self.d\n",
                &[("self", "o")]
            ),
            "'self.a' + \"\"\"self.b\"\"\" + r'\\' + o.c // self.d\n"
        );
    }
}
