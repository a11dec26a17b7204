//! The history's promises: the catalog at any position is rebuilt on restart, nothing is
//! recorded twice, captures wait for their position, and what cannot be followed is
//! unknown rather than guessed.

use super::*;
use crate::table::ColumnType;
use crate::table::{Charset, Column};

fn at(offset: u64) -> BinlogPosition {
    BinlogPosition::new("bin.000001", offset)
}

fn base(catalog: Catalog) -> Base {
    Base {
        position: at(4),
        server_id: 1,
        catalog,
    }
}

fn start() -> TrackedSchema<MemoryHistoryStore> {
    let mut catalog = Catalog::new("utf8mb4");
    ddl::apply(&mut catalog, "", "CREATE DATABASE app").unwrap();
    ddl::apply(
        &mut catalog,
        "app",
        "CREATE TABLE t (id INT PRIMARY KEY, a INT)",
    )
    .unwrap();
    TrackedSchema::create(MemoryHistoryStore::default(), base(catalog), Vec::new()).unwrap()
}

async fn names(s: &mut TrackedSchema<impl HistoryStore>, pos: u64, table: &str) -> Vec<String> {
    s.columns(&at(pos), "app", table)
        .await
        .unwrap()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect()
}

#[tokio::test]
async fn a_restart_rebuilds_the_catalog_of_its_position() {
    let mut s = start();
    s.statement(&at(100), "app", "ALTER TABLE t ADD b INT")
        .await
        .unwrap();
    s.statement(&at(200), "app", "ALTER TABLE t RENAME COLUMN a TO a2")
        .await
        .unwrap();
    assert_eq!(names(&mut s, 300, "t").await, ["id", "a2", "b"]);
    let store = s.store;
    assert_eq!(store.history.as_ref().unwrap().entries.len(), 2);

    // From a checkpoint between the two statements: the first applies, the second is
    // dropped from the store because the binlog will give it again.
    let mut resumed = TrackedSchema::resume(store, &at(150), 1).unwrap().unwrap();
    assert_eq!(names(&mut resumed, 150, "t").await, ["id", "a", "b"]);
    assert_eq!(resumed.store.history.as_ref().unwrap().entries.len(), 1);
    resumed
        .statement(&at(200), "app", "ALTER TABLE t RENAME COLUMN a TO a2")
        .await
        .unwrap();
    assert_eq!(names(&mut resumed, 250, "t").await, ["id", "a2", "b"]);

    // Before the base, or from another server: errors that say what to do.
    let store = resumed.store;
    let err = TrackedSchema::resume(store, &BinlogPosition::new("bin.000000", 9), 1)
        .err()
        .unwrap();
    assert!(err.to_string().contains("schema recapture"), "{err}");
}

#[tokio::test]
async fn statements_it_cannot_follow_make_tables_unknown_not_wrong() {
    let mut s = start();
    s.statement(&at(100), "app", "ALTER TABLE t FROBNICATE")
        .await
        .unwrap();
    let err = s.columns(&at(120), "app", "t").await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`app`.`t`") && text.contains("FROBNICATE"),
        "{text}"
    );
    assert!(
        text.contains("binlog_row_metadata=FULL") && text.contains("recapture"),
        "{text}"
    );
    // Unrelated statements change nothing and are not recorded.
    s.statement(&at(130), "app", "CREATE VIEW v AS SELECT 1")
        .await
        .unwrap();
    assert_eq!(s.store.history.as_ref().unwrap().entries.len(), 1);
    // A later CREATE makes it known again.
    s.statement(&at(140), "app", "DROP TABLE t").await.unwrap();
    s.statement(&at(150), "app", "CREATE TABLE t (x INT)")
        .await
        .unwrap();
    assert_eq!(names(&mut s, 160, "t").await, ["x"]);
}

#[tokio::test]
async fn blacklisted_tables_are_not_tracked() {
    let mut s = start();
    s.untrack(Box::new(|db, table| {
        db == "app" && table.starts_with("junk")
    }));
    // A statement about a blacklisted table alone: not recorded, and one that cannot be
    // followed leaves the other tables known.
    s.statement(&at(100), "app", "CREATE TABLE junk1 (id INT)")
        .await
        .unwrap();
    s.statement(&at(110), "app", "ALTER TABLE junk1 FROBNICATE")
        .await
        .unwrap();
    assert!(s.store.history.as_ref().unwrap().entries.is_empty());
    assert!(s.catalog().table("app", "junk1").is_none());
    assert_eq!(names(&mut s, 120, "t").await, ["id", "a"]);
    // The same failure on a tracked table is recorded and makes it unknown.
    s.statement(&at(130), "app", "ALTER TABLE t FROBNICATE")
        .await
        .unwrap();
    assert_eq!(s.store.history.as_ref().unwrap().entries.len(), 1);
    assert!(s.columns(&at(140), "app", "t").await.is_err());
    // A statement touching a tracked table too is tracked as a whole.
    s.statement(&at(150), "app", "CREATE TABLE t2 (x INT)")
        .await
        .unwrap();
    s.statement(&at(160), "app", "RENAME TABLE t2 TO junk2")
        .await
        .unwrap();
    assert_eq!(s.store.history.as_ref().unwrap().entries.len(), 3);
}

#[tokio::test]
async fn captures_wait_for_their_position_and_survive_restarts() {
    let mut catalog = Catalog::new("utf8mb4");
    catalog.put_table(
        "app",
        "t",
        TableEntry::Unknown {
            reason: "changed before the capture".into(),
        },
    );
    let mut live = Catalog::new("utf8mb4");
    ddl::apply(&mut live, "", "CREATE DATABASE app").unwrap();
    ddl::apply(&mut live, "app", "CREATE TABLE t (now_col INT)").unwrap();
    let capture = Entry {
        position: at(500),
        origin: Origin::Capture,
        statement: String::new(),
        changes: vec![Change::Table {
            database: "app".into(),
            table: "t".into(),
            entry: live.table("app", "t").cloned(),
        }],
    };
    let mut s =
        TrackedSchema::create(MemoryHistoryStore::default(), base(catalog), vec![capture]).unwrap();
    assert!(s.columns(&at(100), "app", "t").await.is_err());
    let store = s.store;
    // A restart before the capture keeps it pending.
    let mut s = TrackedSchema::resume(store, &at(200), 1).unwrap().unwrap();
    assert!(s.columns(&at(300), "app", "t").await.is_err());
    assert_eq!(names(&mut s, 500, "t").await, ["now_col"]);
}

#[tokio::test]
async fn full_metadata_is_the_authority() {
    let mut s = start();
    let column = |name: &str| Column {
        name: name.into(),
        ty: ColumnType::Long,
        unsigned: false,
        charset: Charset::Binary,
        labels: None,
        json_text: false,
    };
    let table = Table {
        database: "app".into(),
        name: "t".into(),
        columns: vec![column("id"), column("renamed")],
        primary_key: vec![0],
    };
    s.named_by_binlog(&at(100), &table).await.unwrap();
    assert_eq!(names(&mut s, 110, "t").await, ["id", "renamed"]);
    // Agreement records nothing.
    s.named_by_binlog(&at(120), &table).await.unwrap();
    assert_eq!(s.store.history.as_ref().unwrap().entries.len(), 1);
    let infos = s.columns(&at(130), "app", "t").await.unwrap().unwrap();
    assert_eq!(infos[0].primary_key_position, Some(1));
}

#[test]
fn the_file_and_memory_stores_keep_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    super::contract(&mut super::FileHistoryStore::new(dir.path()));
    super::contract(&mut MemoryHistoryStore::default());
}
