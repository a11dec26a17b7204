//! Typed views of single values in a row image.

use super::column::exact_payload;
use crate::table::ColumnType;

/// A TIME value, which may be negative and may exceed 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    pub negative: bool,
    pub hours: u32,
    pub minutes: u8,
    pub seconds: u8,
    pub micros: u32,
}

/// One decoded value, borrowing the event's bytes where it holds bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Int(i64),
    UInt(u64),
    Float(f32),
    Double(f64),
    /// DECIMAL in MySQL's packed binary form; rendered by the formatter.
    Decimal {
        bin: &'a [u8],
        precision: u8,
        scale: u8,
    },
    Year(u16),
    Date {
        year: u16,
        month: u8,
        day: u8,
    },
    DateTime {
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        micros: u32,
        fsp: u8,
    },
    /// Seconds since the Unix epoch; zero is MySQL's zero timestamp.
    Timestamp {
        seconds: u32,
        micros: u32,
        fsp: u8,
    },
    Time {
        time: Time,
        fsp: u8,
    },
    /// Bytes of a character column; the column's charset says how to read them.
    Text(&'a [u8]),
    Bit(u64),
    /// 1-based index into the ENUM's labels; 0 is the "invalid value" empty string.
    Enum(u16),
    /// Bit i set means label i (0-based) is in the SET.
    Set(u64),
    /// A MySQL binary JSON document (the JSON column type).
    Json(&'a [u8]),
    /// A GEOMETRY value: 4-byte SRID, then WKB.
    Geometry(&'a [u8]),
}

/// Decodes the bytes of one non-null value (as measured by `ColumnType::value_len`).
/// `None` means the bytes are not a valid value of the type, or the type is not one this
/// version reads.
#[inline(always)]
pub fn decode_value(ty: ColumnType, unsigned: bool, raw: &[u8]) -> Option<Value<'_>> {
    let v = match ty {
        ColumnType::Tiny => int(raw, 1, unsigned)?,
        ColumnType::Short => int(raw, 2, unsigned)?,
        ColumnType::Int24 => int(raw, 3, unsigned)?,
        ColumnType::Long => int(raw, 4, unsigned)?,
        ColumnType::LongLong => int(raw, 8, unsigned)?,
        ColumnType::Float => Value::Float(f32::from_le_bytes(raw.try_into().ok()?)),
        ColumnType::Double => Value::Double(f64::from_le_bytes(raw.try_into().ok()?)),
        ColumnType::NewDecimal { precision, scale } => Value::Decimal {
            bin: raw,
            precision,
            scale,
        },
        ColumnType::Year => {
            let y = *raw.first()? as u16;
            Value::Year(if y == 0 { 0 } else { 1900 + y })
        }
        ColumnType::Date => {
            let v = le_uint(raw.get(..3)?) as u32;
            Value::Date {
                year: (v >> 9) as u16,
                month: ((v >> 5) & 0x0F) as u8,
                day: (v & 0x1F) as u8,
            }
        }
        ColumnType::DateTime2 { fsp } => {
            // 1 sign bit, 17 bits year*13+month, 5 day, 5 hour, 6 minute, 6 second.
            let packed = be_uint(raw.get(..5)?) as i64 - 0x80_0000_0000;
            if packed < 0 {
                return None;
            }
            let ymd = packed >> 17;
            let ym = ymd >> 5;
            let hms = packed & 0x1_FFFF;
            Value::DateTime {
                year: (ym / 13) as u16,
                month: (ym % 13) as u8,
                day: (ymd & 0x1F) as u8,
                hour: (hms >> 12) as u8,
                minute: ((hms >> 6) & 0x3F) as u8,
                second: (hms & 0x3F) as u8,
                micros: fraction(raw.get(5..)?, fsp)?,
                fsp,
            }
        }
        ColumnType::Timestamp2 { fsp } => Value::Timestamp {
            seconds: be_uint(raw.get(..4)?) as u32,
            micros: fraction(raw.get(4..)?, fsp)?,
            fsp,
        },
        ColumnType::Time2 { fsp } => Value::Time {
            time: time2(raw, fsp)?,
            fsp,
        },
        ColumnType::TimestampHires { fsp } => Value::Timestamp {
            seconds: be_uint(raw.get(..4)?) as u32,
            micros: u32::try_from(hires_fraction(be_uint(raw.get(4..)?), fsp)?)
                .ok()
                .filter(|&m| m < 1_000_000)?,
            fsp,
        },
        ColumnType::DateTimeHires { fsp } => {
            let micros = hires_fraction(be_uint(raw), fsp)?;
            let (rest, micros_part) = (micros / 1_000_000, micros % 1_000_000);
            let (rest, second) = (rest / 60, rest % 60);
            let (rest, minute) = (rest / 60, rest % 60);
            let (rest, hour) = (rest / 24, rest % 24);
            let (ym, day) = (rest / 32, rest % 32);
            Value::DateTime {
                year: u16::try_from(ym / 13).ok()?,
                month: (ym % 13) as u8,
                day: day as u8,
                hour: hour as u8,
                minute: minute as u8,
                second: second as u8,
                micros: micros_part as u32,
                fsp,
            }
        }
        ColumnType::TimeHires { fsp } => {
            // Stored as the value plus (TIME_MAX + 1 s), both in units of 10^(fsp - 6) s.
            const MAX_SECONDS: i64 = 838 * 3600 + 59 * 60 + 59;
            let scale = 10i64.pow(6 - u32::from(fsp));
            let zero = (MAX_SECONDS + 1) * 1_000_000 / scale;
            let stored = i64::try_from(be_uint(raw)).ok()?;
            let micros = (stored - zero).checked_mul(scale)?;
            let a = micros.unsigned_abs();
            let seconds = a / 1_000_000;
            Value::Time {
                time: Time {
                    negative: micros < 0,
                    hours: u32::try_from(seconds / 3600).ok()?,
                    minutes: (seconds / 60 % 60) as u8,
                    seconds: (seconds % 60) as u8,
                    micros: (a % 1_000_000) as u32,
                },
                fsp,
            }
        }
        ColumnType::Timestamp => Value::Timestamp {
            seconds: le_uint(raw.get(..4)?) as u32,
            micros: 0,
            fsp: 0,
        },
        ColumnType::DateTime => {
            // The decimal digits YYYYMMDDhhmmss as one integer.
            let v = le_uint(raw.get(..8)?);
            let (date, time) = (v / 1_000_000, v % 1_000_000);
            Value::DateTime {
                year: (date / 10_000) as u16,
                month: (date / 100 % 100) as u8,
                day: (date % 100) as u8,
                hour: (time / 10_000) as u8,
                minute: (time / 100 % 100) as u8,
                second: (time % 100) as u8,
                micros: 0,
                fsp: 0,
            }
        }
        ColumnType::Time => {
            // The decimal digits (-)HHMMSS as a signed 3-byte integer.
            let u = le_uint(raw.get(..3)?);
            let v = ((u << 40) as i64) >> 40;
            let a = v.unsigned_abs();
            Value::Time {
                time: Time {
                    negative: v < 0,
                    hours: (a / 10_000) as u32,
                    minutes: (a / 100 % 100) as u8,
                    seconds: (a % 100) as u8,
                    micros: 0,
                },
                fsp: 0,
            }
        }
        ColumnType::VarString { .. } | ColumnType::FixedString { .. } | ColumnType::Blob { .. } => {
            Value::Text(exact_payload(ty, raw)?)
        }
        ColumnType::Bit { .. } => {
            if raw.len() > 8 {
                return None;
            }
            Value::Bit(be_uint(raw))
        }
        ColumnType::Enum { size } => match size {
            1 | 2 => Value::Enum(le_uint(raw.get(..size as usize)?) as u16),
            _ => return None,
        },
        ColumnType::Set { size } => match size {
            1..=8 => Value::Set(le_uint(raw.get(..size as usize)?)),
            _ => return None,
        },
        ColumnType::Json { .. } => Value::Json(exact_payload(ty, raw)?),
        ColumnType::Geometry { .. } => Value::Geometry(exact_payload(ty, raw)?),
        ColumnType::Unsupported { .. } => {
            return None;
        }
    };
    Some(v)
}

fn int(raw: &[u8], width: usize, unsigned: bool) -> Option<Value<'static>> {
    let bytes = raw.get(..width)?;
    let u = le_uint(bytes);
    if unsigned {
        return Some(Value::UInt(u));
    }
    let shift = 64 - 8 * width as u32;
    Some(Value::Int(((u << shift) as i64) >> shift))
}

fn le_uint(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |acc, &b| (acc << 8) | b as u64)
}

/// A MariaDB hires fraction (`value` in units of 10^(fsp - 6) s) in microseconds.
fn hires_fraction(value: u64, fsp: u8) -> Option<u64> {
    let scale = 10u64.checked_pow(6u32.checked_sub(u32::from(fsp))?)?;
    value.checked_mul(scale)
}

fn be_uint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | b as u64)
}

/// The fractional seconds of a 5.6+ temporal value, as microseconds.
fn fraction(bytes: &[u8], fsp: u8) -> Option<u32> {
    let n = (fsp as usize).div_ceil(2);
    let v = be_uint(bytes.get(..n)?) as u32;
    Some(match n {
        0 => 0,
        1 => v * 10_000,
        2 => v * 100,
        _ => v,
    })
}

/// TIME2: a 24-bit biased integer part (sign, 10 bits hour, 6 minute, 6 second) and a
/// fraction. Negative values store the fraction in reverse order so that the bytes sort like
/// the values; undoing that gives the server's "packed" form `(int << 24) + micros`.
fn time2(raw: &[u8], fsp: u8) -> Option<Time> {
    const INT_OFFSET: i64 = 0x80_0000;
    const OFFSET_6: i64 = 0x8000_0000_0000;
    let int_part = be_uint(raw.get(..3)?) as i64 - INT_OFFSET;
    let packed: i64 = match fsp {
        0 => int_part << 24,
        1 | 2 => {
            let (mut int_part, mut frac) = (int_part, *raw.get(3)? as i64);
            if int_part < 0 && frac != 0 {
                int_part += 1;
                frac -= 0x100;
            }
            (int_part << 24) + frac * 10_000
        }
        3 | 4 => {
            let (mut int_part, mut frac) = (int_part, be_uint(raw.get(3..5)?) as i64);
            if int_part < 0 && frac != 0 {
                int_part += 1;
                frac -= 0x1_0000;
            }
            (int_part << 24) + frac * 100
        }
        5 | 6 => be_uint(raw.get(..6)?) as i64 - OFFSET_6,
        _ => return None,
    };
    let negative = packed < 0;
    let packed = packed.unsigned_abs();
    let hms = packed >> 24;
    Some(Time {
        negative,
        hours: ((hms >> 12) & 0x3FF) as u32,
        minutes: ((hms >> 6) & 0x3F) as u8,
        seconds: (hms & 0x3F) as u8,
        micros: (packed & 0xFF_FFFF) as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_respect_width_and_sign() {
        assert_eq!(
            decode_value(ColumnType::Tiny, false, &[0xFF]),
            Some(Value::Int(-1))
        );
        assert_eq!(
            decode_value(ColumnType::Tiny, true, &[0xFF]),
            Some(Value::UInt(255))
        );
        assert_eq!(
            decode_value(ColumnType::Int24, false, &[0x00, 0x00, 0x80]),
            Some(Value::Int(-8_388_608))
        );
        assert_eq!(
            decode_value(ColumnType::LongLong, true, &[0xFF; 8]),
            Some(Value::UInt(u64::MAX))
        );
        assert_eq!(
            decode_value(ColumnType::LongLong, false, &[0, 0, 0, 0, 0, 0, 0, 0x80]),
            Some(Value::Int(i64::MIN))
        );
    }

    #[test]
    fn datetime2_unpacks_fields_and_fraction() {
        // 2024-02-29 13:45:56.789 with fsp 3, built the way the server packs it.
        let ym = 2024 * 13 + 2;
        let packed: u64 = 0x80_0000_0000 + (((ym << 5) | 29) << 17) + ((13 << 12) | (45 << 6) | 56);
        let mut raw = packed.to_be_bytes()[3..].to_vec();
        raw.extend(7890u16.to_be_bytes());
        let v = decode_value(ColumnType::DateTime2 { fsp: 3 }, false, &raw).unwrap();
        assert_eq!(
            v,
            Value::DateTime {
                year: 2024,
                month: 2,
                day: 29,
                hour: 13,
                minute: 45,
                second: 56,
                micros: 789_000,
                fsp: 3
            }
        );
    }

    #[test]
    fn pre_5_6_temporal_types() {
        let dt = 20_120_709_153_023u64.to_le_bytes();
        assert_eq!(
            decode_value(ColumnType::DateTime, false, &dt),
            Some(Value::DateTime {
                year: 2012,
                month: 7,
                day: 9,
                hour: 15,
                minute: 30,
                second: 23,
                micros: 0,
                fsp: 0
            })
        );
        let t = (-123_456i32).to_le_bytes();
        let Some(Value::Time { time, .. }) = decode_value(ColumnType::Time, false, &t[..3]) else {
            panic!("time decodes")
        };
        assert!(time.negative);
        assert_eq!((time.hours, time.minutes, time.seconds), (12, 34, 56));
        assert_eq!(
            decode_value(
                ColumnType::Timestamp,
                false,
                &1_341_818_483u32.to_le_bytes()
            ),
            Some(Value::Timestamp {
                seconds: 1_341_818_483,
                micros: 0,
                fsp: 0
            })
        );
    }

    #[test]
    fn date_unpacks_fields() {
        let v: u32 = (1999 << 9) | (12 << 5) | 31;
        let raw = &v.to_le_bytes()[..3];
        assert_eq!(
            decode_value(ColumnType::Date, false, raw),
            Some(Value::Date {
                year: 1999,
                month: 12,
                day: 31
            })
        );
    }

    #[test]
    fn mariadb_hires_datetime_and_time() {
        // MariaDB's layout: microseconds of the packed value, divided by 10^(6 - fsp),
        // big-endian in 7 bytes for DATETIME(3).
        let packed: u64 =
            (((((2024 * 13 + 1) * 32 + 2) * 24 + 3) * 60 + 4) * 60 + 5) * 1_000_000 + 678_000;
        let raw = (packed / 1000).to_be_bytes();
        let v = decode_value(ColumnType::DateTimeHires { fsp: 3 }, false, &raw[1..]).unwrap();
        assert_eq!(
            v,
            Value::DateTime {
                year: 2024,
                month: 1,
                day: 2,
                hour: 3,
                minute: 4,
                second: 5,
                micros: 678_000,
                fsp: 3
            }
        );
        // TIME(2) '-01:02:03.45': offset by (838:59:59 + 1 s) in hundredths, 4 bytes.
        let zero: i64 = (838 * 3600 + 59 * 60 + 59 + 1) * 100;
        let stored = (zero - 372_345) as u32;
        let Some(Value::Time { time, fsp: 2 }) = decode_value(
            ColumnType::TimeHires { fsp: 2 },
            false,
            &stored.to_be_bytes(),
        ) else {
            panic!("not a time");
        };
        assert_eq!(
            time,
            Time {
                negative: true,
                hours: 1,
                minutes: 2,
                seconds: 3,
                micros: 450_000
            }
        );
        assert_eq!(
            crate::decode::value_len(ColumnType::TimeHires { fsp: 2 }, &[0; 4]),
            Some(4)
        );
        assert_eq!(
            crate::decode::value_len(ColumnType::DateTimeHires { fsp: 6 }, &[0; 8]),
            Some(8)
        );
        assert_eq!(
            ColumnType::Timestamp.with_schema_fsp(Some(3)),
            ColumnType::TimestampHires { fsp: 3 }
        );
        assert_eq!(
            ColumnType::Timestamp.with_schema_fsp(Some(0)),
            ColumnType::Timestamp
        );
    }

    #[test]
    fn negative_time_with_fraction() {
        // -00:00:01.50 at fsp 2, as the server writes it: 7F FF FE CE.
        let raw = [0x7F, 0xFF, 0xFE, 0xCE];
        let v = decode_value(ColumnType::Time2 { fsp: 2 }, false, &raw).unwrap();
        let Value::Time { time, .. } = v else {
            panic!("{v:?}")
        };
        assert!(time.negative);
        assert_eq!((time.hours, time.minutes, time.seconds), (0, 0, 1));
        assert_eq!(time.micros, 500_000);
    }
}
