//! Low-level JSON writing into a byte buffer, escaping strings exactly as Maxwell's Jackson
//! (2.15, UTF-8 generator) does: `"` and `\` escaped, control characters as `\b \t \n \f \r`
//! or `\u00XX` with upper-case hex, characters outside the Basic Multilingual Plane as their
//! two UTF-16 surrogates (`😀` → `\uD83D\uDE00`), everything else raw as UTF-8.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` as a quoted JSON string, escaped as Jackson's UTF-8 generator does.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_escaped(out, s, true);
}

/// Like [`write_str`] but leaves characters outside the BMP as UTF-8: the form text takes
/// when Maxwell writes it raw (JSON column documents).
pub fn write_str_raw_unicode(out: &mut Vec<u8>, s: &str) {
    write_escaped(out, s, false);
}

fn write_escaped(out: &mut Vec<u8>, s: &str, escape_supplementary: bool) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    // Bytes before `start` are written; text is copied in runs between escapes.
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Most text needs no escape at all: skip it eight bytes at a time. A last run
        // shorter than eight is padded with spaces, which never need escaping.
        let (word, take) = match bytes.get(i..i + 8) {
            Some(chunk) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                (word, 8)
            }
            None => {
                let mut word = [b' '; 8];
                let tail = &bytes[i..];
                for (w, &b) in word.iter_mut().zip(tail) {
                    *w = b;
                }
                (word, tail.len())
            }
        };
        if !may_need_escape(u64::from_le_bytes(word), escape_supplementary) {
            i += take;
            continue;
        }
        let b = bytes[i];
        if b >= 0xF0 && escape_supplementary {
            // The lead byte of a 4-byte UTF-8 sequence: a character outside the BMP.
            let Some(c) = s.get(i..).and_then(|rest| rest.chars().next()) else {
                i += 1;
                continue;
            };
            out.extend_from_slice(&bytes[start..i]);
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units).iter() {
                out.extend_from_slice(b"\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((unit >> shift) & 0xF) as usize]);
                }
            }
            i += c.len_utf8();
            start = i;
            continue;
        }
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0C => b'f',
            0x00..=0x1F => 0,
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if short == 0 {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0x0F) as usize]);
        } else {
            out.push(b'\\');
            out.push(short);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes in `word` may need escaping: a control character, `"`,
/// `\`, or (with `supplementary`) the lead byte of a 4-byte UTF-8 sequence. Exact or
/// conservative: a `true` only sends those bytes through the byte-by-byte path.
fn may_need_escape(word: u64, supplementary: bool) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    let quote = has_zero(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(word ^ (ONES * u64::from(b'\\')));
    let lead4 = supplementary && has_zero((word & (ONES * 0xF0)) ^ (ONES * 0xF0));
    below_space || quote || backslash || lead4
}

/// Appends `"key":`.
pub fn write_key(out: &mut Vec<u8>, key: &str) {
    write_str(out, key);
    out.push(b':');
}

/// Appends bytes as a quoted standard base64 string with padding (Maxwell's BLOB form).
pub fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    write_base64_text(out, bytes);
    out.push(b'"');
}

/// Appends `bytes` in standard base64, without quotes.
pub fn write_base64_text(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let written = STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or_default();
    out.truncate(start + written);
}

/// Appends an integer.
pub fn write_int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_jackson() {
        assert_eq!(s("plain"), r#""plain""#);
        assert_eq!(s("a\"b\\c/d"), r#""a\"b\\c/d""#);
        assert_eq!(s("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(s("\u{1}\u{1f}"), r#""\u0001\u001F""#);
        assert_eq!(s("Zoë 名前 😀"), "\"Zoë 名前 \\uD83D\\uDE00\"");
        assert_eq!(s("a😀b😀"), r#""a\uD83D\uDE00b\uD83D\uDE00""#);
        let mut raw = Vec::new();
        write_str_raw_unicode(&mut raw, "😀\n");
        assert_eq!(raw, "\"😀\\n\"".as_bytes());
        assert_eq!(s("\u{7f}\u{2028}"), "\"\u{7f}\u{2028}\"");
    }

    /// Character by character, obviously like Jackson: the reference for the fast path.
    fn reference(text: &str, supplementary: bool) -> String {
        let mut out = String::from('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
                c if supplementary && (c as u32) > 0xFFFF => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units).iter() {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn the_word_at_a_time_scan_matches_the_reference_at_every_position() {
        let alphabet = [
            'a',
            'z',
            ' ',
            '~',
            '"',
            '\\',
            '\n',
            '\u{1}',
            '\u{1f}',
            '\u{7f}',
            'é',
            'ÿ',
            '名',
            '\u{2028}',
            '😀',
            '\u{10FFFF}',
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..5000 {
            let len = rng.usize(0..40);
            let text: String = (0..len)
                .map(|_| {
                    // Mostly plain text, as in real rows, so long clean runs occur too.
                    if rng.u8(0..4) == 0 {
                        alphabet[rng.usize(0..alphabet.len())]
                    } else {
                        'x'
                    }
                })
                .collect();
            for supplementary in [true, false] {
                let mut out = Vec::new();
                write_escaped(&mut out, &text, supplementary);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    reference(&text, supplementary),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn base64_is_padded_standard() {
        let mut out = Vec::new();
        write_base64(&mut out, &[0, 1, 2, 3]);
        assert_eq!(out, b"\"AAECAw==\"");
        out.clear();
        write_base64(&mut out, &[]);
        assert_eq!(out, b"\"\"");
        out.clear();
        write_base64(&mut out, &[0xFB, 0xFF]);
        assert_eq!(out, b"\"+/8=\"");
    }
}
