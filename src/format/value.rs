//! One column value as Maxwell renders it in `data` and `old`.

use super::json::{write_base64, write_base64_text, write_int, write_str};
use super::number::{write_decimal, write_f32, write_f64};
use crate::decode::{Time, Value, decode_value};
use crate::table::{Charset, Column};

/// Why a value could not be rendered; the caller adds table and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderError {
    /// The bytes are not a valid value of the column's type.
    BadValue,
    /// The type is not rendered by this version.
    UnsupportedType,
    /// The column's charset is not decoded by this version.
    UnsupportedCharset,
    /// An ENUM/SET value arrived but neither the binlog nor the schema gave its labels.
    NoLabels,
}

/// Appends the JSON for one non-null binlog value of `column`. Returns `true` when what it
/// wrote is `null` (an ENUM's invalid value, a zero date under `null_zerodates`).
///
/// `raw` is one value as [`crate::decode::read_image`] cut it from the row image, so its
/// length already matches the column's type and is not checked again here. Whatever the
/// bytes, nothing is read past the slice, and a string whose length prefix disagrees with
/// the slice is [`RenderError::BadValue`].
pub fn write_value(
    out: &mut Vec<u8>,
    column: &Column,
    raw: &[u8],
    null_zerodates: bool,
) -> Result<bool, RenderError> {
    write::<true>(out, column, raw, null_zerodates)
}

/// Appends one non-null value as text, the way a filter's column rule compares it: what
/// [`write_value`] writes, except that a value published as a JSON string (text, a date,
/// an ENUM label, base64 of binary bytes, a geometry's WKT, a JSON document that is one
/// string) is its own characters, without quotes or escapes. Numbers, SETs and other JSON
/// documents are their JSON text. Returns `true` for `null`.
pub fn write_text(out: &mut Vec<u8>, column: &Column, raw: &[u8]) -> Result<bool, RenderError> {
    write::<false>(out, column, raw, false)
}

/// [`write_value`] (`JSON`) or [`write_text`] (not `JSON`): one code path, so a filter
/// compares exactly what is published.
fn write<const JSON: bool>(
    out: &mut Vec<u8>,
    column: &Column,
    raw: &[u8],
    null_zerodates: bool,
) -> Result<bool, RenderError> {
    let quote = |out: &mut Vec<u8>| {
        if JSON {
            out.push(b'"');
        }
    };
    let string = |out: &mut Vec<u8>, text: &str| {
        if JSON {
            write_str(out, text);
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    };
    if !is_rendered(column) {
        return Err(RenderError::UnsupportedType);
    }
    let value = decode_value(column.ty, column.unsigned, raw).ok_or(RenderError::BadValue)?;
    match value {
        Value::Int(v) => write_int(out, v),
        Value::UInt(v) => write_int(out, v),
        Value::Float(v) => write_f32(out, v),
        Value::Double(v) => write_f64(out, v),
        Value::Decimal {
            bin,
            precision,
            scale,
        } => {
            if !write_decimal(out, bin, precision, scale) {
                return Err(RenderError::BadValue);
            }
        }
        Value::Year(y) => write_int(out, y),
        Value::Bit(v) => write_int(out, v),
        Value::Date { year, month, day } => {
            // The binlog reader Maxwell uses treats any zero part as an invalid date.
            let zero = year == 0 || month == 0 || day == 0;
            if zero && null_zerodates {
                out.extend_from_slice(b"null");
                return Ok(true);
            }
            quote(out);
            if zero {
                write_date(out, 0, 0, 0);
            } else {
                write_date(out, year, month, day);
            }
            quote(out);
        }
        Value::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
            fsp,
        } => {
            let zero = year == 0 || month == 0 || day == 0;
            if zero && null_zerodates {
                out.extend_from_slice(b"null");
                return Ok(true);
            }
            quote(out);
            if zero {
                // Maxwell prints any invalid or zero DATETIME as the all-zero value.
                write_date(out, 0, 0, 0);
                out.push(b' ');
                write_clock(out, 0, 0, 0);
                write_fraction(out, 0, fsp);
            } else {
                write_date(out, year, month, day);
                out.push(b' ');
                write_clock(out, hour as u32, minute, second);
                write_fraction(out, micros, fsp);
            }
            quote(out);
        }
        Value::Timestamp {
            seconds,
            micros,
            fsp,
        } => {
            if seconds == 0 && null_zerodates {
                out.extend_from_slice(b"null");
                return Ok(true);
            }
            quote(out);
            if seconds == 0 {
                write_date(out, 0, 0, 0);
                out.push(b' ');
                write_clock(out, 0, 0, 0);
                write_fraction(out, 0, fsp);
            } else {
                let t = time::OffsetDateTime::from_unix_timestamp(seconds as i64)
                    .map_err(|_| RenderError::BadValue)?;
                write_date(out, t.year() as u16, t.month() as u8, t.day());
                out.push(b' ');
                write_clock(out, t.hour() as u32, t.minute(), t.second());
                write_fraction(out, micros, fsp);
            }
            quote(out);
        }
        Value::Time { time, fsp } => {
            quote(out);
            write_time(out, time, fsp);
            quote(out);
        }
        Value::Enum(0) => {
            out.extend_from_slice(b"null");
            return Ok(true);
        }
        Value::Enum(index) => {
            let labels = column.labels.as_deref().ok_or(RenderError::NoLabels)?;
            let label = labels
                .get(index as usize - 1)
                .ok_or(RenderError::BadValue)?;
            string(out, label);
        }
        Value::Set(bits) => {
            let labels = column.labels.as_deref().ok_or(RenderError::NoLabels)?;
            if labels.len() < 64 && bits >> labels.len() != 0 {
                return Err(RenderError::BadValue);
            }
            out.push(b'[');
            let mut first = true;
            for (i, label) in labels.iter().enumerate().take(64) {
                if bits & (1 << i) != 0 {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    write_str(out, label);
                }
            }
            out.push(b']');
        }
        Value::Geometry(value) => if JSON {
            super::geometry::write_geometry(out, value)
        } else {
            super::geometry::write_geometry_text(out, value)
        }
        .map_err(|_| RenderError::BadValue)?,
        Value::Json(doc) => if JSON {
            super::mysql_json::write_mysql_json(out, doc)
        } else {
            super::mysql_json::write_mysql_json_text(out, doc)
        }
        .map_err(|_| RenderError::BadValue)?,
        Value::Text(bytes) if column.json_text && column.charset != Charset::Binary => {
            return write_json_text::<JSON>(out, &column.charset, bytes);
        }
        Value::Text(bytes) => match &column.charset {
            Charset::Binary if JSON => write_base64(out, bytes),
            Charset::Binary => write_base64_text(out, bytes),
            charset => {
                let text = charset
                    .decode(bytes)
                    .ok_or(RenderError::UnsupportedCharset)?;
                string(out, &text);
            }
        },
    }
    Ok(false)
}

/// MariaDB's JSON (text the schema says holds JSON): embedded as stored, the way Maxwell
/// writes it raw, whitespace and key order kept. Empty text is `null`, as in Maxwell.
/// Text that is not JSON (possible only with the column's check turned off) would make
/// Maxwell's message unreadable, or stop it; it is published as a JSON string instead, so
/// the message stays valid and nothing is lost (`docs/format.md`). Returns `true` for
/// `null`.
fn write_json_text<const JSON: bool>(
    out: &mut Vec<u8>,
    charset: &Charset,
    bytes: &[u8],
) -> Result<bool, RenderError> {
    if bytes.is_empty() {
        out.extend_from_slice(b"null");
        return Ok(true);
    }
    let text = charset
        .decode(bytes)
        .ok_or(RenderError::UnsupportedCharset)?;
    let is_json = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
    match (JSON, is_json) {
        (true, true) => out.extend_from_slice(text.as_bytes()),
        (true, false) => write_str(out, &text),
        // A filter compares a document that is one string by its characters, as it does
        // MySQL's JSON.
        (false, true) => match serde_json::from_str::<String>(&text) {
            Ok(string) => out.extend_from_slice(string.as_bytes()),
            Err(_) => out.extend_from_slice(text.as_bytes()),
        },
        (false, false) => out.extend_from_slice(text.as_bytes()),
    }
    Ok(false)
}

/// Whether this version renders values of the column's type.
fn is_rendered(column: &Column) -> bool {
    use crate::table::ColumnType as T;
    !matches!(column.ty, T::Unsupported { .. })
}

/// `v` in decimal, left-padded with zeros to `width` digits (wider values in full).
fn write_padded(out: &mut Vec<u8>, v: u32, width: usize) {
    match width {
        1 if v < 10 => out.extend_from_slice(&fixed_digits::<1>(v)),
        2 if v < 100 => out.extend_from_slice(&fixed_digits::<2>(v)),
        3 if v < 1_000 => out.extend_from_slice(&fixed_digits::<3>(v)),
        4 if v < 10_000 => out.extend_from_slice(&fixed_digits::<4>(v)),
        5 if v < 100_000 => out.extend_from_slice(&fixed_digits::<5>(v)),
        6 if v < 1_000_000 => out.extend_from_slice(&fixed_digits::<6>(v)),
        _ => {
            let mut buf = itoa::Buffer::new();
            let s = buf.format(v);
            out.extend(std::iter::repeat_n(b'0', width.saturating_sub(s.len())));
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// The last `W` decimal digits of `v`, zero-padded: a fixed-size copy for date parts.
fn fixed_digits<const W: usize>(mut v: u32) -> [u8; W] {
    let mut digits = [b'0'; W];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    digits
}

fn write_date(out: &mut Vec<u8>, year: u16, month: u8, day: u8) {
    write_padded(out, year as u32, 4);
    out.push(b'-');
    write_padded(out, month as u32, 2);
    out.push(b'-');
    write_padded(out, day as u32, 2);
}

fn write_clock(out: &mut Vec<u8>, hour: u32, minute: u8, second: u8) {
    write_padded(out, hour, 2);
    out.push(b':');
    write_padded(out, minute as u32, 2);
    out.push(b':');
    write_padded(out, second as u32, 2);
}

/// `.` and exactly `fsp` digits of the fraction; nothing when `fsp` is 0.
fn write_fraction(out: &mut Vec<u8>, micros: u32, fsp: u8) {
    if fsp == 0 {
        return;
    }
    let fsp = fsp.min(6) as u32;
    out.push(b'.');
    write_padded(out, micros / 10u32.pow(6 - fsp), fsp as usize);
}

fn write_time(out: &mut Vec<u8>, t: Time, fsp: u8) {
    if t.negative {
        out.push(b'-');
    }
    write_clock(out, t.hours, t.minutes, t.seconds);
    write_fraction(out, t.micros, fsp);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ColumnType;

    fn col(ty: ColumnType, charset: Charset) -> Column {
        Column {
            name: "c".into(),
            ty,
            unsigned: false,
            charset,
            labels: None,
            json_text: false,
        }
    }

    fn labelled(ty: ColumnType, labels: &[&str]) -> Column {
        Column {
            labels: Some(labels.iter().map(|l| l.to_string()).collect()),
            json_text: false,
            ..col(ty, Charset::Utf8)
        }
    }

    #[test]
    fn the_filters_text_is_the_published_value_without_json_quoting() {
        // What a column rule compares must be what consumers read: for a value published
        // as a JSON string, its characters; for anything else, its JSON text.
        let text_col = col(ColumnType::VarString { prefix: 1 }, Charset::Utf8);
        let latin1 = col(ColumnType::VarString { prefix: 1 }, Charset::LATIN1);
        let binary = col(ColumnType::Blob { prefix: 1 }, Charset::Binary);
        // A one-byte length prefix, then the bytes.
        let lp = |bytes: &[u8]| [&[bytes.len() as u8][..], bytes].concat();
        let cases: Vec<(Column, Vec<u8>)> = vec![
            (text_col.clone(), lp(b"a \"quoted\" \\ line\nnext \x01")),
            (text_col, lp("caf\u{e9} \u{1F600}".as_bytes())),
            (latin1, lp(b"caf\xe9")),
            (binary, lp(b"\x00\xff\"a")),
            (
                col(ColumnType::Long, Charset::Binary),
                (-7i32).to_le_bytes().to_vec(),
            ),
            (
                col(ColumnType::Double, Charset::Binary),
                0.1f64.to_le_bytes().to_vec(),
            ),
            (
                col(ColumnType::Date, Charset::Binary),
                vec![0x21, 0x91, 0x0f],
            ),
            (col(ColumnType::Date, Charset::Binary), vec![0, 0, 0]),
            (
                labelled(ColumnType::Enum { size: 1 }, &["a\"b", "c"]),
                vec![1],
            ),
            (
                labelled(ColumnType::Set { size: 1 }, &["x", "y\"z"]),
                vec![3],
            ),
            // 12:34:56.78, 2024-01-02 03:04:05.123456, 1970-01-01 00:00:01.500
            (
                col(ColumnType::Time2 { fsp: 2 }, Charset::Binary),
                vec![0x80, 0xc8, 0xb8, 0x4e],
            ),
            (
                col(ColumnType::DateTime2 { fsp: 6 }, Charset::Binary),
                vec![0x99, 0xb2, 0x44, 0x31, 0x05, 0x01, 0xe2, 0x40],
            ),
            (
                col(ColumnType::Timestamp2 { fsp: 3 }, Charset::Binary),
                vec![0, 0, 0, 1, 0x01, 0xf4],
            ),
            (
                col(
                    ColumnType::NewDecimal {
                        precision: 10,
                        scale: 2,
                    },
                    Charset::Binary,
                ),
                vec![0x80, 0, 0, 0x30, 0x39],
            ),
            // POINT(1 2): SRID 0, then WKB.
            (
                col(ColumnType::Geometry { prefix: 4 }, Charset::Binary),
                [
                    &[25, 0, 0, 0][..],
                    &[0, 0, 0, 0, 1, 1, 0, 0, 0],
                    &1f64.to_le_bytes(),
                    &2f64.to_le_bytes(),
                ]
                .concat(),
            ),
            // JSON documents: the string `a"b`, and {"a":1}.
            (
                col(ColumnType::Json { prefix: 4 }, Charset::Binary),
                vec![5, 0, 0, 0, 0x0c, 3, b'a', b'"', b'b'],
            ),
            (
                col(ColumnType::Json { prefix: 4 }, Charset::Binary),
                vec![
                    13, 0, 0, 0, 0x00, 1, 0, 12, 0, 11, 0, 1, 0, 0x05, 1, 0, b'a',
                ],
            ),
        ];
        for (column, raw) in cases {
            let mut json = Vec::new();
            let mut text = Vec::new();
            let json_null = write_value(&mut json, &column, &raw, false).unwrap();
            let text_null = write_text(&mut text, &column, &raw).unwrap();
            assert_eq!(json_null, text_null);
            let json = String::from_utf8(json).unwrap();
            let text = String::from_utf8(text).unwrap();
            let want = match serde_json::from_str::<serde_json::Value>(&json).unwrap() {
                serde_json::Value::String(s) => s,
                _ => json.clone(),
            };
            assert_eq!(text, want, "{column:?} {json}");
        }
        let enum_zero = labelled(ColumnType::Enum { size: 1 }, &["a"]);
        let mut text = Vec::new();
        assert!(write_text(&mut text, &enum_zero, &[0]).unwrap());
        assert_eq!(text, b"null");
    }

    #[test]
    fn mariadb_json_text_is_embedded_as_stored() {
        let json = Column {
            json_text: true,
            ..col(ColumnType::Blob { prefix: 4 }, Charset::Utf8)
        };
        let lp = |text: &str| [&(text.len() as u32).to_le_bytes()[..], text.as_bytes()].concat();
        let both = |raw: &[u8]| {
            let (mut value, mut text) = (Vec::new(), Vec::new());
            let null = write_value(&mut value, &json, raw, false).unwrap();
            assert_eq!(write_text(&mut text, &json, raw).unwrap(), null);
            (
                String::from_utf8(value).unwrap(),
                String::from_utf8(text).unwrap(),
                null,
            )
        };
        // Maxwell writes the stored text raw: spacing and key order kept.
        let doc = "{\"b\": [1, 2.50], \"a\": {\"x\": null}}";
        assert_eq!(both(&lp(doc)), (doc.to_owned(), doc.to_owned(), false));
        // Leading whitespace (which stops Maxwell's reader) is still JSON.
        assert_eq!(both(&lp("\n\t[true]")).0, "\n\t[true]");
        // A document that is one string: embedded as a JSON string, compared by its text.
        assert_eq!(
            both(&lp("\"caf\u{e9} \\\"q\\\"\"")),
            (
                "\"caf\u{e9} \\\"q\\\"\"".to_owned(),
                "caf\u{e9} \"q\"".to_owned(),
                false
            )
        );
        assert_eq!(both(&lp("12.5e3")).0, "12.5e3");
        // Empty text is null, as in Maxwell.
        assert_eq!(both(&lp("")), ("null".to_owned(), "null".to_owned(), true));
        // Not JSON (the check turned off): a string, so the message stays valid JSON.
        for bad in ["{\"a\":", "not json", "{'a':1}", "[1,]", "{\"a\":1} x"] {
            let (value, text, null) = both(&lp(bad));
            assert!(!null);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&value).unwrap(),
                serde_json::Value::String(bad.to_owned()),
                "{bad}"
            );
            assert_eq!(text, bad);
        }
        // Without the schema's word, the same text is a string.
        let plain = col(ColumnType::Blob { prefix: 4 }, Charset::Utf8);
        assert_eq!(render(&plain, &lp("[1]")).unwrap(), "\"[1]\"");
    }

    #[test]
    fn enum_renders_its_label_and_index_zero_as_null() {
        let c = labelled(ColumnType::Enum { size: 1 }, &["APPROVED", "DRAFT"]);
        assert_eq!(render(&c, &[1]).unwrap(), "\"APPROVED\"");
        assert_eq!(render(&c, &[2]).unwrap(), "\"DRAFT\"");
        assert_eq!(render(&c, &[0]).unwrap(), "null");
        assert_eq!(render(&c, &[3]), Err(RenderError::BadValue));
        let unlabelled = col(ColumnType::Enum { size: 1 }, Charset::Utf8);
        assert_eq!(render(&unlabelled, &[1]), Err(RenderError::NoLabels));
    }

    #[test]
    fn set_renders_an_array_in_definition_order() {
        let c = labelled(ColumnType::Set { size: 1 }, &["foo", "bar", "baz"]);
        assert_eq!(render(&c, &[0b101]).unwrap(), r#"["foo","baz"]"#);
        assert_eq!(render(&c, &[0]).unwrap(), "[]");
        assert_eq!(render(&c, &[0b1000]), Err(RenderError::BadValue));
    }

    #[test]
    fn padded_numbers_match_zero_padded_formatting() {
        let mut rng = fastrand::Rng::with_seed(3);
        for width in 1..=8 {
            for v in [0, 1, 9, 10, 99, 100, 999_999, 1_000_000, u32::MAX]
                .into_iter()
                .chain((0..2_000).map(|_| rng.u32(..10_000_000)))
            {
                let mut out = Vec::new();
                write_padded(&mut out, v, width);
                assert_eq!(out, format!("{v:0width$}").into_bytes(), "{v} in {width}");
            }
        }
    }

    fn render(column: &Column, raw: &[u8]) -> Result<String, RenderError> {
        let mut out = Vec::new();
        write_value(&mut out, column, raw, false)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn timestamps_are_utc_with_fsp_digits() {
        let c = col(ColumnType::Timestamp2 { fsp: 3 }, Charset::Binary);
        // 2021-03-04 05:06:07 UTC = 1614834367, fraction .120 stored as 1200 (1/10000 s).
        let mut raw = 1_614_834_367u32.to_be_bytes().to_vec();
        raw.extend(1200u16.to_be_bytes());
        assert_eq!(render(&c, &raw).unwrap(), "\"2021-03-04 05:06:07.120\"");
        let zero = [0u8; 6];
        assert_eq!(render(&c, &zero).unwrap(), "\"0000-00-00 00:00:00.000\"");
    }

    #[test]
    fn text_uses_the_column_charset_and_binary_is_base64() {
        let utf8 = col(ColumnType::VarString { prefix: 1 }, Charset::Utf8);
        assert_eq!(render(&utf8, b"\x03h\xc3\xa9").unwrap(), "\"hé\"");
        let latin1 = col(ColumnType::VarString { prefix: 1 }, Charset::LATIN1);
        assert_eq!(render(&latin1, b"\x02h\xe9").unwrap(), "\"hé\"");
        let bin = col(ColumnType::Blob { prefix: 2 }, Charset::Binary);
        assert_eq!(
            render(&bin, b"\x04\x00\x00\x01\x02\x03").unwrap(),
            "\"AAECAw==\""
        );
        let gbk = col(
            ColumnType::VarString { prefix: 1 },
            Charset::Unsupported("gbk".into()),
        );
        assert_eq!(render(&gbk, b"\x01a"), Err(RenderError::UnsupportedCharset));
    }

    #[test]
    fn unrendered_types_are_reported() {
        let c = col(ColumnType::Unsupported { wire_type: 242 }, Charset::Binary);
        assert_eq!(render(&c, &[1, 0]), Err(RenderError::UnsupportedType));
    }

    #[test]
    fn zero_and_invalid_datetimes_are_all_zero() {
        let c = col(ColumnType::DateTime2 { fsp: 0 }, Charset::Binary);
        let zero = 0x80_0000_0000u64.to_be_bytes();
        assert_eq!(render(&c, &zero[3..]).unwrap(), "\"0000-00-00 00:00:00\"");
        // Year 0 with a real month and day is invalid too.
        let ym: u64 = 1;
        let v = (0x80_0000_0000u64 + (((ym << 5) | 1) << 17)).to_be_bytes();
        assert_eq!(render(&c, &v[3..]).unwrap(), "\"0000-00-00 00:00:00\"");
        let date = col(ColumnType::Date, Charset::Binary);
        let d: u32 = (2024 << 9) | 15; // month 0
        assert_eq!(
            render(&date, &d.to_le_bytes()[..3]).unwrap(),
            "\"0000-00-00\""
        );
        let mut out = Vec::new();
        assert_eq!(
            write_value(&mut out, &date, &d.to_le_bytes()[..3], true),
            Ok(true)
        );
        assert_eq!(out, b"null");
    }

    #[test]
    fn time_may_be_negative_and_long() {
        let mut out = Vec::new();
        let t = Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 0,
        };
        write_time(&mut out, t, 0);
        assert_eq!(out, b"-838:59:59");
    }
}
