//! Character sets of text columns, and how to turn their bytes into UTF-8.
//!
//! Maxwell decodes every text value with its column's charset (through the Java charset of
//! that name) and sends UTF-8. We do the same through `encoding_rs`: `latin1` and `ascii`
//! are windows-1252 as in Java, `ucs2`/`utf16` big-endian UTF-16, `utf16le`, `utf32`
//! big-endian UTF-32, and the regional charsets map to their WHATWG encodings. `binary`
//! values are not text at all and go out as base64.

use std::borrow::Cow;

use encoding_rs::Encoding;
use mysql_common::collations::{Collation, CollationId};

/// The encoding of a column's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charset {
    /// utf8mb3 / utf8mb4 (and MySQL's `utf8` alias).
    Utf8,
    /// A charset `encoding_rs` decodes (latin1 as windows-1252, utf16, sjis, ...).
    Encoded(&'static Encoding),
    /// MySQL's `utf32`: big-endian UTF-32, which `encoding_rs` does not cover.
    Utf32,
    /// Not text: rendered as base64.
    Binary,
    /// A charset this version does not decode; named in the error if a value arrives.
    Unsupported(String),
}

impl Charset {
    /// latin1, which MySQL and Java both treat as windows-1252.
    pub const LATIN1: Charset = Charset::Encoded(encoding_rs::WINDOWS_1252);

    /// From a charset name as `information_schema` spells it.
    pub fn from_name(name: &str) -> Self {
        let name = name.to_ascii_lowercase();
        let encoding = match name.as_str() {
            "utf8" | "utf8mb3" | "utf8mb4" => return Self::Utf8,
            "binary" => return Self::Binary,
            "utf32" => return Self::Utf32,
            "latin1" | "ascii" => encoding_rs::WINDOWS_1252,
            "ucs2" | "utf16" => encoding_rs::UTF_16BE,
            "utf16le" => encoding_rs::UTF_16LE,
            "latin2" => encoding_rs::ISO_8859_2,
            "greek" => encoding_rs::ISO_8859_7,
            "hebrew" => encoding_rs::ISO_8859_8,
            "latin5" => encoding_rs::WINDOWS_1254,
            "latin7" => encoding_rs::ISO_8859_13,
            "cp1250" => encoding_rs::WINDOWS_1250,
            "cp1251" => encoding_rs::WINDOWS_1251,
            "cp1256" => encoding_rs::WINDOWS_1256,
            "cp1257" => encoding_rs::WINDOWS_1257,
            "cp866" => encoding_rs::IBM866,
            "koi8r" => encoding_rs::KOI8_R,
            "koi8u" => encoding_rs::KOI8_U,
            "macroman" => encoding_rs::MACINTOSH,
            "tis620" => encoding_rs::WINDOWS_874,
            "sjis" | "cp932" => encoding_rs::SHIFT_JIS,
            "ujis" | "eucjpms" => encoding_rs::EUC_JP,
            "euckr" => encoding_rs::EUC_KR,
            "gb2312" | "gbk" => encoding_rs::GBK,
            "gb18030" => encoding_rs::GB18030,
            "big5" => encoding_rs::BIG5,
            _ => return Self::Unsupported(name),
        };
        Self::Encoded(encoding)
    }

    /// A MySQL charset name for this encoding (the first of its aliases).
    pub fn name(&self) -> &str {
        match self {
            Self::Utf8 => "utf8mb4",
            Self::Binary => "binary",
            Self::Utf32 => "utf32",
            Self::Unsupported(name) => name,
            Self::Encoded(e) => {
                let e: &'static Encoding = e;
                [
                    (encoding_rs::WINDOWS_1252, "latin1"),
                    (encoding_rs::UTF_16BE, "utf16"),
                    (encoding_rs::UTF_16LE, "utf16le"),
                    (encoding_rs::ISO_8859_2, "latin2"),
                    (encoding_rs::ISO_8859_7, "greek"),
                    (encoding_rs::ISO_8859_8, "hebrew"),
                    (encoding_rs::WINDOWS_1254, "latin5"),
                    (encoding_rs::ISO_8859_13, "latin7"),
                    (encoding_rs::WINDOWS_1250, "cp1250"),
                    (encoding_rs::WINDOWS_1251, "cp1251"),
                    (encoding_rs::WINDOWS_1256, "cp1256"),
                    (encoding_rs::WINDOWS_1257, "cp1257"),
                    (encoding_rs::IBM866, "cp866"),
                    (encoding_rs::KOI8_R, "koi8r"),
                    (encoding_rs::KOI8_U, "koi8u"),
                    (encoding_rs::MACINTOSH, "macroman"),
                    (encoding_rs::WINDOWS_874, "tis620"),
                    (encoding_rs::SHIFT_JIS, "sjis"),
                    (encoding_rs::EUC_JP, "ujis"),
                    (encoding_rs::EUC_KR, "euckr"),
                    (encoding_rs::GBK, "gbk"),
                    (encoding_rs::GB18030, "gb18030"),
                    (encoding_rs::BIG5, "big5"),
                ]
                .into_iter()
                .find(|(enc, _)| *enc == e)
                .map_or("binary", |(_, name)| name)
            }
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
    /// Invalid sequences become U+FFFD, as Java's decoders do.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> Option<Cow<'a, str>> {
        match self {
            // Valid text (nearly all of it) is checked by the fast validator and borrowed.
            Self::Utf8 => Some(match std::str::from_utf8(bytes) {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(bytes),
            }),
            Self::Encoded(encoding) if *encoding == encoding_rs::WINDOWS_1252 => {
                Some(decode_java_windows_1252(bytes))
            }
            Self::Encoded(encoding) => Some(encoding.decode_without_bom_handling(bytes).0),
            Self::Utf32 => Some(Cow::Owned(
                bytes
                    .chunks(4)
                    .map(|c| match <[u8; 4]>::try_from(c) {
                        Ok(b) => char::from_u32(u32::from_be_bytes(b)).unwrap_or('\u{FFFD}'),
                        Err(_) => '\u{FFFD}',
                    })
                    .collect(),
            )),
            Self::Binary | Self::Unsupported(_) => None,
        }
    }
}

/// windows-1252 as Java decodes it: the five bytes the code page leaves undefined (0x81,
/// 0x8D, 0x8F, 0x90, 0x9D) become U+FFFD, where the WHATWG decoder maps them to C1 controls.
fn decode_java_windows_1252(bytes: &[u8]) -> Cow<'_, str> {
    // ASCII (most latin1 text) reads the same in every ASCII-compatible charset.
    if bytes.is_ascii()
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return Cow::Borrowed(text);
    }
    let decoded = encoding_rs::WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0;
    if !bytes
        .iter()
        .any(|b| matches!(b, 0x81 | 0x8D | 0x8F | 0x90 | 0x9D))
    {
        return decoded;
    }
    Cow::Owned(
        decoded
            .chars()
            .map(|c| match c {
                '\u{81}' | '\u{8D}' | '\u{8F}' | '\u{90}' | '\u{9D}' => '\u{FFFD}',
                c => c,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collation_ids_map_to_charsets() {
        assert_eq!(Charset::from_collation_id(45), Charset::Utf8); // utf8mb4_general_ci
        assert_eq!(Charset::from_collation_id(255), Charset::Utf8); // utf8mb4_0900_ai_ci
        assert_eq!(Charset::from_collation_id(33), Charset::Utf8); // utf8mb3_general_ci
        assert_eq!(Charset::from_collation_id(8), Charset::LATIN1); // latin1_swedish_ci
        assert_eq!(Charset::from_collation_id(11), Charset::LATIN1); // ascii_general_ci
        assert_eq!(Charset::from_collation_id(63), Charset::Binary);
        assert_eq!(
            Charset::from_collation_id(35), // ucs2_general_ci
            Charset::Encoded(encoding_rs::UTF_16BE)
        );
        assert_eq!(Charset::from_collation_id(60), Charset::Utf32); // utf32_general_ci
        assert_eq!(
            Charset::from_collation_id(28), // gbk_chinese_ci
            Charset::Encoded(encoding_rs::GBK)
        );
        assert!(matches!(
            Charset::from_collation_id(3), // dec8_swedish_ci: no decoder, as in Maxwell
            Charset::Unsupported(_)
        ));
    }

    #[test]
    fn latin1_is_windows_1252() {
        let text = Charset::LATIN1.decode(&[0x80, b'a', 0xE9]).unwrap();
        assert_eq!(text, "€aé");
        let text = Charset::LATIN1.decode(&[0x81, 0x9D, b'z']).unwrap();
        assert_eq!(text, "\u{FFFD}\u{FFFD}z");
    }

    #[test]
    fn wide_charsets_decode() {
        let utf16 = Charset::from_name("utf16");
        assert_eq!(
            utf16
                .decode(&[0, b'h', 0, 0xE9, 0xD8, 0x3D, 0xDE, 0x00])
                .unwrap(),
            "hé😀"
        );
        assert_eq!(
            Charset::from_name("ucs2").decode(&[0x00, 0x41]).unwrap(),
            "A"
        );
        assert_eq!(
            Charset::from_name("utf16le").decode(&[0x41, 0x00]).unwrap(),
            "A"
        );
        let utf32 = Charset::from_name("utf32");
        assert_eq!(
            utf32.decode(&[0, 0, 0, b'a', 0, 1, 0xF6, 0]).unwrap(),
            "a😀"
        );
        assert_eq!(utf32.decode(&[0, 0x11, 0, 0]).unwrap(), "\u{FFFD}");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let text = Charset::Utf8.decode(&[b'a', 0xFF, b'b']).unwrap();
        assert_eq!(text, "a\u{FFFD}b");
    }
}
