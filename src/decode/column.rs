//! How many bytes a value of each column type takes in a row image, and where a string's
//! bytes start behind its length prefix.

use mysql_common::binlog::decimal::decimal_bin_size;

use crate::table::ColumnType;

/// How many bytes the value at the start of `data` occupies, or `None` when `data` is
/// too short or the type's size cannot be known.
pub fn value_len(ty: ColumnType, data: &[u8]) -> Option<usize> {
    let len = match ty {
        ColumnType::Tiny | ColumnType::Year => 1,
        ColumnType::Short => 2,
        ColumnType::Int24 | ColumnType::Date | ColumnType::Time => 3,
        ColumnType::Long | ColumnType::Float | ColumnType::Timestamp => 4,
        ColumnType::LongLong | ColumnType::Double | ColumnType::DateTime => 8,
        ColumnType::TimestampHires { fsp } => 4 + fsp_bytes(fsp)?,
        ColumnType::DateTimeHires { fsp } => *[5, 6, 6, 7, 7, 7, 8].get(usize::from(fsp))?,
        ColumnType::TimeHires { fsp } => *[3, 4, 4, 5, 5, 5, 6].get(usize::from(fsp))?,
        ColumnType::NewDecimal { precision, scale } => {
            // MySQL's limits: DECIMAL(65, 30).
            if scale > precision || precision == 0 || precision > 65 || scale > 30 {
                return None;
            }
            decimal_bin_size(precision as usize, scale as usize)
        }
        ColumnType::DateTime2 { fsp } => 5 + fsp_bytes(fsp)?,
        ColumnType::Timestamp2 { fsp } => 4 + fsp_bytes(fsp)?,
        ColumnType::Time2 { fsp } => 3 + fsp_bytes(fsp)?,
        ColumnType::VarString { prefix } | ColumnType::FixedString { prefix } => {
            prefix as usize + read_len(data, prefix)?
        }
        ColumnType::Blob { prefix }
        | ColumnType::Json { prefix }
        | ColumnType::Geometry { prefix } => prefix as usize + read_len(data, prefix)?,
        ColumnType::Enum { size } | ColumnType::Set { size } => size as usize,
        ColumnType::Bit { bytes } => bytes as usize,
        ColumnType::Unsupported { .. } => return None,
    };
    (len <= data.len()).then_some(len)
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
        assert_eq!(value_len(v, &[3, b'a', b'b', b'c', 9]), Some(4));
        assert_eq!(value_len(v, &[3, b'a']), None, "truncated value");
        let v = ColumnType::VarString { prefix: 2 };
        assert_eq!(value_len(v, &[1, 1, 0]), None);
        let mut long = vec![0x01, 0x01];
        long.extend(std::iter::repeat_n(b'x', 257));
        assert_eq!(value_len(v, &long), Some(259));
        let b = ColumnType::Blob { prefix: 4 };
        assert_eq!(value_len(b, &[2, 0, 0, 0, 1, 2]), Some(6));
        assert_eq!(value_len(ColumnType::Blob { prefix: 9 }, &[0; 16]), None);
    }

    #[test]
    fn temporal_and_decimal_sizes() {
        assert_eq!(
            value_len(ColumnType::DateTime2 { fsp: 0 }, &[0; 5]),
            Some(5)
        );
        assert_eq!(
            value_len(ColumnType::DateTime2 { fsp: 3 }, &[0; 8]),
            Some(7)
        );
        assert_eq!(
            value_len(ColumnType::Timestamp2 { fsp: 6 }, &[0; 7]),
            Some(7)
        );
        assert_eq!(value_len(ColumnType::Timestamp2 { fsp: 7 }, &[0; 9]), None);
        let d = ColumnType::NewDecimal {
            precision: 10,
            scale: 2,
        };
        assert_eq!(value_len(d, &[0; 16]), Some(5));
        let bad = ColumnType::NewDecimal {
            precision: 2,
            scale: 5,
        };
        assert_eq!(value_len(bad, &[0; 16]), None);
        let too_wide = ColumnType::NewDecimal {
            precision: 80,
            scale: 0,
        };
        assert_eq!(value_len(too_wide, &[0; 64]), None);
    }
}
