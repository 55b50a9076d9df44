//! Prints a feed file as parsed, in JSON: `cargo run -p stowaway-feeds
//! --example parse_feed -- feed.xml [feed-url]`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: parse_feed FILE [FEED-URL]");
        return ExitCode::FAILURE;
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("{path}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let url = args
        .next()
        .unwrap_or_else(|| "https://example.com/feed.xml".to_owned());
    let url = match url::Url::parse(&url) {
        Ok(url) => url,
        Err(err) => {
            eprintln!("{url}: {err}");
            return ExitCode::FAILURE;
        }
    };
    match stowaway_feeds::parse(&bytes, &url) {
        Ok(feed) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&feed).expect("serialisable")
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{path}: {err} [{}]", err.code());
            ExitCode::FAILURE
        }
    }
}
