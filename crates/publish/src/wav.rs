//! Duration of a PCM WAV file from its header, so a manifest need not state it.

use std::io::Read;
use std::path::Path;

/// Milliseconds of audio in a RIFF/WAVE file, or None if it is not one we understand.
pub fn duration_ms(path: &Path) -> Option<u64> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 12];
    f.read_exact(&mut head).ok()?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    let mut byte_rate = None;
    for _ in 0..64 {
        let mut chunk = [0u8; 8];
        f.read_exact(&mut chunk).ok()?;
        let len = u32::from_le_bytes(chunk[4..8].try_into().ok()?) as u64;
        match &chunk[0..4] {
            b"fmt " => {
                let mut fmt = vec![0u8; len.min(64) as usize];
                f.read_exact(&mut fmt).ok()?;
                byte_rate = Some(u32::from_le_bytes(fmt.get(8..12)?.try_into().ok()?) as u64);
                if len > 64 {
                    std::io::copy(&mut (&mut f).take(len - 64), &mut std::io::sink()).ok()?;
                }
            }
            b"data" => {
                let rate = byte_rate.filter(|r| *r > 0)?;
                // espeak-ng and sox write 0 or 0xFFFFFFFF for streamed output.
                let len = if len == 0 || len == u32::MAX as u64 {
                    f.metadata().ok()?.len().saturating_sub(44)
                } else {
                    len
                };
                return Some(len * 1000 / rate);
            }
            _ => {
                std::io::copy(&mut (&mut f).take(len + (len & 1)), &mut std::io::sink()).ok()?;
            }
        }
    }
    None
}
