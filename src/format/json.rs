//! Low-level JSON writing into a byte buffer, escaping strings exactly as Maxwell's Jackson
//! generator does: `"` and `\` escaped, control characters as `\b \t \n \f \r` or `\u00XX`
//! with upper-case hex, everything else (including non-ASCII) written raw as UTF-8.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Appends `s` as a quoted, escaped JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
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
        assert_eq!(s("Zoë 名前 😀"), "\"Zoë 名前 😀\"");
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
