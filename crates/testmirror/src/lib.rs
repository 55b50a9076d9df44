//! A fault-injecting static HTTP/1.1 mirror server for Stowaway's tests.
//!
//! [`TestMirror`] serves a directory (a "mirror tree": `library.json`,
//! `library.json.minisig`, `blobs/sha256/ab/<hex>`, `feed.xml`, …) over plain
//! HTTP on the loopback interface, and can be told to misbehave per request
//! with [`Rule`]s: black-hole, error statuses with `Retry-After`, stalls,
//! trickling, truncated / reset / corrupted bodies, ignored ranges and delays.
//!
//! The server is hand-written on tokio's `TcpListener` (no hyper) so that
//! faults have raw control of the socket. Each `TestMirror` runs on its own
//! background thread with its own single-threaded tokio runtime, so it works
//! the same from a plain `#[test]` and from `#[tokio::test]`. Dropping the
//! handle stops the server: the listener is closed and every open connection
//! (including black-holed and stalled ones) is dropped.
//!
//! Without faults the server behaves like a small, correct static file
//! server: `GET`/`HEAD`, persistent connections, single byte ranges (`206`,
//! `416`), strong `ETag`s and `Last-Modified` with conditional requests
//! (`304`), `Content-Type` by extension, `404` for missing files, directories
//! and path traversal, `405` for other methods, `400` (and close) for
//! malformed requests and `431` for request heads over 16 KiB.
//!
//! ```no_run
//! use stowaway_testmirror::{Fault, PathMatch, Rule, TestMirror};
//!
//! let mirror = TestMirror::start("/path/to/mirror-tree")?;
//! mirror.set_faults(vec![
//!     Rule::path(PathMatch::exact("library.json"), Fault::Status { code: 503, retry_after: Some(1) }).times(1),
//!     Rule::path(PathMatch::prefix("blobs/"), Fault::Truncate(100)),
//! ]);
//! let base = mirror.url(); // "http://127.0.0.1:PORT/"
//! // ... point the client at `base` ...
//! assert!(mirror.requests().iter().any(|r| r.path == "library.json" && r.status == 503));
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod fault;
mod http;
mod server;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;
use tracing::{debug, info};

pub use fault::{Fault, ParseFaultError, PathMatch, Rule};
use server::{lock, Shared};

/// One request as seen by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    /// Percent-decoded URL path without the leading `/` and query, e.g.
    /// `"library.json"` (empty if the request could not be parsed).
    pub path: String,
    /// Request method, e.g. `"GET"` (empty if the request could not be parsed).
    pub method: String,
    /// The raw `Range` header value, if any.
    pub range: Option<String>,
    /// All request headers in arrival order; names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Status code answered, or `0` if no answer was sent ([`Fault::BlackHole`]).
    pub status: u16,
    /// The injected fault in its textual form (e.g. `"status:503:5"`), if any.
    pub fault: Option<String>,
}

impl RequestLog {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running mirror server. Shuts down, closing the listener and all
/// connections, when dropped.
#[derive(Debug)]
pub struct TestMirror {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestMirror {
    /// Serves `root` on `127.0.0.1` on an ephemeral port.
    ///
    /// `root` need not exist yet: files are looked up per request.
    pub fn start(root: impl Into<PathBuf>) -> io::Result<TestMirror> {
        TestMirror::start_on(root, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// Serves `root` on a fixed address (port `0` picks a free port).
    pub fn start_on(root: impl Into<PathBuf>, addr: SocketAddr) -> io::Result<TestMirror> {
        let root = root.into();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("stowaway-testmirror")
            .build()?;
        let listener = {
            // Registering the socket needs the runtime's reactor.
            let _guard = runtime.enter();
            let socket = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            // Lets the demo binary be restarted on the same port right away.
            socket.set_reuseaddr(true)?;
            socket.bind(addr)?;
            socket.listen(1024)?
        };
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(root));
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("testmirror-{}", addr.port()))
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    runtime.block_on(server::accept_loop(listener, shared, shutdown_rx));
                    // Cancels all connection tasks, closing their sockets.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                }
            })?;
        info!(%addr, root = %shared.root.display(), "test mirror started");
        Ok(TestMirror {
            addr,
            shared,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL with trailing slash, e.g. `http://127.0.0.1:41234/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The directory being served.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Replaces all fault rules; budgets (`times`) start afresh.
    pub fn set_faults(&self, rules: Vec<Rule>) {
        debug!(?rules, "setting faults");
        lock(&self.shared.rules).replace(rules);
    }

    /// Removes all fault rules: the mirror behaves normally again.
    pub fn clear_faults(&self) {
        self.set_faults(Vec::new());
    }

    /// Every request seen so far, in order.
    pub fn requests(&self) -> Vec<RequestLog> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the request log (the byte counter is left alone).
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Total response body bytes written to sockets so far (headers not
    /// included). Bytes are counted just before each write, so anything a
    /// client has received is already included.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.bytes_sent.load(Ordering::Relaxed)
    }
}

impl Drop for TestMirror {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("test mirror thread panicked");
            }
        }
        debug!(addr = %self.addr, "test mirror stopped");
    }
}

/// A base URL (`http://127.0.0.1:PORT/`) on which nothing listens, so that
/// connecting is refused: binds an ephemeral port and releases it again.
pub fn refused_url() -> String {
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        // Port 1 (tcpmux) is essentially never served on a test machine.
        .unwrap_or(1);
    format!("http://127.0.0.1:{port}/")
}
