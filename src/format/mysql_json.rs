//! MySQL's binary JSON (the JSON column type) rendered as Maxwell embeds it.
//!
//! Maxwell writes the text that its binlog library's `JsonStringFormatter` produces, raw,
//! into `data`/`old`. Its rules, reproduced here:
//! - compact;
//! - object keys in storage order, which MySQL sorts by length, then bytes;
//! - strings escaped like Jackson;
//! - integers plain;
//! - doubles by `Double.toString`, unless that uses an exponent, and then the exact decimal
//!   expansion (`BigDecimal(double).toPlainString()`);
//! - opaque DECIMAL plain with its scale;
//! - DATE, TIME and DATETIME as strings, with the fraction's trailing zeros trimmed;
//! - any other opaque value as base64.
//!
//! The packed-temporal arithmetic copies the library's integer operations exactly,
//! including the way they lose the sign of negative times.
//!
//! The structure is read with `mysql_common`'s jsonb reader; this module only writes text.

use std::io;

use mysql_common::binlog::jsonb::{ComplexValue, Object, StorageFormat, Value};
use mysql_common::constants::ColumnType as WireType;
use mysql_common::io::ParseBuf;

use super::json::{write_base64, write_int, write_str_raw_unicode as write_str};
use super::number::{write_decimal_plain, write_f64};

/// Appends the JSON text for a binary JSON document; an empty document is `null`.
pub fn write_mysql_json(out: &mut Vec<u8>, doc: &[u8]) -> io::Result<()> {
    if doc.is_empty() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let value: Value<'_> = ParseBuf(doc).parse(())?;
    write_node(out, &value, 0)
}

/// The document as a filter's column rule compares it: a document that is one string (or
/// one date, time or binary opaque value, which render as strings) is its characters;
/// anything else is its JSON text, as [`write_mysql_json`] writes it.
pub fn write_mysql_json_text(out: &mut Vec<u8>, doc: &[u8]) -> io::Result<()> {
    if doc.is_empty() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let value: Value<'_> = ParseBuf(doc).parse(())?;
    match &value {
        Value::String(s) => out.extend_from_slice(s.str().as_bytes()),
        Value::Opaque(_) => {
            let start = out.len();
            write_node(out, &value, 0)?;
            // Dates, times and base64 hold nothing JSON escapes: the quotes are all.
            if out.get(start) == Some(&b'"') && out.len() >= start + 2 {
                out.pop();
                out.remove(start);
            }
        }
        _ => write_node(out, &value, 0)?,
    }
    Ok(())
}

/// MySQL refuses documents nested deeper than 100 levels; anything deeper is not from it,
/// and the limit keeps recursion bounded.
pub(super) const MAX_DEPTH: usize = 100;

/// Appends the JSON text for one parsed value (of any kind).
pub(super) fn write_jsonb_value(out: &mut Vec<u8>, value: &Value<'_>) -> io::Result<()> {
    write_node(out, value, 0)
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn write_node(out: &mut Vec<u8>, value: &Value<'_>, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(invalid("JSON document nested deeper than MySQL allows"));
    }
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::I16(v) => write_int(out, *v),
        Value::U16(v) => write_int(out, *v),
        Value::I32(v) => write_int(out, *v),
        Value::U32(v) => write_int(out, *v),
        Value::I64(v) => write_int(out, *v),
        Value::U64(v) => write_int(out, *v),
        Value::F64(v) => write_json_double(out, *v)?,
        Value::String(s) => write_str(out, &s.str()),
        Value::SmallArray(a) => write_array(out, a.iter(), depth)?,
        Value::LargeArray(a) => write_array(out, a.iter(), depth)?,
        Value::SmallObject(o) => write_object(out, o, depth)?,
        Value::LargeObject(o) => write_object(out, o, depth)?,
        Value::Opaque(o) => write_opaque(out, o.value_type(), o.data_raw())?,
    }
    Ok(())
}

fn write_array<'a>(
    out: &mut Vec<u8>,
    elements: impl Iterator<Item = io::Result<Value<'a>>>,
    depth: usize,
) -> io::Result<()> {
    out.push(b'[');
    for (i, element) in elements.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_node(out, &element?, depth + 1)?;
    }
    out.push(b']');
    Ok(())
}

fn write_object<T: StorageFormat>(
    out: &mut Vec<u8>,
    object: &ComplexValue<'_, T, Object>,
    depth: usize,
) -> io::Result<()> {
    out.push(b'{');
    for (i, entry) in object.iter().enumerate() {
        let (key, value) = entry?;
        if i > 0 {
            out.push(b',');
        }
        write_str(out, &key.value());
        out.push(b':');
        write_node(out, &value, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

/// `Double.toString`, or the exact expansion when that would use an exponent.
fn write_json_double(out: &mut Vec<u8>, v: f64) -> io::Result<()> {
    if !v.is_finite() {
        return Err(invalid("JSON document holds a NaN or infinite number"));
    }
    let start = out.len();
    write_f64(out, v);
    if !out[start..].contains(&b'E') {
        return Ok(());
    }
    out.truncate(start);
    // Rust prints the exact binary value with enough digits; 1074 covers every double.
    let exact = format!("{v:.1074}");
    let trimmed = exact.trim_end_matches('0').trim_end_matches('.');
    out.extend_from_slice(trimmed.as_bytes());
    Ok(())
}

fn write_opaque(out: &mut Vec<u8>, ty: WireType, data: &[u8]) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "truncated JSON opaque value");
    match ty {
        WireType::MYSQL_TYPE_DECIMAL | WireType::MYSQL_TYPE_NEWDECIMAL => {
            let (&precision, rest) = data.split_first().ok_or_else(bad)?;
            let (&scale, bin) = rest.split_first().ok_or_else(bad)?;
            if !write_decimal_plain(out, bin, precision, scale) {
                return Err(bad());
            }
        }
        WireType::MYSQL_TYPE_DATE | WireType::MYSQL_TYPE_NEWDATE => {
            let raw = packed(data).ok_or_else(bad)?;
            let value = raw >> 24;
            let year_month = ((value >> 22) as i32) % (1 << 17);
            let day = ((value >> 17) as i32) % (1 << 5);
            out.push(b'"');
            write_json_date(out, year_month / 13, year_month % 13, day);
            out.push(b'"');
        }
        WireType::MYSQL_TYPE_TIME | WireType::MYSQL_TYPE_TIME2 => {
            let raw = packed(data).ok_or_else(bad)?;
            let value = raw >> 24;
            let mut hour = ((value >> 12) as i32) % (1 << 10);
            let minute = ((value >> 6) as i32) % (1 << 6);
            let second = (value as i32) % (1 << 6);
            if value < 0 {
                hour = -hour;
            }
            let micros = (raw % (1 << 24)) as i32;
            out.push(b'"');
            if hour < 0 {
                out.push(b'-');
            }
            write_json_time(out, hour.abs(), minute, second, micros);
            out.push(b'"');
        }
        WireType::MYSQL_TYPE_DATETIME
        | WireType::MYSQL_TYPE_DATETIME2
        | WireType::MYSQL_TYPE_TIMESTAMP
        | WireType::MYSQL_TYPE_TIMESTAMP2 => {
            let raw = packed(data).ok_or_else(bad)?;
            let value = raw >> 24;
            let year_month = ((value >> 22) as i32) % (1 << 17);
            let day = ((value >> 17) as i32) % (1 << 5);
            let hour = ((value >> 12) as i32) % (1 << 5);
            let minute = ((value >> 6) as i32) % (1 << 6);
            let second = (value % (1 << 6)) as i32;
            let micros = (raw % (1 << 24)) as i32;
            out.push(b'"');
            write_json_date(out, year_month / 13, year_month % 13, day);
            out.push(b' ');
            write_json_time(out, hour, minute, second, micros);
            out.push(b'"');
        }
        _ => write_base64(out, data),
    }
    Ok(())
}

fn packed(data: &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(data.get(..8)?.try_into().ok()?))
}

/// The binlog library's `appendTwoDigitUnsignedInt`/`appendFourDigitUnsignedInt`: zeros
/// in front by comparing the value with 10, 100, 1000, which pads negative values too
/// (`-3` → `0-3`), then Java's `append(int)`.
fn write_padded_java(out: &mut Vec<u8>, value: i32, width: usize) {
    let pad = match width {
        2 => usize::from(value < 10),
        _ if value < 10 => 3,
        _ if value < 100 => 2,
        _ if value < 1000 => 1,
        _ => 0,
    };
    out.extend(std::iter::repeat_n(b'0', pad));
    write_int(out, value);
}

fn write_json_date(out: &mut Vec<u8>, year: i32, month: i32, day: i32) {
    if year < 0 {
        out.push(b'-');
    }
    write_padded_java(out, year.abs(), 4);
    out.push(b'-');
    write_padded_java(out, month, 2);
    out.push(b'-');
    write_padded_java(out, day, 2);
}

fn write_json_time(out: &mut Vec<u8>, hour: i32, minute: i32, second: i32, micros: i32) {
    write_padded_java(out, hour, 2);
    out.push(b':');
    write_padded_java(out, minute, 2);
    out.push(b':');
    write_padded_java(out, second, 2);
    if micros != 0 {
        out.push(b'.');
        // Pad to six digits, then drop trailing zeros.
        let mut v = micros;
        let pad = match v {
            v if v < 10 => 5,
            v if v < 100 => 4,
            v if v < 1000 => 3,
            v if v < 10_000 => 2,
            v if v < 100_000 => 1,
            _ => 0,
        };
        out.extend(std::iter::repeat_n(b'0', pad));
        for _ in 0..6 {
            if v % 10 == 0 {
                v /= 10;
            }
        }
        write_int(out, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(doc: &[u8]) -> String {
        let mut out = Vec::new();
        write_mysql_json(&mut out, doc).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A small object `{"a": <int16 1>, "bb": "x"}` in MySQL's binary layout.
    fn small_object() -> Vec<u8> {
        let mut d = vec![0x00]; // small object
        // element count 2, size placeholder
        let mut body = vec![2, 0, 0, 0];
        // key entries: offset(2) + length(2) each; keys start after header
        let header = 4 + 2 * 4 + 2 * 3; // counts + key entries + value entries
        let key_a = header as u16;
        let key_bb = key_a + 1;
        body.extend(key_a.to_le_bytes());
        body.extend(1u16.to_le_bytes());
        body.extend(key_bb.to_le_bytes());
        body.extend(2u16.to_le_bytes());
        // value entries: type(1) + offset/inline(2)
        body.push(0x05); // int16, inlined
        body.extend(1u16.to_le_bytes());
        body.push(0x0c); // string at offset
        let string_at = key_bb + 2;
        body.extend(string_at.to_le_bytes());
        body.extend(b"abb");
        body.extend([1, b'x']);
        let size = body.len() as u16;
        body[2..4].copy_from_slice(&size.to_le_bytes());
        d.extend(body);
        d
    }

    #[test]
    fn objects_keep_storage_order_and_compact_form() {
        assert_eq!(render(&small_object()), r#"{"a":1,"bb":"x"}"#);
        assert_eq!(render(&[]), "null");
    }

    #[test]
    fn doubles_avoid_exponents_like_the_binlog_library() {
        let text = |v: f64| {
            let mut out = Vec::new();
            write_json_double(&mut out, v).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(1.5), "1.5");
        assert_eq!(text(1.0e7), "10000000");
        assert_eq!(text(1.0e20), "100000000000000000000");
        assert_eq!(
            text(1.0e-4),
            "0.000100000000000000004792173602385929598312941379845142364501953125"
        );
    }

    #[test]
    fn negative_time_parts_are_padded_like_the_java_code() {
        let mut out = Vec::new();
        write_json_time(&mut out, 2, -3, -3, 0);
        assert_eq!(out, b"02:0-3:0-3");
        let mut out = Vec::new();
        assert!(write_json_double(&mut out, f64::NAN).is_err());
    }

    #[test]
    fn json_times_trim_fraction_zeros() {
        let mut out = Vec::new();
        write_json_time(&mut out, 1, 2, 3, 120_000);
        assert_eq!(out, b"01:02:03.12");
        out.clear();
        write_json_time(&mut out, 1, 2, 3, 5_000);
        assert_eq!(out, b"01:02:03.005");
    }
}
