//! Character sets of text columns, and how to turn their bytes into UTF-8.
//!
//! Maxwell decodes every text value with its column's charset and sends UTF-8; `latin1` and
//! `ascii` are read as windows-1252 (what Java's charset of that name does), `binary` values
//! are not text at all and go out as base64.

use std::borrow::Cow;

use mysql_common::collations::{Collation, CollationId};

/// The encoding of a column's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charset {
    /// utf8mb3 / utf8mb4 (and MySQL's `utf8` alias).
    Utf8,
    /// latin1 and ascii, read as windows-1252 like Java does.
    Windows1252,
    /// Not text: rendered as base64.
    Binary,
    /// A charset this version does not decode; named in the error if a value arrives.
    Unsupported(String),
}

impl Charset {
    /// From a charset name as `information_schema` spells it.
    pub fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "utf8" | "utf8mb3" | "utf8mb4" => Self::Utf8,
            "latin1" | "ascii" => Self::Windows1252,
            "binary" => Self::Binary,
            other => Self::Unsupported(other.to_owned()),
        }
    }

    /// From a collation id as the binlog's optional metadata carries it.
    pub fn from_collation_id(id: u16) -> Self {
        if id == 63 {
            return Self::Binary;
        }
        let collation = Collation::resolve(CollationId::from(id));
        if collation.id() == CollationId::UNKNOWN_COLLATION_ID {
            // MariaDB numbers some utf8mb3/utf8mb4 collations (UCA 14) above MySQL's range.
            return Self::Unsupported(format!("collation id {id}"));
        }
        Self::from_name(collation.charset())
    }

    /// Decodes text bytes; `None` for charsets we cannot decode (the caller reports it).
    /// Invalid sequences become U+FFFD, as Java's decoder does.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
        match self {
            Self::Utf8 => Some(String::from_utf8_lossy(bytes)),
            Self::Windows1252 => {
                let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
                Some(text)
            }
            Self::Binary | Self::Unsupported(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collation_ids_map_to_charsets() {
        assert_eq!(Charset::from_collation_id(45), Charset::Utf8); // utf8mb4_general_ci
        assert_eq!(Charset::from_collation_id(255), Charset::Utf8); // utf8mb4_0900_ai_ci
        assert_eq!(Charset::from_collation_id(33), Charset::Utf8); // utf8mb3_general_ci
        assert_eq!(Charset::from_collation_id(8), Charset::Windows1252); // latin1_swedish_ci
        assert_eq!(Charset::from_collation_id(11), Charset::Windows1252); // ascii_general_ci
        assert_eq!(Charset::from_collation_id(63), Charset::Binary);
        assert!(matches!(
            Charset::from_collation_id(28), // gbk_chinese_ci
            Charset::Unsupported(_)
        ));
    }

    #[test]
    fn latin1_is_windows_1252() {
        let text = Charset::Windows1252.decode(&[0x80, b'a', 0xE9]).unwrap();
        assert_eq!(text, "€aé");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let text = Charset::Utf8.decode(&[b'a', 0xFF, b'b']).unwrap();
        assert_eq!(text, "a\u{FFFD}b");
    }
}
