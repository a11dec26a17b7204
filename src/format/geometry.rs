//! GEOMETRY values as Maxwell renders them: the WKB after MySQL's 4-byte SRID prefix, as
//! text the way JTS 1.13's `WKTWriter` writes it (`POINT (3 2)`, `LINESTRING (0 1, 1 2)`,
//! `GEOMETRYCOLLECTION (POINT (1 1), ...)`), numbers through `DecimalFormat("0.#{16}")`.
//!
//! The WKB reader is small and checks every length against the bytes it has; an out-of-range
//! count or unknown type is an error, never a guessed shape.

use super::number::shortest_digits;

/// Why a geometry could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadGeometry;

/// Appends the WKT (quoted) for a MySQL geometry value (SRID + WKB).
pub fn write_geometry(out: &mut Vec<u8>, value: &[u8]) -> Result<(), BadGeometry> {
    out.push(b'"');
    write_geometry_text(out, value)?;
    out.push(b'"');
    Ok(())
}

/// Appends the geometry's WKT without quotes (WKT holds nothing JSON would escape).
pub fn write_geometry_text(out: &mut Vec<u8>, value: &[u8]) -> Result<(), BadGeometry> {
    let wkb = value.get(4..).ok_or(BadGeometry)?;
    let mut reader = Wkb { data: wkb, pos: 0 };
    let mut text = String::new();
    reader.geometry(&mut text, 0)?;
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Nesting deeper than this is refused: MySQL cannot produce it, and it bounds recursion.
const MAX_DEPTH: usize = 32;

struct Wkb<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Wkb<'_> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], BadGeometry> {
        let b = self
            .data
            .get(self.pos..self.pos + N)
            .ok_or(BadGeometry)?
            .try_into()
            .map_err(|_| BadGeometry)?;
        self.pos += N;
        Ok(b)
    }

    fn u32(&mut self, little: bool) -> Result<u32, BadGeometry> {
        let b = self.bytes::<4>()?;
        Ok(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, little: bool) -> Result<f64, BadGeometry> {
        let b = self.bytes::<8>()?;
        Ok(if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// A count of items each at least `min_size` bytes long, checked against what is left.
    fn count(&mut self, little: bool, min_size: usize) -> Result<usize, BadGeometry> {
        let n = self.u32(little)? as usize;
        let left = self.data.len().saturating_sub(self.pos);
        if n.saturating_mul(min_size) > left {
            return Err(BadGeometry);
        }
        Ok(n)
    }

    fn coordinate(&mut self, little: bool, text: &mut String) -> Result<(), BadGeometry> {
        let x = self.f64(little)?;
        let y = self.f64(little)?;
        write_ordinate(text, x);
        text.push(' ');
        write_ordinate(text, y);
        Ok(())
    }

    fn coordinates(&mut self, little: bool, text: &mut String) -> Result<(), BadGeometry> {
        let n = self.count(little, 16)?;
        self.list(n, text, |r, t| r.coordinate(little, t))
    }

    /// Reads one geometry (byte order, type, body); `tagged` writes its type name first.
    fn geometry(&mut self, text: &mut String, depth: usize) -> Result<(), BadGeometry> {
        if depth > MAX_DEPTH {
            return Err(BadGeometry);
        }
        let little = match self.bytes::<1>()?[0] {
            0 => false,
            1 => true,
            _ => return Err(BadGeometry),
        };
        let kind = self.u32(little)?;
        let name = match kind {
            1 => "POINT",
            2 => "LINESTRING",
            3 => "POLYGON",
            4 => "MULTIPOINT",
            5 => "MULTILINESTRING",
            6 => "MULTIPOLYGON",
            7 => "GEOMETRYCOLLECTION",
            _ => return Err(BadGeometry),
        };
        text.push_str(name);
        text.push(' ');
        self.body(kind, little, text, depth)
    }

    fn body(
        &mut self,
        kind: u32,
        little: bool,
        text: &mut String,
        depth: usize,
    ) -> Result<(), BadGeometry> {
        match kind {
            1 => {
                text.push('(');
                self.coordinate(little, text)?;
                text.push(')');
            }
            2 => self.coordinates(little, text)?,
            3 => {
                let rings = self.count(little, 4)?;
                self.list(rings, text, |r, t| r.coordinates(little, t))?;
            }
            4..=6 => {
                let parts = self.count(little, 5)?;
                let part_kind = kind - 3;
                self.list(parts, text, |r, t| {
                    // Members carry their own header; JTS writes them without a type name.
                    let member_little = match r.bytes::<1>()?[0] {
                        0 => false,
                        1 => true,
                        _ => return Err(BadGeometry),
                    };
                    if r.u32(member_little)? != part_kind {
                        return Err(BadGeometry);
                    }
                    r.body(part_kind, member_little, t, depth + 1)
                })?;
            }
            7 => {
                let parts = self.count(little, 5)?;
                self.list(parts, text, |r, t| r.geometry(t, depth + 1))?;
            }
            _ => return Err(BadGeometry),
        }
        Ok(())
    }

    /// `EMPTY`, or `(a, b, ...)` with each item written by `item`.
    fn list(
        &mut self,
        n: usize,
        text: &mut String,
        mut item: impl FnMut(&mut Self, &mut String) -> Result<(), BadGeometry>,
    ) -> Result<(), BadGeometry> {
        if n == 0 {
            text.push_str("EMPTY");
            return Ok(());
        }
        text.push('(');
        for i in 0..n {
            if i > 0 {
                text.push_str(", ");
            }
            item(self, text)?;
        }
        text.push(')');
        Ok(())
    }
}

/// A coordinate as `DecimalFormat("0.################")` prints it: plain, at most 16
/// fraction digits rounded half-even, no trailing zeros, no point for whole numbers.
fn write_ordinate(text: &mut String, v: f64) {
    if !v.is_finite() {
        // DecimalFormat's symbols for these; MySQL cannot store them.
        text.push_str(if v.is_nan() {
            "\u{FFFD}"
        } else if v > 0.0 {
            "\u{221E}"
        } else {
            "-\u{221E}"
        });
        return;
    }
    let (negative, digits, exp) = shortest_digits(v);
    // Plain digits: integer part and fraction part of digits × 10^(exp - len + 1).
    let len = digits.len() as i64;
    let point = exp + 1; // digits before the decimal point
    let mut int_part = String::new();
    let mut frac: Vec<u8> = Vec::new();
    if point <= 0 {
        int_part.push('0');
        frac.extend(std::iter::repeat_n(b'0', (-point) as usize));
        frac.extend_from_slice(&digits);
    } else if point >= len {
        int_part.push_str(std::str::from_utf8(&digits).unwrap_or("0"));
        int_part.extend(std::iter::repeat_n('0', (point - len) as usize));
    } else {
        int_part.push_str(std::str::from_utf8(&digits[..point as usize]).unwrap_or("0"));
        frac.extend_from_slice(&digits[point as usize..]);
    }
    if frac.len() > 16 {
        // Half-even on the decimal digits, as DecimalFormat does.
        let rest = &frac[16..];
        let first = rest[0];
        let beyond = rest[1..].iter().any(|&d| d != b'0');
        frac.truncate(16);
        let last_odd = frac.last().is_some_and(|d| (d - b'0') % 2 == 1);
        let round_up = first > b'5' || (first == b'5' && (beyond || last_odd));
        if round_up {
            let mut carry = true;
            for d in frac.iter_mut().rev() {
                if *d == b'9' {
                    *d = b'0';
                } else {
                    *d += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                let n: u128 = int_part.parse().unwrap_or(0) + 1;
                int_part = n.to_string();
            }
        }
    }
    while frac.last() == Some(&b'0') {
        frac.pop();
    }
    if negative {
        text.push('-');
    }
    text.push_str(&int_part);
    if !frac.is_empty() {
        text.push('.');
        text.push_str(std::str::from_utf8(&frac).unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> Vec<u8> {
        let mut b = vec![1u8];
        b.extend(1u32.to_le_bytes());
        b.extend(x.to_le_bytes());
        b.extend(y.to_le_bytes());
        b
    }

    fn wkt(wkb: &[u8]) -> String {
        let mut value = vec![0u8; 4]; // SRID 0
        value.extend_from_slice(wkb);
        let mut out = Vec::new();
        write_geometry(&mut out, &value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn points_and_collections_like_jts() {
        assert_eq!(wkt(&point(3.0, 2.0)), "\"POINT (3 2)\"");
        assert_eq!(wkt(&point(-1.5, 0.1)), "\"POINT (-1.5 0.1)\"");
        let mut line = vec![1u8];
        line.extend(2u32.to_le_bytes());
        line.extend(4u32.to_le_bytes());
        for (x, y) in [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)] {
            line.extend(f64::to_le_bytes(x));
            line.extend(f64::to_le_bytes(y));
        }
        let mut collection = vec![1u8];
        collection.extend(7u32.to_le_bytes());
        collection.extend(2u32.to_le_bytes());
        collection.extend(point(1.0, 1.0));
        collection.extend(&line);
        // Maxwell's own test_gis expectation.
        assert_eq!(
            wkt(&collection),
            "\"GEOMETRYCOLLECTION (POINT (1 1), LINESTRING (0 1, 1 2, 2 3, 3 4))\""
        );
        let mut multi = vec![1u8];
        multi.extend(4u32.to_le_bytes());
        multi.extend(2u32.to_le_bytes());
        multi.extend(point(1.0, 2.0));
        multi.extend(point(3.0, 4.0));
        assert_eq!(wkt(&multi), "\"MULTIPOINT ((1 2), (3 4))\"");
        let mut empty = vec![1u8];
        empty.extend(7u32.to_le_bytes());
        empty.extend(0u32.to_le_bytes());
        assert_eq!(wkt(&empty), "\"GEOMETRYCOLLECTION EMPTY\"");
    }

    #[test]
    fn ordinates_have_at_most_sixteen_fraction_digits() {
        let s = |v: f64| {
            let mut t = String::new();
            write_ordinate(&mut t, v);
            t
        };
        assert_eq!(s(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(s(1e-20), "0");
        assert_eq!(s(1e20), "100000000000000000000");
        assert_eq!(s(123.456), "123.456");
        assert_eq!(s(2.0 / 3.0), "0.6666666666666666");
    }

    #[test]
    fn bad_wkb_is_an_error() {
        let mut out = Vec::new();
        assert_eq!(write_geometry(&mut out, &[0, 0, 0]), Err(BadGeometry));
        let mut huge = vec![0u8, 0, 0, 0, 1];
        huge.extend(2u32.to_le_bytes());
        huge.extend(u32::MAX.to_le_bytes());
        assert_eq!(write_geometry(&mut out, &huge), Err(BadGeometry));
        let mut unknown = vec![0u8, 0, 0, 0, 1];
        unknown.extend(99u32.to_le_bytes());
        assert_eq!(write_geometry(&mut out, &unknown), Err(BadGeometry));
    }
}
