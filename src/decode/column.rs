//! Column types as the binlog's TABLE_MAP event describes them, and how many bytes a value of
//! each type takes in a row image.
//!
//! The table map gives each column a type byte and a few bytes of metadata (lengths,
//! precision, fractional-second digits). We turn those into [`ColumnType`] once per table
//! map, so reading a row never has to re-parse metadata.

use mysql_common::binlog::decimal::decimal_bin_size;
use mysql_common::constants::ColumnType as WireType;

/// A column's binlog type with the metadata needed to read its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Tiny,
    Short,
    Int24,
    Long,
    LongLong,
    Float,
    Double,
    /// DECIMAL/NUMERIC in MySQL's packed binary form.
    NewDecimal {
        precision: u8,
        scale: u8,
    },
    Year,
    /// DATE (3 bytes).
    Date,
    /// DATETIME with MySQL 5.6+ storage and `fsp` fractional digits.
    DateTime2 {
        fsp: u8,
    },
    /// TIMESTAMP with MySQL 5.6+ storage: seconds since the epoch (UTC).
    Timestamp2 {
        fsp: u8,
    },
    /// TIME with MySQL 5.6+ storage.
    Time2 {
        fsp: u8,
    },
    /// Pre-5.6 TIMESTAMP: 4 bytes of seconds since the epoch.
    Timestamp,
    /// Pre-5.6 DATETIME: 8 bytes holding the decimal number YYYYMMDDhhmmss.
    DateTime,
    /// Pre-5.6 TIME: 3 bytes holding the decimal number (-)HHMMSS.
    Time,
    /// MariaDB "hires" TIMESTAMP(fsp): the old type code, but big-endian seconds followed
    /// by the fraction in `(fsp + 1) / 2` big-endian bytes.
    TimestampHires {
        fsp: u8,
    },
    /// MariaDB "hires" DATETIME(fsp): microseconds of the packed date and time, divided by
    /// 10^(6 - fsp), big-endian.
    DateTimeHires {
        fsp: u8,
    },
    /// MariaDB "hires" TIME(fsp): like DATETIME, offset so that negative times sort first.
    TimeHires {
        fsp: u8,
    },
    /// VARCHAR / VARBINARY: a length prefix of `prefix` bytes, then the bytes.
    VarString {
        prefix: u8,
    },
    /// CHAR / BINARY: like VarString, trailing pad stripped by the server.
    FixedString {
        prefix: u8,
    },
    /// TEXT / BLOB family: a little-endian length of `prefix` bytes, then the bytes.
    Blob {
        prefix: u8,
    },
    Enum {
        size: u8,
    },
    Set {
        size: u8,
    },
    Bit {
        bytes: u8,
    },
    Json {
        prefix: u8,
    },
    Geometry {
        prefix: u8,
    },
    /// A type this version cannot read; any row carrying a value of it is an error.
    Unsupported {
        wire_type: u8,
    },
}

impl ColumnType {
    /// Builds the type from the table map's (real) type and that column's metadata bytes.
    pub fn from_table_map(wire: WireType, meta: &[u8]) -> Self {
        let m0 = meta.first().copied().unwrap_or(0);
        let m1 = meta.get(1).copied().unwrap_or(0);
        match wire {
            WireType::MYSQL_TYPE_TINY => Self::Tiny,
            WireType::MYSQL_TYPE_SHORT => Self::Short,
            WireType::MYSQL_TYPE_INT24 => Self::Int24,
            WireType::MYSQL_TYPE_LONG => Self::Long,
            WireType::MYSQL_TYPE_LONGLONG => Self::LongLong,
            WireType::MYSQL_TYPE_FLOAT => Self::Float,
            WireType::MYSQL_TYPE_DOUBLE => Self::Double,
            WireType::MYSQL_TYPE_NEWDECIMAL => Self::NewDecimal {
                precision: m0,
                scale: m1,
            },
            WireType::MYSQL_TYPE_YEAR => Self::Year,
            WireType::MYSQL_TYPE_NEWDATE | WireType::MYSQL_TYPE_DATE => Self::Date,
            WireType::MYSQL_TYPE_DATETIME2 => Self::DateTime2 { fsp: m0 },
            WireType::MYSQL_TYPE_TIMESTAMP2 => Self::Timestamp2 { fsp: m0 },
            WireType::MYSQL_TYPE_TIME2 => Self::Time2 { fsp: m0 },
            WireType::MYSQL_TYPE_TIMESTAMP => Self::Timestamp,
            WireType::MYSQL_TYPE_DATETIME => Self::DateTime,
            WireType::MYSQL_TYPE_TIME => Self::Time,
            WireType::MYSQL_TYPE_VARCHAR | WireType::MYSQL_TYPE_VAR_STRING => {
                let max_len = u16::from_le_bytes([m0, m1]);
                Self::VarString {
                    prefix: if max_len < 256 { 1 } else { 2 },
                }
            }
            WireType::MYSQL_TYPE_STRING => {
                // The high bits of the maximum length hide in the first metadata byte.
                let max_len = ((((m0 as u16) & 0x30) ^ 0x30) << 4) | m1 as u16;
                Self::FixedString {
                    prefix: if max_len < 256 { 1 } else { 2 },
                }
            }
            WireType::MYSQL_TYPE_TINY_BLOB
            | WireType::MYSQL_TYPE_BLOB
            | WireType::MYSQL_TYPE_MEDIUM_BLOB
            | WireType::MYSQL_TYPE_LONG_BLOB => Self::Blob { prefix: m0 },
            WireType::MYSQL_TYPE_ENUM => Self::Enum { size: m1 },
            WireType::MYSQL_TYPE_SET => Self::Set { size: m1 },
            WireType::MYSQL_TYPE_BIT => {
                // BIT(n) has at most 64 bits: n/8 whole bytes plus one for the remainder.
                let bytes = u16::from(m1) + u16::from(m0 > 0);
                if bytes > 8 || m0 > 7 {
                    return Self::Unsupported {
                        wire_type: wire as u8,
                    };
                }
                Self::Bit { bytes: bytes as u8 }
            }
            WireType::MYSQL_TYPE_JSON => Self::Json { prefix: m0 },
            WireType::MYSQL_TYPE_GEOMETRY => Self::Geometry { prefix: m0 },
            other => Self::Unsupported {
                wire_type: other as u8,
            },
        }
    }

    /// Whether the table map's signedness metadata has an entry for this column.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Self::Tiny
                | Self::Short
                | Self::Int24
                | Self::Long
                | Self::LongLong
                | Self::Float
                | Self::Double
                | Self::NewDecimal { .. }
                | Self::Year
        )
    }

    /// Whether values are bytes in a character set (text, or binary when the charset is
    /// `binary`).
    pub fn is_character(self) -> bool {
        matches!(
            self,
            Self::VarString { .. } | Self::FixedString { .. } | Self::Blob { .. }
        )
    }

    /// The SQL-ish name used in error messages.
    pub fn name(self) -> String {
        match self {
            Self::Tiny => "tinyint".into(),
            Self::Short => "smallint".into(),
            Self::Int24 => "mediumint".into(),
            Self::Long => "int".into(),
            Self::LongLong => "bigint".into(),
            Self::Float => "float".into(),
            Self::Double => "double".into(),
            Self::NewDecimal { precision, scale } => format!("decimal({precision},{scale})"),
            Self::Year => "year".into(),
            Self::Date => "date".into(),
            Self::DateTime2 { fsp } => format!("datetime({fsp})"),
            Self::Timestamp2 { fsp } => format!("timestamp({fsp})"),
            Self::Time2 { fsp } => format!("time({fsp})"),
            Self::Timestamp => "timestamp (pre-5.6)".into(),
            Self::DateTime => "datetime (pre-5.6)".into(),
            Self::Time => "time (pre-5.6)".into(),
            Self::TimestampHires { fsp } => format!("timestamp({fsp}) (MariaDB hires)"),
            Self::DateTimeHires { fsp } => format!("datetime({fsp}) (MariaDB hires)"),
            Self::TimeHires { fsp } => format!("time({fsp}) (MariaDB hires)"),
            Self::VarString { .. } => "varchar".into(),
            Self::FixedString { .. } => "char".into(),
            Self::Blob { .. } => "blob/text".into(),
            Self::Enum { .. } => "enum".into(),
            Self::Set { .. } => "set".into(),
            Self::Bit { .. } => "bit".into(),
            Self::Json { .. } => "json".into(),
            Self::Geometry { .. } => "geometry".into(),
            Self::Unsupported { wire_type } => format!("binlog type {wire_type}"),
        }
    }

    /// Whether this is one of the old (pre-MySQL 5.6) temporal type codes, which MariaDB
    /// also uses for its "hires" fractional-second types.
    pub fn is_legacy_temporal(self) -> bool {
        matches!(self, Self::Timestamp | Self::DateTime | Self::Time)
    }

    /// The type once the schema says how many fractional digits the column has. An old
    /// temporal code with fractional digits can only be MariaDB's "hires" format: MySQL
    /// logs fractional columns with the 5.6 codes.
    pub fn with_schema_fsp(self, fsp: Option<u8>) -> Self {
        match (self, fsp) {
            (Self::Timestamp, Some(fsp @ 1..=6)) => Self::TimestampHires { fsp },
            (Self::DateTime, Some(fsp @ 1..=6)) => Self::DateTimeHires { fsp },
            (Self::Time, Some(fsp @ 1..=6)) => Self::TimeHires { fsp },
            (ty, _) => ty,
        }
    }

    /// How many bytes the value at the start of `data` occupies, or `None` when `data` is
    /// too short or the type's size cannot be known.
    pub fn value_len(self, data: &[u8]) -> Option<usize> {
        let len = match self {
            Self::Tiny | Self::Year => 1,
            Self::Short => 2,
            Self::Int24 | Self::Date | Self::Time => 3,
            Self::Long | Self::Float | Self::Timestamp => 4,
            Self::LongLong | Self::Double | Self::DateTime => 8,
            Self::TimestampHires { fsp } => 4 + fsp_bytes(fsp)?,
            Self::DateTimeHires { fsp } => *[5, 6, 6, 7, 7, 7, 8].get(usize::from(fsp))?,
            Self::TimeHires { fsp } => *[3, 4, 4, 5, 5, 5, 6].get(usize::from(fsp))?,
            Self::NewDecimal { precision, scale } => {
                // MySQL's limits: DECIMAL(65, 30).
                if scale > precision || precision == 0 || precision > 65 || scale > 30 {
                    return None;
                }
                decimal_bin_size(precision as usize, scale as usize)
            }
            Self::DateTime2 { fsp } => 5 + fsp_bytes(fsp)?,
            Self::Timestamp2 { fsp } => 4 + fsp_bytes(fsp)?,
            Self::Time2 { fsp } => 3 + fsp_bytes(fsp)?,
            Self::VarString { prefix } | Self::FixedString { prefix } => {
                prefix as usize + read_len(data, prefix)?
            }
            Self::Blob { prefix } | Self::Json { prefix } | Self::Geometry { prefix } => {
                prefix as usize + read_len(data, prefix)?
            }
            Self::Enum { size } | Self::Set { size } => size as usize,
            Self::Bit { bytes } => bytes as usize,
            Self::Unsupported { .. } => return None,
        };
        (len <= data.len()).then_some(len)
    }
}

/// Bytes taken by `fsp` fractional-second digits in the 5.6+ temporal formats.
fn fsp_bytes(fsp: u8) -> Option<usize> {
    (fsp <= 6).then_some((fsp as usize).div_ceil(2))
}

/// Reads a little-endian length of `width` (1-4) bytes.
fn read_len(data: &[u8], width: u8) -> Option<usize> {
    let width = width as usize;
    if !(1..=4).contains(&width) {
        return None;
    }
    let bytes = data.get(..width)?;
    Some(
        bytes
            .iter()
            .rev()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize),
    )
}

/// Bytes of the length prefix in front of a value of `ty`: 0 for fixed-width types.
fn prefix_len(ty: ColumnType) -> usize {
    match ty {
        ColumnType::VarString { prefix }
        | ColumnType::FixedString { prefix }
        | ColumnType::Blob { prefix }
        | ColumnType::Json { prefix }
        | ColumnType::Geometry { prefix } => prefix as usize,
        _ => 0,
    }
}

/// Like [`payload`], but `None` unless the length prefix accounts for exactly the bytes
/// of `value`: what a renderer uses on a value that may not have come from a row image.
pub fn exact_payload(ty: ColumnType, value: &[u8]) -> Option<&[u8]> {
    let prefix = prefix_len(ty);
    if prefix == 0 {
        return Some(value);
    }
    let (len, rest) = value.split_at_checked(prefix)?;
    let len = len
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    (rest.len() == len).then_some(rest)
}

/// Strips the length prefix of a string/blob value whose total length `value_len` returned.
pub fn payload(ty: ColumnType, value: &[u8]) -> &[u8] {
    value.get(prefix_len(ty)..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_payload_needs_the_prefix_to_match_the_bytes() {
        let v = ColumnType::VarString { prefix: 1 };
        assert_eq!(exact_payload(v, &[2, b'a', b'b']), Some(&b"ab"[..]));
        assert_eq!(
            exact_payload(v, &[5, b'x']),
            None,
            "prefix longer than the bytes"
        );
        assert_eq!(
            exact_payload(v, &[0, b'x']),
            None,
            "bytes beyond the prefix's length"
        );
        assert_eq!(exact_payload(v, &[]), None);
        let b = ColumnType::Blob { prefix: 2 };
        assert_eq!(exact_payload(b, &[1, 0, 7]), Some(&[7u8][..]));
        assert_eq!(payload(b, &[1, 0, 7]), &[7u8][..]);
        assert_eq!(
            exact_payload(ColumnType::Long, &[1, 2, 3, 4]),
            Some(&[1u8, 2, 3, 4][..])
        );
    }

    #[test]
    fn string_lengths_follow_their_prefix() {
        let v = ColumnType::VarString { prefix: 1 };
        assert_eq!(v.value_len(&[3, b'a', b'b', b'c', 9]), Some(4));
        assert_eq!(v.value_len(&[3, b'a']), None, "truncated value");
        let v = ColumnType::VarString { prefix: 2 };
        assert_eq!(v.value_len(&[1, 1, 0]), None);
        let mut long = vec![0x01, 0x01];
        long.extend(std::iter::repeat_n(b'x', 257));
        assert_eq!(v.value_len(&long), Some(259));
        let b = ColumnType::Blob { prefix: 4 };
        assert_eq!(b.value_len(&[2, 0, 0, 0, 1, 2]), Some(6));
        assert_eq!(ColumnType::Blob { prefix: 9 }.value_len(&[0; 16]), None);
    }

    #[test]
    fn char_max_length_uses_the_hidden_high_bits() {
        // CHAR(255) utf8mb4 = 1020 bytes: real type 0xFE with bits 0x30 flipped to 0x20.
        let ty = ColumnType::from_table_map(WireType::MYSQL_TYPE_STRING, &[0xEE, 0xFC]);
        assert_eq!(ty, ColumnType::FixedString { prefix: 2 });
        let ty = ColumnType::from_table_map(WireType::MYSQL_TYPE_STRING, &[0xFE, 40]);
        assert_eq!(ty, ColumnType::FixedString { prefix: 1 });
    }

    #[test]
    fn temporal_and_decimal_sizes() {
        assert_eq!(ColumnType::DateTime2 { fsp: 0 }.value_len(&[0; 5]), Some(5));
        assert_eq!(ColumnType::DateTime2 { fsp: 3 }.value_len(&[0; 8]), Some(7));
        assert_eq!(
            ColumnType::Timestamp2 { fsp: 6 }.value_len(&[0; 7]),
            Some(7)
        );
        assert_eq!(ColumnType::Timestamp2 { fsp: 7 }.value_len(&[0; 9]), None);
        let d = ColumnType::NewDecimal {
            precision: 10,
            scale: 2,
        };
        assert_eq!(d.value_len(&[0; 16]), Some(5));
        let bad = ColumnType::NewDecimal {
            precision: 2,
            scale: 5,
        };
        assert_eq!(bad.value_len(&[0; 16]), None);
        let too_wide = ColumnType::NewDecimal {
            precision: 80,
            scale: 0,
        };
        assert_eq!(too_wide.value_len(&[0; 64]), None);
        let bit = ColumnType::from_table_map(WireType::MYSQL_TYPE_BIT, &[1, 255]);
        assert!(matches!(bit, ColumnType::Unsupported { .. }), "{bit:?}");
        let bit64 = ColumnType::from_table_map(WireType::MYSQL_TYPE_BIT, &[0, 8]);
        assert_eq!(bit64, ColumnType::Bit { bytes: 8 });
    }
}
