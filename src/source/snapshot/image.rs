//! Rows read with SELECT, written as the binlog writes them.
//!
//! Why this exists: a `bootstrap-insert` must read exactly like the binlog `insert` of the
//! same row, for every column type. Rather than a second renderer for the query protocol's
//! values (and a second set of differences, as Maxwell has between its two paths), each
//! value a chunk query returns is written into the bytes the server logs for it in a row
//! image. The one decoder and renderer then turn both into JSON.
//!
//! The chunk query asks for ENUM and SET columns as numbers (`col+0`: the index and the
//! bit set the binlog holds) and runs with `time_zone = '+00:00'` (so a TIMESTAMP comes back
//! as the UTC time of its epoch seconds), and `character_set_results = NULL` (so text
//! arrives in its column's own charset, as in the binlog).

use std::ops::Range;

use mysql_common::Value;
use mysql_common::constants::{ColumnFlags, ColumnType as WireType};
use mysql_common::packets::Column;

use crate::table::ColumnType;

/// Why a chunk's rows could not be written as row images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("column `{column}`: {what} is not read by bootstrap in this version")]
    Unsupported { column: String, what: String },
    #[error("column `{column}`: the server returned {got} for a column of type {ty:?}")]
    BadValue {
        column: String,
        ty: ColumnType,
        got: String,
    },
}

/// How one result column is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageColumn {
    pub name: String,
    /// The binlog type the bytes are written in.
    pub ty: ColumnType,
    pub unsigned: bool,
    /// The collation the values' bytes are in (`character_set_results = NULL`: the
    /// column's own).
    pub collation: u16,
    /// BINARY(n): the server pads a value with zero bytes up to n; the binlog leaves the
    /// padding out.
    strip_zero_pad: bool,
}

/// What the query's result says about a column, plus what the table's definition says
/// that the result cannot: the number of ENUM or SET labels (the query reads them as
/// numbers).
pub fn image_column(column: &Column, labels: Option<&Labels>) -> Result<ImageColumn, ImageError> {
    let name = column.name_str().into_owned();
    let flags = column.flags();
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let decimals = column.decimals();
    let unsupported = |what: String| ImageError::Unsupported {
        column: name.clone(),
        what,
    };
    let fsp = || {
        if decimals <= 6 {
            Ok(decimals)
        } else {
            Err(unsupported(format!("{decimals} fractional digits")))
        }
    };
    let ty = match (labels, column.column_type()) {
        (Some(Labels::Enum(l)), _) => ColumnType::Enum {
            size: if l.len() < 256 { 1 } else { 2 },
        },
        (Some(Labels::Set(l)), _) => ColumnType::Set {
            size: u8::try_from(l.len().div_ceil(8).max(1))
                .map_err(|_| unsupported("a SET of more than 64 labels".into()))?,
        },
        (None, WireType::MYSQL_TYPE_TINY) => ColumnType::Tiny,
        (None, WireType::MYSQL_TYPE_SHORT) => ColumnType::Short,
        (None, WireType::MYSQL_TYPE_INT24) => ColumnType::Int24,
        (None, WireType::MYSQL_TYPE_LONG) => ColumnType::Long,
        (None, WireType::MYSQL_TYPE_LONGLONG) => ColumnType::LongLong,
        (None, WireType::MYSQL_TYPE_FLOAT) => ColumnType::Float,
        (None, WireType::MYSQL_TYPE_DOUBLE) => ColumnType::Double,
        (None, WireType::MYSQL_TYPE_YEAR) => ColumnType::Year,
        (None, WireType::MYSQL_TYPE_NEWDECIMAL | WireType::MYSQL_TYPE_DECIMAL) => {
            // The display length counts the digits, the point and (when signed) the sign.
            let scale = decimals;
            let length = column.column_length();
            let precision = length
                .saturating_sub(u32::from(scale > 0))
                .saturating_sub(u32::from(!unsigned));
            match u8::try_from(precision) {
                Ok(precision)
                    if (1..=65).contains(&precision) && scale <= 30 && scale <= precision =>
                {
                    ColumnType::NewDecimal { precision, scale }
                }
                _ => {
                    return Err(unsupported(format!(
                        "DECIMAL of display length {length} and scale {scale}"
                    )));
                }
            }
        }
        (None, WireType::MYSQL_TYPE_DATE | WireType::MYSQL_TYPE_NEWDATE) => ColumnType::Date,
        (None, WireType::MYSQL_TYPE_DATETIME | WireType::MYSQL_TYPE_DATETIME2) => {
            ColumnType::DateTime2 { fsp: fsp()? }
        }
        (None, WireType::MYSQL_TYPE_TIMESTAMP | WireType::MYSQL_TYPE_TIMESTAMP2) => {
            ColumnType::Timestamp2 { fsp: fsp()? }
        }
        (None, WireType::MYSQL_TYPE_TIME | WireType::MYSQL_TYPE_TIME2) => {
            ColumnType::Time2 { fsp: fsp()? }
        }
        (None, WireType::MYSQL_TYPE_VARCHAR | WireType::MYSQL_TYPE_VAR_STRING) => {
            ColumnType::VarString { prefix: 4 }
        }
        (None, WireType::MYSQL_TYPE_STRING) => {
            if flags.intersects(ColumnFlags::ENUM_FLAG | ColumnFlags::SET_FLAG) {
                // The query reads these as numbers; text here means the plan is stale.
                return Err(unsupported("an ENUM or SET read as text".into()));
            }
            ColumnType::FixedString { prefix: 4 }
        }
        (
            None,
            WireType::MYSQL_TYPE_TINY_BLOB
            | WireType::MYSQL_TYPE_BLOB
            | WireType::MYSQL_TYPE_MEDIUM_BLOB
            | WireType::MYSQL_TYPE_LONG_BLOB,
        ) => ColumnType::Blob { prefix: 4 },
        (None, WireType::MYSQL_TYPE_BIT) => {
            let bits = column.column_length();
            match u8::try_from(bits.div_ceil(8)) {
                Ok(bytes) if (1..=8).contains(&bytes) => ColumnType::Bit { bytes },
                _ => return Err(unsupported(format!("BIT({bits})"))),
            }
        }
        (None, WireType::MYSQL_TYPE_GEOMETRY) => ColumnType::Geometry { prefix: 4 },
        // MySQL's JSON travels as text and is written in MySQL's binary form (`jsonb`).
        // (MariaDB's JSON is LONGTEXT and is read as text.)
        (None, WireType::MYSQL_TYPE_JSON) => ColumnType::Json { prefix: 4 },
        (None, other) => return Err(unsupported(format!("type {other:?}"))),
    };
    // A binary string's charset is `binary` (63); CHAR(n) of any other charset is read
    // without its trailing spaces already.
    let strip_zero_pad =
        matches!(ty, ColumnType::FixedString { .. }) && column.character_set() == 63;
    Ok(ImageColumn {
        name,
        ty,
        unsigned,
        collation: column.character_set(),
        strip_zero_pad,
    })
}

/// An ENUM's or SET's labels, in definition order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Labels {
    Enum(Vec<String>),
    Set(Vec<String>),
}

impl Labels {
    pub fn names(&self) -> &[String] {
        match self {
            Self::Enum(l) | Self::Set(l) => l,
        }
    }
}

/// Row images of one chunk: every value's bytes in one buffer.
#[derive(Debug, Default)]
pub struct ImageRows {
    buf: Vec<u8>,
    /// `width` cells per row; `None` is SQL NULL.
    cells: Vec<Option<Range<usize>>>,
    width: usize,
}

impl ImageRows {
    pub fn new(width: usize) -> Self {
        Self {
            width,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Bytes held, for memory accounting.
    pub fn bytes(&self) -> usize {
        self.buf.len() + self.cells.len() * std::mem::size_of::<Option<Range<usize>>>()
    }

    /// Writes one row; on error nothing of it is kept.
    pub fn push(&mut self, columns: &[ImageColumn], values: &[Value]) -> Result<(), ImageError> {
        if columns.len() != self.width || values.len() != self.width {
            return Err(ImageError::Unsupported {
                column: String::new(),
                what: format!(
                    "a row of {} values for {} columns",
                    values.len(),
                    self.width
                ),
            });
        }
        let (buf_len, cells_len) = (self.buf.len(), self.cells.len());
        for (column, value) in columns.iter().zip(values) {
            if matches!(value, Value::NULL) {
                self.cells.push(None);
                continue;
            }
            let start = self.buf.len();
            if let Err(e) = write(&mut self.buf, column, value) {
                self.buf.truncate(buf_len);
                self.cells.truncate(cells_len);
                return Err(e);
            }
            self.cells.push(Some(start..self.buf.len()));
        }
        Ok(())
    }

    /// Row `i`: each column's bytes, `None` for NULL.
    pub fn row(&self, i: usize) -> impl Iterator<Item = Option<&[u8]>> {
        let cells = self
            .cells
            .get(i * self.width..(i + 1) * self.width)
            .unwrap_or_default();
        cells
            .iter()
            .map(|c| c.as_ref().and_then(|r| self.buf.get(r.clone())))
    }
}

/// Appends the row-image bytes of one non-null value.
fn write(out: &mut Vec<u8>, column: &ImageColumn, value: &Value) -> Result<(), ImageError> {
    let bad = || ImageError::BadValue {
        column: column.name.clone(),
        ty: column.ty,
        got: match value {
            Value::NULL => "NULL".into(),
            Value::Bytes(b) => format!("{} bytes", b.len()),
            Value::Int(_) | Value::UInt(_) => "an integer".into(),
            Value::Float(_) | Value::Double(_) => "a floating-point number".into(),
            Value::Date(..) => "a date".into(),
            Value::Time(..) => "a time".into(),
        },
    };
    match (column.ty, value) {
        (ColumnType::Tiny, v) => int(out, v, 1, column.unsigned).ok_or_else(bad),
        (ColumnType::Short, v) => int(out, v, 2, column.unsigned).ok_or_else(bad),
        (ColumnType::Int24, v) => int(out, v, 3, column.unsigned).ok_or_else(bad),
        (ColumnType::Long, v) => int(out, v, 4, column.unsigned).ok_or_else(bad),
        (ColumnType::LongLong, v) => int(out, v, 8, column.unsigned).ok_or_else(bad),
        (ColumnType::Float, Value::Float(f)) => {
            out.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        (ColumnType::Double, Value::Double(f)) => {
            out.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        (ColumnType::NewDecimal { precision, scale }, Value::Bytes(text)) => {
            decimal(out, text, precision, scale).ok_or_else(bad)
        }
        (ColumnType::Year, v) => {
            let year = as_u64(v).ok_or_else(bad)?;
            let byte = match year {
                0 => 0,
                1901..=2155 => u8::try_from(year - 1900).map_err(|_| bad())?,
                _ => return Err(bad()),
            };
            out.push(byte);
            Ok(())
        }
        (ColumnType::Date, Value::Date(year, month, day, ..)) => {
            let packed = u32::from(*day) | (u32::from(*month) << 5) | (u32::from(*year) << 9);
            if *month > 12 || *day > 31 || *year > 9999 {
                return Err(bad());
            }
            out.extend_from_slice(&packed.to_le_bytes()[..3]);
            Ok(())
        }
        (
            ColumnType::DateTime2 { fsp },
            &Value::Date(year, month, day, hour, minute, second, micros),
        ) => {
            if year > 9999 || month > 12 || day > 31 || hour > 23 || minute > 59 || second > 59 {
                return Err(bad());
            }
            let ym = u64::from(year) * 13 + u64::from(month);
            let ymd = (ym << 5) | u64::from(day);
            let hms = (u64::from(hour) << 12) | (u64::from(minute) << 6) | u64::from(second);
            let packed = ((ymd << 17) | hms) + 0x80_0000_0000;
            out.extend_from_slice(&packed.to_be_bytes()[3..]);
            fraction(out, micros, fsp).ok_or_else(bad)
        }
        (
            ColumnType::Timestamp2 { fsp },
            &Value::Date(year, month, day, hour, minute, second, micros),
        ) => {
            // The session's time zone is UTC, so these are the UTC parts of the epoch
            // seconds the server stores; all zeros is the zero timestamp, stored as 0.
            let seconds = if (year, month, day) == (0, 0, 0) {
                0
            } else {
                epoch_seconds(year, month, day, hour, minute, second).ok_or_else(bad)?
            };
            out.extend_from_slice(&seconds.to_be_bytes());
            fraction(out, micros, fsp).ok_or_else(bad)
        }
        (
            ColumnType::Time2 { fsp },
            &Value::Time(negative, days, hours, minutes, seconds, micros),
        ) => time2(out, negative, days, hours, minutes, seconds, micros, fsp).ok_or_else(bad),
        (
            ColumnType::VarString { prefix }
            | ColumnType::Blob { prefix }
            | ColumnType::Geometry { prefix },
            Value::Bytes(bytes),
        ) => prefixed(out, bytes, prefix).ok_or_else(bad),
        (ColumnType::Json { prefix }, Value::Bytes(text)) => {
            let doc = super::jsonb::encode(text).map_err(|e| ImageError::Unsupported {
                column: column.name.clone(),
                what: e.to_string(),
            })?;
            prefixed(out, &doc, prefix).ok_or_else(bad)
        }
        (ColumnType::FixedString { prefix }, Value::Bytes(bytes)) => {
            let bytes = if column.strip_zero_pad {
                let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                &bytes[..end]
            } else {
                &bytes[..]
            };
            prefixed(out, bytes, prefix).ok_or_else(bad)
        }
        (ColumnType::Bit { bytes: width }, Value::Bytes(bytes)) => {
            // Big-endian, as many bytes as the column's bits need.
            let width = usize::from(width);
            if bytes.len() > width {
                let (extra, rest) = bytes.split_at(bytes.len() - width);
                if extra.iter().any(|&b| b != 0) {
                    return Err(bad());
                }
                out.extend_from_slice(rest);
            } else {
                out.resize(out.len() + width - bytes.len(), 0);
                out.extend_from_slice(bytes);
            }
            Ok(())
        }
        (ColumnType::Bit { bytes: width }, v) => {
            let n = as_u64(v).ok_or_else(bad)?;
            let be = n.to_be_bytes();
            let width = usize::from(width);
            if width < 8 && n >> (8 * width) != 0 {
                return Err(bad());
            }
            out.extend_from_slice(&be[8 - width..]);
            Ok(())
        }
        (ColumnType::Enum { size }, v) => {
            let index = as_u64(v).ok_or_else(bad)?;
            let bytes = index.to_le_bytes();
            if index >> (8 * u32::from(size)) != 0 {
                return Err(bad());
            }
            out.extend_from_slice(&bytes[..usize::from(size)]);
            Ok(())
        }
        (ColumnType::Set { size }, v) => {
            let bits = as_u64(v).ok_or_else(bad)?;
            if size < 8 && bits >> (8 * u32::from(size)) != 0 {
                return Err(bad());
            }
            out.extend_from_slice(&bits.to_le_bytes()[..usize::from(size).min(8)]);
            Ok(())
        }
        _ => Err(bad()),
    }
}

/// An integer as the query returned it (a number, or its digits in the text protocol). A
/// negative one is taken as its 64 bits: a SET of 64 labels read as a signed number.
fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::UInt(u) => Some(*u),
        Value::Int(i) => Some(*i as u64),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// An integer column's `width` little-endian bytes (two's complement when signed).
fn int(out: &mut Vec<u8>, v: &Value, width: usize, unsigned: bool) -> Option<()> {
    let bits: u64 = match v {
        // The query protocol may hand an unsigned column's value over as a signed number.
        Value::Int(i) if unsigned => {
            return int(out, &Value::UInt(u64::try_from(*i).ok()?), width, true);
        }
        Value::Int(i) => {
            let shift = 64 - 8 * width as u32;
            // The value must survive the round trip through `width` bytes.
            if width < 8 && ((*i << shift) >> shift) != *i {
                return None;
            }
            *i as u64
        }
        Value::UInt(u) => {
            if width < 8 && u >> (8 * width) != 0 {
                return None;
            }
            *u
        }
        Value::Bytes(b) => {
            let text = std::str::from_utf8(b).ok()?;
            return int(
                out,
                &text
                    .parse::<i64>()
                    .map(Value::Int)
                    .or_else(|_| text.parse::<u64>().map(Value::UInt))
                    .ok()?,
                width,
                unsigned,
            );
        }
        _ => return None,
    };
    out.extend_from_slice(&bits.to_le_bytes()[..width]);
    Some(())
}

/// The fraction of a 5.6+ temporal value: `(fsp + 1) / 2` big-endian bytes.
fn fraction(out: &mut Vec<u8>, micros: u32, fsp: u8) -> Option<()> {
    if micros >= 1_000_000 {
        return None;
    }
    let (value, bytes) = match fsp {
        0 => return Some(()),
        1 | 2 => (micros / 10_000, 1),
        3 | 4 => (micros / 100, 2),
        5 | 6 => (micros, 3),
        _ => return None,
    };
    out.extend_from_slice(&value.to_be_bytes()[4 - bytes..]);
    Some(())
}

/// Seconds since the Unix epoch of a UTC date and time.
fn epoch_seconds(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<u32> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(i32::from(year), month, day).ok()?;
    let time = time::Time::from_hms(hour, minute, second).ok()?;
    u32::try_from(date.with_time(time).assume_utc().unix_timestamp()).ok()
}

/// TIME2: the biased 24-bit integer part and the fraction, as the server packs them (a
/// negative value's fraction is stored so that the bytes sort like the values).
#[allow(clippy::too_many_arguments)]
fn time2(
    out: &mut Vec<u8>,
    negative: bool,
    days: u32,
    hours: u8,
    minutes: u8,
    seconds: u8,
    micros: u32,
    fsp: u8,
) -> Option<()> {
    let hours = u64::from(days) * 24 + u64::from(hours);
    if hours > 838 || minutes > 59 || seconds > 59 || micros >= 1_000_000 {
        return None;
    }
    // A fraction the column cannot hold would be cut differently from the server's way.
    if fsp < 6 && !micros.is_multiple_of(10u32.pow(6 - u32::from(fsp))) {
        return None;
    }
    let hms = (hours << 12) | (u64::from(minutes) << 6) | u64::from(seconds);
    let magnitude = i64::try_from((hms << 24) | u64::from(micros)).ok()?;
    let packed = if negative { -magnitude } else { magnitude };
    // C's `>>` on a signed value and `%` truncating toward zero, as the server computes them.
    let int_part = packed >> 24;
    let frac_part = packed % (1 << 24);
    match fsp {
        0 => be24(out, int_part + 0x80_0000),
        1 | 2 => {
            be24(out, int_part + 0x80_0000)?;
            out.push((frac_part / 10_000) as i8 as u8);
            Some(())
        }
        3 | 4 => {
            be24(out, int_part + 0x80_0000)?;
            out.extend_from_slice(&((frac_part / 100) as i16).to_be_bytes());
            Some(())
        }
        5 | 6 => {
            let stored = u64::try_from(packed + 0x8000_0000_0000).ok()?;
            out.extend_from_slice(&stored.to_be_bytes()[2..]);
            Some(())
        }
        _ => None,
    }
}

fn be24(out: &mut Vec<u8>, v: i64) -> Option<()> {
    let v = u32::try_from(v).ok().filter(|&v| v < 1 << 24)?;
    out.extend_from_slice(&v.to_be_bytes()[1..]);
    Some(())
}

/// A length prefix of `prefix` little-endian bytes, then the bytes.
fn prefixed(out: &mut Vec<u8>, bytes: &[u8], prefix: u8) -> Option<()> {
    let prefix = usize::from(prefix);
    let len = u64::try_from(bytes.len()).ok()?;
    if prefix < 8 && len >> (8 * prefix) != 0 {
        return None;
    }
    out.extend_from_slice(&len.to_le_bytes()[..prefix]);
    out.extend_from_slice(bytes);
    Some(())
}

/// DECIMAL(precision, scale) from its text (`-123.4500`) in MySQL's packed binary form:
/// the integer digits right-aligned and the fraction digits left-aligned in groups of nine
/// (four bytes each, the partial groups in fewer), big-endian, the first bit flipped, and
/// every byte inverted when negative.
fn decimal(out: &mut Vec<u8>, text: &[u8], precision: u8, scale: u8) -> Option<()> {
    const DIG_TO_BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, text),
    };
    let (int_digits, frac_digits) = match digits.iter().position(|&b| b == b'.') {
        Some(i) => (&digits[..i], &digits[i + 1..]),
        None => (digits, &digits[..0]),
    };
    if !int_digits.iter().chain(frac_digits).all(u8::is_ascii_digit)
        || (int_digits.is_empty() && frac_digits.is_empty())
    {
        return None;
    }
    let int_len = usize::from(precision.checked_sub(scale)?);
    let scale = usize::from(scale);
    // Leading zeros do not count against the column's integer digits.
    let first = int_digits
        .iter()
        .position(|&b| b != b'0')
        .unwrap_or(int_digits.len());
    let int_digits = &int_digits[first..];
    if int_digits.len() > int_len || frac_digits.len() > scale {
        return None;
    }
    let start = out.len();
    // Integer part: the leading partial group, then whole groups of nine.
    let int_padded: Vec<u8> = std::iter::repeat_n(b'0', int_len - int_digits.len())
        .chain(int_digits.iter().copied())
        .collect();
    let lead = int_len % 9;
    let mut groups: Vec<(&[u8], usize)> = Vec::new();
    if lead > 0 {
        groups.push((&int_padded[..lead], DIG_TO_BYTES[lead]));
    }
    for chunk in int_padded[lead..].chunks(9) {
        groups.push((chunk, 4));
    }
    let frac_padded: Vec<u8> = frac_digits
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'0', scale - frac_digits.len()))
        .collect();
    let mut frac_groups: Vec<(&[u8], usize)> = Vec::new();
    for chunk in frac_padded.chunks(9) {
        let bytes = if chunk.len() == 9 {
            4
        } else {
            DIG_TO_BYTES[chunk.len()]
        };
        frac_groups.push((chunk, bytes));
    }
    for (chunk, bytes) in groups.into_iter().chain(frac_groups) {
        let value = chunk
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
        out.extend_from_slice(&value.to_be_bytes()[4 - bytes..]);
    }
    let written = out.get_mut(start..)?;
    let first = written.first_mut()?;
    *first ^= 0x80;
    if negative {
        for b in written.iter_mut() {
            *b = !*b;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ColumnType;

    fn col(ty: ColumnType, unsigned: bool) -> ImageColumn {
        ImageColumn {
            name: "c".into(),
            ty,
            unsigned,
            collation: 63,
            strip_zero_pad: false,
        }
    }

    fn bytes(ty: ColumnType, v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, &col(ty, false), &v).expect("written");
        out
    }

    #[test]
    fn decimals_pack_as_the_server_packs_them() {
        // Bytes the server logged for DECIMAL(20,10) values (tests/live/types.rs rows),
        // checked against mysql_common's own writer for the same digits.
        let ty = ColumnType::NewDecimal {
            precision: 20,
            scale: 10,
        };
        for text in [
            "-9999999999.9999999999",
            "9999999999.9999999999",
            "0.0000001000",
            "0.0000000000",
            "-0.0000000001",
            "1234.5000000000",
        ] {
            let ours = bytes(ty, Value::Bytes(text.into()));
            let theirs = {
                let d: mysql_common::binlog::decimal::Decimal = text.parse().expect("decimal");
                let mut v = Vec::new();
                d.write_bin(&mut v).expect("write");
                v
            };
            // mysql_common writes only the digits the value has; with all integer digits
            // present the two agree byte for byte.
            if text.trim_start_matches('-').starts_with("9999999999") {
                assert_eq!(ours, theirs, "{text}");
            }
            assert_eq!(
                ours.len(),
                mysql_common::binlog::decimal::decimal_bin_size(20, 10),
                "{text}"
            );
            let back = mysql_common::binlog::decimal::Decimal::read_bin(&ours[..], 20, 10, false)
                .expect("read back");
            assert_eq!(
                back.to_string()
                    .trim_start_matches('-')
                    .trim_start_matches('0'),
                text.trim_start_matches('-').trim_start_matches('0'),
                "{text}"
            );
        }
        let mut out = Vec::new();
        assert!(
            decimal(&mut out, b"123456789012.5", 20, 10).is_none(),
            "too many digits"
        );
        assert!(decimal(&mut out, b"1.5e3", 20, 10).is_none());
        assert!(decimal(&mut out, b"", 20, 10).is_none());
    }

    #[test]
    fn temporal_values_read_back_through_the_decoder() {
        use crate::decode::{Time, Value as Decoded, decode_value};
        let dt = ColumnType::DateTime2 { fsp: 6 };
        let raw = bytes(dt, Value::Date(9999, 12, 31, 23, 59, 59, 999_999));
        assert_eq!(
            decode_value(dt, false, &raw),
            Some(Decoded::DateTime {
                year: 9999,
                month: 12,
                day: 31,
                hour: 23,
                minute: 59,
                second: 59,
                micros: 999_999,
                fsp: 6
            })
        );
        let ts = ColumnType::Timestamp2 { fsp: 3 };
        let raw = bytes(ts, Value::Date(2038, 1, 19, 3, 14, 7, 999_000));
        assert_eq!(
            decode_value(ts, false, &raw),
            Some(Decoded::Timestamp {
                seconds: 2_147_483_647,
                micros: 999_000,
                fsp: 3
            })
        );
        let raw = bytes(ts, Value::Date(0, 0, 0, 0, 0, 0, 0));
        assert_eq!(
            decode_value(ts, false, &raw),
            Some(Decoded::Timestamp {
                seconds: 0,
                micros: 0,
                fsp: 3
            })
        );
        for fsp in 0..=6u8 {
            let tm = ColumnType::Time2 { fsp };
            let micros = match fsp {
                0 => 0,
                1 | 2 => 500_000,
                3 | 4 => 250_000,
                5 => 123_450,
                _ => 123_456,
            };
            for (negative, days, hours) in
                [(true, 34, 22), (false, 34, 22), (true, 0, 0), (false, 1, 1)]
            {
                let raw = bytes(tm, Value::Time(negative, days, hours, 59, 59, micros));
                let want_hours = days * 24 + u32::from(hours);
                assert_eq!(
                    decode_value(tm, false, &raw),
                    Some(Decoded::Time {
                        time: Time {
                            negative,
                            hours: want_hours,
                            minutes: 59,
                            seconds: 59,
                            micros
                        },
                        fsp
                    }),
                    "fsp {fsp}, negative {negative}, {days}d {hours}h"
                );
            }
        }
        // A fraction finer than the column holds is refused, not cut.
        let mut out = Vec::new();
        assert!(
            write(
                &mut out,
                &col(ColumnType::Time2 { fsp: 0 }, false),
                &Value::Time(true, 0, 0, 0, 1, 500_000)
            )
            .is_err()
        );
        let raw = bytes(ColumnType::Date, Value::Date(1000, 1, 1, 0, 0, 0, 0));
        assert_eq!(
            decode_value(ColumnType::Date, false, &raw),
            Some(Decoded::Date {
                year: 1000,
                month: 1,
                day: 1
            })
        );
    }

    #[test]
    fn integers_keep_width_and_refuse_what_does_not_fit() {
        assert_eq!(
            bytes(ColumnType::Int24, Value::Int(-8_388_608)),
            [0, 0, 0x80]
        );
        assert_eq!(bytes(ColumnType::Tiny, Value::UInt(255)), [0xFF]);
        assert_eq!(
            bytes(ColumnType::LongLong, Value::UInt(u64::MAX)),
            [0xFF; 8]
        );
        let mut out = Vec::new();
        assert!(write(&mut out, &col(ColumnType::Tiny, false), &Value::Int(300)).is_err());
        assert!(
            write(
                &mut out,
                &col(ColumnType::Short, true),
                &Value::UInt(70_000)
            )
            .is_err()
        );
        assert!(write(&mut out, &col(ColumnType::Long, false), &Value::Double(1.0)).is_err());
        assert_eq!(bytes(ColumnType::Year, Value::Int(2155)), [255]);
        assert_eq!(bytes(ColumnType::Year, Value::Int(0)), [0]);
    }

    #[test]
    fn strings_bits_enums_and_sets() {
        assert_eq!(
            bytes(
                ColumnType::VarString { prefix: 4 },
                Value::Bytes(b"ab".to_vec())
            ),
            [2, 0, 0, 0, b'a', b'b']
        );
        let mut binary = col(ColumnType::FixedString { prefix: 4 }, false);
        binary.strip_zero_pad = true;
        let mut out = Vec::new();
        write(&mut out, &binary, &Value::Bytes(vec![1, 0, 0, 0])).expect("binary");
        assert_eq!(out, [1, 0, 0, 0, 1]);
        assert_eq!(
            bytes(ColumnType::Bit { bytes: 8 }, Value::Bytes(vec![0xFF; 8])),
            [0xFF; 8]
        );
        assert_eq!(
            bytes(ColumnType::Bit { bytes: 1 }, Value::Bytes(vec![1])),
            [1]
        );
        assert_eq!(bytes(ColumnType::Enum { size: 1 }, Value::UInt(3)), [3]);
        assert_eq!(bytes(ColumnType::Set { size: 1 }, Value::UInt(5)), [5]);
        let mut out = Vec::new();
        assert!(
            write(
                &mut out,
                &col(ColumnType::Enum { size: 1 }, false),
                &Value::UInt(256)
            )
            .is_err()
        );
    }

    #[test]
    fn a_bad_value_leaves_nothing_of_its_row() {
        let columns = [col(ColumnType::Long, false), col(ColumnType::Tiny, false)];
        let mut rows = ImageRows::new(2);
        rows.push(&columns, &[Value::Int(1), Value::Int(2)])
            .expect("row");
        assert!(
            rows.push(&columns, &[Value::Int(3), Value::Int(999)])
                .is_err()
        );
        assert_eq!(rows.len(), 1);
        let row: Vec<_> = rows.row(0).collect();
        assert_eq!(row, [Some(&[1u8, 0, 0, 0][..]), Some(&[2u8][..])]);
        rows.push(&columns, &[Value::NULL, Value::Int(4)])
            .expect("row");
        assert_eq!(rows.row(1).next(), Some(None));
    }
}
