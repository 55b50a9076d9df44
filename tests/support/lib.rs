//! Test support for the end-to-end tests: the real binaries, a real nginx on
//! loopback, and a publisher fixture. Everything started here stops on drop.
#![forbid(unsafe_code)]

pub mod scale;
#[cfg(feature = "webdriver")]
pub mod webdriver;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A binary of the workspace, rebuilt first (once per test process) so that a
/// test never runs a stale binary, whichever `cargo test` selection started it.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/debug");
    BUILT.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "stowaway-cli",
                "-p",
                "stowaway-publish",
                "--manifest-path",
            ])
            .arg(manifest)
            .env("CARGO_TARGET_DIR", dir.parent().expect("target dir"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the binaries under test failed");
    });
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// The outcome of running one of our binaries.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            ok: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// stdout parsed as JSON (for `--json` commands).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert!(
            self.ok,
            "command failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn failure(self) -> Run {
        assert!(
            !self.ok,
            "command unexpectedly succeeded:\nstdout:\n{}",
            self.stdout
        );
        assert_eq!(self.code, Some(1), "exit code, stderr: {}", self.stderr);
        self
    }
}

/// Runs a binary with a bounded time (no test can hang on a process).
pub fn run(bin_name: &str, args: &[&str]) -> Run {
    run_with(bin_name, args, &[], None)
}

/// [`run`] with extra environment variables and text on standard input.
pub fn run_with(bin_name: &str, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(bin(bin_name));
    cmd.args(args)
        .env_remove("STOWAWAY_DATA_DIR")
        .env("STOWAWAY_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    if let Some(text) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait").is_some() {
            return Run::from(child.wait_with_output().expect("output"));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{bin_name} {args:?} ran for more than 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A member's client with its own data directory.
pub struct Member {
    pub data: PathBuf,
}

impl Member {
    pub fn new(dir: &Path) -> Member {
        Member {
            data: dir.to_path_buf(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[], None)
    }

    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut all = vec!["--data-dir", self.data.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        run_with("stowaway", &all, env, stdin)
    }

    /// `--json` output of a command that must succeed.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        self.run(&all).success().json()
    }

    /// (collection id, item id, downloaded) for every item, from `list --all --json`.
    pub fn items(&self) -> Vec<(String, String, bool)> {
        let mut out = Vec::new();
        for c in self.json(&["list", "--all"]).as_array().expect("array") {
            for i in c["items"].as_array().expect("items") {
                out.push((
                    i["collection_id"].as_str().unwrap().to_owned(),
                    i["id"].as_str().unwrap().to_owned(),
                    i["state"] == "downloaded",
                ));
            }
        }
        out
    }

    /// Runs `sync --json`, returning wall time, success and the report.
    pub fn timed_sync(&self, extra: &[&str]) -> (Duration, bool, Value) {
        let mut args = vec!["sync", "--json"];
        args.extend_from_slice(extra);
        let t = Instant::now();
        let r = self.run(&args);
        let elapsed = t.elapsed();
        let ok = r.ok;
        (elapsed, ok, r.json())
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.data.join("blobs/sha256")
    }
}

/// A real nginx (Debian's) serving `root` on 127.0.0.1, in the foreground,
/// stopped on drop.
pub struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_millis(200),
        )
        .is_ok()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Nginx {
    pub fn start(root: &Path) -> Nginx {
        Nginx::start_with(root, "")
    }

    /// A private mirror: 401 unless `Authorization: Bearer <token>`.
    pub fn start_private(root: &Path, token: &str) -> Nginx {
        Nginx::start_with(
            root,
            &format!(
                "location / {{ if ($http_authorization != \"Bearer {token}\") {{ return 401; }} }}"
            ),
        )
    }

    /// nginx with extra `server` directives (redirects, checks).
    pub fn start_with(root: &Path, server_extra: &str) -> Nginx {
        Nginx::start_at(root, None, server_extra)
    }

    /// nginx on a given port (one a test handed out before the server ran).
    pub fn start_at(root: &Path, port: Option<u16>, server_extra: &str) -> Nginx {
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("nginx is not installed: run scripts/setup (Debian package nginx-light)");
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = port.unwrap_or_else(free_port);
            let d = dir.path().display();
            let conf = format!(
                "daemon off; master_process off; worker_processes 1;
                 pid {d}/nginx.pid; error_log {d}/error.log warn;
                 events {{ worker_connections 128; }}
                 http {{
                     access_log off;
                     client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
                     fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
                     types {{ application/json json; audio/ogg ogg; audio/wav wav; application/pdf pdf; text/vtt vtt; }}
                     default_type application/octet-stream;
                     sendfile on;
                     server {{ listen 127.0.0.1:{port}; root {root}; {server_extra} }}
                 }}",
                root = root.display()
            );
            std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
            let child = Command::new(&nginx)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx");
            let mut n = Nginx {
                child,
                port,
                _dir: dir,
            };
            if wait_listening(port) {
                return n;
            }
            let _ = n.child.kill();
        }
        panic!("nginx did not start listening");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file:// URL for a folder.
pub fn file_url(dir: &Path) -> String {
    format!("file://{}/", dir.canonicalize().unwrap().display())
}

/// Deterministic pseudo-random bytes (a media file stand-in of a given size).
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A publisher's working folder: keys, a source folder and a mirror tree.
pub struct Publisher {
    pub root: PathBuf,
    pub keys: PathBuf,
    pub source: PathBuf,
    pub mirror: PathBuf,
    episodes: usize,
}

impl Publisher {
    /// Keys and a source with a course (3 lessons, a PDF workbook, a
    /// transcript) and a show (2 episodes).
    pub fn new(root: &Path) -> Publisher {
        let p = Publisher {
            root: root.to_path_buf(),
            keys: root.join("keys"),
            source: root.join("source"),
            mirror: root.join("mirror"),
            episodes: 0,
        };
        run(
            "stowaway-publish",
            &["keygen", "--out", p.keys.to_str().unwrap()],
        )
        .success();
        std::fs::create_dir_all(p.source.join("media")).unwrap();
        for (i, size) in [(1, 300_000), (2, 700_000), (3, 150_000)] {
            std::fs::write(
                p.source.join(format!("media/lesson{i}.ogg")),
                bytes(i, size),
            )
            .unwrap();
        }
        std::fs::write(
            p.source.join("media/lesson1.vtt"),
            "WEBVTT\n\n00:00.000 --> 00:02.000\nWelcome to escrow school\n",
        )
        .unwrap();
        std::fs::write(
            p.source.join("workbook.pdf"),
            b"%PDF-1.4\n% a tiny workbook\n%%EOF\n",
        )
        .unwrap();
        let mut p = p;
        p.write_manifest(2);
        p
    }

    /// Rewrites library.toml with `episodes` podcast episodes.
    pub fn write_manifest(&mut self, episodes: usize) {
        self.episodes = episodes;
        let mut t = String::from(
            "[library]\nid = \"acme\"\ntitle = \"Acme Coaching\"\n\n\
             [[collection]]\nid = \"first-deal\"\nkind = \"course\"\ntitle = \"Your First Deal\"\n\n\
             [[collection.item]]\nid = \"l1\"\ntitle = \"Mindset\"\nnotes = \"Escrow protects both sides\"\nmedia = \"media/lesson1.ogg\"\ntranscript = \"media/lesson1.vtt\"\nattachments = [\"workbook.pdf\"]\nduration = \"5:00\"\n\n\
             [[collection.item]]\nid = \"l2\"\ntitle = \"Finding deals\"\nsummary = \"Driving for dollars\"\nmedia = \"media/lesson2.ogg\"\n\n\
             [[collection.item]]\nid = \"l3\"\ntitle = \"Closing day\"\nmedia = \"media/lesson3.ogg\"\n\n\
             [[collection]]\nid = \"deal-room\"\nkind = \"show\"\ntitle = \"The Deal Room\"\n",
        );
        for e in 1..=episodes {
            let f = self.source.join(format!("media/ep{e}.ogg"));
            if !f.exists() {
                std::fs::write(&f, bytes(100 + e as u64, 200_000 + 1000 * e)).unwrap();
            }
            t.push_str(&format!(
                "\n[[collection.item]]\nid = \"ep{e}\"\ntitle = \"Episode {e}: negotiation round {e}\"\npublished = \"2026-10-0{e}\"\nmedia = \"media/ep{e}.ogg\"\n"
            ));
        }
        std::fs::write(self.source.join("library.toml"), t).unwrap();
    }

    /// Keys and a source with one show of `files` episodes of `size` bytes
    /// each (for transfer-heavy tests).
    pub fn show(root: &Path, files: usize, size: usize) -> Publisher {
        let p = Publisher {
            root: root.to_path_buf(),
            keys: root.join("keys"),
            source: root.join("source"),
            mirror: root.join("mirror"),
            episodes: files,
        };
        run(
            "stowaway-publish",
            &["keygen", "--out", p.keys.to_str().unwrap()],
        )
        .success();
        std::fs::create_dir_all(p.source.join("media")).unwrap();
        let mut t = String::from(
            "[library]\nid = \"big\"\ntitle = \"Big Show\"\n\n[[collection]]\nid = \"show\"\nkind = \"show\"\ntitle = \"Big Show\"\n",
        );
        for e in 1..=files {
            std::fs::write(
                p.source.join(format!("media/{e}.ogg")),
                bytes(1000 + e as u64, size),
            )
            .unwrap();
            t.push_str(&format!(
                "\n[[collection.item]]\nid = \"e{e}\"\ntitle = \"Episode {e}\"\nmedia = \"media/{e}.ogg\"\n"
            ));
        }
        std::fs::write(p.source.join("library.toml"), t).unwrap();
        p
    }

    pub fn episodes(&self) -> usize {
        self.episodes
    }

    /// `stowaway-publish build` into `out` with `key` (default: own key, own mirror).
    pub fn build_with(&self, key: &Path, out: &Path) -> Run {
        run(
            "stowaway-publish",
            &[
                "build",
                "--key",
                key.to_str().unwrap(),
                "--source",
                self.source.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        )
    }

    pub fn build(&self) -> Run {
        self.build_with(&self.keys.join("stowaway.key"), &self.mirror)
            .success()
    }

    /// `stowaway-publish build --format FORMAT` (2: chunk lists) into its mirror.
    pub fn build_format(&self, format: u32) -> Run {
        run(
            "stowaway-publish",
            &[
                "build",
                "--key",
                self.keys.join("stowaway.key").to_str().unwrap(),
                "--source",
                self.source.to_str().unwrap(),
                "--out",
                self.mirror.to_str().unwrap(),
                "--format",
                &format.to_string(),
            ],
        )
        .success()
    }

    pub fn public_key(&self) -> PathBuf {
        self.keys.join("stowaway.pub")
    }

    /// Writes a subscription for `mirrors` and returns its path.
    pub fn subscription(&self, mirrors: &[String]) -> PathBuf {
        let mut args = vec![
            "subscription".to_string(),
            "--key".into(),
            self.public_key().display().to_string(),
        ];
        for m in mirrors {
            args.push("--mirror".into());
            args.push(m.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run("stowaway-publish", &args).success();
        let path = self.root.join("member.stowaway");
        std::fs::write(&path, out.stdout).unwrap();
        path
    }

    /// A subscription file at `to` naming `mirrors` as written, none of
    /// which needs to answer (or be one `stowaway-publish` would accept): the
    /// library is read from `reachable`, a mirror that serves it.
    pub fn subscription_naming(&self, reachable: &str, mirrors: &[&str], to: &Path) -> PathBuf {
        let file = self.subscription(&[reachable.to_owned()]);
        let mut sub: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        sub["mirrors"] = serde_json::json!(mirrors);
        std::fs::write(to, sub.to_string()).unwrap();
        to.to_path_buf()
    }

    /// Number of blob files in the mirror tree.
    pub fn mirror_blobs(&self) -> Vec<PathBuf> {
        files_below(&self.mirror.join("blobs"))
    }
}

/// Every file below `dir`, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_below(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Re-hashes every blob in a member's cache against its file name.
pub fn all_blobs_verify(member: &Member) -> usize {
    use sha2::Digest;
    let files = files_below(&member.blob_dir());
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let hex: String = sha2::Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            f.file_name().unwrap().to_str().unwrap(),
            hex,
            "{} does not match its hash",
            f.display()
        );
    }
    files.len()
}

/// A real Secret Service for keyring tests: a private D-Bus session bus with
/// GNOME Keyring on it (unlocked, its files in a temporary home). Stops on
/// drop. Debian packages: dbus, gnome-keyring.
pub struct SecretService {
    bus: Child,
    address: String,
    home: tempfile::TempDir,
}

impl SecretService {
    pub fn start() -> SecretService {
        let home = tempfile::tempdir().unwrap();
        for d in ["data", "config", "runtime"] {
            std::fs::create_dir_all(home.path().join(d)).unwrap();
        }
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}/bus", home.path().display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus) is not installed: run scripts/setup");
        let mut line = String::new();
        {
            use std::io::BufRead;
            let out = bus.stdout.take().expect("stdout");
            std::io::BufReader::new(out)
                .read_line(&mut line)
                .expect("bus address");
        }
        let address = line.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon said {line:?}");
        let s = SecretService { bus, address, home };
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .envs(s.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian package gnome-keyring) is not installed: run scripts/setup");
        {
            use std::io::Write;
            let mut pipe = keyring.stdin.take().expect("stdin");
            pipe.write_all(b"test-keyring-password").expect("unlock");
        }
        // It forks a daemon and returns once the keyring is unlocked.
        assert!(keyring.wait().expect("gnome-keyring-daemon").success());
        s
    }

    /// The secret Stowaway filed for `library`, read back with libsecret's
    /// own tool (None if there is none).
    pub fn lookup(&self, library: &str) -> Option<String> {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", "org.stowaway.app", "username"])
            .arg(format!("library:{library}"))
            .envs(self.env())
            .output()
            .expect("secret-tool (Debian package libsecret-tools)");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The environment a client needs to reach this Secret Service.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let h = self.home.path();
        vec![
            ("DBUS_SESSION_BUS_ADDRESS", self.address.clone()),
            ("HOME", h.display().to_string()),
            ("XDG_DATA_HOME", h.join("data").display().to_string()),
            ("XDG_CONFIG_HOME", h.join("config").display().to_string()),
            ("XDG_RUNTIME_DIR", h.join("runtime").display().to_string()),
        ]
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // GNOME Keyring leaves when its bus goes away.
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
