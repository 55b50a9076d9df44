//! Progress bars for `stowaway sync`, driven by the engine's events. Hidden
//! automatically when stderr is not a terminal.

use std::collections::HashMap;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use stowaway_sync::SyncEvent;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub struct Bars {
    task: JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Bars {
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

pub fn spawn(mut events: broadcast::Receiver<SyncEvent>) -> Bars {
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let multi = MultiProgress::new();
        let total_style = ProgressStyle::with_template(
            "{prefix:>10} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> ");
        let file_style = ProgressStyle::with_template(
            "  {wide_msg} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12}",
        )
        .expect("valid template");
        let mut total: Option<ProgressBar> = None;
        let mut files: HashMap<String, (ProgressBar, String)> = HashMap::new();
        loop {
            let ev = tokio::select! {
                ev = events.recv() => ev,
                _ = &mut stopped => break,
            };
            let ev = match ev {
                Ok(ev) => ev,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            match ev {
                SyncEvent::CatalogMirrorFailed { mirror, error, .. } => {
                    let _ = multi.println(format!("  catalog: {mirror}: {error}"));
                }
                SyncEvent::DownloadsPlanned {
                    library,
                    files: n,
                    bytes,
                } if n > 0 => {
                    let bar = multi.add(ProgressBar::new(bytes));
                    bar.set_style(total_style.clone());
                    bar.set_prefix(library);
                    total = Some(bar);
                }
                SyncEvent::Progress { bytes_done, .. } => {
                    if let Some(t) = &total {
                        // Feed files of unknown size count once they arrive.
                        if t.length().is_some_and(|n| bytes_done > n) {
                            t.set_length(bytes_done);
                        }
                        t.set_position(bytes_done);
                    }
                }
                SyncEvent::DownloadResumed {
                    sha256,
                    offset,
                    size,
                } => {
                    let _ = multi.println(format!(
                        "  resuming {}… at {} of {}",
                        &sha256[..12],
                        indicatif::HumanBytes(offset),
                        indicatif::HumanBytes(size)
                    ));
                }
                SyncEvent::DownloadStarted {
                    sha256,
                    label,
                    size,
                    offset,
                    ..
                } => {
                    // A feed file may not say its size.
                    let bar = multi.add(if size > 0 {
                        ProgressBar::new(size)
                    } else {
                        ProgressBar::no_length()
                    });
                    bar.set_style(file_style.clone());
                    bar.set_message(label.clone());
                    bar.set_position(offset);
                    bar.reset_eta();
                    files.insert(sha256, (bar, label));
                }
                SyncEvent::DownloadProgress { sha256, bytes, .. } => {
                    if let Some((bar, _)) = files.get(&sha256) {
                        bar.set_position(bytes);
                    }
                }
                SyncEvent::Failover {
                    sha256,
                    from,
                    to,
                    offset,
                    reason,
                } => {
                    let label = files
                        .get(&sha256)
                        .map(|(_, l)| l.clone())
                        .unwrap_or_else(|| sha256[..12].to_owned());
                    let _ = multi.println(format!(
                        "  {label}: {from} failed at {} ({reason}); continuing on {to}",
                        indicatif::HumanBytes(offset)
                    ));
                }
                SyncEvent::DownloadMirrorFailed {
                    sha256,
                    mirror,
                    error,
                    ..
                } => {
                    let label = files
                        .get(&sha256)
                        .map(|(_, l)| l.clone())
                        .unwrap_or_else(|| sha256[..12].to_owned());
                    let _ = multi.println(format!("  {label}: {mirror}: {error}"));
                }
                SyncEvent::DownloadFinished { sha256, .. }
                | SyncEvent::DownloadFailed { sha256, .. } => {
                    if let Some((bar, _)) = files.remove(&sha256) {
                        bar.finish_and_clear();
                    }
                }
                SyncEvent::LibraryFinished { .. } => {
                    if let Some(t) = total.take() {
                        t.finish_and_clear();
                    }
                }
                _ => {}
            }
        }
        for (_, (bar, _)) in files {
            bar.finish_and_clear();
        }
        if let Some(t) = total {
            t.finish_and_clear();
        }
    });
    Bars { task, stop }
}
