//! The real app over WebDriver: tauri-driver (with WebKitWebDriver) on a
//! free loopback port, a session per app instance. Shared by the app's
//! end-to-end test and its benchmark (`stowaway-bench-app`); needs a display
//! (`xvfb-run`), `tauri-driver` and `/usr/bin/WebKitWebDriver`
//! (scripts/setup installs them).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

pub fn tauri_driver() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let candidates = [
        std::env::var_os("TAURI_DRIVER").map(PathBuf::from),
        Some(home.join(".cargo/bin/tauri-driver")),
        Some(PathBuf::from("/usr/local/bin/tauri-driver")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .expect("tauri-driver not found: run scripts/setup (cargo install tauri-driver)")
}

/// tauri-driver on a free port; stopped with SIGTERM (not SIGKILL) on drop,
/// so it closes WebKitWebDriver and the app too.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// tauri-driver, its children started with `env` added.
    pub fn start(env: &[(&str, String)]) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let native = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(tauri_driver());
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start tauri-driver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }

    /// A WebDriver session on a new instance of the app at `app`.
    pub async fn session(&self, app: &str) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert("tauri:options".into(), json!({ "application": app }));
        // Plain HTTP on loopback: no TLS stack needed. tauri-driver listens
        // before the native driver it starts does: on a cold machine (a fresh
        // CI clone) the first request can find it not ready and be cut off.
        let mut tries = 0;
        loop {
            let r = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await;
            match r {
                Ok(c) => return c,
                Err(e) if tries < 10 => {
                    tries += 1;
                    eprintln!("WebDriver session not ready ({e:?}); trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => panic!("WebDriver session: {e:?}"),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Page script: clicks the player's play button and times, in the page,
/// the click to the media element's first `playing` (`window.__play.start`,
/// ms). The element may not exist before the click (an item that plays
/// while it downloads gets its element then).
pub const PLAY_TIMED: &str = "window.__play = { t0: performance.now() };
     const poll = () => {
       const m = document.getElementById('media');
       if (!m) return setTimeout(poll, 2);
       m.addEventListener('playing', () => { window.__play.start ??= performance.now() - window.__play.t0; });
     };
     document.getElementById('play').click();
     poll();";

/// Page script: seeks the media element to 60 % and times, in the page, the
/// seek to playback 0.2 s past that point (`window.__seek.playing`, ms;
/// `window.__seek.target`, s).
pub const SEEK_TIMED: &str = "const m = document.getElementById('media');
     const target = m.duration * 0.6;
     window.__seek = { t0: performance.now(), target };
     const f = () => {
       if (m.currentTime > target + 0.2) {
         window.__seek.playing = performance.now() - window.__seek.t0;
         m.removeEventListener('timeupdate', f);
       }
     };
     m.addEventListener('timeupdate', f);
     m.currentTime = target;";
