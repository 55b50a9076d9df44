//! The connection-level HTTP/1.1 server.
//!
//! One task per accepted connection reads request heads, consults the
//! [`RuleSet`](crate::fault::RuleSet) for a fault, builds the response for the
//! file under the mirror root and writes it straight to the socket. Writing
//! directly (instead of going through an HTTP library) is what lets faults
//! stall, truncate, corrupt or reset a response mid-body.

use std::io::{self, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::fault::{Fault, RuleSet};
use crate::http::{self, HeadError, RangeOutcome, Request, MAX_HEAD};
use crate::RequestLog;

/// Size of the chunks in which bodies are read from disk and written.
const CHUNK: usize = 64 * 1024;
/// Request bodies up to this size are read and discarded so the connection
/// can be reused; larger ones make the server close the connection.
const MAX_DISCARD: u64 = 1024 * 1024;
/// How long a closing connection waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(1);
/// Value of the `Server` response header.
const SERVER: &str = concat!("stowaway-testmirror/", env!("CARGO_PKG_VERSION"));

/// State shared between the [`TestMirror`](crate::TestMirror) handle and the
/// server tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub root: PathBuf,
    pub rules: Mutex<RuleSet>,
    pub log: Mutex<Vec<RequestLog>>,
    pub bytes_sent: AtomicU64,
}

impl Shared {
    pub(crate) fn new(root: PathBuf) -> Shared {
        Shared {
            root,
            rules: Mutex::new(RuleSet::default()),
            log: Mutex::new(Vec::new()),
            bytes_sent: AtomicU64::new(0),
        }
    }
}

/// Locks a mutex, ignoring poisoning (the protected data stays consistent
/// because every critical section is a single push/replace).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Accepts connections until `shutdown` fires (or its sender is dropped).
/// Returning drops the listener, so the port stops accepting at once;
/// connection tasks are cancelled when the runtime shuts down.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Small writes (e.g. the first N bytes before a stall) must
                    // leave immediately.
                    let _ = stream.set_nodelay(true);
                    let conn = Connection {
                        stream,
                        peer,
                        buf: Vec::new(),
                        shared: Arc::clone(&shared),
                    };
                    tokio::spawn(conn.run());
                }
                Err(e) => {
                    // E.g. EMFILE: back off briefly instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    debug!("test mirror accept loop stopped");
}

/// What to do with the connection after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Read the next request.
    KeepAlive,
    /// Close gracefully (FIN, then wait briefly for the client's FIN).
    Close,
    /// The connection has already been dealt with (hung, reset, closed).
    Done,
}

/// How the body of an otherwise normal response is mangled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFault {
    None,
    Flip,
    /// The file's byte at this offset is flipped.
    CorruptAt(u64),
    Trickle(u64),
    Stall(u64),
    Truncate(u64),
    Drop(u64),
}

/// A response body.
#[derive(Debug)]
enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// `len` bytes of `file` starting at `start`.
    File {
        file: File,
        start: u64,
        len: u64,
    },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

/// A response before it is written.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

impl Response {
    /// A response with a short plain-text body.
    fn text(status: u16, text: impl Into<String>) -> Response {
        let body = if http::status_has_no_body(status) {
            Body::Empty
        } else {
            Body::Bytes(text.into().into_bytes())
        };
        Response {
            status,
            headers: vec![("Content-Type", "text/plain; charset=utf-8".to_owned())],
            body,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// Why reading a request head stopped.
enum ReadError {
    TooLarge,
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// One client connection.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes read from the socket but not consumed yet (pipelining).
    buf: Vec<u8>,
    shared: Arc<Shared>,
}

impl Connection {
    async fn run(mut self) {
        loop {
            let head = match self.read_head().await {
                Ok(Some(head)) => head,
                Ok(None) => return,
                Err(ReadError::TooLarge) => {
                    self.log_unparsed(431);
                    let resp = Response::text(431, "request head too large\n");
                    let _ = self.send(resp, false, false, true, BodyFault::None).await;
                    self.close().await;
                    return;
                }
                Err(ReadError::Io(e)) => {
                    debug!(peer = %self.peer, error = %e, "read failed");
                    return;
                }
            };
            let next = match http::parse_head(&head) {
                Ok(req) => self.handle(req).await,
                Err(e) => {
                    let (status, why) = match e {
                        HeadError::TooLarge => (431, "request head too large"),
                        HeadError::Malformed(why) => (400, why),
                    };
                    debug!(peer = %self.peer, why, "rejecting malformed request");
                    self.log_unparsed(status);
                    let resp = Response::text(status, format!("{why}\n"));
                    self.send(resp, false, false, true, BodyFault::None)
                        .await
                        .map(|_| Next::Close)
                }
            };
            match next {
                Ok(Next::KeepAlive) => continue,
                Ok(Next::Close) => {
                    self.close().await;
                    return;
                }
                Ok(Next::Done) => return,
                Err(e) => {
                    debug!(peer = %self.peer, error = %e, "connection error");
                    return;
                }
            }
        }
    }

    /// Reads one request head. `Ok(None)` means the client closed the
    /// connection between requests (or mid-head, which is not worth an answer).
    async fn read_head(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        let mut chunk = [0u8; 4096];
        loop {
            let skip = http::leading_empty_lines(&self.buf);
            self.buf.drain(..skip);
            if let Some(end) = http::find_head_end(&self.buf) {
                if end > MAX_HEAD {
                    return Err(ReadError::TooLarge);
                }
                return Ok(Some(self.buf.drain(..end).collect()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::TooLarge);
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                if !self.buf.is_empty() {
                    debug!(peer = %self.peer, "connection closed mid-request");
                }
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Consumes the request body, if any. Returns whether the connection can
    /// be reused afterwards, or `Err(())` if the framing is invalid.
    async fn discard_body(&mut self, req: &Request) -> io::Result<Result<bool, ()>> {
        if req.header("transfer-encoding").is_some() {
            // We don't decode chunked bodies; answer and close instead.
            return Ok(Ok(false));
        }
        let Some(cl) = req.header("content-length") else {
            return Ok(Ok(true));
        };
        let Ok(mut remaining) = cl.parse::<u64>() else {
            return Ok(Err(()));
        };
        if remaining > MAX_DISCARD {
            return Ok(Ok(false));
        }
        let from_buf = remaining.min(self.buf.len() as u64) as usize;
        self.buf.drain(..from_buf);
        remaining -= from_buf as u64;
        let mut scratch = [0u8; 4096];
        while remaining > 0 {
            let want = remaining.min(scratch.len() as u64) as usize;
            let n = self.stream.read(&mut scratch[..want]).await?;
            if n == 0 {
                return Ok(Ok(false));
            }
            remaining -= n as u64;
        }
        Ok(Ok(true))
    }

    /// Handles one parsed request.
    async fn handle(&mut self, req: Request) -> io::Result<Next> {
        let head_only = req.method == "HEAD";
        let mut keep_alive = req.keep_alive();
        match self.discard_body(&req).await? {
            Ok(reusable) => keep_alive &= reusable,
            Err(()) => {
                self.log(&req, "", 400, None);
                let resp = Response::text(400, "invalid Content-Length\n");
                self.send(resp, head_only, false, req.http11, BodyFault::None)
                    .await?;
                return Ok(Next::Close);
            }
        }
        let Some(path) = http::target_path(&req.target) else {
            self.log(&req, "", 400, None);
            let resp = Response::text(400, "invalid request target\n");
            self.send(resp, head_only, false, req.http11, BodyFault::None)
                .await?;
            return Ok(Next::Close);
        };

        let fault = lock(&self.shared.rules).take(&path);
        let mut honour_range = true;
        let mut root = self.shared.root.clone();
        let mut body_fault = BodyFault::None;
        match &fault {
            None => {}
            Some(Fault::BlackHole) => {
                self.log(&req, &path, 0, fault.as_ref());
                self.hang().await;
                return Ok(Next::Done);
            }
            Some(Fault::Status { code, retry_after }) => {
                self.log(&req, &path, *code, fault.as_ref());
                let mut resp = Response::text(
                    *code,
                    format!(
                        "stowaway-testmirror: injected {code} {}\n",
                        http::reason(*code)
                    ),
                );
                if let Some(secs) = retry_after {
                    resp = resp.header("Retry-After", secs.to_string());
                }
                return self
                    .send(resp, head_only, keep_alive, req.http11, BodyFault::None)
                    .await;
            }
            Some(Fault::Delay(d)) => tokio::time::sleep(*d).await,
            Some(Fault::Redirect(to)) => {
                self.log(&req, &path, 302, fault.as_ref());
                let resp = Response::text(302, "stowaway-testmirror: moved\n")
                    .header("Location", to.clone());
                return self
                    .send(resp, head_only, keep_alive, req.http11, BodyFault::None)
                    .await;
            }
            Some(Fault::RequireToken(t)) => {
                let expected = format!("Bearer {t}");
                if req.header("authorization") != Some(expected.as_str()) {
                    self.log(&req, &path, 401, fault.as_ref());
                    let resp = Response::text(401, "stowaway-testmirror: access token required\n")
                        .header("WWW-Authenticate", "Bearer".to_owned());
                    return self
                        .send(resp, head_only, keep_alive, req.http11, BodyFault::None)
                        .await;
                }
            }
            Some(Fault::ServeFrom(other)) => root = other.clone(),
            Some(Fault::IgnoreRange) => honour_range = false,
            Some(Fault::FlipBytes) => body_fault = BodyFault::Flip,
            Some(Fault::CorruptAt(n)) => body_fault = BodyFault::CorruptAt(*n),
            Some(Fault::Trickle { bytes_per_sec }) => {
                body_fault = BodyFault::Trickle((*bytes_per_sec).max(1));
            }
            Some(Fault::StallAfter(n)) => body_fault = BodyFault::Stall(*n),
            Some(Fault::Truncate(n)) => body_fault = BodyFault::Truncate(*n),
            Some(Fault::DropAfter(n)) => body_fault = BodyFault::Drop(*n),
        }

        let resp = self.file_response(&req, &root, &path, honour_range).await;
        self.log(&req, &path, resp.status, fault.as_ref());
        self.send(resp, head_only, keep_alive, req.http11, body_fault)
            .await
    }

    /// The fault-free response for `path`.
    async fn file_response(
        &self,
        req: &Request,
        root: &Path,
        path: &str,
        honour_range: bool,
    ) -> Response {
        if req.method != "GET" && req.method != "HEAD" {
            return Response::text(405, "only GET and HEAD are supported\n")
                .header("Allow", "GET, HEAD");
        }
        let Some((file, meta)) = open_under(root, path).await else {
            return Response::text(404, "not found\n");
        };
        let len = meta.len();
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let etag = http::etag(len, mtime);
        let last_modified = httpdate::fmt_http_date(mtime);
        let with_validators = |resp: Response| {
            resp.header("Accept-Ranges", "bytes")
                .header("ETag", etag.clone())
                .header("Last-Modified", last_modified.clone())
        };

        let not_modified = match req.header("if-none-match") {
            Some(inm) => http::if_none_match(inm, &etag),
            None => req
                .header("if-modified-since")
                .is_some_and(|ims| http::not_modified_since(ims, mtime)),
        };
        if not_modified {
            return with_validators(Response {
                status: 304,
                headers: Vec::new(),
                body: Body::Empty,
            });
        }

        let range = match req.header("range") {
            Some(range)
                if honour_range
                    && req
                        .header("if-range")
                        .is_none_or(|ir| http::if_range_matches(ir, &etag, mtime)) =>
            {
                http::eval_range(range, len)
            }
            _ => RangeOutcome::Full,
        };
        let content_type = ("Content-Type", http::content_type(path).to_owned());
        match range {
            RangeOutcome::Full => with_validators(Response {
                status: 200,
                headers: vec![content_type],
                body: Body::File {
                    file,
                    start: 0,
                    len,
                },
            }),
            RangeOutcome::Partial { start, end } => with_validators(Response {
                status: 206,
                headers: vec![
                    content_type,
                    ("Content-Range", format!("bytes {start}-{end}/{len}")),
                ],
                body: Body::File {
                    file,
                    start,
                    len: end - start + 1,
                },
            }),
            RangeOutcome::Unsatisfiable => {
                with_validators(Response::text(416, "range not satisfiable\n"))
                    .header("Content-Range", format!("bytes */{len}"))
            }
        }
    }

    /// Writes `resp` (headers, then the body mangled by `body_fault`).
    async fn send(
        &mut self,
        resp: Response,
        head_only: bool,
        keep_alive: bool,
        http11: bool,
        body_fault: BodyFault,
    ) -> io::Result<Next> {
        let Response {
            status,
            headers,
            mut body,
        } = resp;
        let mut head = format!("HTTP/1.1 {status} {}\r\n", http::reason(status));
        head.push_str(&format!(
            "Date: {}\r\nServer: {SERVER}\r\n",
            httpdate::fmt_http_date(SystemTime::now())
        ));
        for (name, value) in &headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let no_body = http::status_has_no_body(status);
        if !no_body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if !keep_alive {
            head.push_str("Connection: close\r\n");
        } else if !http11 {
            head.push_str("Connection: keep-alive\r\n");
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes()).await?;

        let send_len = if head_only || no_body { 0 } else { body.len() };
        if !self.send_body(&mut body, send_len, body_fault).await? {
            // The body source ended early; the framing is broken, so give up.
            return Ok(Next::Done);
        }
        match body_fault {
            BodyFault::Stall(_) => {
                self.hang().await;
                Ok(Next::Done)
            }
            BodyFault::Truncate(_) => Ok(Next::Close),
            BodyFault::Drop(_) => {
                // SO_LINGER 0 turns the close into a RST.
                if let Err(e) = self.stream.set_zero_linger() {
                    debug!(error = %e, "failed to set SO_LINGER");
                }
                Ok(Next::Done)
            }
            BodyFault::None | BodyFault::Flip | BodyFault::CorruptAt(_) | BodyFault::Trickle(_) => {
                Ok(if keep_alive {
                    Next::KeepAlive
                } else {
                    Next::Close
                })
            }
        }
    }

    /// Streams up to `send_len` body bytes, applying `fault`. Returns
    /// `false` if the source ran dry before the promised length.
    async fn send_body(
        &mut self,
        body: &mut Body,
        send_len: u64,
        fault: BodyFault,
    ) -> io::Result<bool> {
        let limit = match fault {
            BodyFault::Stall(n) | BodyFault::Truncate(n) | BodyFault::Drop(n) => n.min(send_len),
            _ => send_len,
        };
        let body_start = match body {
            Body::File { start, .. } => *start,
            _ => 0,
        };
        let flip_at: Vec<u64> = match fault {
            BodyFault::Flip if send_len > 0 => vec![0, send_len / 2, send_len - 1],
            BodyFault::CorruptAt(at) if (body_start..body_start + send_len).contains(&at) => {
                vec![at - body_start]
            }
            _ => vec![],
        };
        let chunk_cap = match fault {
            BodyFault::Trickle(bps) => (bps / 10).clamp(1, CHUNK as u64) as usize,
            _ => CHUNK,
        };
        if let Body::File { file, start, .. } = body {
            if limit > 0 {
                file.seek(SeekFrom::Start(*start)).await?;
            }
        }
        let started = Instant::now();
        let mut buf = vec![0u8; chunk_cap.min(limit as usize)];
        let mut sent: u64 = 0;
        while sent < limit {
            let want = (limit - sent).min(chunk_cap as u64) as usize;
            let n = match body {
                Body::Empty => 0,
                Body::Bytes(bytes) => {
                    let from = sent as usize;
                    buf[..want].copy_from_slice(&bytes[from..from + want]);
                    want
                }
                Body::File { file, .. } => file.read(&mut buf[..want]).await?,
            };
            if n == 0 {
                warn!(peer = %self.peer, "file shorter than announced; aborting response");
                return Ok(false);
            }
            for &pos in &flip_at {
                if (sent..sent + n as u64).contains(&pos) {
                    buf[(pos - sent) as usize] ^= 0xFF;
                }
            }
            if let BodyFault::Trickle(bps) = fault {
                let due = Duration::from_secs_f64(sent as f64 / bps as f64);
                tokio::time::sleep_until(started + due).await;
            }
            // Count before writing so that a client which has received the
            // bytes always finds them counted; undo if the write fails.
            self.shared
                .bytes_sent
                .fetch_add(n as u64, Ordering::Relaxed);
            if let Err(e) = self.stream.write_all(&buf[..n]).await {
                self.shared
                    .bytes_sent
                    .fetch_sub(n as u64, Ordering::Relaxed);
                return Err(e);
            }
            sent += n as u64;
        }
        Ok(true)
    }

    /// Keeps the connection open without answering, until the client closes
    /// it (or the server shuts down and cancels this task).
    async fn hang(&mut self) {
        let mut scratch = [0u8; 4096];
        while let Ok(n) = self.stream.read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
    }

    /// Graceful close: send FIN, then wait briefly for the client to close so
    /// that unread request bytes don't turn our close into a RST.
    async fn close(&mut self) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(LINGER, self.hang()).await;
    }

    fn log(&self, req: &Request, path: &str, status: u16, fault: Option<&Fault>) {
        debug!(
            peer = %self.peer,
            method = %req.method,
            path,
            status,
            fault = ?fault.map(|f| f.to_string()),
            "request"
        );
        lock(&self.shared.log).push(RequestLog {
            path: path.to_owned(),
            method: req.method.clone(),
            range: req.header("range").map(str::to_owned),
            headers: req.headers.clone(),
            status,
            fault: fault.map(|f| f.to_string()),
        });
    }

    /// Logs a request whose head could not be parsed.
    fn log_unparsed(&self, status: u16) {
        lock(&self.shared.log).push(RequestLog {
            path: String::new(),
            method: String::new(),
            range: None,
            headers: Vec::new(),
            status,
            fault: None,
        });
    }
}

/// Opens the regular file at mirror path `path` under `root`, refusing `..`
/// segments, directories and anything (e.g. via symlinks) outside the root.
async fn open_under(root: &Path, path: &str) -> Option<(File, std::fs::Metadata)> {
    let segments = http::safe_segments(path)?;
    if segments.is_empty() {
        return None;
    }
    let mut full = root.to_path_buf();
    full.extend(segments);
    let root = tokio::fs::canonicalize(root).await.ok()?;
    let full = tokio::fs::canonicalize(&full).await.ok()?;
    if !full.starts_with(&root) {
        return None;
    }
    let file = File::open(&full).await.ok()?;
    let meta = file.metadata().await.ok()?;
    meta.is_file().then_some((file, meta))
}
