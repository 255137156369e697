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

/// The scale of a suffix: a power of ten and a binary multiplier. `e3`, `E-2` are exponents.
fn suffix_scale(suffix: &str) -> Option<(i64, i128)> {
    Some(match suffix {
        "" => (0, 1),
        "n" => (-9, 1),
        "u" => (-6, 1),
        "m" => (-3, 1),
        "k" => (3, 1),
        "M" => (6, 1),
        "G" => (9, 1),
        "T" => (12, 1),
        "P" => (15, 1),
        "E" => (18, 1),
        "Ki" => (0, 1 << 10),
        "Mi" => (0, 1 << 20),
        "Gi" => (0, 1 << 30),
        "Ti" => (0, 1 << 40),
        "Pi" => (0, 1 << 50),
        "Ei" => (0, 1 << 60),
        _ => {
            // `e` or `E`, an optional sign, then digits (Kubernetes' decimalExponent).
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (exponent.parse::<i64>().ok()?, 1)
        }
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

/// Kubernetes' grammar (`<signedNumber><suffix>`, apimachinery's `ParseQuantity`). Values
/// are exact in nano-units below 10^29 units; from there on they saturate (they are valid, and
/// compare above any realistic quantity), smaller non-zero ones round up to one nano-unit,
/// as Kubernetes rounds them.
fn parse_exact(text: &str) -> Option<Quantity> {
    parse_plain(text).or_else(|| parse_general(text))
}

/// Every spelling: signs, fractions, exponents, saturation.
fn parse_general(text: &str) -> Option<Quantity> {
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
    if fraction.contains('.') {
        return None;
    }
    // Kubernetes reads a lone sign as zero, but a lone '.' is not a number.
    if whole.is_empty()
        && fraction.is_empty()
        && (number == "." || !suffix.is_empty() || unsigned.len() == text.len())
    {
        return None;
    }
    let (power, binary) = suffix_scale(suffix)?;
    // Most quantities have no fraction (`100m`, `128Mi`): their digits are `whole` as written.
    let digits: std::borrow::Cow<'_, str> = if fraction.is_empty() {
        whole.into()
    } else {
        format!("{whole}{fraction}").into()
    };
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(Quantity::ZERO);
    }
    // value in nanos = digits * 10^(power - fraction digits + 9) * binary, rounded up.
    let exponent = power
        .saturating_sub(fraction.len() as i64)
        .saturating_add(9);
    let saturated = Quantity {
        nanos: if negative { i128::MIN + 1 } else { i128::MAX },
    };
    let magnitude = if exponent >= 0 {
        let scaled = (digits.len() as i64)
            .checked_add(exponent)
            .filter(|total| *total <= 38)
            .and_then(|_| digits.parse::<i128>().ok())
            .and_then(|d| d.checked_mul(10i128.checked_pow(exponent as u32)?))
            .and_then(|d| d.checked_mul(binary));
        match scaled {
            Some(nanos) => nanos,
            None => return Some(saturated),
        }
    } else {
        let shift = exponent.unsigned_abs();
        if shift > 38 || digits.len() > 38 {
            // Too small for a nano-unit (or too long to be exact): round up, as Kubernetes does,
            // unless the integer part alone is large.
            let integer_digits = digits.len() as i64 + exponent;
            if integer_digits > 29 {
                return Some(saturated);
            }
            let kept = usize::try_from(integer_digits.max(0)).unwrap_or(0);
            let integer: i128 = if kept == 0 {
                0
            } else {
                digits[..kept].parse().ok()?
            };
            integer
                .checked_mul(binary)
                .map_or(i128::MAX, |n| n.saturating_add(1))
        } else {
            let divisor = 10i128.pow(shift as u32);
            let value: i128 = digits.parse().ok()?;
            match value.checked_mul(binary) {
                Some(product) => div_ceil(product, divisor),
                None => (value / divisor)
                    .checked_mul(binary)
                    .map_or(i128::MAX, |n| n.saturating_add(1)),
            }
        }
    };
    // One threshold for every spelling: `88888888102Ei` and the same number written out in
    // digits must both saturate, or a value kiln writes back would read as a different one
    // (found by the quantity fuzz target).
    if magnitude >= SATURATION_NANOS {
        return Some(saturated);
    }
    Some(Quantity {
        nanos: if negative { -magnitude } else { magnitude },
    })
}

/// What specs write (`2`, `500m`, `4Gi`): up to 18 digits and a suffix that scales by a whole
/// number of nano-units, read without the general path's text handling. `None` sends every
/// other spelling, and any value near saturation, to the general path.
fn parse_plain(text: &str) -> Option<Quantity> {
    let bytes = text.as_bytes();
    let digits = bytes
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(bytes.len());
    if digits == 0 || digits > 18 {
        return None;
    }
    let whole = bytes[..digits].iter().fold(0i128, |number, digit| {
        number * 10 + i128::from(digit - b'0')
    });
    let nanos_per: i128 = match &text[digits..] {
        "" => NANOS_PER_UNIT,
        "m" => NANOS_PER_UNIT / 1_000,
        "k" => NANOS_PER_UNIT * 1_000,
        "M" => NANOS_PER_UNIT * 1_000_000,
        "G" => NANOS_PER_UNIT * 1_000_000_000,
        "Ki" => NANOS_PER_UNIT << 10,
        "Mi" => NANOS_PER_UNIT << 20,
        "Gi" => NANOS_PER_UNIT << 30,
        "Ti" => NANOS_PER_UNIT << 40,
        _ => return None,
    };
    let nanos = whole.checked_mul(nanos_per)?;
    (nanos < SATURATION_NANOS).then_some(Quantity { nanos })
}

/// 10^29 units in nano-units: quantities this large saturate.
const SATURATION_NANOS: i128 = 10i128.pow(38);

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

    proptest::proptest! {
        #[test]
        fn the_plain_reading_is_the_general_one(text in "0{0,3}[0-9]{1,19}(m|k|M|G|Ki|Mi|Gi|Ti|n|E|Pi|e3)?") {
            let plain = parse_plain(&text);
            if plain.is_some() {
                proptest::prop_assert_eq!(plain, parse_general(&text));
            }
        }
    }

    #[test]
    fn plain_quantities_take_the_plain_reading() {
        for text in ["2", "500m", "4Gi", "128Mi", "0", "1k"] {
            assert!(parse_plain(text).is_some(), "{text}");
            assert_eq!(parse_plain(text), parse_general(text), "{text}");
        }
        for text in ["1.5", "-1", "+1", "1e3", "2Pi", "", "Gi", "1 Gi"] {
            assert!(parse_plain(text).is_none(), "{text}");
        }
        // Near saturation the general path decides.
        assert!(parse_plain("999999999999999999Ti").is_none());
        assert_eq!(
            q("999999999999999999Ti"),
            q("99999999999999999999999999999999")
        );
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
            "", "4 Gi", "4gi", "4GB", "1..2", "m", "1e", "1Kii", "abc", ".", "1e1.5", "1Ki5",
            "1m3", "0x10", " 1", "1 ", "+.", "1e+", "1ei", "1EI", "--1", "1k2", "e3",
        ] {
            assert!(
                bad.parse::<Quantity>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn accepts_everything_kubernetes_accepts() {
        assert_eq!(q("1Ei"), q("1024Pi"));
        assert_eq!(q("1e+3"), q("1k"));
        assert_eq!(q("1E-3"), q("1m"));
        assert_eq!(q("1.5e3"), q("1500"));
        assert_eq!(q("-"), Quantity::ZERO);
        assert_eq!(q("+"), Quantity::ZERO);
        assert_eq!(q("000.000"), Quantity::ZERO);
        // Valid, far beyond anything a spec means: it saturates instead of failing.
        assert!(q("1e99") > q("1000000Ei"));
        assert!(q("123456789012345678901234567890123456789012") > q("1e28"));
        // Below a nano-unit, Kubernetes rounds up.
        assert_eq!(q("1e-30"), q("1n"));
        assert_eq!(q("0.0000000001"), q("1n"));
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
