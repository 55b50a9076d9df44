//! Making real audio on this machine: espeak-ng speech with a sox chime,
//! encoded to Ogg Vorbis; or, without those tools, a WAV of pure tones
//! synthesised here. Also a small valid PDF and SVG artwork.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Speaks `text` into an audio file next to `stem` and returns its file name
/// (relative to the stem's folder) and duration in milliseconds.
pub fn speak(stem: &Path, text: &str, tone_hz: u32) -> Result<(String, u64)> {
    let dir = stem.parent().expect("stem has a folder");
    let name = stem
        .file_name()
        .expect("stem has a name")
        .to_string_lossy()
        .into_owned();
    if have("espeak-ng") && have("sox") {
        let ogg = dir.join(format!("{name}.ogg"));
        let speech = dir.join(format!("{name}.speech.wav"));
        let chime = dir.join(format!("{name}.chime.wav"));
        let joined = dir.join(format!("{name}.wav"));
        run(Command::new("espeak-ng")
            .args(["-v", "en-us", "-s", "160", "-w"])
            .arg(&speech)
            .arg(text))?;
        run(Command::new("sox")
            .args(["-n", "-r", "22050", "-c", "1", "-b", "16"])
            .arg(&chime)
            .args(["synth", "0.7", "sine"])
            .arg(tone_hz.to_string())
            .args(["fade", "0.02", "0.7", "0.4", "vol", "0.4"]))?;
        run(Command::new("sox")
            .arg(&chime)
            .arg(&speech)
            .arg(&joined)
            .args(["rate", "22050", "channels", "1"]))?;
        let ms = stowaway_publish::wav::duration_ms(&joined)
            .with_context(|| format!("{} is not a WAV file", joined.display()))?;
        run(Command::new("sox").arg(&joined).args(["-C", "2"]).arg(&ogg))?;
        for f in [&speech, &chime, &joined] {
            let _ = std::fs::remove_file(f);
        }
        Ok((format!("{name}.ogg"), ms))
    } else {
        let wav = dir.join(format!("{name}.wav"));
        let secs = 4 + text.len() as u32 / 60;
        std::fs::write(&wav, tones_wav(tone_hz, secs))?;
        Ok((format!("{name}.wav"), u64::from(secs) * 1000))
    }
}

/// A mono 16-bit 22.05 kHz WAV of a soft two-note figure around `hz`.
pub fn tones_wav(hz: u32, secs: u32) -> Vec<u8> {
    const RATE: u32 = 22_050;
    let n = RATE * secs;
    let mut out = Vec::with_capacity(44 + n as usize * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + n * 2).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(n * 2).to_le_bytes());
    for i in 0..n {
        let t = i as f64 / f64::from(RATE);
        let f = if (t as u32).is_multiple_of(2) {
            f64::from(hz)
        } else {
            f64::from(hz) * 1.25
        };
        let env = (t.fract() * 8.0).min(1.0) * (1.0 - t.fract()).min(0.3) / 0.3;
        let s = (t * f * std::f64::consts::TAU).sin() * env * 0.3;
        out.extend_from_slice(&((s * f64::from(i16::MAX)) as i16).to_le_bytes());
    }
    out
}

/// A minimal, valid one-page PDF with `lines` of text (Helvetica).
pub fn pdf(lines: &[&str]) -> Vec<u8> {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)")
    };
    let mut content = String::from("BT /F1 20 Tf 72 740 Td 26 TL\n");
    for (i, l) in lines.iter().enumerate() {
        if i == 1 {
            content.push_str("/F1 12 Tf 18 TL\n");
        }
        content.push_str(&format!("({}) Tj T*\n", esc(l)));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Square SVG artwork: a colour field with a title.
pub fn artwork_svg(title: &str, subtitle: &str, hue: u32) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="hsl({hue},55%,38%)"/><stop offset="1" stop-color="hsl({h2},60%,22%)"/></linearGradient></defs>
<rect width="600" height="600" fill="url(#g)"/>
<circle cx="470" cy="130" r="70" fill="hsla(0,0%,100%,0.12)"/>
<text x="48" y="430" font-family="sans-serif" font-size="56" font-weight="700" fill="#fff">{t}</text>
<text x="50" y="490" font-family="sans-serif" font-size="28" fill="hsla(0,0%,100%,0.8)">{s}</text>
</svg>
"##,
        h2 = (hue + 40) % 360,
        t = esc(title),
        s = esc(subtitle)
    )
}
