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
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0xF0 && escape_supplementary {
            // The lead byte of a 4-byte UTF-8 sequence: a character outside the BMP.
            let Some(c) = s.get(i..).and_then(|rest| rest.chars().next()) else {
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
            start = i + c.len_utf8();
            continue;
        }
        if i < start {
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
            _ => continue,
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
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `"key":`.
pub fn write_key(out: &mut Vec<u8>, key: &str) {
    write_str(out, key);
    out.push(b':');
}

/// Appends bytes as a quoted standard base64 string with padding (Maxwell's BLOB form).
pub fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    let written = STANDARD
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or_default();
    out.truncate(start + written);
    out.push(b'"');
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
