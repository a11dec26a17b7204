//! Numbers as Java prints them, because Maxwell's output is whatever Java's `toString`
//! gives: `Double.toString`/`Float.toString` for FLOAT and DOUBLE, `BigDecimal.toString`
//! for DECIMAL.

/// Appends a double the way Java's `Double.toString` does: the shortest digits that read
/// back to the same value, plain between 10^-3 and 10^7 (`5.0`, `0.001`), otherwise
/// computerised scientific notation (`1.0E7`, `1.0E-4`).
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if let Some(special) = non_finite(v) {
        out.extend_from_slice(special);
        return;
    }
    let mut buffer = zmij::Buffer::new();
    write_java_layout(out, buffer.format_finite(v), v.abs());
}

/// Appends a float the way Java's `Float.toString` does (shortest digits for `f32`).
pub fn write_f32(out: &mut Vec<u8>, v: f32) {
    if let Some(special) = non_finite(f64::from(v)) {
        out.extend_from_slice(special);
        return;
    }
    let mut buffer = zmij::Buffer::new();
    write_java_layout(out, buffer.format_finite(v), f64::from(v.abs()));
}

/// Writes zmij's shortest text of a finite number in Java's layout. Between 10^-3 and 10^7
/// (and for zero) Java prints plain decimals with at least one fraction digit, which is what
/// zmij prints there too when it does not use an exponent; anything else is re-laid out.
fn write_java_layout(out: &mut Vec<u8>, text: &str, magnitude: f64) {
    let plain = magnitude == 0.0 || (1e-3..1e7).contains(&magnitude);
    if plain && text.contains('.') && !text.contains('e') {
        out.extend_from_slice(text.as_bytes());
    } else {
        Digits::parse(text.as_bytes()).write_java(out);
    }
}

/// NaN and the infinities (which MySQL does not store, but bytes can say) come out as
/// Jackson writes them: the quoted strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn non_finite(v: f64) -> Option<&'static [u8]> {
    if v.is_nan() {
        Some(b"\"NaN\"")
    } else if v.is_infinite() {
        Some(if v > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        })
    } else {
        None
    }
}

/// The shortest round-trip digits of `v`: sign, digits (no leading zeros, at least one),
/// and the decimal exponent of the first digit (`123.4` → `("1234", 2)`).
pub fn shortest_digits(v: f64) -> (bool, Vec<u8>, i64) {
    let mut buffer = zmij::Buffer::new();
    let d = Digits::parse(buffer.format(v).as_bytes());
    (d.negative, d.digits().to_vec(), i64::from(d.exponent))
}

/// A finite number's significant digits and the decimal exponent of the first one, read
/// from the shortest round-trip text zmij prints (`-1234.5`, `1e-7`, `1.5e+16`).
struct Digits {
    negative: bool,
    buf: [u8; 40],
    len: usize,
    exponent: i32,
}

impl Digits {
    fn parse(text: &[u8]) -> Self {
        let (negative, text) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let e_at = text
            .iter()
            .position(|&b| b == b'e' || b == b'E')
            .unwrap_or(text.len());
        let (mantissa, exp) = text.split_at(e_at);
        let exp = exp.get(1..).unwrap_or_default();
        let exp = exp.strip_prefix(b"+").unwrap_or(exp);
        let exp: i32 = std::str::from_utf8(exp)
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        let point = mantissa
            .iter()
            .position(|&b| b == b'.')
            .unwrap_or(mantissa.len());
        let mut d = Digits {
            negative,
            buf: [0; 40],
            len: 0,
            exponent: 0,
        };
        // Index (among all the mantissa's digits) of the first significant one.
        let mut first = None;
        for (n, &b) in mantissa.iter().filter(|b| b.is_ascii_digit()).enumerate() {
            if first.is_none() && b != b'0' {
                first = Some(n);
            }
            if first.is_some() && d.len < d.buf.len() {
                d.buf[d.len] = b;
                d.len += 1;
            }
        }
        while d.len > 1 && d.buf[d.len - 1] == b'0' {
            d.len -= 1;
        }
        match first {
            Some(first) => d.exponent = exp + point as i32 - 1 - first as i32,
            None => {
                d.buf[0] = b'0';
                d.len = 1;
            }
        }
        d
    }

    fn digits(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes the number in Java's `Double.toString` layout.
    fn write_java(&self, out: &mut Vec<u8>) {
        let digits = self.digits();
        let exp = self.exponent;
        if self.negative {
            out.push(b'-');
        }
        if digits == b"0" {
            out.extend_from_slice(b"0.0");
            return;
        }
        if (-3..7).contains(&exp) {
            if exp >= 0 {
                let int_len = exp as usize + 1;
                for i in 0..int_len {
                    out.push(*digits.get(i).unwrap_or(&b'0'));
                }
                out.push(b'.');
                match digits.get(int_len..) {
                    Some(frac) if !frac.is_empty() => out.extend_from_slice(frac),
                    _ => out.push(b'0'),
                }
            } else {
                out.extend_from_slice(b"0.");
                out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
                out.extend_from_slice(digits);
            }
        } else {
            out.push(digits[0]);
            out.push(b'.');
            match digits.get(1..) {
                Some(frac) if !frac.is_empty() => out.extend_from_slice(frac),
                _ => out.push(b'0'),
            }
            out.push(b'E');
            out.extend_from_slice(itoa::Buffer::new().format(exp).as_bytes());
        }
    }
}

/// Appends a MySQL binary DECIMAL(precision, scale) as Java's `BigDecimal.toString` prints
/// it: the column's scale kept (`123.4500`), scientific notation when the adjusted exponent
/// is below -6 (`0E-10`, `1.000E-7`). Returns `false` if the bytes are not a valid decimal.
pub fn write_decimal(out: &mut Vec<u8>, bin: &[u8], precision: u8, scale: u8) -> bool {
    write_decimal_as(out, bin, precision, scale, false)
}

/// Like [`write_decimal`] but as `BigDecimal.toPlainString` prints it: never scientific
/// notation (`0.0000000000`). Used for decimals inside JSON documents.
pub fn write_decimal_plain(out: &mut Vec<u8>, bin: &[u8], precision: u8, scale: u8) -> bool {
    write_decimal_as(out, bin, precision, scale, true)
}

fn write_decimal_as(out: &mut Vec<u8>, bin: &[u8], precision: u8, scale: u8, plain: bool) -> bool {
    const DIG_PER_WORD: usize = 9;
    const DIG_TO_BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    let (precision, scale) = (precision as usize, scale as usize);
    if scale > precision {
        return false;
    }
    let intg = precision - scale;
    let (intg_words, intg_left) = (intg / DIG_PER_WORD, intg % DIG_PER_WORD);
    let (frac_words, frac_left) = (scale / DIG_PER_WORD, scale % DIG_PER_WORD);
    let size = DIG_TO_BYTES[intg_left] + intg_words * 4 + frac_words * 4 + DIG_TO_BYTES[frac_left];
    let Some(bin) = bin.get(..size) else {
        return false;
    };
    let Some(&first) = bin.first() else {
        return false;
    };
    // The sign is the top bit (set for positive); negative numbers store every byte inverted.
    let negative = first & 0x80 == 0;
    let mask: u8 = if negative { 0xFF } else { 0 };
    let mut pos = 0usize;
    let mut read = |len: usize| -> Option<u32> {
        let chunk = bin.get(pos..pos + len)?;
        let mut v: u32 = 0;
        for (i, &b) in chunk.iter().enumerate() {
            let b = if pos + i == 0 { b ^ 0x80 } else { b };
            v = (v << 8) | (b ^ mask) as u32;
        }
        pos += len;
        Some(v)
    };

    // Unscaled digits (integer part then fraction) without leading zeros; a decimal has at
    // most 65 digits, so a fixed buffer suffices.
    let mut digits = [0u8; 96];
    let mut n = 0usize;
    let groups = std::iter::once((DIG_TO_BYTES[intg_left], intg_left))
        .chain(std::iter::repeat_n(
            (4, DIG_PER_WORD),
            intg_words + frac_words,
        ))
        .chain(std::iter::once((DIG_TO_BYTES[frac_left], frac_left)));
    for (len, width) in groups {
        if width == 0 {
            continue;
        }
        let Some(v) = read(len) else {
            return false;
        };
        if v >= 10u32.pow(width as u32) {
            return false;
        }
        // Leading zeros are dropped; after the first digit, each group has its full width.
        if n == 0 && v == 0 {
            continue;
        }
        let mut buf = itoa::Buffer::new();
        let text = buf.format(v).as_bytes();
        let pad = if n == 0 { 0 } else { width - text.len() };
        let Some(slots) = digits.get_mut(n..n + pad + text.len()) else {
            return false;
        };
        let (zeros, rest) = slots.split_at_mut(pad);
        zeros.fill(b'0');
        rest.copy_from_slice(text);
        n += pad + text.len();
    }
    let is_zero = n == 0;
    let unscaled: &[u8] = if is_zero { b"0" } else { &digits[..n] };
    if negative && !is_zero {
        out.push(b'-');
    }
    let len = unscaled.len() as i64;
    let adjusted = len - 1 - scale as i64;
    if scale == 0 {
        out.extend_from_slice(unscaled);
    } else if plain || adjusted >= -6 {
        if len > scale as i64 {
            let int_len = (len - scale as i64) as usize;
            out.extend_from_slice(&unscaled[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&unscaled[int_len..]);
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', scale - unscaled.len()));
            out.extend_from_slice(unscaled);
        }
    } else {
        out.push(unscaled[0]);
        if unscaled.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&unscaled[1..]);
        }
        out.push(b'E');
        out.extend_from_slice(itoa::Buffer::new().format(adjusted).as_bytes());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::binlog::decimal::Decimal;

    fn f64s(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn f32s(v: f32) -> String {
        let mut out = Vec::new();
        write_f32(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(f64s(5.0), "5.0");
        assert_eq!(f64s(4.2341), "4.2341");
        assert_eq!(f64s(1.0e7), "1.0E7");
        assert_eq!(f64s(9_999_999.0), "9999999.0");
        assert_eq!(f64s(1.0e-4), "1.0E-4");
        assert_eq!(f64s(0.001), "0.001");
        assert_eq!(f64s(-0.0), "-0.0");
        assert_eq!(f64s(0.0), "0.0");
        assert_eq!(f64s(-123.456), "-123.456");
        assert_eq!(f64s(4_500_000_001.512_457), "4.500000001512457E9");
        assert_eq!(f64s(1.7976931348623157e308), "1.7976931348623157E308");
        assert_eq!(f64s(100.0), "100.0");
    }

    #[test]
    fn non_finite_values_stay_valid_json() {
        assert_eq!(f64s(f64::NAN), "\"NaN\"");
        assert_eq!(f64s(f64::INFINITY), "\"Infinity\"");
        assert_eq!(f32s(f32::NEG_INFINITY), "\"-Infinity\"");
    }

    /// Significant digits of a number in Java's layout (`-1.2345E6` → 5).
    fn significant_digits(text: &str) -> usize {
        let mantissa = text.split('E').next().unwrap_or_default();
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let trimmed = digits.trim_start_matches('0').trim_end_matches('0');
        trimmed.len().max(1)
    }

    #[test]
    fn doubles_and_floats_round_trip_in_the_fewest_digits() {
        let mut rng = fastrand::Rng::with_seed(9);
        let mut values = vec![0.0, -0.0, 1.0, 0.1, 1e7, 9_999_999.0, 1e-3, 9.99e-4, 1e-4];
        values.extend([
            f64::MIN_POSITIVE,
            f64::MAX,
            5e-324,
            123_456_789.0,
            1e22,
            1e23,
        ]);
        values.extend((0..200_000).map(|_| f64::from_bits(rng.u64(..))));
        values.extend((0..50_000).map(|_| rng.i64(-1_000_000..1_000_000) as f64 / 1000.0));
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let text = f64s(v);
            let mut general = Vec::new();
            Digits::parse(zmij::Buffer::new().format_finite(v).as_bytes()).write_java(&mut general);
            assert_eq!(text.as_bytes(), general, "double {v:e}: plain shortcut");
            let back: f64 = text.parse().unwrap();
            assert_eq!(
                back.to_bits(),
                v.to_bits(),
                "double {v:e} printed as {text}"
            );
            // The standard library's `{:e}` is also shortest: same number of digits.
            let std_digits = significant_digits(&format!("{v:e}").replace('e', "E"));
            assert_eq!(
                significant_digits(&text),
                std_digits,
                "double {v:e}: {text}"
            );
            check_f32(v as f32);
        }
        // Floats from their own bits too: `v as f32` of random doubles is mostly 0 or inf.
        for _ in 0..200_000 {
            check_f32(f32::from_bits(rng.u32(..)));
        }
    }

    fn check_f32(f: f32) {
        if !f.is_finite() {
            return;
        }
        let text = f32s(f);
        let mut general = Vec::new();
        Digits::parse(zmij::Buffer::new().format_finite(f).as_bytes()).write_java(&mut general);
        assert_eq!(text.as_bytes(), general, "float {f:e}: plain shortcut");
        let back: f32 = text.parse().unwrap();
        assert_eq!(back.to_bits(), f.to_bits(), "float {f:e} printed as {text}");
        let std_digits = significant_digits(&format!("{f:e}").replace('e', "E"));
        assert_eq!(significant_digits(&text), std_digits, "float {f:e}: {text}");
    }

    #[test]
    fn ties_between_shortest_candidates_go_to_the_even_digit_as_in_java() {
        // The float 1115887.25 exactly: 1115887.2 and 1115887.3 both read back to it, and
        // JDK 17 prints the first.
        let tie = f32::from_bits(0x4988_377a);
        assert_eq!(f64::from(tie), 1_115_887.25);
        assert_eq!(f32s(tie), "1115887.2");
    }

    #[test]
    fn shortest_digits_split_sign_digits_and_exponent() {
        assert_eq!(shortest_digits(123.4), (false, b"1234".to_vec(), 2));
        assert_eq!(shortest_digits(-0.00125), (true, b"125".to_vec(), -3));
        assert_eq!(shortest_digits(1e300), (false, b"1".to_vec(), 300));
        assert_eq!(shortest_digits(0.0), (false, b"0".to_vec(), 0));
    }

    #[test]
    fn floats_print_like_java() {
        assert_eq!(f32s(1.1), "1.1");
        assert_eq!(f32s(1.0e7), "1.0E7");
        assert_eq!(f32s(3.402_823_5e38), "3.4028235E38");
        assert_eq!(f32s(0.5), "0.5");
    }

    /// Encodes `text` with mysql_common's encoder (precision = its own digits, as the
    /// server would for a column of exactly that shape), then renders it.
    fn dec(text: &str) -> String {
        let d = Decimal::parse_str_bytes(text.as_bytes()).unwrap();
        let mut bin = Vec::new();
        d.write_bin(&mut bin).unwrap();
        let unsigned = text.trim_start_matches('-');
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let scale = frac.len();
        let _ = int;
        // The encoder picks its own integer width; find the precision that matches it.
        let precision = (scale.max(1)..=65)
            .rev()
            .find(|&p| mysql_common::binlog::decimal::decimal_bin_size(p, scale) == bin.len())
            .unwrap();
        let mut out = Vec::new();
        assert!(
            write_decimal(&mut out, &bin, precision as u8, scale as u8),
            "{text} did not decode"
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimals_print_like_bigdecimal() {
        assert_eq!(dec("123.4500"), "123.4500");
        assert_eq!(dec("-123.4500"), "-123.4500");
        assert_eq!(dec("0.00"), "0.00");
        assert_eq!(dec("0.0000000000"), "0E-10");
        assert_eq!(dec("0.0000001000"), "1.000E-7");
        assert_eq!(dec("0.0000010000"), "0.0000010000");
        assert_eq!(
            dec("12345678901234567890.123456789"),
            "12345678901234567890.123456789"
        );
        assert_eq!(dec("-0.5"), "-0.5");
        assert_eq!(dec("42"), "42");
        assert_eq!(dec("0.05"), "0.05");
    }

    #[test]
    fn random_decimals_keep_every_digit() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..20_000 {
            let int_len = rng.usize(0..=35);
            let scale = rng.usize(0..=30);
            let digit = |rng: &mut fastrand::Rng| char::from(b'0' + rng.u8(0..10));
            let int: String = (0..int_len).map(|_| digit(&mut rng)).collect();
            let frac: String = (0..scale).map(|_| digit(&mut rng)).collect();
            let negative = rng.bool();
            let int_shown = match int.trim_start_matches('0') {
                "" => "0",
                digits => digits,
            };
            let is_zero = int_shown == "0" && frac.bytes().all(|b| b == b'0');
            let sign = if negative && !is_zero { "-" } else { "" };
            let expected = if scale == 0 {
                format!("{sign}{int_shown}")
            } else {
                format!("{sign}{int_shown}.{frac}")
            };
            let int = if int.is_empty() { "0".to_string() } else { int };
            let text = if scale == 0 {
                format!("{}{int}", if negative { "-" } else { "" })
            } else {
                format!("{}{int}.{frac}", if negative { "-" } else { "" })
            };
            let d = Decimal::parse_str_bytes(text.as_bytes()).unwrap();
            let mut bin = Vec::new();
            d.write_bin(&mut bin).unwrap();
            let precision = (scale.max(1)..=65)
                .rev()
                .find(|&p| mysql_common::binlog::decimal::decimal_bin_size(p, scale) == bin.len())
                .unwrap();
            let mut out = Vec::new();
            assert!(write_decimal_plain(
                &mut out,
                &bin,
                precision as u8,
                scale as u8
            ));
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn plain_decimals_never_use_exponents() {
        let d = Decimal::parse_str_bytes(b"0.0000000000").unwrap();
        let mut bin = Vec::new();
        d.write_bin(&mut bin).unwrap();
        let mut out = Vec::new();
        assert!(write_decimal_plain(&mut out, &bin, 10, 10));
        assert_eq!(out, b"0.0000000000");
    }

    #[test]
    fn truncated_decimals_are_rejected() {
        assert!(!write_decimal(&mut Vec::new(), &[0x80], 10, 2));
        assert!(!write_decimal(&mut Vec::new(), &[], 1, 0));
    }
}
