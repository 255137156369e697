//! Kubernetes resource quantities (`500m`, `4Gi`, `1e3`): parsing, comparison and sums.
//! Values are held exactly as whole nano-units in an i128, the precision Kubernetes itself
//! keeps, so `0.1` + `0.2` is `300m` and comparisons never round.
//!
//! ```
//! use kiln::quantity::Quantity;
//! let four_gi: Quantity = "4Gi".parse().unwrap();
//! assert_eq!(four_gi.format_bytes(), "4Gi");
//! assert!("4 Gi".parse::<Quantity>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// Kubernetes caps quantities near 2^63 milli-units; anything this large is a typo.
const MAX_DIGITS: usize = 24;

/// An exact quantity in nano-units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity {
    nanos: i128,
}

/// Why a text is not a quantity, with the fix when there is an obvious one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError {
    pub hint: Option<String>,
}

impl Quantity {
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// `self * factor`, or `None` on overflow.
    pub fn times(self, factor: i64) -> Option<Quantity> {
        self.nanos
            .checked_mul(i128::from(factor))
            .map(|nanos| Quantity { nanos })
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.nanos
            .checked_add(other.nanos)
            .map(|nanos| Quantity { nanos })
    }

    /// CPU style: whole cores as `2`, anything finer in milli-cores (`1500m`), rounded up.
    pub fn format_cpu(self) -> String {
        let millis = div_ceil(self.nanos, NANOS_PER_UNIT / 1000);
        if millis % 1000 == 0 {
            (millis / 1000).to_string()
        } else {
            format!("{millis}m")
        }
    }

    /// Memory style: the largest binary suffix that divides exactly, else plain bytes.
    pub fn format_bytes(self) -> String {
        let bytes = div_ceil(self.nanos, NANOS_PER_UNIT);
        if bytes == 0 {
            return "0".into();
        }
        for (suffix, size) in [
            ("Ti", 1i128 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if bytes % size == 0 {
                return format!("{}{suffix}", bytes / size);
            }
        }
        bytes.to_string()
    }
}

fn div_ceil(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    if value % divisor > 0 {
        quotient + 1
    } else {
        quotient
    }
}

/// The multiplier of a suffix, as a numerator and denominator over one unit.
fn suffix_scale(suffix: &str) -> Option<(i128, i128)> {
    Some(match suffix {
        "" => (1, 1),
        "n" => (1, 1_000_000_000),
        "u" => (1, 1_000_000),
        "m" => (1, 1_000),
        "k" => (1_000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "E" => (1_000_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        "Ei" => (1 << 60, 1),
        _ => return None,
    })
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_exact(text).ok_or_else(|| QuantityError {
            hint: suggest(text),
        })
    }
}

fn parse_exact(text: &str) -> Option<Quantity> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    if whole.len() + fraction.len() > MAX_DIGITS {
        return None;
    }
    // digits as an integer, scaled down by 10^fraction.len()
    let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
    let (mut numerator, mut denominator) = (digits, 10i128.checked_pow(fraction.len() as u32)?);
    // `1E` is one exa; `1E3` is an exponent.
    let exponent = suffix
        .strip_prefix(['e', 'E'])
        .filter(|rest| !rest.is_empty());
    if let Some(exponent) = exponent {
        let exponent: i32 = exponent.parse().ok()?;
        if exponent.unsigned_abs() > 18 {
            return None;
        }
        let scale = 10i128.pow(exponent.unsigned_abs());
        if exponent >= 0 {
            numerator = numerator.checked_mul(scale)?;
        } else {
            denominator = denominator.checked_mul(scale)?;
        }
    } else {
        let (times, divide) = suffix_scale(suffix)?;
        numerator = numerator.checked_mul(times)?;
        denominator = denominator.checked_mul(divide)?;
    }
    // Kubernetes rounds sub-nano precision up, away from zero.
    let nanos = div_ceil(numerator.checked_mul(NANOS_PER_UNIT)?, denominator);
    Some(Quantity {
        nanos: if negative { -nanos } else { nanos },
    })
}

/// Offers the fix for the usual mistakes: spaces (`4 Gi`), wrong case (`4gi`), SI bytes (`4GB`).
fn suggest(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut candidates = vec![compact.clone()];
    let split = compact
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(compact.len());
    let (number, suffix) = compact.split_at(split);
    let fixed_suffix = match suffix.to_ascii_lowercase().as_str() {
        "ki" | "kib" => "Ki",
        "mi" | "mib" => "Mi",
        "gi" | "gib" => "Gi",
        "ti" | "tib" => "Ti",
        "kb" => "k",
        "mb" => "M",
        "gb" => "G",
        "tb" => "T",
        _ => "",
    };
    if !fixed_suffix.is_empty() {
        candidates.push(format!("{number}{fixed_suffix}"));
    }
    candidates
        .into_iter()
        .find(|candidate| candidate != text && parse_exact(candidate).is_some())
        .map(|candidate| format!("write {candidate}"))
}

impl fmt::Display for Quantity {
    /// Plain units with up to nine decimals; used in messages, not in manifests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.unsigned_abs();
        let (whole, fraction) = (abs / 1_000_000_000, abs % 1_000_000_000);
        if fraction == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let fraction = format!("{fraction:09}");
            write!(f, "{sign}{whole}.{}", fraction.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        text.parse()
            .unwrap_or_else(|_| panic!("{text} should parse"))
    }

    #[test]
    fn parses_every_suffix_family() {
        assert_eq!(q("500m"), q("0.5"));
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("1E"), q("1000P"));
        assert_eq!(q("1.5Gi"), q("1536Mi"));
        assert_eq!(q(".5"), q("500m"));
        assert_eq!(q("2."), q("2"));
        assert_eq!(q("+3"), q("3"));
        assert!(q("-1").is_negative());
        assert_eq!(q("100n").to_string(), "0.0000001");
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for bad in [
            "", "4 Gi", "4gi", "4GB", "1..2", "m", "1e", "1Kii", "abc", ".", "1e99",
        ] {
            assert!(
                bad.parse::<Quantity>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn hints_fix_common_mistakes() {
        let hint = |text: &str| text.parse::<Quantity>().unwrap_err().hint;
        assert_eq!(hint("4 Gi").as_deref(), Some("write 4Gi"));
        assert_eq!(hint("512mi").as_deref(), Some("write 512Mi"));
        assert_eq!(hint("4GB").as_deref(), Some("write 4G"));
        assert_eq!(hint("lots"), None);
    }

    #[test]
    fn formats_sums_canonically() {
        let total = q("1500m").checked_add(q("2")).unwrap();
        assert_eq!(total.format_cpu(), "3500m");
        assert_eq!(q("3").format_cpu(), "3");
        assert_eq!(q("4Gi").times(3).unwrap().format_bytes(), "12Gi");
        assert_eq!(q("1G").format_bytes(), "1000000000");
        assert_eq!(q("1536Mi").format_bytes(), "1536Mi");
    }
}
