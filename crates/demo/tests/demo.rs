//! The demo the README's first command runs: it must work end to end.

use std::process::Command;

#[test]
fn the_tour_runs_on_a_fresh_directory() {
    // The tour runs the `stowaway` binary beside it: make sure it is current.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let demo = std::path::Path::new(env!("CARGO_BIN_EXE_stowaway-demo"));
    let target = demo.parent().and_then(|d| d.parent()).unwrap();
    let built = Command::new(cargo)
        .args(["build", "--quiet", "-p", "stowaway-cli", "--manifest-path"])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .status()
        .unwrap();
    assert!(built.success());
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(demo)
        .arg("--dir")
        .arg(tmp.path())
        .arg("tour")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Course: Your First Deal — 4 lessons, 4 downloaded"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Show: The Deal Room — 3 episodes, 3 downloaded"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[Escrow]") || stdout.contains("[escrow]"),
        "{stdout}"
    );
    assert!(stdout.contains("all blobs verify"), "{stdout}");
    // The workbook is a real PDF, published as an attachment.
    let pdf = std::fs::read(tmp.path().join("source/docs/first-deal-workbook.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4") && pdf.ends_with(b"%%EOF\n"));
}

#[test]
fn preparing_twice_keeps_the_catalog_stable() {
    let tmp = tempfile::tempdir().unwrap();
    let mirrors = vec!["http://127.0.0.1:1/".to_string()];
    stowaway_demo::prepare(tmp.path(), &mirrors).unwrap();
    let first = std::fs::read(tmp.path().join("mirror-a/library.json")).unwrap();
    stowaway_demo::prepare(tmp.path(), &mirrors).unwrap();
    let second = std::fs::read(tmp.path().join("mirror-b/library.json")).unwrap();
    assert_eq!(first, second, "re-running the demo must not re-publish");
}

#[test]
fn tones_are_a_valid_wav() {
    // Without espeak-ng and sox the demo falls back to generated tones.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("t.wav");
    std::fs::write(&p, stowaway_demo::tones_wav(440, 2)).unwrap();
    let b = std::fs::read(&p).unwrap();
    assert_eq!(&b[0..4], b"RIFF");
    assert_eq!(b.len(), 44 + 2 * 22_050 * 2);
}
