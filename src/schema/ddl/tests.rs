//! A corpus of DDL from the MySQL 5.7/8.0 and MariaDB manuals and from real migration tools,
//! each asserting the schema it leaves.

use super::*;

/// The catalog after running `statements` in database `app`, starting from an empty
/// server whose default charset is latin1 (so defaults are visible).
fn run(statements: &[&str]) -> Catalog {
    run_on(Catalog::new("latin1"), statements)
}

/// [`run`] on a catalog of one's own (a MariaDB one, say).
fn run_on(mut catalog: Catalog, statements: &[&str]) -> Catalog {
    apply(
        &mut catalog,
        "",
        "CREATE DATABASE app DEFAULT CHARSET utf8mb4",
    )
    .unwrap();
    for sql in statements {
        if let Err(e) = apply(&mut catalog, "app", sql) {
            panic!("{sql}: {e}");
        }
    }
    catalog
}

/// A compact description of a table: `name:type[ unsigned][ charset][ fsp][ labels]`,
/// then the key.
fn describe(catalog: &Catalog, db: &str, table: &str) -> String {
    let Some(TableEntry::Known(def)) = catalog.table(db, table) else {
        return format!("{:?}", catalog.table(db, table));
    };
    let mut parts: Vec<String> = def
        .columns
        .iter()
        .map(|c| {
            let mut s = format!("{}:{}", c.name, c.data_type);
            if c.unsigned {
                s.push_str(" unsigned");
            }
            if let Some(cs) = &c.charset {
                s.push_str(&format!(" {cs}"));
            }
            if let Some(fsp) = c.fsp {
                s.push_str(&format!(" fsp{fsp}"));
            }
            if let Some(labels) = &c.labels {
                s.push_str(&format!(" {labels:?}"));
            }
            s
        })
        .collect();
    parts.push(format!("pk={}", def.primary_key.join("+")));
    parts.join(", ")
}

#[test]
fn create_table_reads_types_charsets_labels_and_keys() {
    let c = run(&["CREATE TABLE `t` (
        `id` int(11) unsigned NOT NULL AUTO_INCREMENT,
        `n` varchar(20) CHARACTER SET latin1 COLLATE latin1_swedish_ci DEFAULT NULL COMMENT 'a, b',
        e enum('a','b''c', \"d\") NOT NULL DEFAULT 'a',
        s SET('x','y'),
        d DECIMAL(10,2) UNSIGNED ZEROFILL,
        ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        dt datetime, tm time(6),
        j JSON, g POINT NOT NULL /*!80003 SRID 4326 */, b BIT(3), bin varbinary(4),
        u text COLLATE utf8mb4_bin,
        gen INT AS (id + 1) VIRTUAL,
        PRIMARY KEY (`id`), KEY `n` (`n`(10)), UNIQUE KEY u (e), FULLTEXT KEY f (n),
        CONSTRAINT fk FOREIGN KEY (id) REFERENCES o(id) ON DELETE CASCADE,
        CONSTRAINT chk CHECK (id > 0)
    ) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8 COMMENT='x'
      /*!50100 PARTITION BY HASH (id) PARTITIONS 4 */"]);
    assert_eq!(
        describe(&c, "app", "t"),
        "id:int unsigned, n:varchar latin1, e:enum utf8 [\"a\", \"b'c\", \"d\"], \
         s:set utf8 [\"x\", \"y\"], d:decimal unsigned, ts:timestamp fsp3, dt:datetime fsp0, \
         tm:time fsp6, j:json utf8mb4, g:point, b:bit, bin:varbinary binary, u:text utf8mb4, \
         gen:int, pk=id"
    );
}

#[test]
fn defaults_come_from_the_table_then_the_database_then_the_server() {
    let mut c = run(&[
        "CREATE TABLE a (x varchar(3))",
        "CREATE TABLE b (x char(3)) CHARACTER SET = cp1251",
        "CREATE TABLE c (x tinytext) COLLATE latin2_general_ci",
    ]);
    apply(&mut c, "", "CREATE SCHEMA IF NOT EXISTS other").unwrap();
    apply(
        &mut c,
        "other",
        "CREATE TABLE d (x text, y national varchar(2), z long)",
    )
    .unwrap();
    assert_eq!(describe(&c, "app", "a"), "x:varchar utf8mb4, pk=");
    assert_eq!(describe(&c, "app", "b"), "x:char cp1251, pk=");
    assert_eq!(describe(&c, "app", "c"), "x:tinytext latin2, pk=");
    assert_eq!(
        describe(&c, "other", "d"),
        "x:text latin1, y:varchar utf8mb3, z:mediumtext latin1, pk="
    );
}

#[test]
fn synonyms_resolve_to_base_types() {
    let c = run(&[
        "CREATE TABLE t (a INTEGER, b BOOL, c SERIAL, d NUMERIC(4,1), e REAL,
        f DOUBLE PRECISION, g INT1, h MIDDLEINT, i CHARACTER VARYING(4), j NCHAR(2),
        k LONG VARBINARY, l FIXED, m character(1), n int8)",
    ]);
    assert_eq!(
        describe(&c, "app", "t"),
        "a:int, b:tinyint, c:bigint unsigned, d:decimal, e:double, f:double, g:tinyint, \
         h:mediumint, i:varchar utf8mb4, j:char utf8mb3, k:mediumblob binary, l:decimal, \
         m:char utf8mb4, n:bigint, pk="
    );
}

#[test]
fn inline_keys_and_primary_key_forms() {
    let c = run(&[
        "CREATE TABLE a (id INT PRIMARY KEY, u INT UNIQUE KEY)",
        "CREATE TABLE b (id INT KEY, x INT UNIQUE)",
        "CREATE TABLE c (x INT, y INT, CONSTRAINT pk PRIMARY KEY USING BTREE (y, x))",
    ]);
    assert!(describe(&c, "app", "a").ends_with("pk=id"));
    assert!(describe(&c, "app", "b").ends_with("pk=id"));
    assert!(describe(&c, "app", "c").ends_with("pk=y+x"));
}

#[test]
fn alter_table_column_forms() {
    let c = run(&[
        "CREATE TABLE t (id INT NOT NULL, a INT, b VARCHAR(3), PRIMARY KEY (id))",
        "ALTER TABLE t ADD COLUMN c INT UNSIGNED AFTER id, ADD d TEXT FIRST, DROP COLUMN a, \
         ALGORITHM=INPLACE, LOCK=NONE",
        "ALTER TABLE t CHANGE b b2 ENUM('q') NOT NULL AFTER d",
        "ALTER TABLE `app`.`t` MODIFY COLUMN c BIGINT FIRST",
        "ALTER TABLE t RENAME COLUMN d TO dd",
        "ALTER TABLE t ADD (e INT, f DATETIME(2))",
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS e INT, DROP COLUMN IF EXISTS zz",
        "ALTER ONLINE TABLE t ADD g INT",
        "ALTER IGNORE TABLE t DROP g",
        "ALTER TABLE t ALTER COLUMN e SET DEFAULT 3, ADD INDEX i (e), DROP INDEX i2, \
         ENGINE=InnoDB, COMMENT 'hi', FORCE, AUTO_INCREMENT = 10, ROW_FORMAT=DYNAMIC",
        "ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (2000))",
        "ALTER TABLE t RENAME INDEX a TO b, ORDER BY e",
    ]);
    assert_eq!(
        describe(&c, "app", "t"),
        "c:bigint, dd:text utf8mb4, b2:enum utf8mb4 [\"q\"], id:int, e:int, f:datetime fsp2, pk=id"
    );
}

#[test]
fn alter_table_charsets() {
    let c = run(&[
        "CREATE TABLE t (a VARCHAR(3), b BLOB, c INT, d ENUM('x')) CHARSET latin1",
        "ALTER TABLE t DEFAULT CHARSET=cp1250, ADD e VARCHAR(1)",
        "CREATE TABLE u (a VARCHAR(3) CHARACTER SET latin1, b VARBINARY(2), c JSON)",
        "ALTER TABLE u CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "ALTER TABLE u MODIFY a CHAR(1)",
    ]);
    assert_eq!(
        describe(&c, "app", "t"),
        "a:varchar latin1, b:blob binary, c:int, d:enum latin1 [\"x\"], e:varchar cp1250, pk="
    );
    assert_eq!(
        describe(&c, "app", "u"),
        "a:char utf8mb4, b:varbinary binary, c:json utf8mb4, pk="
    );
}

#[test]
fn primary_key_changes() {
    let c = run(&[
        "CREATE TABLE t (a INT, b INT, PRIMARY KEY (a))",
        "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (b, a)",
        "CREATE TABLE u (a INT PRIMARY KEY, b INT)",
        "ALTER TABLE u CHANGE a a2 INT",
        "CREATE TABLE v (a INT PRIMARY KEY)",
        "DROP INDEX `PRIMARY` ON v",
        "CREATE TABLE w (a INT PRIMARY KEY, b INT)",
        "ALTER TABLE w DROP COLUMN a",
        "CREATE TABLE x (a INT)",
        "ALTER TABLE x ADD CONSTRAINT pk PRIMARY KEY (a)",
    ]);
    assert!(describe(&c, "app", "t").ends_with("pk=b+a"));
    assert!(describe(&c, "app", "u").ends_with("pk=a2"));
    assert!(describe(&c, "app", "v").ends_with("pk="));
    assert!(describe(&c, "app", "w").ends_with("pk="));
    assert!(describe(&c, "app", "x").ends_with("pk=a"));
}

#[test]
fn renames_drops_like_and_databases() {
    let mut c = run(&[
        "CREATE TABLE a (x INT)",
        "CREATE TABLE b (y INT)",
        "RENAME TABLE a TO tmp, b TO a, tmp TO b",
        "CREATE TABLE IF NOT EXISTS a (z INT)",
        "CREATE TABLE c LIKE a",
        "CREATE TABLE d (LIKE b)",
        "ALTER TABLE d RENAME TO e",
        "ALTER TABLE e RENAME f",
        "ALTER TABLE f RENAME AS app.g",
        "TRUNCATE TABLE g",
    ]);
    assert_eq!(describe(&c, "app", "a"), "y:int, pk=");
    assert_eq!(describe(&c, "app", "b"), "x:int, pk=");
    assert_eq!(describe(&c, "app", "c"), "y:int, pk=");
    assert_eq!(describe(&c, "app", "g"), "x:int, pk=");
    assert!(c.table("app", "d").is_none() && c.table("app", "f").is_none());

    apply(&mut c, "app", "CREATE OR REPLACE TABLE a (n INT)").unwrap();
    assert_eq!(describe(&c, "app", "a"), "n:int, pk=");
    apply(
        &mut c,
        "app",
        "DROP TABLE IF EXISTS a, `app`.b /* generated by server */",
    )
    .unwrap();
    assert!(c.table("app", "a").is_none() && c.table("app", "b").is_none());
    apply(&mut c, "", "CREATE DATABASE x2").unwrap();
    apply(&mut c, "", "RENAME TABLE app.c TO x2.c").unwrap();
    assert_eq!(describe(&c, "x2", "c"), "y:int, pk=");
    apply(&mut c, "app", "ALTER DATABASE CHARACTER SET latin2").unwrap();
    assert_eq!(c.databases["app"].charset, "latin2");
    apply(&mut c, "app", "ALTER SCHEMA x2 DEFAULT COLLATE cp1257_bin").unwrap();
    assert_eq!(c.databases["x2"].charset, "cp1257");
    let touched = apply(&mut c, "", "DROP DATABASE x2").unwrap();
    assert_eq!(touched.databases, vec!["x2".to_string()]);
    assert!(!c.databases.contains_key("x2"));
}

#[test]
fn statements_that_change_no_table_are_ignored() {
    let before = run(&["CREATE TABLE t (a INT)"]);
    for sql in [
        "CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1",
        "CREATE VIEW v AS SELECT * FROM t",
        "CREATE OR REPLACE ALGORITHM=MERGE VIEW v AS SELECT a FROM t",
        "CREATE PROCEDURE p() BEGIN ALTER TABLE t ADD b INT; END",
        "CREATE INDEX i ON t (a)",
        "CREATE UNIQUE INDEX i ON t (a)",
        "DROP INDEX i ON t",
        "GRANT SELECT ON app.* TO 'u'@'%'",
        "INSERT INTO t VALUES (1)",
        "CREATE TEMPORARY TABLE tmp (x INT)",
        "DROP TEMPORARY TABLE IF EXISTS tmp",
        "TRUNCATE t",
        "ANALYZE TABLE t",
        "FLUSH PRIVILEGES",
        "SAVEPOINT x",
        "# a comment",
        "/* nothing */",
        "CREATE USER 'a'@'%' IDENTIFIED BY 'secret'",
        "DROP VIEW IF EXISTS v",
        "ALTER VIEW v AS SELECT 1",
        "DROP TRIGGER tr",
    ] {
        let mut c = before.clone();
        let touched = apply(&mut c, "app", sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert!(touched.is_empty(), "{sql}: {touched:?}");
        assert_eq!(c, before, "{sql}");
    }
}

#[test]
fn statements_it_cannot_follow_are_errors_naming_the_table() {
    let base = run(&["CREATE TABLE t (a INT)"]);
    for (sql, table) in [
        ("CREATE TABLE n SELECT 1 AS x", "n"),
        ("CREATE TABLE n AS SELECT * FROM t", "n"),
        ("ALTER TABLE t FROBNICATE a", "t"),
        ("ALTER TABLE t DROP COLUMN nope", "t"),
        ("ALTER TABLE t ADD a INT", "t"),
        ("ALTER TABLE missing ADD b INT", "missing"),
        ("ALTER TABLE t ADD b INT AFTER nope", "t"),
        ("CREATE TABLE n (a INT", "n"),
        ("CREATE TABLE m LIKE missing", "m"),
    ] {
        let mut c = base.clone();
        let err = apply(&mut c, "app", sql).unwrap_err();
        assert!(
            err.touched
                .tables
                .contains(&("app".to_string(), table.to_string())),
            "{sql}: {err:?}"
        );
    }
    // Text the lexer rejects is only an error when it claims to be table DDL.
    let mut c = base.clone();
    assert!(apply(&mut c, "app", "ALTER TABLE t ADD b VARCHAR(3) DEFAULT 'x").is_err());
    assert!(apply(&mut c, "app", "SELECT 'unterminated").is_ok());
}

#[test]
fn identifiers_quoted_and_qualified() {
    let c = run(&[
        "CREATE TABLE `we``ird` (`select` INT, `a b` TEXT)",
        "ALTER TABLE app.`we``ird` CHANGE `select` `from` INT",
    ]);
    assert_eq!(
        describe(&c, "app", "we`ird"),
        "from:int, a b:text utf8mb4, pk="
    );
}

#[test]
fn if_exists_on_missing_tables_touches_nothing_it_cannot() {
    let mut c = run(&[]);
    assert!(apply(&mut c, "app", "ALTER TABLE IF EXISTS nope ADD x INT").is_ok());
    assert!(apply(&mut c, "app", "DROP TABLE IF EXISTS nope").is_ok());
}

#[test]
fn more_forms_from_the_manuals() {
    let c = run(&[
        // MySQL 8.0.21+ logs CREATE TABLE ... SELECT as the definition plus START TRANSACTION.
        "CREATE TABLE a (`id` int NOT NULL, `v` varchar(3) DEFAULT NULL) START TRANSACTION",
        // MariaDB: per-statement variables.
        "SET STATEMENT max_statement_time=60, lock_wait_timeout=5 FOR ALTER TABLE a ADD w INT",
        "ALTER TABLE a ADD INDEX IF NOT EXISTS iv (v), CHANGE COLUMN IF EXISTS nope x INT",
        "ALTER TABLE a ALTER INDEX iv INVISIBLE, ADD COLUMN hidden INT INVISIBLE",
        "CREATE TABLE p (id INT NOT NULL, d DATE, PRIMARY KEY (id, d))
         PARTITION BY RANGE (YEAR(d)) (PARTITION p0 VALUES LESS THAN (2000), PARTITION p1 VALUES LESS THAN MAXVALUE)",
        "ALTER TABLE p REORGANIZE PARTITION p1 INTO (PARTITION p1 VALUES LESS THAN (2010), PARTITION p2 VALUES LESS THAN MAXVALUE)",
        "ALTER TABLE p TRUNCATE PARTITION p0",
        "CREATE TABLE g (id INT, price DECIMAL(6,2), tax DECIMAL(6,2) GENERATED ALWAYS AS (price * 0.2) STORED, KEY (tax))",
        "ALTER TABLE g MODIFY COLUMN price DECIMAL(8,2) NOT NULL AFTER tax",
        "CREATE TABLE c1 (a CHAR(2) BINARY, b VARCHAR(4) CHARACTER SET binary, c TEXT CHARSET latin1 COLLATE latin1_bin, d VARCHAR(1) COLLATE 'cp1250_bin')",
        "ALTER TABLE c1 DROP COLUMN IF EXISTS zz, ADD COLUMN e SET('p','q') CHARACTER SET latin1 DEFAULT 'p' AFTER a",
    ]);
    assert_eq!(
        describe(&c, "app", "a"),
        "id:int, v:varchar utf8mb4, w:int, hidden:int, pk="
    );
    assert_eq!(describe(&c, "app", "p"), "id:int, d:date, pk=id+d");
    assert_eq!(
        describe(&c, "app", "g"),
        "id:int, tax:decimal, price:decimal, pk="
    );
    assert_eq!(
        describe(&c, "app", "c1"),
        "a:char utf8mb4, e:set latin1 [\"p\", \"q\"], b:varchar binary, c:text latin1, d:varchar cp1250, pk="
    );
}

#[test]
fn failures_still_name_every_table_involved() {
    // On an empty catalog (as the first-start read-ahead uses it), renames of tables it does
    // not know fail, but report both names of every pair, so neither is trusted.
    let mut empty = Catalog::new("utf8mb4");
    let err = apply(&mut empty, "app", "RENAME TABLE a TO b, c TO d").unwrap_err();
    for t in ["a", "b", "c", "d"] {
        assert!(
            err.touched.tables.contains(&("app".into(), t.into())),
            "{t}: {err:?}"
        );
    }
    let err = apply(
        &mut empty,
        "app",
        "ALTER TABLE c ADD x INT, RENAME TO other.d",
    )
    .unwrap_err();
    assert!(
        err.touched.tables.contains(&("other".into(), "d".into())),
        "{err:?}"
    );
    assert!(
        err.touched.tables.contains(&("app".into(), "c".into())),
        "{err:?}"
    );
}

#[test]
fn specifications_reusing_a_column_name_are_refused_not_misapplied() {
    // The server resolves both against the original table and swaps the columns; applying
    // them one after another would not, so the statement is not followed.
    for sql in [
        "ALTER TABLE t RENAME COLUMN a TO b, RENAME COLUMN b TO a",
        "ALTER TABLE t CHANGE a b VARCHAR(10), CHANGE b a INT",
        "ALTER TABLE t RENAME COLUMN a TO b, DROP COLUMN b",
    ] {
        let mut c = run(&["CREATE TABLE t (a INT UNSIGNED, b VARCHAR(10))"]);
        let err = apply(&mut c, "app", sql).unwrap_err();
        assert!(
            err.touched.tables.contains(&("app".into(), "t".into())),
            "{sql}"
        );
    }
    // Independent specifications still apply.
    let c = run(&[
        "CREATE TABLE t (a INT, b INT)",
        "ALTER TABLE t DROP a, ADD a VARCHAR(2), CHANGE b c INT",
    ]);
    assert_eq!(describe(&c, "app", "t"), "c:int, a:varchar utf8mb4, pk=");
}

#[test]
fn table_options_without_commas_still_set_the_charset() {
    let c = run(&[
        "CREATE TABLE t (a INT)",
        "ALTER TABLE t ENGINE=InnoDB DEFAULT CHARSET=latin1, ADD COLUMN c VARCHAR(5)",
        "CREATE TABLE u (a INT) CHARSET latin2",
        "ALTER TABLE u COMMENT 'x' CHARACTER SET DEFAULT, ADD b TEXT",
        "CREATE TABLE v (a CHAR(3) BYTE, e ENUM('a ', 'b  '), x VARCHAR(2) COLLATE uca1400_ai_ci) CHARSET latin1",
    ]);
    assert_eq!(describe(&c, "app", "t"), "a:int, c:varchar latin1, pk=");
    assert_eq!(describe(&c, "app", "u"), "a:int, b:text utf8mb4, pk=");
    assert_eq!(
        describe(&c, "app", "v"),
        "a:char binary, e:enum latin1 [\"a\", \"b\"], x:varchar latin1, pk="
    );
}

#[test]
fn system_versioning_is_not_followed() {
    let mut c = run(&["CREATE TABLE t (a INT)"]);
    assert!(apply(&mut c, "app", "ALTER TABLE t ADD SYSTEM VERSIONING").is_err());
    assert!(
        apply(
            &mut c,
            "app",
            "CREATE TABLE s (a INT WITH SYSTEM VERSIONING)"
        )
        .is_err()
    );
}

#[test]
fn alter_database_is_reported_even_for_a_database_it_does_not_know() {
    let mut empty = Catalog::new("utf8mb4");
    let touched = apply(&mut empty, "", "ALTER DATABASE d CHARACTER SET latin1").unwrap();
    assert_eq!(touched.databases, vec!["d".to_string()]);
    // A database whose default is unknown cannot give a new table its charset.
    let mut c = run(&[]);
    c.databases.get_mut("app").unwrap().charset.clear();
    assert!(apply(&mut c, "app", "CREATE TABLE t (v VARCHAR(2))").is_err());
    assert!(
        apply(
            &mut c,
            "app",
            "CREATE TABLE u (v VARCHAR(2)) CHARSET latin1"
        )
        .is_ok()
    );
}

#[test]
fn lower_case_table_names_folds_names_like_the_server() {
    let mut c = Catalog::new("utf8mb4");
    c.lower_case_table_names = 1;
    apply(&mut c, "", "CREATE DATABASE App").unwrap();
    apply(&mut c, "APP", "CREATE TABLE T (a INT)").unwrap();
    apply(&mut c, "app", "ALTER TABLE `APP`.t RENAME COLUMN a TO z").unwrap();
    assert_eq!(describe(&c, "app", "t"), "z:int, pk=");
    assert!(c.lookup("App", "T").is_some());
}

#[test]
fn unlexable_table_ddl_names_its_table() {
    let mut c = run(&["CREATE TABLE t (a INT)"]);
    let err = apply(
        &mut c,
        "app",
        "ALTER TABLE shop.`or``ders` ADD c VARCHAR(3) DEFAULT 'x",
    )
    .unwrap_err();
    assert_eq!(
        err.touched.tables,
        vec![("shop".to_string(), "or`ders".to_string())]
    );
}

#[test]
fn logged_statements_carry_no_literals() {
    let dml = r#"INSERT INTO `p1`.t2 VALUES (9434765919, 'Jane O''Neil', "x\"y", 1.5e3)"#;
    assert_eq!(
        without_literals(dml, 200, true),
        "INSERT INTO `p1`.t2 VALUES (?, ?, ?, ?)"
    );
    let ddl = r#"ALTER TABLE t ADD c VARCHAR(20) DEFAULT 'secret' COMMENT "NHS 943 476 5919""#;
    assert_eq!(
        without_literals(ddl, 200, false),
        "ALTER TABLE t ADD c VARCHAR(20) DEFAULT ? COMMENT ?"
    );
    assert_eq!(
        without_literals("UPDATE t SET a = 'x'", 8, true),
        "UPDATE t"
    );
    // An unterminated literal hides the rest.
    assert_eq!(without_literals("SET a = 'abc", 50, true), "SET a = ?");
    // A quote in a comment does not turn the literals after it inside out.
    assert_eq!(
        without_literals(
            "/* don't */ INSERT INTO t VALUES ('secret') -- it's\n",
            100,
            true
        ),
        "/* don?t */ INSERT INTO t VALUES (?) -- it?s\n"
    );
    assert_eq!(
        without_literals("# o'k\nUPDATE t SET a='x'", 100, true),
        "# o?k\nUPDATE t SET a=?"
    );
    // Version-gated comments are code: kept, their literals hidden.
    assert_eq!(
        without_literals(
            "ALTER TABLE t ADD c INT /*!99999 , FROBNICATE 'x' */",
            100,
            false
        ),
        "ALTER TABLE t ADD c INT /*!99999 , FROBNICATE ? */"
    );
    // A stray backtick keeps to the length.
    assert_eq!(
        without_literals("SELECT `abcdefgh 'secret'", 10, true).len(),
        10
    );
}

#[test]
fn mariadb_json_is_text_with_a_json_valid_check() {
    // As MariaDB's SHOW CREATE TABLE and mysqldump write a `JSON` column, and as a
    // migration tool may write one; a check on anything else is not JSON.
    let mut c = Catalog::new("latin1");
    c.mariadb = true;
    let c = run_on(c, &[
        "CREATE TABLE `t` (
          `a` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`a`)),
          `b` text NOT NULL CHECK (JSON_VALID(b)),
          `c` longtext DEFAULT NULL CHECK (json_valid(`c`) and `c` <> ''),
          `d` varchar(10) CHECK (char_length(`d`) > 1),
          `e` longtext CHECK (json_valid(`a`)),
          `f` int CHECK (json_valid(`f`))
        )",
        "ALTER TABLE t ADD COLUMN g mediumtext CHECK (json_valid(`g`)) AFTER a",
    ]);
    assert_eq!(
        describe(&c, "app", "t"),
        "a:json utf8mb4, g:json utf8mb4, b:json utf8mb4, c:longtext utf8mb4, \
         d:varchar utf8mb4, e:longtext utf8mb4, f:int, pk="
    );
}

#[test]
fn on_mysql_a_json_valid_check_leaves_text_as_text() {
    // MySQL's JSON is a type of its own; Maxwell leaves checked text alone there.
    let c = run(&["CREATE TABLE t (a longtext CHECK (json_valid(`a`)), j JSON)"]);
    assert_eq!(
        describe(&c, "app", "t"),
        "a:longtext utf8mb4, j:json utf8mb4, pk="
    );
}
