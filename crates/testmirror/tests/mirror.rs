//! Integration tests for `stowaway-testmirror`: a real server on loopback,
//! exercised with a tiny blocking raw-HTTP client.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stowaway_testmirror::{refused_url, Fault, PathMatch, Rule, TestMirror};
use tempfile::TempDir;

const LIBRARY: &str =
    r#"{"version":1,"title":"Test library","items":[{"id":"ep1","blob":"sha256:abc"}]}"#;
const BLOB_LEN: usize = 200_000;
const BLOB_PATH: &str =
    "blobs/sha256/ab/ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";
const EPISODE_LEN: usize = 6_000;

fn blob() -> Vec<u8> {
    (0..BLOB_LEN).map(|i| (i * 31 % 251) as u8).collect()
}

fn episode() -> Vec<u8> {
    (0..EPISODE_LEN).map(|i| (i % 256) as u8).collect()
}

/// A temp dir holding `root/` (the mirror tree) and `secret.txt` beside it.
struct Fixture {
    dir: TempDir,
    mirror: TestMirror,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let write = |rel: &str, data: &[u8]| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        };
        write("library.json", LIBRARY.as_bytes());
        write("library.json.minisig", b"untrusted comment: sig\nRWQ...\n");
        write("feed.xml", b"<rss version=\"2.0\"><channel/></rss>\n");
        write(BLOB_PATH, &blob());
        write("media/episode.ogg", &episode());
        std::fs::write(dir.path().join("secret.txt"), b"top secret\n").unwrap();
        let mirror = TestMirror::start(&root).unwrap();
        Fixture { dir, mirror }
    }

    fn secret_path(&self) -> PathBuf {
        self.dir.path().join("secret.txt")
    }

    fn client(&self) -> Client {
        Client::connect(&self.mirror)
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut c = self.client();
        c.send("GET", path, headers);
        c.read_response(false).unwrap()
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> usize {
        self.header("content-length").unwrap().parse().unwrap()
    }
}

/// A minimal blocking HTTP/1.1 client on one connection.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(mirror: &TestMirror) -> Client {
        let stream = TcpStream::connect(mirror.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    fn set_timeout(&self, d: Duration) {
        self.reader.get_ref().set_read_timeout(Some(d)).unwrap();
    }

    fn send_raw(&mut self, raw: &[u8]) {
        self.reader.get_mut().write_all(raw).unwrap();
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) {
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: test\r\nUser-Agent: raw-test-client\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.send_raw(req.as_bytes());
    }

    fn read_head(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').expect("header line");
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        Ok((status, headers))
    }

    /// Reads a complete response; the body per `Content-Length` unless the
    /// request was HEAD or the status is 304.
    fn read_response(&mut self, head_request: bool) -> io::Result<Resp> {
        let (status, headers) = self.read_head()?;
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if !head_request && status != 304 {
            resp.body = vec![0; resp.content_length()];
            self.reader.read_exact(&mut resp.body)?;
        }
        Ok(resp)
    }

    /// Reads until EOF or error; returns what arrived and the error, if any.
    fn read_to_end(&mut self) -> (Vec<u8>, Option<io::Error>) {
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return (got, Some(e)),
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn root_of(f: &Fixture) -> &Path {
    f.mirror.root()
}

#[test]
fn full_get_with_headers() {
    let f = Fixture::new();
    let r = f.get("/library.json", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, LIBRARY.as_bytes());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.content_length(), LIBRARY.len());
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let etag = r.header("etag").unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let lm = r.header("last-modified").unwrap();
    let mtime = std::fs::metadata(root_of(&f).join("library.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(lm, httpdate::fmt_http_date(mtime));

    let r = f.get(&format!("/{BLOB_PATH}"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r.body == blob(), "blob body differs");

    let r = f.get("/library.json.minisig", &[]);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let r = f.get("/feed.xml?cache=1", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/rss+xml"));
    let r = f.get("/media/episode.ogg", &[]);
    assert_eq!(r.header("content-type"), Some("audio/ogg"));
    assert_eq!(r.body, episode());
}

#[test]
fn head_keep_alive_pipelining_and_close() {
    let f = Fixture::new();
    let mut c = f.client();
    c.send("HEAD", "/library.json", &[]);
    let r = c.read_response(true).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.content_length(), LIBRARY.len());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("connection"), None);

    // Same connection: the HEAD response must not have carried a body.
    c.send("GET", "/feed.xml", &[]);
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"<rss"));

    // Two pipelined requests in one write.
    c.send_raw(
        b"GET /library.json HTTP/1.1\r\nHost: t\r\n\r\nGET /feed.xml HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(c.read_response(false).unwrap().body, LIBRARY.as_bytes());
    assert!(c.read_response(false).unwrap().body.starts_with(b"<rss"));

    c.send("GET", "/library.json", &[("Connection", "close")]);
    let r = c.read_response(false).unwrap();
    assert_eq!(r.header("connection"), Some("close"));
    let (rest, err) = c.read_to_end();
    assert!(rest.is_empty() && err.is_none(), "server should close");

    // HTTP/1.0 without keep-alive: closed after the response.
    let mut c = f.client();
    c.send_raw(b"GET /library.json HTTP/1.0\r\n\r\n");
    let r = c.read_response(false).unwrap();
    assert_eq!(r.body, LIBRARY.as_bytes());
    let (rest, err) = c.read_to_end();
    assert!(rest.is_empty() && err.is_none());
}

#[test]
fn byte_ranges() {
    let f = Fixture::new();
    let lib = LIBRARY.as_bytes();
    let len = lib.len();

    let r = f.get("/library.json", &[("Range", "bytes=2-5")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(&*format!("bytes 2-5/{len}"))
    );
    assert_eq!(r.body, &lib[2..=5]);

    let r = f.get("/library.json", &[("Range", "bytes=-3")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &lib[len - 3..]);

    let r = f.get(&format!("/{BLOB_PATH}"), &[("Range", "bytes=150000-")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(&*format!("bytes 150000-{}/{BLOB_LEN}", BLOB_LEN - 1))
    );
    assert!(r.body == blob()[150_000..]);

    let r = f.get("/library.json", &[("Range", &format!("bytes={len}-"))]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some(&*format!("bytes */{len}")));

    // Multi-range is answered with the full body.
    let r = f.get("/library.json", &[("Range", "bytes=0-1,4-5")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, lib);

    // If-Range: honoured with the current ETag, ignored with a stale one.
    let etag = f
        .get("/library.json", &[])
        .header("etag")
        .unwrap()
        .to_owned();
    let r = f.get(
        "/library.json",
        &[("Range", "bytes=0-3"), ("If-Range", &etag)],
    );
    assert_eq!(r.status, 206);
    let r = f.get(
        "/library.json",
        &[("Range", "bytes=0-3"), ("If-Range", "\"stale\"")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, lib);

    // HEAD with a range announces the partial length without a body.
    let mut c = f.client();
    c.send("HEAD", "/library.json", &[("Range", "bytes=0-9")]);
    let r = c.read_response(true).unwrap();
    assert_eq!((r.status, r.content_length()), (206, 10));
}

#[test]
fn conditional_requests_get_304() {
    let f = Fixture::new();
    let r = f.get("/library.json", &[]);
    let etag = r.header("etag").unwrap().to_owned();
    let lm = r.header("last-modified").unwrap().to_owned();

    let mut c = f.client();
    c.send("GET", "/library.json", &[("If-None-Match", &etag)]);
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(&*etag));
    // No body was sent: the connection is usable for the next request.
    c.send(
        "GET",
        "/library.json",
        &[("If-None-Match", "\"something-else\"")],
    );
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, LIBRARY.as_bytes());

    c.send("GET", "/library.json", &[("If-Modified-Since", &lm)]);
    assert_eq!(c.read_response(false).unwrap().status, 304);
    c.send(
        "GET",
        "/library.json",
        &[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
    );
    assert_eq!(c.read_response(false).unwrap().status, 200);
}

#[test]
fn not_found_directories_and_traversal() {
    let f = Fixture::new();
    // Sanity: the secret exists, so a traversal bug would serve it.
    assert!(f.secret_path().exists());
    let secret_abs = f.secret_path().to_string_lossy().into_owned();
    #[cfg(unix)]
    std::os::unix::fs::symlink(f.secret_path(), root_of(&f).join("link.txt")).unwrap();

    for path in [
        "/missing.json",
        "/blobs",
        "/blobs/",
        "/",
        "/../secret.txt",
        "/blobs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/blobs/%2E%2E/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        &format!("/{secret_abs}"),
        "/link.txt",
    ] {
        let r = f.get(path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&r.body).contains("top secret"));
    }
    // `..` inside a name is harmless only as a real segment check; the file
    // itself is still served normally when it exists.
    std::fs::write(root_of(&f).join("a..b"), b"ok").unwrap();
    assert_eq!(f.get("/a..b", &[]).status, 200);
}

#[test]
fn methods_and_malformed_requests() {
    let f = Fixture::new();
    let mut c = f.client();
    c.send_raw(b"POST /library.json HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    let r = c.read_response(false).unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    // The request body was consumed; the connection still works.
    c.send("GET", "/library.json", &[]);
    assert_eq!(c.read_response(false).unwrap().status, 200);

    for garbage in [
        &b"HELLO\r\n\r\n"[..],
        b"GET /library.json HTTP/9.9\r\n\r\n",
        b"GET /library.json HTTP/1.1\r\nBroken header\r\n\r\n",
        b"GET library.json HTTP/1.1\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ] {
        let mut c = f.client();
        c.send_raw(garbage);
        let r = c.read_response(false).unwrap();
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(garbage));
        assert_eq!(r.header("connection"), Some("close"));
        let (rest, err) = c.read_to_end();
        assert!(rest.is_empty() && err.is_none(), "connection must close");
    }

    let mut c = f.client();
    let big = format!(
        "GET /library.json HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    c.send_raw(big.as_bytes());
    assert_eq!(c.read_response(false).unwrap().status, 431);

    // The server survived all of that.
    assert_eq!(f.get("/library.json", &[]).status, 200);
}

#[test]
fn fault_status_with_retry_after() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![
        Rule::path(
            PathMatch::exact("library.json"),
            Fault::Status {
                code: 503,
                retry_after: Some(7),
            },
        ),
        Rule::path(
            PathMatch::prefix("blobs/"),
            Fault::Status {
                code: 429,
                retry_after: None,
            },
        ),
    ]);
    let r = f.get("/library.json", &[]);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("7"));
    let r = f.get(&format!("/{BLOB_PATH}"), &[]);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), None);
    // Unmatched paths are served normally.
    assert_eq!(f.get("/feed.xml", &[]).status, 200);
    f.mirror.clear_faults();
    assert_eq!(f.get("/library.json", &[]).status, 200);
}

#[test]
fn fault_black_hole_times_out_but_others_are_served() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![Rule::path(
        PathMatch::exact("library.json"),
        Fault::BlackHole,
    )]);
    let mut c = f.client();
    c.set_timeout(Duration::from_millis(300));
    c.send("GET", "/library.json", &[]);
    let started = Instant::now();
    let err = c.read_head().unwrap_err();
    assert!(is_timeout(&err), "expected a timeout, got {err:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    // The black hole doesn't block other connections.
    assert_eq!(f.get("/feed.xml", &[]).status, 200);
    let log = f.mirror.requests();
    let entry = log.iter().find(|r| r.path == "library.json").unwrap();
    assert_eq!(entry.status, 0);
    assert_eq!(entry.fault.as_deref(), Some("black-hole"));
}

#[test]
fn fault_truncate_sends_fewer_bytes_then_closes() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![Rule::path(
        PathMatch::prefix("blobs/"),
        Fault::Truncate(1000),
    )]);
    let mut c = f.client();
    c.send("GET", &format!("/{BLOB_PATH}"), &[]);
    let (status, headers) = c.read_head().unwrap();
    assert_eq!(status, 200);
    let cl = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>().unwrap());
    assert_eq!(cl, Some(BLOB_LEN));
    let (body, err) = c.read_to_end();
    assert!(err.is_none(), "truncate closes cleanly: {err:?}");
    assert_eq!(body.len(), 1000);
    assert!(body == blob()[..1000]);
}

#[test]
fn fault_drop_after_resets() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![Rule::all(Fault::DropAfter(500))]);
    let mut c = f.client();
    c.send("GET", &format!("/{BLOB_PATH}"), &[]);
    let (status, _) = c.read_head().unwrap();
    assert_eq!(status, 200);
    let (body, err) = c.read_to_end();
    if let Some(e) = &err {
        assert!(!is_timeout(e), "drop must not hang: {e:?}");
    }
    assert!(body.len() <= 500, "got {} bytes", body.len());
    assert!(body == blob()[..body.len()]);
}

#[test]
fn fault_flip_bytes_same_length_different_content() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![Rule::all(Fault::FlipBytes)]);
    let lib = LIBRARY.as_bytes();
    let r = f.get("/library.json", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), lib.len());
    assert_ne!(r.body, lib);
    assert_eq!(r.body[0], lib[0] ^ 0xFF);
    assert_eq!(r.body[lib.len() / 2], lib[lib.len() / 2] ^ 0xFF);
    let diffs = r.body.iter().zip(lib).filter(|(a, b)| a != b).count();
    assert_eq!(diffs, 3);

    // Applies to the served range, including its first byte.
    let r = f.get(
        &format!("/{BLOB_PATH}"),
        &[("Range", "bytes=100000-100099")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body.len(), 100);
    assert_eq!(r.body[0], blob()[100_000] ^ 0xFF);
}

#[test]
fn fault_corrupt_at_damages_one_byte_of_the_file_in_any_range() {
    let f = Fixture::new();
    f.mirror
        .set_faults(vec![Rule::all(Fault::CorruptAt(100_050))]);
    let blob = blob();
    let whole = f.get(&format!("/{BLOB_PATH}"), &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body.len(), blob.len());
    let diffs: Vec<usize> = (0..blob.len())
        .filter(|&i| whole.body[i] != blob[i])
        .collect();
    assert_eq!(diffs, [100_050]);
    // A range over it: the same byte; a range before it: nothing.
    let r = f.get(
        &format!("/{BLOB_PATH}"),
        &[("Range", "bytes=100000-100099")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body[50], blob[100_050] ^ 0xFF);
    assert_eq!(r.body[..50], blob[100_000..100_050]);
    let r = f.get(&format!("/{BLOB_PATH}"), &[("Range", "bytes=0-99")]);
    assert_eq!(r.body, blob[..100]);
}

#[test]
fn fault_ignore_range_answers_200_full() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![Rule::all(Fault::IgnoreRange)]);
    let r = f.get("/library.json", &[("Range", "bytes=0-3")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), None);
    assert_eq!(r.body, LIBRARY.as_bytes());
}

#[test]
fn fault_stall_after_sends_prefix_then_nothing() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![Rule::all(Fault::StallAfter(100))]);
    let mut c = f.client();
    c.send("GET", &format!("/{BLOB_PATH}"), &[]);
    let (status, _) = c.read_head().unwrap();
    assert_eq!(status, 200);
    let mut prefix = [0u8; 100];
    c.reader.read_exact(&mut prefix).unwrap();
    assert!(prefix[..] == blob()[..100]);
    c.set_timeout(Duration::from_millis(300));
    let mut more = [0u8; 1];
    let err = c.reader.read(&mut more).unwrap_err();
    assert!(is_timeout(&err), "expected stall, got {err:?}");
}

#[test]
fn fault_trickle_and_delay_are_slow_but_correct() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![
        Rule::path(
            PathMatch::exact("media/episode.ogg"),
            Fault::Trickle {
                bytes_per_sec: 20_000,
            },
        ),
        Rule::path(
            PathMatch::exact("library.json"),
            Fault::Delay(Duration::from_millis(250)),
        ),
    ]);
    let started = Instant::now();
    let r = f.get("/media/episode.ogg", &[]);
    let trickle_time = started.elapsed();
    assert_eq!(r.body, episode());
    // 6000 B at 20 kB/s in 2000 B slices: the last slice leaves at ~200 ms.
    assert!(
        trickle_time >= Duration::from_millis(180),
        "{trickle_time:?}"
    );

    let started = Instant::now();
    let r = f.get("/library.json", &[]);
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, LIBRARY.as_bytes());
}

#[test]
fn times_limits_a_rule() {
    let f = Fixture::new();
    f.mirror.set_faults(vec![Rule::path(
        PathMatch::exact("library.json"),
        Fault::Status {
            code: 500,
            retry_after: None,
        },
    )
    .times(1)]);
    assert_eq!(f.get("/feed.xml", &[]).status, 200, "non-matching path");
    assert_eq!(f.get("/library.json", &[]).status, 500);
    assert_eq!(f.get("/library.json", &[]).status, 200);
    assert_eq!(f.get("/library.json", &[]).status, 200);

    // Setting rules again starts a fresh budget; later rules apply once an
    // earlier one is used up.
    f.mirror.set_faults(vec![
        Rule::all(Fault::Status {
            code: 503,
            retry_after: None,
        })
        .times(2),
        Rule::all(Fault::Status {
            code: 502,
            retry_after: None,
        }),
    ]);
    let statuses: Vec<u16> = (0..4).map(|_| f.get("/library.json", &[]).status).collect();
    assert_eq!(statuses, [503, 503, 502, 502]);
}

#[test]
fn refused_url_refuses() {
    let url = refused_url();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'));
    let port: u16 = url["http://127.0.0.1:".len()..url.len() - 1]
        .parse()
        .unwrap();
    let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn requests_are_logged_and_bytes_counted() {
    let f = Fixture::new();
    assert!(f.mirror.url().starts_with("http://127.0.0.1:"));
    assert!(f.mirror.url().ends_with('/'));
    assert_eq!(f.mirror.bytes_sent(), 0);

    f.get("/library.json", &[("Range", "bytes=0-1")]);
    assert_eq!(f.mirror.bytes_sent(), 2);
    let mut c = f.client();
    c.send("HEAD", "/feed.xml", &[]);
    c.read_response(true).unwrap();
    assert_eq!(f.mirror.bytes_sent(), 2, "HEAD sends no body");
    f.get(&format!("/{BLOB_PATH}"), &[]);
    assert_eq!(f.mirror.bytes_sent(), 2 + BLOB_LEN as u64);
    f.get("/nope", &[]);
    f.mirror.set_faults(vec![Rule::all(Fault::Status {
        code: 503,
        retry_after: Some(1),
    })]);
    f.get("/library.json", &[]);

    let log = f.mirror.requests();
    let summary: Vec<(&str, &str, u16)> = log
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        summary,
        [
            ("GET", "library.json", 206),
            ("HEAD", "feed.xml", 200),
            ("GET", BLOB_PATH, 200),
            ("GET", "nope", 404),
            ("GET", "library.json", 503),
        ]
    );
    assert_eq!(log[0].range.as_deref(), Some("bytes=0-1"));
    assert_eq!(log[0].header("User-Agent"), Some("raw-test-client"));
    assert!(log[0]
        .headers
        .contains(&("host".to_owned(), "test".to_owned())));
    assert_eq!(log[1].range, None);
    assert_eq!(log[0].fault, None);
    assert_eq!(log[4].fault.as_deref(), Some("status:503:1"));

    f.mirror.clear_requests();
    assert!(f.mirror.requests().is_empty());
}

#[test]
fn drop_closes_listener_and_open_connections() {
    let f = Fixture::new();
    let addr = f.mirror.addr();
    f.mirror.set_faults(vec![Rule::all(Fault::BlackHole)]);
    let mut c = f.client();
    c.send("GET", "/library.json", &[]);
    // Make sure the server has taken the request before shutting down.
    let deadline = Instant::now() + Duration::from_secs(2);
    while f.mirror.requests().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let Fixture { dir, mirror } = f;
    let started = Instant::now();
    drop(mirror);
    assert!(started.elapsed() < Duration::from_secs(2));
    let (rest, err) = c.read_to_end();
    assert!(rest.is_empty());
    if let Some(e) = err {
        assert!(!is_timeout(&e), "black-holed socket must be closed: {e:?}");
    }
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    drop(dir);
}

#[test]
fn fault_rules_parse_from_text() {
    let rule: Rule = "truncate:10@blobs/*#1".parse().unwrap();
    assert_eq!(
        rule,
        Rule::path(PathMatch::prefix("blobs/"), Fault::Truncate(10)).times(1)
    );
    assert!("warp-speed".parse::<Rule>().is_err());
}

#[tokio::test]
async fn works_inside_a_tokio_runtime() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = Fixture::new();
    let mut s = tokio::net::TcpStream::connect(f.mirror.addr())
        .await
        .unwrap();
    s.write_all(b"GET /library.json HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut resp))
        .await
        .unwrap()
        .unwrap();
    let resp = String::from_utf8(resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.ends_with(LIBRARY));
    drop(f); // dropping from async context must not deadlock
}
