//! ROTATE events: the binlog file the stream continues in.
//!
//! The server sends an artificial ROTATE first, before the FORMAT_DESCRIPTION event that says
//! whether events carry a CRC32 footer, so the event reader cannot strip the footer from it:
//! the file name then ends in four checksum bytes. We recognise them by verifying the CRC.

use mysql_common::binlog::events::Event;

use crate::position::BinlogPosition;

/// The position a ROTATE event points to, or `None` if its body is too short.
pub fn rotate_target(event: &Event) -> Option<BinlogPosition> {
    let data = event.data();
    let offset = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
    let mut name = data.get(8..)?;
    if name.len() > 4 {
        let (rest, footer) = name.split_at(name.len() - 4);
        let expected = u32::from_le_bytes(footer.try_into().ok()?);
        let h = event.header();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&h.timestamp().to_le_bytes());
        hasher.update(&[h.event_type_raw()]);
        hasher.update(&h.server_id().to_le_bytes());
        hasher.update(&h.event_size().to_le_bytes());
        hasher.update(&h.log_pos().to_le_bytes());
        hasher.update(&h.flags_raw().to_le_bytes());
        hasher.update(&data[..8]);
        hasher.update(rest);
        if hasher.finalize() == expected {
            name = rest;
        }
    }
    let name = std::str::from_utf8(name).ok()?;
    Some(BinlogPosition::new(name, offset))
}
