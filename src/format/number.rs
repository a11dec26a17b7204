//! Numbers as Java prints them, because Maxwell's output is whatever Java's `toString`
//! gives: `Double.toString`/`Float.toString` for FLOAT and DOUBLE, `BigDecimal.toString`
//! for DECIMAL.

use std::io::Write;

/// Appends a double the way Java's `Double.toString` does: the shortest digits that read
/// back to the same value, plain between 10^-3 and 10^7 (`5.0`, `0.001`), otherwise
/// computerised scientific notation (`1.0E7`, `1.0E-4`).
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    write_shortest(out, v);
}

/// Appends a float the way Java's `Float.toString` does (shortest digits for `f32`).
pub fn write_f32(out: &mut Vec<u8>, v: f32) {
    write_shortest(out, v);
}

/// Formats with Rust's shortest round-trip `{:e}` into a stack buffer, then re-lays it out.
/// NaN and the infinities (which MySQL does not store, but bytes can say) come out as
/// Jackson writes them: the quoted strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn write_shortest(out: &mut Vec<u8>, v: impl std::fmt::LowerExp + Into<f64> + Copy) {
    let wide: f64 = v.into();
    if wide.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
        return;
    }
    if wide.is_infinite() {
        out.extend_from_slice(if wide > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
        return;
    }
    let mut sci = [0u8; 40];
    let len = {
        let mut cursor = std::io::Cursor::new(&mut sci[..]);
        let _ = write!(cursor, "{v:e}");
        cursor.position() as usize
    };
    write_java_style(out, &sci[..len]);
}

/// The shortest round-trip digits of `v`: sign, digits (no leading zeros, at least one),
/// and the decimal exponent of the first digit (`123.4` → `("1234", 2)`).
pub fn shortest_digits(v: f64) -> (bool, Vec<u8>, i64) {
    let text = format!("{v:e}");
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let digits = if digits.is_empty() {
        vec![b'0']
    } else {
        digits
    };
    (negative, digits, exp.parse().unwrap_or(0))
}

/// Rewrites Rust's shortest scientific form (`-1.2345e6`) in Java's layout.
fn write_java_style(out: &mut Vec<u8>, sci: &[u8]) {
    let (negative, sci) = match sci.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, sci),
    };
    let e_at = sci.iter().position(|&b| b == b'e').unwrap_or(sci.len());
    let (mantissa, exp) = sci.split_at(e_at);
    let exp: i32 = std::str::from_utf8(exp.get(1..).unwrap_or_default())
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut n = 0;
    for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    let digits = &digits[..n.max(1)];
    if negative {
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
        let mut buf = [b'0'; DIG_PER_WORD];
        let mut x = v;
        for slot in buf[..width].iter_mut().rev() {
            *slot = b'0' + (x % 10) as u8;
            x /= 10;
        }
        for &d in &buf[..width] {
            if n == 0 && d == b'0' {
                continue;
            }
            if let Some(slot) = digits.get_mut(n) {
                *slot = d;
                n += 1;
            }
        }
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
