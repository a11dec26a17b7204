//! MySQL's binary JSON, written from the JSON text a SELECT returns.
//!
//! A MySQL JSON column travels to a client as text, but the binlog holds it in MySQL's
//! binary format (`json_binary.cc`). A bootstrapped row is written as the row image the
//! binlog would hold, so the one renderer reads both the same way; this module writes that
//! binary form. The layout:
//! - a document is a type byte and a value;
//! - an object is its element count, its size, key entries (offset, length), value entries
//!   (type, offset or inlined value), then the keys and the values; keys sorted by length,
//!   then bytes, as MySQL stores them;
//! - an array is the same without keys;
//! - counts, sizes and offsets take 2 bytes (the small format) when everything fits, else 4;
//! - literals and 16-bit integers (and 32-bit ones in the large format) sit in the value
//!   entry itself;
//! - strings are a variable-length length (7 bits a byte) and UTF-8 bytes.
//!
//! What text cannot say is lost: MySQL's opaque values (a DECIMAL, DATE or TIME cast into
//! JSON) come back as strings or numbers, so such a value renders as the plain JSON it reads
//! as, where the binlog path would render the opaque value (docs/bootstrap.md).

use std::fmt;

/// Why a JSON text could not be written as binary JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonbError(pub String);

impl fmt::Display for JsonbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "JSON text the server returned could not be read: {}",
            self.0
        )
    }
}

impl std::error::Error for JsonbError {}

/// Nesting deeper than MySQL allows (100) is refused rather than recursed into.
const MAX_DEPTH: usize = 100;

const SMALL_OBJECT: u8 = 0x00;
const LARGE_OBJECT: u8 = 0x01;
const SMALL_ARRAY: u8 = 0x02;
const LARGE_ARRAY: u8 = 0x03;
const LITERAL: u8 = 0x04;
const INT16: u8 = 0x05;
const UINT16: u8 = 0x06;
const INT32: u8 = 0x07;
const UINT32: u8 = 0x08;
const INT64: u8 = 0x09;
const UINT64: u8 = 0x0a;
const DOUBLE: u8 = 0x0b;
const STRING: u8 = 0x0c;

const NULL: u8 = 0x00;
const TRUE: u8 = 0x01;
const FALSE: u8 = 0x02;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(String),
    Array(Vec<Node>),
    /// Keys in MySQL's storage order, without duplicates (the first one wins, as in MySQL).
    Object(Vec<(String, Node)>),
}

/// The binary document for the JSON text `text`.
pub fn encode(text: &[u8]) -> Result<Vec<u8>, JsonbError> {
    let text = std::str::from_utf8(text).map_err(|_| JsonbError("not UTF-8".into()))?;
    let mut parser = Parser { text, at: 0 };
    let node = parser.value(0)?;
    parser.skip_space();
    if parser.at != text.len() {
        return Err(JsonbError(format!(
            "text after the value at byte {}",
            parser.at
        )));
    }
    let mut out = Vec::new();
    if matches!(node, Node::Object(_) | Node::Array(_)) {
        // The small format when everything fits, else the large one. A container in the
        // small format may not hold one in the large format, so one try decides for all;
        // only a document that overflows it is written twice.
        out.push(container_type(&node, false));
        if write_container(&mut out, &node, false).is_err() {
            out.clear();
            out.push(container_type(&node, true));
            write_container(&mut out, &node, true)?;
        }
    } else {
        // At the top, every scalar is written out in full after its type.
        out.push(scalar_type(&node, false).0);
        write_scalar(&mut out, &node);
    }
    Ok(out)
}

/// The type byte of a scalar, and whether it is inlined in a value entry of the given
/// format.
fn scalar_type(node: &Node, large: bool) -> (u8, bool) {
    match node {
        Node::Null | Node::Bool(_) => (LITERAL, true),
        Node::Int(i) if i16::try_from(*i).is_ok() => (INT16, true),
        Node::Int(i) if i32::try_from(*i).is_ok() => (INT32, large),
        Node::Int(_) => (INT64, false),
        Node::Uint(u) if u16::try_from(*u).is_ok() => (UINT16, true),
        Node::Uint(u) if u32::try_from(*u).is_ok() => (UINT32, large),
        Node::Uint(_) => (UINT64, false),
        Node::Double(_) => (DOUBLE, false),
        Node::String(_) => (STRING, false),
        Node::Array(_) | Node::Object(_) => (0, false),
    }
}

fn container_type(node: &Node, large: bool) -> u8 {
    match (node, large) {
        (Node::Object(_), false) => SMALL_OBJECT,
        (Node::Object(_), true) => LARGE_OBJECT,
        (_, false) => SMALL_ARRAY,
        (_, true) => LARGE_ARRAY,
    }
}

/// Writes a scalar's bytes as they follow its type byte (a literal as its one byte).
fn write_scalar(out: &mut Vec<u8>, node: &Node) {
    match node {
        Node::Null => out.push(NULL),
        Node::Bool(true) => out.push(TRUE),
        Node::Bool(false) => out.push(FALSE),
        Node::Int(i) => match (i16::try_from(*i), i32::try_from(*i)) {
            (Ok(v), _) => out.extend_from_slice(&v.to_le_bytes()),
            (_, Ok(v)) => out.extend_from_slice(&v.to_le_bytes()),
            _ => out.extend_from_slice(&i.to_le_bytes()),
        },
        Node::Uint(u) => match (u16::try_from(*u), u32::try_from(*u)) {
            (Ok(v), _) => out.extend_from_slice(&v.to_le_bytes()),
            (_, Ok(v)) => out.extend_from_slice(&v.to_le_bytes()),
            _ => out.extend_from_slice(&u.to_le_bytes()),
        },
        Node::Double(d) => out.extend_from_slice(&d.to_le_bytes()),
        Node::String(s) => {
            let mut len = s.len();
            loop {
                let byte = u8::try_from(len & 0x7f).unwrap_or(0);
                len >>= 7;
                if len == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.extend_from_slice(s.as_bytes());
        }
        Node::Array(_) | Node::Object(_) => {}
    }
}

/// Writes an object's or array's body (after its type byte): count, size, entries, keys,
/// values. Offsets are from the body's first byte. Errs when the small format overflows.
fn write_container(out: &mut Vec<u8>, node: &Node, large: bool) -> Result<(), JsonbError> {
    let (keys, values): (Vec<&str>, Vec<&Node>) = match node {
        Node::Object(members) => members.iter().map(|(k, v)| (k.as_str(), v)).unzip(),
        Node::Array(items) => (Vec::new(), items.iter().collect()),
        _ => return Err(JsonbError("not a container".into())),
    };
    let width = if large { 4 } else { 2 };
    let overflow = || JsonbError("too large for the small format".into());
    let put = |out: &mut Vec<u8>, at: usize, n: usize| -> Result<(), JsonbError> {
        if large {
            let n = u32::try_from(n).map_err(|_| JsonbError("a document over 4 GiB".into()))?;
            out[at..at + 4].copy_from_slice(&n.to_le_bytes());
        } else {
            let n = u16::try_from(n).map_err(|_| overflow())?;
            out[at..at + 2].copy_from_slice(&n.to_le_bytes());
        }
        Ok(())
    };
    let start = out.len();
    // Header: count and size, filled in at the end.
    out.resize(start + 2 * width, 0);
    put(out, start, values.len())?;
    let key_entries = out.len();
    out.resize(key_entries + keys.len() * (width + 2), 0);
    let value_entries = out.len();
    out.resize(value_entries + values.len() * (1 + width), 0);
    for (i, key) in keys.iter().enumerate() {
        let entry = key_entries + i * (width + 2);
        put(out, entry, out.len() - start)?;
        let len = u16::try_from(key.len()).map_err(|_| JsonbError("a key over 64 KiB".into()))?;
        out[entry + width..entry + width + 2].copy_from_slice(&len.to_le_bytes());
        out.extend_from_slice(key.as_bytes());
    }
    for (i, value) in values.iter().enumerate() {
        let entry = value_entries + i * (1 + width);
        match value {
            Node::Object(_) | Node::Array(_) => {
                out[entry] = container_type(value, large);
                put(out, entry + 1, out.len() - start)?;
                write_container(out, value, large)?;
            }
            _ => {
                let (ty, inline) = scalar_type(value, large);
                out[entry] = ty;
                if inline {
                    let mut bytes = Vec::with_capacity(4);
                    write_scalar(&mut bytes, value);
                    out[entry + 1..entry + 1 + bytes.len()].copy_from_slice(&bytes);
                } else {
                    put(out, entry + 1, out.len() - start)?;
                    write_scalar(out, value);
                }
            }
        }
    }
    put(out, start + width, out.len() - start)?;
    Ok(())
}

/// A JSON text reader, for the well-formed text MySQL returns (and refusing anything else).
struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> JsonbError {
        JsonbError(format!("{what} at byte {}", self.at))
    }

    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonbError> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected `{}`", char::from(byte))))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, JsonbError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 100"));
        }
        self.skip_space();
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                let mut members: Vec<(String, Node)> = Vec::new();
                self.skip_space();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                } else {
                    loop {
                        self.skip_space();
                        let key = self.string()?;
                        self.expect(b':')?;
                        let value = self.value(depth + 1)?;
                        if !members.iter().any(|(k, _)| *k == key) {
                            members.push((key, value));
                        }
                        self.skip_space();
                        match self.peek() {
                            Some(b',') => self.at += 1,
                            Some(b'}') => {
                                self.at += 1;
                                break;
                            }
                            _ => return Err(self.error("expected `,` or `}`")),
                        }
                    }
                }
                // MySQL's storage order: shorter keys first, then by bytes.
                members.sort_by(|(a, _), (b, _)| {
                    a.len()
                        .cmp(&b.len())
                        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
                });
                Ok(Node::Object(members))
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.skip_space();
                if self.peek() == Some(b']') {
                    self.at += 1;
                } else {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.skip_space();
                        match self.peek() {
                            Some(b',') => self.at += 1,
                            Some(b']') => {
                                self.at += 1;
                                break;
                            }
                            _ => return Err(self.error("expected `,` or `]`")),
                        }
                    }
                }
                Ok(Node::Array(items))
            }
            Some(b'"') => Ok(Node::String(self.string()?)),
            Some(b't') => self.word("true", Node::Bool(true)),
            Some(b'f') => self.word("false", Node::Bool(false)),
            Some(b'n') => self.word("null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("expected a JSON value")),
        }
    }

    fn word(&mut self, word: &str, node: Node) -> Result<Node, JsonbError> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(node)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    /// A number: an integer when it has no fraction or exponent and fits 64 bits (signed,
    /// else unsigned), as MySQL reads it; otherwise a double, rounded correctly.
    fn number(&mut self) -> Result<Node, JsonbError> {
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !matches!(c, '0'..='9' | '-' | '+' | '.' | 'e' | 'E'))
            .unwrap_or(rest.len());
        let token = &rest[..len];
        self.at += len;
        let integral = !token.contains(['.', 'e', 'E']);
        if integral {
            if let Ok(i) = token.parse::<i64>() {
                return Ok(Node::Int(i));
            }
            if let Ok(u) = token.parse::<u64>() {
                return Ok(Node::Uint(u));
            }
        }
        match token.parse::<f64>() {
            Ok(d) if d.is_finite() => Ok(Node::Double(d)),
            _ => Err(self.error("a number that is not one")),
        }
    }

    fn string(&mut self) -> Result<String, JsonbError> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string"));
        }
        self.at += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.at..];
            let Some(stop) = rest.find(['"', '\\']) else {
                return Err(self.error("an unterminated string"));
            };
            out.push_str(&rest[..stop]);
            self.at += stop;
            if self.peek() == Some(b'"') {
                self.at += 1;
                return Ok(out);
            }
            // An escape.
            let escape = self.text.as_bytes().get(self.at + 1).copied();
            self.at += 2;
            match escape {
                Some(b'"') => out.push('"'),
                Some(b'\\') => out.push('\\'),
                Some(b'/') => out.push('/'),
                Some(b'b') => out.push('\u{8}'),
                Some(b'f') => out.push('\u{c}'),
                Some(b'n') => out.push('\n'),
                Some(b'r') => out.push('\r'),
                Some(b't') => out.push('\t'),
                Some(b'u') => {
                    let unit = self.hex4()?;
                    let c = if (0xd800..0xdc00).contains(&unit) {
                        // A surrogate pair.
                        if !self.text[self.at..].starts_with("\\u") {
                            return Err(self.error("a lone surrogate"));
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..0xe000).contains(&low) {
                            return Err(self.error("a lone surrogate"));
                        }
                        char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))
                    } else {
                        char::from_u32(unit)
                    };
                    out.push(c.ok_or_else(|| self.error("a lone surrogate"))?);
                }
                _ => return Err(self.error("an unknown escape")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonbError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("a short \\u escape"))?;
        let unit = u32::from_str_radix(digits, 16).map_err(|_| self.error("a bad \\u escape"))?;
        self.at += 4;
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_take_mysqls_types() {
        assert_eq!(encode(b"null").unwrap(), [LITERAL, NULL]);
        assert_eq!(encode(b" true ").unwrap(), [LITERAL, TRUE]);
        assert_eq!(encode(b"-2").unwrap(), [INT16, 0xfe, 0xff]);
        assert_eq!(encode(b"70000").unwrap(), [INT32, 0x70, 0x11, 0x01, 0x00]);
        assert_eq!(
            encode(b"18446744073709551615").unwrap(),
            [UINT64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        let mut double = vec![DOUBLE];
        double.extend_from_slice(&1.5f64.to_le_bytes());
        assert_eq!(encode(b"1.5").unwrap(), double);
        assert_eq!(
            encode(br#""a\u00e9""#).unwrap(),
            [STRING, 3, b'a', 0xc3, 0xa9]
        );
    }

    #[test]
    fn a_small_object_is_laid_out_as_mysql_lays_it_out() {
        // {"b": 1, "aa": "x"}: keys by length, then bytes; 1 inlined, "x" at the end.
        let doc = encode(br#"{"aa": "x", "b": 1}"#).unwrap();
        assert_eq!(
            doc,
            [
                SMALL_OBJECT,
                2,
                0, // count
                23,
                0, // size
                18,
                0,
                1,
                0, // key "b" at 18, length 1
                19,
                0,
                2,
                0, // key "aa" at 19, length 2
                INT16,
                1,
                0, // 1, inlined
                STRING,
                21,
                0, // "x" at 21
                b'b',
                b'a',
                b'a', // keys
                1,
                b'x', // the string
            ]
        );
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        for text in [
            &b""[..],
            b"{",
            b"[1,",
            b"\"abc",
            b"\"\\ud800\"",
            b"nul",
            b"1 2",
            b"{\"a\" 1}",
            b"\xff",
            b"1e999",
        ] {
            assert!(encode(text).is_err(), "{:?}", String::from_utf8_lossy(text));
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(encode(deep.as_bytes()).is_err());
    }
}
