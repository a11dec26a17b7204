//! Routing keys and per-table exchanges: where each message goes.

use crate::filter::TablePattern;

/// A routing key template split once into literal text and placeholders.
#[derive(Debug, Clone)]
pub struct RoutingKeyTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Db,
    Table,
    Type,
}

impl RoutingKeyTemplate {
    pub fn new(template: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            let next = [
                ("%db%", Part::Db),
                ("%table%", Part::Table),
                ("%type%", Part::Type),
            ]
            .into_iter()
            .filter_map(|(tag, part)| rest.find(tag).map(|at| (at, tag.len(), part)))
            .min_by_key(|(at, _, _)| *at);
            match next {
                Some((at, len, part)) => {
                    if at > 0 {
                        parts.push(Part::Literal(rest[..at].to_owned()));
                    }
                    parts.push(part);
                    rest = &rest[at + len..];
                }
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
            }
        }
        Self { parts }
    }

    /// The key for a message; `kind` is `insert`, `update`, `delete` or `ddl`.
    pub fn render(&self, database: &str, table: &str, kind: &str) -> String {
        let mut key = String::with_capacity(database.len() + table.len() + 8);
        for part in &self.parts {
            key.push_str(match part {
                Part::Literal(s) => s,
                Part::Db => database,
                Part::Table => table,
                Part::Type => kind,
            });
        }
        key
    }
}

/// The exchange for a table: the first matching route's, or the main one.
pub(super) fn exchange_for<'a>(
    routes: &'a [(TablePattern, String)],
    main: &'a str,
    database: &str,
    table: &str,
) -> &'a str {
    routes
        .iter()
        .find(|(tables, _)| tables.matches(database, table))
        .map_or(main, |(_, exchange)| exchange.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_substitute_db_table_and_type() {
        let t = RoutingKeyTemplate::new("%db%.%table%");
        assert_eq!(t.render("tcs", "Placement", "insert"), "tcs.Placement");
        let t = RoutingKeyTemplate::new("db.%db%.%table%.%type%");
        assert_eq!(
            t.render("tcs", "Placement", "update"),
            "db.tcs.Placement.update"
        );
        let t = RoutingKeyTemplate::new("fixed");
        assert_eq!(t.render("a", "b", "delete"), "fixed");
        let t = RoutingKeyTemplate::new("%table%%db%%table%%other%");
        assert_eq!(t.render("d", "", "ddl"), "d%other%");
    }
}
