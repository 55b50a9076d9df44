//! Opening the index: pragmas and schema migrations.
//!
//! Migrations are only ever appended (never edited once shipped); the schema
//! version lives in SQLite's `user_version` (rusqlite_migration).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{Migrations, M};

use crate::StoreError;

/// Every schema change, in order. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the catalog, mirrors and the blob index.
    r#"
    CREATE TABLE libraries (
        id               TEXT PRIMARY KEY,
        title            TEXT NOT NULL,
        public_key       TEXT NOT NULL,
        subscribed_at    INTEGER NOT NULL,
        sequence         INTEGER,
        catalog          BLOB,
        generated_at     INTEGER,
        expires_at       INTEGER,
        description      TEXT,
        artwork_sha256   TEXT,
        artwork_size     INTEGER,
        artwork_type     TEXT,
        last_sync_at     INTEGER,
        last_sync_ok     INTEGER,
        last_sync_mirror TEXT,
        last_sync_error  TEXT
    ) STRICT;
    CREATE TABLE mirrors (
        library_id TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
        url        TEXT NOT NULL,
        position   INTEGER NOT NULL,
        origin     TEXT NOT NULL CHECK (origin IN ('subscription', 'catalog')),
        PRIMARY KEY (library_id, url)
    ) STRICT;
    CREATE TABLE collections (
        library_id     TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
        id             TEXT NOT NULL,
        kind           TEXT NOT NULL CHECK (kind IN ('course', 'show')),
        title          TEXT NOT NULL,
        summary        TEXT,
        artwork_sha256 TEXT,
        artwork_size   INTEGER,
        artwork_type   TEXT,
        position       INTEGER NOT NULL,
        PRIMARY KEY (library_id, id)
    ) STRICT;
    CREATE TABLE items (
        rowid         INTEGER PRIMARY KEY,
        library_id    TEXT NOT NULL,
        collection_id TEXT NOT NULL,
        id            TEXT NOT NULL,
        kind          TEXT NOT NULL CHECK (kind IN ('lesson', 'episode')),
        title         TEXT NOT NULL,
        summary       TEXT,
        notes         TEXT,
        published_at  INTEGER,
        duration_ms   INTEGER,
        season        INTEGER,
        number        INTEGER,
        position      INTEGER NOT NULL,
        UNIQUE (library_id, collection_id, id),
        FOREIGN KEY (library_id, collection_id)
            REFERENCES collections(library_id, id) ON DELETE CASCADE
    ) STRICT;
    CREATE TABLE assets (
        item_rowid INTEGER NOT NULL REFERENCES items(rowid) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        role       TEXT NOT NULL,
        sha256     TEXT NOT NULL,
        size       INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        name       TEXT,
        PRIMARY KEY (item_rowid, position)
    ) STRICT;
    CREATE INDEX assets_by_sha256 ON assets(sha256);
    -- A row exists only for a blob that is fully on disk and matched its hash.
    CREATE TABLE blobs (
        sha256      TEXT PRIMARY KEY,
        size        INTEGER NOT NULL,
        stored_at   INTEGER NOT NULL,
        verified_at INTEGER NOT NULL
    ) STRICT;
    "#,
    // 2: full-text search over titles, summaries and show notes.
    r#"
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, summary, notes,
        content = 'items', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts(rowid, title, summary, notes)
        VALUES (new.rowid, new.title, new.summary, new.notes);
    END;
    CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes);
    END;
    CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, notes ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes);
        INSERT INTO items_fts(rowid, title, summary, notes)
        VALUES (new.rowid, new.title, new.summary, new.notes);
    END;
    INSERT INTO items_fts(items_fts) VALUES ('rebuild');
    "#,
    // 3: mirror health and catalog validators per (library, mirror); partial
    // downloads that a later sync resumes.
    r#"
    CREATE TABLE mirror_health (
        library_id            TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
        url                   TEXT NOT NULL,
        health                TEXT NOT NULL,
        catalog_etag          TEXT,
        catalog_last_modified TEXT,
        updated_at            INTEGER NOT NULL,
        PRIMARY KEY (library_id, url)
    ) STRICT;
    CREATE TABLE partials (
        sha256     TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        bytes      INTEGER NOT NULL,
        mirror     TEXT,
        started_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    "#,
    // 4: playback state per item. Keyed by ids, not rows, so it survives an
    // item being changed, removed and re-added by the publisher.
    r#"
    CREATE TABLE playback (
        library_id    TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
        collection_id TEXT NOT NULL,
        item_id       TEXT NOT NULL,
        position_ms   INTEGER NOT NULL DEFAULT 0,
        duration_ms   INTEGER,
        played        INTEGER NOT NULL DEFAULT 0,
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (library_id, collection_id, item_id)
    ) STRICT;
    "#,
    // 5: what to keep offline. A rule per collection (no row = 'all'), the
    // member's choice per item (keyed by ids, like playback), and settings.
    r#"
    CREATE TABLE download_rules (
        library_id    TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
        collection_id TEXT NOT NULL,
        mode          TEXT NOT NULL CHECK (mode IN ('all', 'new', 'off')),
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (library_id, collection_id)
    ) STRICT;
    CREATE TABLE item_downloads (
        library_id    TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
        collection_id TEXT NOT NULL,
        item_id       TEXT NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('wanted', 'auto', 'removed', 'evicted')),
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (library_id, collection_id, item_id)
    ) STRICT;
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    "#,
    // 6: private libraries (their mirrors want an access token, which lives
    // in the OS keyring, never here).
    r#"
    ALTER TABLE libraries ADD COLUMN access TEXT NOT NULL DEFAULT 'public'
        CHECK (access IN ('public', 'token'));
    "#,
    // 7: podcast feeds. A feed library has a row in `feeds` (and no public
    // key). Its files are not known by hash before their first download:
    // `feed_files` says where to get each and how to check it, and `key` is
    // what the catalog's assets carry until the SHA-256 is learned. Transcript
    // text joins the search index.
    r#"
    CREATE TABLE feeds (
        library_id      TEXT PRIMARY KEY REFERENCES libraries(id) ON DELETE CASCADE,
        url             TEXT NOT NULL,
        subscribed_url  TEXT NOT NULL,
        etag            TEXT,
        last_modified   TEXT,
        last_status     INTEGER,
        last_fetched_at INTEGER
    ) STRICT;
    CREATE TABLE feed_files (
        key        TEXT PRIMARY KEY,
        library_id TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
        urls       TEXT NOT NULL,
        length     INTEGER,
        integrity  TEXT,
        sha256     TEXT,
        size       INTEGER
    ) STRICT;
    CREATE INDEX feed_files_by_sha256 ON feed_files(sha256);
    ALTER TABLE items ADD COLUMN transcript TEXT;
    ALTER TABLE items ADD COLUMN explicit INTEGER;
    DROP TRIGGER items_fts_insert;
    DROP TRIGGER items_fts_delete;
    DROP TRIGGER items_fts_update;
    DROP TABLE items_fts;
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, summary, notes, transcript,
        content = 'items', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts(rowid, title, summary, notes, transcript)
        VALUES (new.rowid, new.title, new.summary, new.notes, new.transcript);
    END;
    CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes, transcript)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes, old.transcript);
    END;
    CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, notes, transcript ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes, transcript)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes, old.transcript);
        INSERT INTO items_fts(rowid, title, summary, notes, transcript)
        VALUES (new.rowid, new.title, new.summary, new.notes, new.transcript);
    END;
    INSERT INTO items_fts(items_fts) VALUES ('rebuild');
    "#,
    // 8: a private library's token goes only to the mirrors confirmed for it
    // (those it had when the member gave the token, and those its signed
    // catalog lists); mirrors known before this version keep it. The
    // signature of the applied catalog, so a mirror's freshness is told from
    // its signature file alone. A feed file's media type read from its first
    // bytes, for a feed that declares none. Whether a feed is on the member's
    // own network (decided once: NULL until then).
    r#"
    ALTER TABLE mirrors ADD COLUMN token_ok INTEGER NOT NULL DEFAULT 0;
    UPDATE mirrors SET token_ok = 1;
    ALTER TABLE libraries ADD COLUMN signature BLOB;
    ALTER TABLE feed_files ADD COLUMN media_type TEXT;
    ALTER TABLE feeds ADD COLUMN local INTEGER;
    "#,
    // 9: search as you type at 100,000 items: the full-text index keeps
    // one- and two-letter prefixes too (a prefix query reads one entry, not
    // every word that starts with it).
    r#"
    DROP TRIGGER items_fts_insert;
    DROP TRIGGER items_fts_delete;
    DROP TRIGGER items_fts_update;
    DROP TABLE items_fts;
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, summary, notes, transcript,
        content = 'items', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '1 2'
    );
    CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
        INSERT INTO items_fts(rowid, title, summary, notes, transcript)
        VALUES (new.rowid, new.title, new.summary, new.notes, new.transcript);
    END;
    CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes, transcript)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes, old.transcript);
    END;
    CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, notes, transcript ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes, transcript)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes, old.transcript);
        INSERT INTO items_fts(rowid, title, summary, notes, transcript)
        VALUES (new.rowid, new.title, new.summary, new.notes, new.transcript);
    END;
    INSERT INTO items_fts(items_fts) VALUES ('rebuild');
    "#,
    // 10: a large apply indexes once at its end. While `fts_paused` holds
    // its row (only ever inside the applying transaction) the triggers stand
    // aside, and the apply rebuilds the full-text index from `items` before
    // it commits: at 100,000 items one rebuild takes a quarter of the time
    // of one trigger per row.
    r#"
    CREATE TABLE fts_paused (one INTEGER PRIMARY KEY CHECK (one = 1)) STRICT;
    DROP TRIGGER items_fts_insert;
    DROP TRIGGER items_fts_delete;
    DROP TRIGGER items_fts_update;
    CREATE TRIGGER items_fts_insert AFTER INSERT ON items
    WHEN NOT EXISTS (SELECT 1 FROM fts_paused) BEGIN
        INSERT INTO items_fts(rowid, title, summary, notes, transcript)
        VALUES (new.rowid, new.title, new.summary, new.notes, new.transcript);
    END;
    CREATE TRIGGER items_fts_delete AFTER DELETE ON items
    WHEN NOT EXISTS (SELECT 1 FROM fts_paused) BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes, transcript)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes, old.transcript);
    END;
    CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, notes, transcript ON items
    WHEN NOT EXISTS (SELECT 1 FROM fts_paused) BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes, transcript)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes, old.transcript);
        INSERT INTO items_fts(rowid, title, summary, notes, transcript)
        VALUES (new.rowid, new.title, new.summary, new.notes, new.transcript);
    END;
    "#,
    // 11: the applied catalog out of `libraries` (SQLite rewrites a whole
    // row on every update, so each sync's bookkeeping rewrote a 56 MB
    // catalog at 100,000 items): `catalogs` holds its SHA-256 (filled in by
    // `hash_catalogs`), and its bytes only for a feed's catalog, which the
    // next refresh merges over (a signed catalog's verified copy is kept
    // beside the index). Each item's digest: what changed is found by
    // comparing digests, never by holding the previous catalog. A 16 MiB
    // buffer for FTS5's pending terms: a rebuild of 100,000 items writes
    // fewer segments to merge (measured: 2.3 s → 1.4 s, 29 MB peak).
    r#"
    CREATE TABLE catalogs (
        library_id TEXT PRIMARY KEY REFERENCES libraries(id) ON DELETE CASCADE,
        sha256     TEXT NOT NULL,
        bytes      BLOB
    ) STRICT;
    INSERT INTO catalogs(library_id, sha256, bytes)
        SELECT id, '', catalog FROM libraries WHERE catalog IS NOT NULL;
    ALTER TABLE libraries DROP COLUMN catalog;
    ALTER TABLE items ADD COLUMN digest BLOB;
    INSERT INTO items_fts(items_fts, rank) VALUES ('hashsize', 16777216);
    "#,
    // 12: what the member keeps for the trip: a whole collection (item_id
    // '') or one item. A pinned item is wanted whatever the rules say, goes
    // first like an item asked for, and is never evicted.
    r#"
    CREATE TABLE pins (
        library_id    TEXT NOT NULL,
        collection_id TEXT NOT NULL,
        item_id       TEXT NOT NULL DEFAULT '',
        pinned_at     INTEGER NOT NULL,
        PRIMARY KEY (library_id, collection_id, item_id),
        FOREIGN KEY (library_id, collection_id)
            REFERENCES collections(library_id, id) ON DELETE CASCADE
    ) STRICT;
    "#,
    // 13: the member's listening. The up-next queue, in the member's order
    // (keyed by ids like playback; an item the publisher removes drops out
    // of the list, and is back if it returns). A playback speed per
    // collection (the global default is a setting). "Continue where you
    // left off" reads the items in progress, most recent first.
    r#"
    CREATE TABLE queue (
        library_id    TEXT NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
        collection_id TEXT NOT NULL,
        item_id       TEXT NOT NULL,
        position      INTEGER NOT NULL,
        added_at      INTEGER NOT NULL,
        PRIMARY KEY (library_id, collection_id, item_id)
    ) STRICT;
    CREATE INDEX queue_order ON queue(position);
    CREATE TABLE collection_prefs (
        library_id    TEXT NOT NULL,
        collection_id TEXT NOT NULL,
        speed         REAL,
        PRIMARY KEY (library_id, collection_id),
        FOREIGN KEY (library_id, collection_id)
            REFERENCES collections(library_id, id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX playback_in_progress ON playback(updated_at)
        WHERE played = 0 AND position_ms > 0;
    "#,
    // 14: show notes as sanitised HTML beside their text (search reads the
    // text), for links and lists in the player. What was read from a
    // verified media or chapters file, by its hash: the real duration and
    // the chapters (a chapters file's, else those embedded in the media).
    // Chapter titles join the search index (FTS5 cannot add a column: the
    // index is made again, with the triggers and settings of 9–11). A
    // format-2 asset's chunk list (its size and hash), and the lists
    // fetched, checked against that hash.
    r#"
    ALTER TABLE items ADD COLUMN notes_html TEXT;
    ALTER TABLE items ADD COLUMN chapters TEXT;
    ALTER TABLE assets ADD COLUMN chunk_size INTEGER;
    ALTER TABLE assets ADD COLUMN chunk_list TEXT;
    CREATE TABLE chunk_lists (
        sha256  TEXT PRIMARY KEY,
        digests BLOB NOT NULL
    ) STRICT;
    CREATE TABLE media_info (
        sha256      TEXT PRIMARY KEY,
        duration_ms INTEGER,
        chapters    TEXT NOT NULL,
        titles      TEXT,
        read_at     INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX assets_media_and_chapters ON assets(sha256, role)
        WHERE role IN ('media', 'chapters');
    DROP TRIGGER items_fts_insert;
    DROP TRIGGER items_fts_delete;
    DROP TRIGGER items_fts_update;
    DROP TABLE items_fts;
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, summary, notes, transcript, chapters,
        content = 'items', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '1 2'
    );
    INSERT INTO items_fts(items_fts, rank) VALUES ('hashsize', 16777216);
    CREATE TRIGGER items_fts_insert AFTER INSERT ON items
    WHEN NOT EXISTS (SELECT 1 FROM fts_paused) BEGIN
        INSERT INTO items_fts(rowid, title, summary, notes, transcript, chapters)
        VALUES (new.rowid, new.title, new.summary, new.notes, new.transcript, new.chapters);
    END;
    CREATE TRIGGER items_fts_delete AFTER DELETE ON items
    WHEN NOT EXISTS (SELECT 1 FROM fts_paused) BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes, transcript, chapters)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes, old.transcript, old.chapters);
    END;
    CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, notes, transcript, chapters ON items
    WHEN NOT EXISTS (SELECT 1 FROM fts_paused) BEGIN
        INSERT INTO items_fts(items_fts, rowid, title, summary, notes, transcript, chapters)
        VALUES ('delete', old.rowid, old.title, old.summary, old.notes, old.transcript, old.chapters);
        INSERT INTO items_fts(rowid, title, summary, notes, transcript, chapters)
        VALUES (new.rowid, new.title, new.summary, new.notes, new.transcript, new.chapters);
    END;
    INSERT INTO items_fts(items_fts) VALUES ('rebuild');
    "#,
    // 15: a blob checked by a chunk list only (its chunks matched the list
    // the catalog names, its whole SHA-256 was not taken): the list's hash.
    // NULL: the whole file hashed to its name. Such a row exists only while
    // every reference to the hash names that list (see `chunks.rs`).
    r#"
    ALTER TABLE blobs ADD COLUMN chunk_list TEXT;
    CREATE INDEX blobs_checked_by_list ON blobs(sha256) WHERE chunk_list IS NOT NULL;
    "#,
    // 16: a `file://` mirror naming a network share is used only if the
    // member allowed it when subscribing (1). Shares were refused outright
    // before, so none is allowed yet.
    r#"
    ALTER TABLE mirrors ADD COLUMN share_ok INTEGER NOT NULL DEFAULT 0;
    "#,
];

/// Migration 11's hook: the SHA-256 of each catalog moved into `catalogs`.
/// A signed catalog's bytes are dropped then (a feed's are kept: the next
/// refresh merges over them).
fn hash_catalogs(tx: &rusqlite::Transaction) -> rusqlite_migration::HookResult {
    // One catalog in memory at a time (each may be 64 MiB).
    let ids: Vec<(String, bool)> = tx
        .prepare(
            "SELECT c.library_id, EXISTS (SELECT 1 FROM feeds f WHERE f.library_id = c.library_id)
             FROM catalogs c",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (library, feed) in ids {
        let bytes: Vec<u8> = tx.query_row(
            "SELECT bytes FROM catalogs WHERE library_id = ?1",
            [&library],
            |r| r.get(0),
        )?;
        let sha = stowaway_catalog::Sha256::digest(&bytes);
        drop(bytes);
        tx.execute(
            "UPDATE catalogs SET sha256 = ?2, bytes = CASE WHEN ?3 THEN bytes END WHERE library_id = ?1",
            rusqlite::params![library, sha.as_str(), feed],
        )?;
    }
    Ok(())
}

/// After a large write (a catalog applied): the write-ahead log folded into
/// the database and truncated, so no WAL larger than the index is left
/// behind. Waits briefly for readers; if one holds on, the log is folded
/// later (SQLite does so on its own as it grows), nothing is lost.
pub(crate) fn checkpoint(conn: &Connection) {
    let _ = conn.busy_timeout(Duration::from_millis(250));
    let r = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    let _ = conn.busy_timeout(Duration::from_secs(10));
    match r {
        Ok(0) => {}
        Ok(_) => tracing::debug!("checkpoint: a reader holds the log; folded later"),
        Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
    }
}

pub(crate) fn migrations() -> Migrations<'static> {
    Migrations::new(
        MIGRATIONS
            .iter()
            .enumerate()
            .map(|(i, sql)| match i + 1 {
                11 => M::up_with_hook(sql, hash_catalogs),
                _ => M::up(sql),
            })
            .collect(),
    )
}

fn pragmas(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    // Created readable by the member only (SQLite gives its WAL and shared
    // memory files the same mode).
    crate::private::create_file(path)?;
    let mut conn = Connection::open(path)?;
    pragmas(&conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    pragmas(&conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    /// A database written by the first release (schema 1, no search index) is
    /// upgraded in place: its rows survive and become searchable.
    #[test]
    fn upgrades_a_version_1_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            migrations().to_version(&mut conn, 1).unwrap();
            conn.execute_batch(
                "INSERT INTO libraries(id, title, public_key, subscribed_at) VALUES ('l', 'L', 'k', 0);
                 INSERT INTO collections(library_id, id, kind, title, position) VALUES ('l', 'c', 'show', 'C', 0);
                 INSERT INTO items(library_id, collection_id, id, kind, title, notes, position)
                 VALUES ('l', 'c', 'e1', 'episode', 'Negotiating commissions', 'escrow basics', 0);",
            )
            .unwrap();
            let v: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(v, 1);
        }
        let conn = open_writer(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let hit: String = conn
            .query_row(
                "SELECT items.id FROM items_fts JOIN items ON items.rowid = items_fts.rowid
                 WHERE items_fts MATCH 'escrow'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hit, "e1");
    }

    /// A version-13 index made again by migration 14 (FTS5 cannot add a
    /// column): what it held is still found, chapter titles are found once
    /// set, the triggers still stand aside while `fts_paused` holds its row,
    /// and the 16 MiB buffer is set again.
    #[test]
    fn upgrades_a_version_13_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            migrations().to_version(&mut conn, 13).unwrap();
            conn.execute_batch(
                "INSERT INTO libraries(id, title, public_key, subscribed_at) VALUES ('l', 'L', 'k', 0);
                 INSERT INTO collections(library_id, id, kind, title, position) VALUES ('l', 'c', 'show', 'C', 0);
                 INSERT INTO items(library_id, collection_id, id, kind, title, notes, transcript, position)
                 VALUES ('l', 'c', 'e1', 'episode', 'One', 'escrow basics', 'the albatross clause', 0);",
            )
            .unwrap();
        }
        let conn = open_writer(&path).unwrap();
        let found = |q: &str| -> Vec<String> {
            conn.prepare(
                "SELECT items.id FROM items_fts JOIN items ON items.rowid = items_fts.rowid
                 WHERE items_fts MATCH ?1",
            )
            .unwrap()
            .query_map([q], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        assert_eq!(found("escrow"), ["e1"]);
        assert_eq!(found("albatross"), ["e1"]);
        conn.execute(
            "UPDATE items SET chapters = 'Zeppelin financing' WHERE id = 'e1'",
            [],
        )
        .unwrap();
        assert_eq!(found("zeppelin"), ["e1"]);
        conn.execute_batch(
            "INSERT INTO fts_paused(one) VALUES (1);
             INSERT INTO items(library_id, collection_id, id, kind, title, position)
             VALUES ('l', 'c', 'e2', 'episode', 'Walrus', 1);",
        )
        .unwrap();
        assert!(found("walrus").is_empty(), "the triggers stood aside");
        conn.execute_batch(
            "DELETE FROM fts_paused; INSERT INTO items_fts(items_fts) VALUES ('rebuild');",
        )
        .unwrap();
        assert_eq!(found("walrus"), ["e2"]);
        let hashsize: i64 = conn
            .query_row(
                "SELECT v FROM items_fts_config WHERE k = 'hashsize'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hashsize, 16 << 20);
    }

    /// A version-10 index (the catalog inside `libraries`) keeps its
    /// catalogs' hashes, a feed's bytes, and its items, which count as
    /// changed once (no digest yet).
    #[test]
    fn upgrades_a_version_10_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            migrations().to_version(&mut conn, 10).unwrap();
            conn.execute_batch(
                "INSERT INTO libraries(id, title, public_key, subscribed_at, sequence, catalog)
                 VALUES ('signed', 'S', 'k', 0, 3, CAST('signed catalog' AS BLOB)),
                        ('feed', 'F', '', 0, 1, CAST('feed catalog' AS BLOB)),
                        ('new', 'N', 'k', 0, NULL, NULL);
                 INSERT INTO feeds(library_id, url, subscribed_url) VALUES ('feed', 'https://f.example/', 'https://f.example/');
                 INSERT INTO collections(library_id, id, kind, title, position) VALUES ('signed', 'c', 'show', 'C', 0);
                 INSERT INTO items(library_id, collection_id, id, kind, title, position)
                 VALUES ('signed', 'c', 'e1', 'episode', 'One', 0);",
            )
            .unwrap();
        }
        let conn = open_writer(&path).unwrap();
        let rows: Vec<(String, String, Option<Vec<u8>>)> = conn
            .prepare("SELECT library_id, sha256, bytes FROM catalogs ORDER BY library_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let sha = |b: &[u8]| stowaway_catalog::Sha256::digest(b).to_string();
        assert_eq!(
            rows,
            [
                (
                    "feed".into(),
                    sha(b"feed catalog"),
                    Some(b"feed catalog".to_vec())
                ),
                ("signed".into(), sha(b"signed catalog"), None),
            ]
        );
        let digest: Option<Vec<u8>> = conn
            .query_row("SELECT digest FROM items", [], |r| r.get(0))
            .unwrap();
        assert_eq!(digest, None);
    }

    #[test]
    fn refuses_a_database_from_the_future() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        assert!(open_writer(&path).is_err());
    }
}
