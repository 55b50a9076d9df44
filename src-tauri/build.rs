fn main() {
    // Our commands get generated permissions; the capability in
    // tauri.conf.json allows exactly these and nothing else.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "library_page",
            "collections",
            "collection",
            "items",
            "search",
            "item_detail",
            "save_position",
            "set_played",
            "sync_now",
            "preview_subscription",
            "subscribe",
            "take_links",
            "set_access_token",
            "downloads",
            "download",
            "remove_download",
            "set_download_mode",
            "set_downloads_paused",
            "set_pinned",
            "ready",
            "settings",
            "set_settings",
            "mirrors",
            "import_opml",
            "export_opml",
            "unsubscribe",
            "open_attachment",
        ]),
    ))
    .expect("tauri build script");
}
