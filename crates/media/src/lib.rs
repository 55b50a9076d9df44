//! The media server: cached media to the player, by item.
//!
//! WebKitGTK plays `<audio>`/`<video>` only from http(s), blob, data or
//! file URLs, so the app runs this small HTTP server on a random
//! `127.0.0.1` port. It serves *only* verified blobs the index knows, looked
//! up by `(library, collection, item, role, index)` — never a path the page
//! chose — behind a per-run secret token in the URL, with Range (206/416)
//! and no caching. Nothing here knows Tauri.
//!
//! What a publisher or a feed declares as a file's type is not what this
//! origin sends: only media (`audio/*`, `video/*`), images, PDF and plain
//! text go out as such (a "text/html" or script attachment is plain text or
//! a download, never a page running on 127.0.0.1), and every response,
//! errors too, carries `X-Content-Type-Options: nosniff` and
//! `Content-Security-Policy: default-src 'none'; sandbox` (an SVG or PDF
//! opened from here runs no script).
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use stowaway_catalog::{validate_id, AssetRole};
use stowaway_store::{Arrival, ItemKey, Store};
use tower::ServiceExt;
use tower_http::services::ServeFile;
use tracing::{debug, warn};

/// A running media server; stops when dropped.
pub struct MediaServer {
    addr: SocketAddr,
    token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Shared {
    store: Arc<Store>,
    token: String,
    allow_origins: Vec<String>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS has a random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison, so the token cannot be guessed byte by byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl MediaServer {
    /// Starts serving on `127.0.0.1:0` on the current tokio runtime.
    /// `allow_origin` is the app page's origin (for `fetch` of transcripts
    /// and chapters); media elements need no CORS.
    pub async fn start(store: Arc<Store>, allow_origins: &[&str]) -> std::io::Result<MediaServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let token = random_token();
        let shared = Arc::new(Shared {
            store,
            token: token.clone(),
            allow_origins: allow_origins.iter().map(|o| o.to_string()).collect(),
        });
        let app = Router::new()
            .route(
                "/{token}/{library}/{collection}/{item}/{role}/{index}",
                get(serve),
            )
            .route("/{token}/art/{sha256}", get(serve_art))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::map_response(guarded))
            .with_state(shared);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let r = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = r {
                warn!(error = %e, "media server stopped");
            }
        });
        debug!(%addr, "media server listening");
        Ok(MediaServer {
            addr,
            token,
            shutdown: Some(tx),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/TOKEN/`: every media URL starts with it.
    pub fn base_url(&self) -> String {
        format!("http://{}/{}/", self.addr, self.token)
    }

    /// The URL of a stored artwork file (a library's, a collection's or an
    /// item's), by its hash.
    pub fn art_url(&self, sha: &stowaway_catalog::Sha256) -> String {
        format!("{}art/{}", self.base_url(), sha.as_str())
    }

    /// The URL of the `index`-th asset with `role` of an item.
    pub fn asset_url(&self, key: ItemKey<'_>, role: AssetRole, index: usize) -> String {
        format!(
            "{}{}/{}/{}/{}/{index}",
            self.base_url(),
            key.library,
            key.collection,
            key.item,
            role.as_str()
        )
    }
}

impl Drop for MediaServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The headers every response gets (see the module docs).
async fn guarded(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The type this origin sends for a file the catalog calls `declared`:
/// media, images and PDF as they are, anything textual as plain text, and
/// everything else as bytes to download.
pub fn served_type(declared: &str) -> String {
    let t = declared.trim().to_ascii_lowercase();
    if !stowaway_catalog::is_media_type(&t) {
        return "application/octet-stream".into();
    }
    let textual = t.starts_with("text/")
        || t.starts_with("application/json")
        || matches!(t.as_str(), "application/x-subrip" | "application/srt");
    match t.as_str() {
        _ if t.starts_with("audio/") || t.starts_with("video/") => t,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/avif"
        | "image/svg+xml" | "application/pdf" => t,
        _ if textual => "text/plain; charset=utf-8".into(),
        _ => "application/octet-stream".into(),
    }
}

type Params = (String, String, String, String, String, String);

async fn serve(
    State(shared): State<Arc<Shared>>,
    Path((token, library, collection, item, role, index)): Path<Params>,
    req: Request<Body>,
) -> Response {
    if !same(&token, &shared.token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Some(role) = AssetRole::parse(&role) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(index) = index.parse::<usize>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if [&library, &collection, &item]
        .iter()
        .any(|id| validate_id("id", id).is_err())
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let key = ItemKey {
        library: &library,
        collection: &collection,
        item: &item,
    };
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| shared.allow_origins.iter().any(|a| a == o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let store = shared.store.clone();
    let (l, c, i) = (library.clone(), collection.clone(), item.clone());
    let found = tokio::task::spawn_blocking(move || {
        store.stored_asset(
            ItemKey {
                library: &l,
                collection: &c,
                item: &i,
            },
            role,
            index,
        )
    })
    .await;
    let asset = match found {
        Ok(Ok(Some(a))) => a,
        Ok(Ok(None)) if role == AssetRole::Media => {
            return send_arriving(
                shared.store.clone(),
                key_owned(&key),
                role,
                index,
                req,
                origin,
            )
            .await
        }
        Ok(Ok(None)) => return StatusCode::NOT_FOUND.into_response(),
        Ok(Err(e)) => {
            warn!(error = %e, ?key, "media lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    send(asset, req, origin).await
}

fn key_owned(k: &ItemKey<'_>) -> (String, String, String) {
    (
        k.library.to_owned(),
        k.collection.to_owned(),
        k.item.to_owned(),
    )
}

/// How long a response of a file still arriving waits for its next bytes
/// (its first: then 503 with Retry-After; later ones: the connection is
/// cut, and the player asks again).
const ARRIVING_WAIT: std::time::Duration = std::time::Duration::from_secs(20);
/// How often a waiting response looks again.
const ARRIVING_POLL: std::time::Duration = std::time::Duration::from_millis(40);
/// Most bytes read from disk for one piece of a response.
const PIECE: u64 = 256 << 10;

/// The media of an item that is still downloading in chunks (catalog
/// format 2), as a response that follows the download: only chunks checked
/// against their digests are sent, each as soon as it is in. The range
/// asked for is answered whole (206) and its body waits where the checked
/// chunks stop, telling the download to fetch the chunk there first
/// (`Store::want`), up to 20 s at a time. A request that finds nothing in
/// at its start waits likewise before any header is sent, also while the
/// download is starting (its journal not yet on disk), then answers 503
/// with Retry-After. A feed's file that no digest checks is sent from the
/// front as its bytes come, while its download runs (`Arrival::Prefix`).
/// Any other file is not served until it is stored.
async fn send_arriving(
    store: Arc<Store>,
    key: (String, String, String),
    role: AssetRole,
    index: usize,
    req: Request<Body>,
    origin: Option<HeaderValue>,
) -> Response {
    let (s, k) = (store.clone(), key.clone());
    let found = tokio::task::spawn_blocking(move || {
        s.arriving_asset(
            ItemKey {
                library: &k.0,
                collection: &k.1,
                item: &k.2,
            },
            role,
            index,
        )
    })
    .await;
    let (asset, arrival) = match found {
        Ok(Ok(Some((a, arrival)))) if arrival != Arrival::Whole => (a, arrival),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let size = asset.size;
    let Some((start, last)) = requested_range(req.headers().get(header::RANGE), size) else {
        return Response::builder()
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{size}"))
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::RANGE_NOT_SATISFIABLE.into_response());
    };
    let head = *req.method() == Method::HEAD;
    let mut arriving = Arriving {
        store: store.clone(),
        asset,
        arrival,
        key,
        role,
        index,
        pos: start,
        end: last + 1,
        ready: start,
        file: None,
    };
    // A HEAD asks what is there, not for bytes: it neither waits nor moves
    // the download.
    if !head {
        match arriving.wait().await {
            Wait::Ready => {}
            Wait::Stored => return send(arriving.asset, req, origin).await,
            Wait::Gone => return StatusCode::NOT_FOUND.into_response(),
            Wait::TimedOut => {
                debug!(sha = %arriving.asset.sha256, start, "bytes still not in; the player may ask again");
                return Response::builder()
                    .status(StatusCode::SERVICE_UNAVAILABLE)
                    .header(header::RETRY_AFTER, "1")
                    .body(Body::empty())
                    .unwrap_or_else(|_| StatusCode::SERVICE_UNAVAILABLE.into_response());
            }
        }
    }
    let mut b = Response::builder()
        .status(StatusCode::PARTIAL_CONTENT)
        .header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{last}/{size}"),
        )
        .header(header::CONTENT_LENGTH, last + 1 - start)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "no-store");
    if let Ok(ct) = HeaderValue::from_str(&served_type(&arriving.asset.media_type)) {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    if let Some(origin) = origin {
        b = b
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
            .header(header::VARY, "Origin");
    }
    let body = if head {
        Body::empty()
    } else {
        Body::from_stream(futures_util::stream::unfold(arriving, |mut a| async move {
            let piece = a.next_piece().await?;
            Some((piece, a))
        }))
    };
    b.body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A response's way through a file still arriving: `pos..end` is left to
/// send, `pos..ready` of it is checked (or stored) and is read from `file`,
/// opened when `ready` was learned (so the bytes read are those the check
/// was about: a store keeps the same file, a new download would be another).
struct Arriving {
    store: Arc<Store>,
    asset: stowaway_store::StoredAsset,
    arrival: Arrival,
    /// The item's (library, collection, item), the asset's role and index:
    /// a feed's file is stored under the hash learned then, found by these.
    key: (String, String, String),
    role: AssetRole,
    index: usize,
    pos: u64,
    end: u64,
    ready: u64,
    file: Option<tokio::fs::File>,
}

enum Wait {
    /// Bytes at `pos` can go.
    Ready,
    /// Stored before any byte went: serve it as any stored file.
    Stored,
    /// Neither stored nor downloading in chunks.
    Gone,
    TimedOut,
}

/// What one look at a file still arriving found.
enum Probe {
    /// Bytes at `pos` are in this file (`Wait::Ready` or `Wait::Stored`).
    Found(std::path::PathBuf, Wait),
    /// Not yet; its download runs or is starting.
    Pending,
    Gone,
}

impl Arriving {
    /// Waits until bytes at `pos` can go (checked chunks, a feed file's
    /// front, or the stored file), asking a chunked download for the chunk
    /// there; sets `ready` to where they stop and opens the file.
    async fn wait(&mut self) -> Wait {
        let deadline = tokio::time::Instant::now() + ARRIVING_WAIT;
        loop {
            let probe = match self.arrival {
                Arrival::Prefix => self.probe_prefix().await,
                _ => self.probe_chunks().await,
            };
            match probe {
                Probe::Found(path, w) => return self.open(&path, w).await,
                Probe::Gone => return Wait::Gone,
                Probe::Pending => {}
            }
            // Not in yet: a chunked download fetches it first.
            if self.arrival == Arrival::Chunks {
                self.store.want(&self.asset.sha256, self.pos);
            }
            if tokio::time::Instant::now() >= deadline {
                return Wait::TimedOut;
            }
            tokio::time::sleep(ARRIVING_POLL).await;
        }
    }

    /// A file with a chunk list: the checked chunks from `pos`, as the
    /// journal names them.
    async fn probe_chunks(&mut self) -> Probe {
        let (st, sha, size, library) = (
            self.store.clone(),
            self.asset.sha256.clone(),
            self.asset.size,
            self.key.0.clone(),
        );
        let state = tokio::task::spawn_blocking(move || {
            let running = st.is_arriving(&sha);
            let starting = st.is_starting(&sha);
            // Only chunks checked against the list this item's library
            // names.
            let chunks = st
                .asset_chunks(&library, &sha)
                .ok()
                .flatten()
                .and_then(|c| st.blobs().chunks_in(&sha, size, running, &c.sha256));
            // Last: a file stored since the lines above is seen.
            let stored = st.has_blob(&sha).unwrap_or(false);
            (stored, starting, chunks)
        })
        .await;
        match state {
            Ok((true, _, _)) => {
                self.ready = self.end;
                Probe::Found(self.asset.path.clone(), Wait::Stored)
            }
            Ok((false, _, Some(chunks))) => {
                let run = chunks.run_from(self.pos);
                if run.is_empty() {
                    return Probe::Pending;
                }
                self.ready = run.end.min(self.end);
                let path = self.store.blobs().partial_path(&self.asset.sha256);
                Probe::Found(path, Wait::Ready)
            }
            // Its download is starting: the journal comes next.
            Ok((false, true, None)) => Probe::Pending,
            _ => Probe::Gone,
        }
    }

    /// A feed's file played from the front: its bytes so far are the
    /// partial file's length, while its download runs (or starts); once
    /// stored (under the hash learned), the stored file.
    async fn probe_prefix(&mut self) -> Probe {
        let (st, sha, k, role, index) = (
            self.store.clone(),
            self.asset.sha256.clone(),
            self.key.clone(),
            self.role,
            self.index,
        );
        let state = tokio::task::spawn_blocking(move || {
            let starting = st.is_starting(&sha);
            let partial = st.blobs().partial_path(&sha);
            // A partial fetched in segments (a journal beside it: another
            // library's download of the same file, say) has holes where
            // nothing came yet: it is not played from the front.
            let len = if st.blobs().chunk_journal_path(&sha).exists() {
                0
            } else {
                std::fs::metadata(&partial).map_or(0, |m| m.len())
            };
            let key = ItemKey {
                library: &k.0,
                collection: &k.1,
                item: &k.2,
            };
            // Last: a file stored since the lines above is seen.
            let stored = st.stored_asset(key, role, index).ok().flatten();
            (stored, starting, len, partial)
        })
        .await;
        let found = match state {
            Ok((Some(stored), _, _, _)) => {
                self.ready = self.end.min(stored.size);
                let path = stored.path.clone();
                self.asset = stored;
                Probe::Found(path, Wait::Stored)
            }
            Ok((None, true, len, partial)) if len > self.pos => {
                self.ready = len.min(self.end);
                Probe::Found(partial, Wait::Ready)
            }
            Ok((None, true, _, _)) => return Probe::Pending,
            _ => return Probe::Gone,
        };
        if self.pos >= self.ready {
            // Stored shorter than the feed said: nothing more to send.
            return Probe::Gone;
        }
        found
    }

    /// Opens `path` at `pos` for the bytes `wait` found (`w`).
    async fn open(&mut self, path: &std::path::Path, w: Wait) -> Wait {
        match open_at(path, self.pos).await {
            Ok(f) => {
                self.file = Some(f);
                w
            }
            Err(e) => {
                warn!(error = %e, "opening a file still arriving failed");
                Wait::Gone
            }
        }
    }

    /// The next piece of the body; `None` at its end, an error when the
    /// bytes stop coming (the connection is cut: the player asks again).
    async fn next_piece(&mut self) -> Option<std::io::Result<Vec<u8>>> {
        use tokio::io::AsyncReadExt;
        if self.pos >= self.end {
            return None;
        }
        if self.pos >= self.ready {
            match self.wait().await {
                Wait::Ready | Wait::Stored => {}
                Wait::Gone | Wait::TimedOut => {
                    self.end = self.pos;
                    return Some(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the file's next bytes did not arrive",
                    )));
                }
            }
        }
        let to = self.ready.min(self.pos + PIECE);
        let mut buf = vec![0u8; (to - self.pos) as usize];
        let read = match self.file.as_mut() {
            Some(f) => f.read_exact(&mut buf).await.map(|_| ()),
            None => Err(std::io::Error::other("no file open")),
        };
        match read {
            Ok(()) => {
                self.pos = to;
                Some(Ok(buf))
            }
            Err(e) => {
                warn!(error = %e, "reading a file still arriving failed");
                self.end = self.pos;
                Some(Err(e))
            }
        }
    }
}

/// A file opened for reading at `offset`.
async fn open_at(path: &std::path::Path, offset: u64) -> std::io::Result<tokio::fs::File> {
    use tokio::io::AsyncSeekExt;
    let mut f = tokio::fs::File::open(path).await?;
    f.seek(std::io::SeekFrom::Start(offset)).await?;
    Ok(f)
}

/// The one byte range a request asks for, as (first, last) within `size`
/// (the whole file without a Range header); `None` when it cannot be served.
fn requested_range(range: Option<&HeaderValue>, size: u64) -> Option<(u64, u64)> {
    if size == 0 {
        return None;
    }
    let Some(v) = range else {
        return Some((0, size - 1));
    };
    let spec = v.to_str().ok()?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // one range only
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (first, last) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (size.saturating_sub(n), size - 1)
    } else {
        let first: u64 = a.parse().ok()?;
        let last = if b.is_empty() {
            size - 1
        } else {
            b.parse::<u64>().ok()?.min(size - 1)
        };
        (first, last)
    };
    (first <= last && first < size).then_some((first, last))
}

/// Artwork by hash: only a stored file the index knows as the artwork of a
/// library, a collection or an item (never any other blob, never a path).
async fn serve_art(
    State(shared): State<Arc<Shared>>,
    Path((token, sha)): Path<(String, String)>,
    req: Request<Body>,
) -> Response {
    if !same(&token, &shared.token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Ok(sha) = stowaway_catalog::Sha256::parse(&sha) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let store = shared.store.clone();
    let found = tokio::task::spawn_blocking(move || store.stored_artwork(&sha)).await;
    match found {
        Ok(Ok(Some(a))) if a.media_type.starts_with("image/") => send(a, req, None).await,
        Ok(Ok(_)) => StatusCode::NOT_FOUND.into_response(),
        Ok(Err(e)) => {
            warn!(error = %e, "artwork lookup failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A stored, verified file as the response to `req` (Range included), with
/// the type this origin sends for it.
async fn send(
    asset: stowaway_store::StoredAsset,
    req: Request<Body>,
    origin: Option<HeaderValue>,
) -> Response {
    let resp = match ServeFile::new(&asset.path).oneshot(req).await {
        Ok(r) => r.map(Body::new),
        Err(e) => {
            warn!(error = %e, "serving a blob failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut resp = resp;
    let status = resp.status();
    let h = resp.headers_mut();
    // Never tower-http's guess from a file name, never a type this origin
    // should not send (see `served_type`).
    match HeaderValue::from_str(&served_type(&asset.media_type)) {
        Ok(ct) if matches!(status, StatusCode::OK | StatusCode::PARTIAL_CONTENT) => {
            h.insert(header::CONTENT_TYPE, ct);
        }
        _ => {
            h.remove(header::CONTENT_TYPE);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(origin) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}
