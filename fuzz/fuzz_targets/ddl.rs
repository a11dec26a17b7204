//! Statement text, as the schema history follows it from QUERY events: the DDL reader on a
//! catalog with one table. Any outcome is fine but a panic, an abort, a hang or an
//! allocation over the bound.

#![no_main]

mod bounded;

use binlog_relay::schema::catalog::Catalog;
use binlog_relay::schema::ddl;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: bounded::Bounded = bounded::Bounded;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let mut catalog = Catalog::new("utf8mb4");
    let _ = ddl::apply(
        &mut catalog,
        "shop",
        "CREATE TABLE shop.t (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(10,2))",
    );
    let _ = ddl::looks_like_table_ddl(sql);
    let _ = ddl::apply(&mut catalog, "shop", sql);
});
