//! Column types as the binlog's TABLE_MAP event describes them.
//!
//! The table map gives each column a type byte and a few bytes of metadata (lengths,
//! precision, fractional-second digits). We turn those into [`ColumnType`] once per table
//! map, so reading a row never has to re-parse metadata. How many bytes a value of each
//! type takes is the decoder's business (`decode::value_len`).

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_max_length_uses_the_hidden_high_bits() {
        // CHAR(255) utf8mb4 = 1020 bytes: real type 0xFE with bits 0x30 flipped to 0x20.
        let ty = ColumnType::from_table_map(WireType::MYSQL_TYPE_STRING, &[0xEE, 0xFC]);
        assert_eq!(ty, ColumnType::FixedString { prefix: 2 });
        let ty = ColumnType::from_table_map(WireType::MYSQL_TYPE_STRING, &[0xFE, 40]);
        assert_eq!(ty, ColumnType::FixedString { prefix: 1 });
        let bit = ColumnType::from_table_map(WireType::MYSQL_TYPE_BIT, &[1, 255]);
        assert!(matches!(bit, ColumnType::Unsupported { .. }), "{bit:?}");
        let bit64 = ColumnType::from_table_map(WireType::MYSQL_TYPE_BIT, &[0, 8]);
        assert_eq!(bit64, ColumnType::Bit { bytes: 8 });
    }
}
