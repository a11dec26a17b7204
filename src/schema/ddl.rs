//! DDL: the statements in QUERY events that change the catalog, applied to it.
//!
//! Lexing is `sqlparser`'s (MySQL dialect: backticks, both quote styles with MySQL's
//! escapes, comments, and `/*!50100 ... */` executable comments unwrapped as the server
//! runs them). The grammar is ours. sqlparser 0.63 rejects much of the DDL that MySQL and
//! MariaDB write to the binlog (measured on 50 statements from their manuals: `ZEROFILL`,
//! `NATIONAL CHAR`, `ALTER TABLE ... CONVERT TO CHARACTER SET`, `DEFAULT CHARSET=`,
//! `ENGINE=`, `ADD (a INT, b INT)`, `ADD COLUMN IF NOT EXISTS`, `ALTER ONLINE|IGNORE`,
//! `RENAME` without `TO`, `ALTER DATABASE`, partition clauses, `COMMENT`, `FORCE`,
//! `ORDER BY` all fail), and a failed parse would leave a table unlabelled. The part of a
//! statement that matters here is small (names, types, charsets, labels, keys), so this
//! module reads exactly that and skips the rest by balanced parentheses.
//!
//! Statements that cannot change a table's columns (views, routines, triggers, grants,
//! indexes other than the primary key, DML in statement format) are ignored. A statement
//! that looks like table DDL but cannot be read is an error naming the tables it touches;
//! the history then marks them unknown rather than guess.

use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::catalog::{Catalog, ColumnDef, Database, TableDef, TableEntry, charset_of_collation};

/// A table, as `(database, table)`.
pub type TableName = (String, String);

/// What a statement did to the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// Tables created, changed, renamed (both names) or dropped.
    pub tables: Vec<TableName>,
    /// Databases created, changed or dropped.
    pub databases: Vec<String>,
    /// The changes in order, with the definitions before and after: what Maxwell's DDL
    /// messages describe.
    pub effects: Vec<Effect>,
}

/// One schema change, as a DDL message reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    DatabaseCreate {
        database: String,
        charset: String,
    },
    DatabaseAlter {
        database: String,
        charset: String,
    },
    DatabaseDrop {
        database: String,
    },
    TableCreate {
        database: String,
        table: String,
        def: TableDef,
    },
    /// Also renames: `new_database`.`new_table` is the name after the statement.
    TableAlter {
        database: String,
        table: String,
        old: TableDef,
        new_database: String,
        new_table: String,
        def: TableDef,
    },
    TableDrop {
        database: String,
        table: String,
    },
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.databases.is_empty()
    }
}

/// A schema statement that could not be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DdlError {
    pub message: String,
    /// The tables it touches, as far as they could be read; the history marks them unknown.
    pub touched: Touched,
    /// The statement could not even be lexed; `touched` comes from a plain pattern, so
    /// the caller should suspect the session's database as well.
    pub unlexed: bool,
}

/// Applies `sql`, run with `default_db` as the session's database, to `catalog`. Returns
/// what it touched (nothing for statements that cannot change a table's columns).
pub fn apply(catalog: &mut Catalog, default_db: &str, sql: &str) -> Result<Touched, DdlError> {
    let tokens = match Tokenizer::new(&MySqlDialect {}, sql).tokenize() {
        Ok(tokens) => tokens,
        Err(e) => {
            // Unlexable text: only an error if it claims to be table DDL. The table it
            // names, as far as a plain pattern finds it, is reported; the caller adds the
            // session's database on top.
            return if looks_like_table_ddl(sql) {
                Err(DdlError {
                    message: format!("cannot read statement: {e}"),
                    touched: Touched {
                        tables: named_table(sql, default_db).into_iter().collect(),
                        ..Touched::default()
                    },
                    unlexed: true,
                })
            } else {
                Ok(Touched::default())
            };
        }
    };
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    // With lower_case_table_names set, the server compares database and table names
    // case-insensitively; the catalog keeps them in lower case.
    let fold = catalog.lower_case_table_names != 0;
    let default_db = if fold {
        default_db.to_lowercase()
    } else {
        default_db.to_owned()
    };
    let mut cur = Cursor {
        tokens: &tokens,
        pos: 0,
        default_db: &default_db,
        fold,
        mariadb: catalog.mariadb,
    };
    let mut touched = Touched::default();
    let result = statement(&mut cur, catalog, &mut touched);
    match result {
        Ok(()) => Ok(touched),
        Err(message) => Err(DdlError {
            message,
            touched,
            unlexed: false,
        }),
    }
}

/// The first `TABLE [IF [NOT] EXISTS] [db.]name` in text the lexer rejects.
fn named_table(sql: &str, default_db: &str) -> Option<TableName> {
    static PATTERN: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?is)\bTABLES?\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(`(?:[^`]|``)+`|[\w$]+)(?:\s*\.\s*(`(?:[^`]|``)+`|[\w$]+))?",
        )
        .ok()
    });
    let caps = PATTERN.as_ref()?.captures(sql)?;
    let unquote = |s: &str| {
        s.strip_prefix('`')
            .and_then(|s| s.strip_suffix('`'))
            .map_or_else(|| s.to_owned(), |s| s.replace("``", "`"))
    };
    let first = unquote(caps.get(1)?.as_str());
    Some(match caps.get(2) {
        Some(second) => (first, unquote(second.as_str())),
        None => (default_db.to_owned(), first),
    })
}

/// `sql` shortened to `max_chars`, for logs and the schema history file, with every quoted
/// string literal replaced by `?` and, with `numbers`, every number too: a statement can
/// carry row values (`INSERT ... VALUES ('9434765919')`, a `DEFAULT` or `COMMENT`), and
/// neither logs nor state files may hold row data. Identifiers, quoted with backticks or
/// not, stay.
pub fn without_literals(sql: &str, max_chars: usize, numbers: bool) -> String {
    let mut out = String::new();
    let mut written = 0;
    let mut chars = sql.chars().peekable();
    // Whether the last character continues a word: `t1` is a name, not a number.
    let mut in_word = false;
    while let Some(c) = chars.next() {
        if written >= max_chars {
            break;
        }
        match c {
            '\'' | '"' => {
                while let Some(x) = chars.next() {
                    if x == '\\' {
                        chars.next();
                    } else if x == c {
                        // A doubled quote is one quote inside the literal.
                        if chars.peek() == Some(&c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                out.push('?');
                in_word = false;
            }
            '`' => {
                out.push(c);
                written += 1;
                for x in chars.by_ref() {
                    if written >= max_chars {
                        break;
                    }
                    out.push(x);
                    written += 1;
                    if x == '`' {
                        break;
                    }
                }
                in_word = true;
                continue;
            }
            // Comments are the author's text, which operators need to see (a statement
            // the reader cannot follow may be explained by one). They are copied, but a
            // quote in one (`don't`) must not turn the literals after it inside out.
            '#' => {
                out.push(c);
                written +=
                    copy_comment(&mut chars, &mut out, max_chars - written, |x, _| x == '\n');
                in_word = false;
                continue;
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                written +=
                    copy_comment(&mut chars, &mut out, max_chars - written, |x, _| x == '\n');
                in_word = false;
                continue;
            }
            // `/*! ... */` and `/*+ ... */` are code the server may run: read like the rest.
            '/' if chars.peek() == Some(&'*') && {
                let mut ahead = chars.clone();
                ahead.next();
                !matches!(ahead.peek(), Some('!' | '+'))
            } =>
            {
                out.push(c);
                written += copy_comment(&mut chars, &mut out, max_chars - written, |x, last| {
                    last == '*' && x == '/'
                });
                in_word = false;
                continue;
            }
            d if numbers && d.is_ascii_digit() && !in_word => {
                while chars
                    .peek()
                    .is_some_and(|x| x.is_ascii_alphanumeric() || *x == '.')
                {
                    chars.next();
                }
                out.push('?');
            }
            _ => {
                out.push(c);
                in_word = c.is_alphanumeric() || c == '_' || c == '$';
            }
        }
        written += 1;
    }
    out
}

/// Copies a comment up to and including the character `ends` accepts (given the one
/// before it), at most `room` characters, with quotes shown as `?`. Returns how many
/// characters it wrote, counting the one that opened the comment.
fn copy_comment(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
    room: usize,
    ends: impl Fn(char, char) -> bool,
) -> usize {
    let mut written = 1;
    let mut last = ' ';
    for x in chars.by_ref() {
        if written >= room {
            break;
        }
        out.push(if x == '\'' || x == '"' { '?' } else { x });
        written += 1;
        if ends(x, last) {
            break;
        }
        last = x;
    }
    written
}

/// A cheap test for "this is CREATE/ALTER/DROP/RENAME TABLE", for text the lexer rejects.
pub fn looks_like_table_ddl(sql: &str) -> bool {
    let upper = sql.trim_start().to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().take(4).collect();
    matches!(
        words.first(),
        Some(&"CREATE" | &"ALTER" | &"DROP" | &"RENAME")
    ) && words
        .iter()
        .any(|w| *w == "TABLE" || w.starts_with("TABLE"))
}

type Parse<T> = Result<T, String>;

struct Cursor<'a> {
    tokens: &'a [Token],
    pos: usize,
    default_db: &'a str,
    /// Fold database and table names to lower case (`lower_case_table_names` 1 or 2).
    fold: bool,
    /// The server is MariaDB, where a `json_valid` check makes a text column JSON.
    mariadb: bool,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.pos + ahead)
    }

    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn at_end(&self) -> bool {
        matches!(self.peek(), None | Some(Token::SemiColon | Token::EOF))
    }

    /// Whether token `ahead` is the unquoted keyword `kw`.
    fn is_kw_at(&self, ahead: usize, kw: &str) -> bool {
        matches!(self.peek_at(ahead), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Eats the keywords `kws` if all of them come next.
    fn eat_kws(&mut self, kws: &[&str]) -> bool {
        if kws.iter().enumerate().all(|(i, kw)| self.is_kw_at(i, kw)) {
            self.pos += kws.len();
            true
        } else {
            false
        }
    }

    fn eat(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &Token) -> Parse<()> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(format!("expected {token} but found {}", self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None | Some(Token::EOF) => "the end of the statement".into(),
            Some(t) => format!("`{t}`"),
        }
    }

    /// An identifier, quoted or not.
    fn ident(&mut self) -> Parse<String> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let value = w.value.clone();
                self.pos += 1;
                Ok(value)
            }
            // ANSI_QUOTES servers log "name" identifiers.
            Some(Token::DoubleQuotedString(s)) => {
                let value = s.clone();
                self.pos += 1;
                Ok(value)
            }
            _ => Err(format!("expected a name but found {}", self.describe())),
        }
    }

    /// `[db.]name`, with the session's database filled in.
    fn table_name(&mut self) -> Parse<TableName> {
        let first = self.object_name()?;
        if self.eat(&Token::Period) {
            let second = self.object_name()?;
            Ok((first, second))
        } else {
            Ok((self.default_db.to_owned(), first))
        }
    }

    /// A database or table name, folded when the server folds them.
    fn object_name(&mut self) -> Parse<String> {
        let name = self.ident()?;
        Ok(if self.fold { name.to_lowercase() } else { name })
    }

    /// A string literal, with a charset introducer (`_utf8mb4'x'`) allowed before it.
    fn string(&mut self) -> Parse<String> {
        if matches!(self.peek(), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.starts_with('_'))
        {
            self.pos += 1;
        }
        match self.next() {
            Some(
                Token::SingleQuotedString(s)
                | Token::DoubleQuotedString(s)
                | Token::NationalStringLiteral(s),
            ) => Ok(s.clone()),
            other => Err(format!(
                "expected a string but found {}",
                other.map_or("the end".into(), |t| format!("`{t}`"))
            )),
        }
    }

    /// A name or a string: charset and collation names may be written either way.
    fn name_or_string(&mut self) -> Parse<String> {
        match self.peek() {
            Some(Token::SingleQuotedString(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => self.ident(),
        }
    }

    /// Skips one token, or a whole parenthesised group.
    fn skip_one(&mut self) -> Parse<()> {
        match self.next() {
            Some(Token::LParen) => {
                let mut depth = 1usize;
                while depth > 0 {
                    match self.next() {
                        Some(Token::LParen) => depth += 1,
                        Some(Token::RParen) => depth -= 1,
                        None => return Err("unbalanced parentheses".into()),
                        _ => {}
                    }
                }
                Ok(())
            }
            Some(_) => Ok(()),
            None => Err("unexpected end of statement".into()),
        }
    }

    /// Skips to the next `,` or `)` at this nesting level (or the end), not eating it.
    fn skip_item(&mut self) -> Parse<()> {
        while !self.at_end() && !matches!(self.peek(), Some(Token::Comma | Token::RParen)) {
            self.skip_one()?;
        }
        Ok(())
    }

    /// `(a, b(10), c DESC)`: the column names of a key.
    fn key_columns(&mut self) -> Parse<Vec<String>> {
        self.expect(&Token::LParen)?;
        let mut names = Vec::new();
        loop {
            names.push(self.ident()?);
            self.skip_item()?;
            if self.eat(&Token::Comma) {
                continue;
            }
            self.expect(&Token::RParen)?;
            return Ok(names);
        }
    }

    /// `[=] value` after a table or database option keyword.
    fn option_value(&mut self) -> Parse<String> {
        self.eat(&Token::Eq);
        self.name_or_string()
    }
}

fn statement(cur: &mut Cursor<'_>, catalog: &mut Catalog, touched: &mut Touched) -> Parse<()> {
    // MariaDB's `SET STATEMENT var=value [, ...] FOR <statement>`.
    if cur.eat_kws(&["SET", "STATEMENT"]) {
        while !cur.at_end() && !cur.is_kw("FOR") {
            cur.skip_one()?;
        }
        if !cur.eat_kw("FOR") {
            return Ok(());
        }
    }
    if cur.eat_kw("CREATE") {
        let replace = cur.eat_kws(&["OR", "REPLACE"]);
        if cur.eat_kw("TEMPORARY") {
            // Temporary tables are not logged in row format; their rows never arrive.
            return Ok(());
        }
        if cur.eat_kw("TABLE") {
            return create_table(cur, catalog, touched, replace);
        }
        if cur.eat_kw("DATABASE") || cur.eat_kw("SCHEMA") {
            return create_database(cur, catalog, touched, replace);
        }
        if cur.is_kw("INDEX") || cur.is_kw("UNIQUE") {
            return Ok(());
        }
        return Ok(());
    }
    if cur.eat_kw("ALTER") {
        cur.eat_kw("ONLINE");
        cur.eat_kw("IGNORE");
        if cur.eat_kw("TABLE") {
            return alter_table(cur, catalog, touched);
        }
        if cur.eat_kw("DATABASE") || cur.eat_kw("SCHEMA") {
            return alter_database(cur, catalog, touched);
        }
        return Ok(());
    }
    if cur.eat_kw("DROP") {
        if cur.eat_kw("TEMPORARY") {
            return Ok(());
        }
        if cur.eat_kw("TABLE") || cur.eat_kw("TABLES") {
            return drop_tables(cur, catalog, touched);
        }
        if cur.eat_kw("DATABASE") || cur.eat_kw("SCHEMA") {
            cur.eat_kws(&["IF", "EXISTS"]);
            let name = cur.object_name()?;
            if catalog.databases.remove(&name).is_some() {
                touched.effects.push(Effect::DatabaseDrop {
                    database: name.clone(),
                });
            }
            touched.databases.push(name);
            return Ok(());
        }
        if cur.eat_kw("INDEX") {
            // `DROP INDEX `PRIMARY` ON t` drops the primary key.
            cur.eat_kw("ONLINE");
            cur.eat_kw("OFFLINE");
            cur.eat_kws(&["IF", "EXISTS"]);
            let index = cur.ident()?;
            if index.eq_ignore_ascii_case("PRIMARY") && cur.eat_kw("ON") {
                let name = cur.table_name()?;
                let def = known_table(catalog, &name, touched)?;
                let old = def.clone();
                def.primary_key.clear();
                let def = def.clone();
                touched.effects.push(Effect::TableAlter {
                    database: name.0.clone(),
                    table: name.1.clone(),
                    old,
                    new_database: name.0,
                    new_table: name.1,
                    def,
                });
            }
            return Ok(());
        }
        return Ok(());
    }
    if cur.eat_kw("RENAME") {
        if cur.eat_kw("TABLE") || cur.eat_kw("TABLES") {
            return rename_tables(cur, catalog, touched);
        }
        return Ok(());
    }
    // TRUNCATE keeps the definition; everything else cannot change a table's columns.
    Ok(())
}

fn create_database(
    cur: &mut Cursor<'_>,
    catalog: &mut Catalog,
    touched: &mut Touched,
    replace: bool,
) -> Parse<()> {
    let if_not_exists = cur.eat_kws(&["IF", "NOT", "EXISTS"]);
    let name = cur.object_name()?;
    let mut charset = catalog.server_charset.clone();
    let server_charset = catalog.server_charset.clone();
    database_options(cur, &mut charset, &server_charset)?;
    if if_not_exists && !replace && catalog.databases.contains_key(&name) {
        return Ok(());
    }
    catalog.databases.insert(
        name.clone(),
        Database {
            charset: charset.clone(),
            tables: Default::default(),
        },
    );
    touched.effects.push(Effect::DatabaseCreate {
        database: name.clone(),
        charset,
    });
    touched.databases.push(name);
    Ok(())
}

fn alter_database(cur: &mut Cursor<'_>, catalog: &mut Catalog, touched: &mut Touched) -> Parse<()> {
    // The name is optional: `ALTER DATABASE CHARACTER SET x` means the session's database.
    let name = if is_charset_option(cur) || cur.at_end() {
        cur.default_db.to_owned()
    } else {
        cur.object_name()?
    };
    let mut charset = catalog.database_charset(&name);
    let server_charset = catalog.server_charset.clone();
    database_options(cur, &mut charset, &server_charset)?;
    if let Some(db) = catalog.databases.get_mut(&name) {
        db.charset = charset.clone();
        touched.effects.push(Effect::DatabaseAlter {
            database: name.clone(),
            charset,
        });
    }
    touched.databases.push(name);
    Ok(())
}

fn is_charset_option(cur: &Cursor<'_>) -> bool {
    ["DEFAULT", "CHARACTER", "CHARSET", "COLLATE"]
        .iter()
        .any(|kw| cur.is_kw(kw))
}

/// Reads `[DEFAULT] CHARACTER SET|CHARSET [=] x` and `[DEFAULT] COLLATE [=] y` options into
/// `charset`, skipping any others, to the end of the statement. `DEFAULT` as a value means
/// `fallback`.
fn database_options(cur: &mut Cursor<'_>, charset: &mut String, fallback: &str) -> Parse<()> {
    while !cur.at_end() {
        if !charset_option(cur, charset, fallback)? {
            cur.skip_one()?;
        }
    }
    Ok(())
}

/// One charset or collation option at the cursor, if there is one.
fn charset_option(cur: &mut Cursor<'_>, charset: &mut String, fallback: &str) -> Parse<bool> {
    let start = cur.pos;
    cur.eat_kw("DEFAULT");
    if cur.eat_kws(&["CHARACTER", "SET"]) || cur.eat_kw("CHARSET") || cur.eat_kws(&["CHAR", "SET"])
    {
        let value = cur.option_value()?.to_ascii_lowercase();
        *charset = if value == "default" {
            fallback.to_owned()
        } else {
            value
        };
        return Ok(true);
    }
    if cur.eat_kw("COLLATE") {
        let value = cur.option_value()?;
        if value.eq_ignore_ascii_case("default") {
            *charset = fallback.to_owned();
        } else if let Some(c) = charset_of_collation(&value) {
            *charset = c;
        }
        return Ok(true);
    }
    cur.pos = start;
    Ok(false)
}

fn create_table(
    cur: &mut Cursor<'_>,
    catalog: &mut Catalog,
    touched: &mut Touched,
    replace: bool,
) -> Parse<()> {
    let if_not_exists = cur.eat_kws(&["IF", "NOT", "EXISTS"]);
    let name = cur.table_name()?;
    touched.tables.push(name.clone());
    if if_not_exists && !replace && catalog.table(&name.0, &name.1).is_some() {
        return Ok(());
    }
    // CREATE TABLE t LIKE s / CREATE TABLE t (LIKE s)
    let parenthesised_like = cur.peek() == Some(&Token::LParen) && cur.is_kw_at(1, "LIKE");
    if cur.is_kw("LIKE") || parenthesised_like {
        cur.eat(&Token::LParen);
        cur.eat_kw("LIKE");
        let source = cur.table_name()?;
        let entry = catalog
            .table(&source.0, &source.1)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "CREATE TABLE ... LIKE names `{}`.`{}`, which is not tracked",
                    source.0, source.1
                )
            })?;
        if let TableEntry::Known(def) = &entry {
            touched.effects.push(Effect::TableCreate {
                database: name.0.clone(),
                table: name.1.clone(),
                def: def.clone(),
            });
        }
        catalog.put_table(&name.0, &name.1, entry);
        return Ok(());
    }
    let mut def = TableDef {
        charset: String::new(),
        columns: Vec::new(),
        primary_key: Vec::new(),
    };
    let mut has_columns = false;
    if cur.eat(&Token::LParen) {
        has_columns = true;
        loop {
            create_definition(cur, &mut def)?;
            if cur.eat(&Token::Comma) {
                continue;
            }
            cur.expect(&Token::RParen)?;
            break;
        }
    }
    // Table options, then maybe partitioning and `[IGNORE|REPLACE] [AS] SELECT ...`.
    let database_charset = catalog.database_charset(&name.0);
    let mut charset = database_charset.clone();
    let mut selects = false;
    while !cur.at_end() {
        if charset_option(cur, &mut charset, &database_charset)? {
            continue;
        }
        if cur.is_kw("SELECT") || cur.is_kw("WITH") || cur.is_kw("TABLE") || cur.is_kw("VALUES") {
            selects = true;
            break;
        }
        cur.skip_one()?;
    }
    if charset.is_empty() {
        // The database's default is not known at this position (see Database::charset).
        return Err(format!(
            "the default charset of database `{}` is not known at this position",
            name.0
        ));
    }
    if selects || !has_columns {
        // The columns come from a query this module cannot evaluate. (Row-format servers
        // log CREATE ... SELECT as a plain CREATE TABLE, so this is rare.)
        return Err(format!(
            "CREATE TABLE `{}`.`{}` takes its columns from a query",
            name.0, name.1
        ));
    }
    def.charset = charset;
    fill_charsets(&mut def.columns, &def.charset);
    touched.effects.push(Effect::TableCreate {
        database: name.0.clone(),
        table: name.1.clone(),
        def: def.clone(),
    });
    catalog.put_table(&name.0, &name.1, TableEntry::Known(def));
    Ok(())
}

/// One item of a CREATE TABLE's parenthesised list: a column or a constraint/index.
fn create_definition(cur: &mut Cursor<'_>, def: &mut TableDef) -> Parse<()> {
    if let Some(key) = constraint(cur)? {
        if let Some(columns) = key {
            def.primary_key = columns;
        }
        return Ok(());
    }
    let (column, inline_pk, _) = column_definition(cur)?;
    if inline_pk {
        def.primary_key = vec![column.name.clone()];
    }
    def.columns.push(column);
    Ok(())
}

/// A constraint or index definition, if one starts here: `Some(Some(columns))` for a
/// primary key, `Some(None)` for anything else (skipped).
fn constraint(cur: &mut Cursor<'_>) -> Parse<Option<Option<Vec<String>>>> {
    let start = cur.pos;
    if cur.eat_kw("CONSTRAINT") {
        // An optional symbol, unless the constraint kind follows at once.
        if !["PRIMARY", "UNIQUE", "FOREIGN", "CHECK"]
            .iter()
            .any(|kw| cur.is_kw(kw))
        {
            cur.ident()?;
        }
    }
    if cur.eat_kws(&["PRIMARY", "KEY"]) {
        // An optional index type or name before the column list.
        while cur.peek() != Some(&Token::LParen) && !cur.at_end() {
            cur.skip_one()?;
        }
        let columns = cur.key_columns()?;
        cur.skip_item()?;
        return Ok(Some(Some(columns)));
    }
    let is_other = [
        "UNIQUE", "FOREIGN", "CHECK", "KEY", "INDEX", "FULLTEXT", "SPATIAL",
    ]
    .iter()
    .any(|kw| cur.is_kw(kw))
        || (cur.is_kw("PERIOD") && cur.is_kw_at(1, "FOR"));
    if is_other || cur.pos != start {
        cur.skip_item()?;
        return Ok(Some(None));
    }
    Ok(None)
}

/// Where ALTER TABLE puts a column: `FIRST` or `AFTER col`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    First,
    After(String),
}

/// `name type [attributes]` up to the next `,` or `)`. Returns the column (its charset
/// still `None` when it takes the table's default), whether it declares itself the
/// primary key, and any FIRST/AFTER.
fn column_definition(cur: &mut Cursor<'_>) -> Parse<(ColumnDef, bool, Option<Place>)> {
    let name = cur.ident()?;
    let (data_type, mut charset) = data_type(cur)?;
    let mut args: Vec<String> = Vec::new();
    let mut labels = None;
    if cur.eat(&Token::LParen) {
        if data_type == "enum" || data_type == "set" {
            let mut list = Vec::new();
            loop {
                // The server strips trailing spaces from ENUM and SET members.
                list.push(cur.string()?.trim_end_matches(' ').to_owned());
                if cur.eat(&Token::Comma) {
                    continue;
                }
                cur.expect(&Token::RParen)?;
                break;
            }
            labels = Some(list);
        } else {
            loop {
                match cur.next() {
                    Some(Token::Number(n, _)) => args.push(n.clone()),
                    Some(Token::Comma) => {}
                    Some(Token::RParen) => break,
                    other => {
                        return Err(format!(
                            "unexpected `{}` in the type of column `{name}`",
                            other.map_or_else(String::new, |t| t.to_string())
                        ));
                    }
                }
            }
        }
    }
    let mut unsigned = data_type == "serial";
    let data_type = if data_type == "serial" {
        "bigint".to_owned()
    } else {
        data_type
    };
    let mut inline_pk = false;
    let mut place = None;
    let mut previous_unique = false;
    let mut json_checked = false;
    while !cur.at_end() && !matches!(cur.peek(), Some(Token::Comma | Token::RParen)) {
        let unique_before = previous_unique;
        previous_unique = false;
        if cur.eat_kw("UNSIGNED") || cur.eat_kw("ZEROFILL") {
            unsigned = true;
        } else if cur.eat_kw("SIGNED") {
            unsigned = false;
        } else if cur.eat_kws(&["CHARACTER", "SET"])
            || cur.eat_kw("CHARSET")
            || cur.eat_kws(&["CHAR", "SET"])
        {
            charset = Some(cur.name_or_string()?.to_ascii_lowercase());
        } else if cur.eat_kw("COLLATE") {
            let collation = cur.name_or_string()?;
            // An explicit CHARACTER SET wins; a collation alone picks its charset.
            if charset.is_none() {
                charset = charset_of_collation(&collation);
            }
        } else if cur.eat_kw("BYTE") {
            // CHAR(n) BYTE is BINARY(n).
            charset = Some("binary".into());
        } else if cur.eat_kw("ASCII") {
            charset = Some("latin1".into());
        } else if cur.eat_kw("UNICODE") {
            charset = Some("ucs2".into());
        } else if cur.eat_kws(&["PRIMARY", "KEY"]) {
            inline_pk = true;
        } else if cur.eat_kw("UNIQUE") {
            previous_unique = true;
        } else if cur.eat_kw("KEY") {
            // A bare KEY in a column definition means PRIMARY KEY; UNIQUE KEY does not.
            if !unique_before {
                inline_pk = true;
            }
        } else if cur.eat_kw("FIRST") {
            place = Some(Place::First);
        } else if cur.eat_kw("AFTER") {
            place = Some(Place::After(cur.ident()?));
        } else if cur.mariadb && json_valid_check(cur, &name) {
            // MariaDB's JSON, as `SHOW CREATE TABLE` and mysqldump spell it (on MySQL, a
            // text column with this check is text, as Maxwell has it).
            json_checked = true;
            cur.next();
            cur.skip_one()?;
        } else if cur.is_kw("WITH") && cur.is_kw_at(1, "SYSTEM") {
            return Err(format!(
                "column `{name}` is system-versioned: MariaDB adds hidden columns this version does not model"
            ));
        } else if cur.eat_kw("REFERENCES") {
            // REFERENCES t (cols) [MATCH ..] [ON DELETE ..] [ON UPDATE ..]: all skipped.
            cur.table_name()?;
        } else {
            cur.skip_one()?;
        }
    }
    let fsp = matches!(data_type.as_str(), "datetime" | "timestamp" | "time")
        .then(|| args.first().and_then(|a| a.parse::<u8>().ok()).unwrap_or(0));
    if ColumnDef::is_binary_type(&data_type) {
        charset = Some("binary".into());
    }
    if data_type == "json" {
        // MariaDB's JSON is LONGTEXT COLLATE utf8mb4_bin; MySQL's is binary JSON, for
        // which the charset is unused.
        charset = Some("utf8mb4".into());
    }
    if !ColumnDef::is_text_type(&data_type) && !ColumnDef::is_binary_type(&data_type) {
        charset = None;
    }
    // Text checked with `json_valid` is MariaDB's JSON, its charset kept (as Maxwell's
    // capture marks it; `docs/format.md`).
    let data_type = if json_checked
        && ColumnDef::is_text_type(&data_type)
        && !matches!(data_type.as_str(), "enum" | "set")
    {
        "json".to_owned()
    } else {
        data_type
    };
    Ok((
        ColumnDef {
            name,
            data_type,
            unsigned,
            charset,
            labels,
            fsp,
        },
        inline_pk,
        place,
    ))
}

/// Whether `CHECK (json_valid(column))` comes next: the check MariaDB gives a `JSON`
/// column, which is then text to the binlog.
fn json_valid_check(cur: &Cursor<'_>, column: &str) -> bool {
    cur.is_kw("CHECK")
        && cur.peek_at(1) == Some(&Token::LParen)
        && cur.is_kw_at(2, "json_valid")
        && cur.peek_at(3) == Some(&Token::LParen)
        && matches!(cur.peek_at(4), Some(Token::Word(w)) if w.value.eq_ignore_ascii_case(column))
        && cur.peek_at(5) == Some(&Token::RParen)
        && cur.peek_at(6) == Some(&Token::RParen)
}

/// The type name at the cursor, synonyms resolved, with the charset some names imply.
fn data_type(cur: &mut Cursor<'_>) -> Parse<(String, Option<String>)> {
    let utf8 = || Some("utf8mb3".to_owned());
    if cur.eat_kw("NATIONAL") {
        let ty = if cur.eat_kw("VARCHAR")
            || cur.eat_kws(&["CHAR", "VARYING"])
            || cur.eat_kws(&["CHARACTER", "VARYING"])
        {
            "varchar"
        } else if cur.eat_kw("CHAR") || cur.eat_kw("CHARACTER") {
            "char"
        } else {
            return Err(format!("unknown NATIONAL type {}", cur.describe()));
        };
        return Ok((ty.into(), utf8()));
    }
    if cur.eat_kws(&["NCHAR", "VARCHAR"])
        || cur.eat_kws(&["NCHAR", "VARYING"])
        || cur.eat_kw("NVARCHAR")
    {
        return Ok(("varchar".into(), utf8()));
    }
    if cur.eat_kw("NCHAR") {
        return Ok(("char".into(), utf8()));
    }
    if cur.eat_kws(&["LONG", "VARBINARY"]) {
        return Ok(("mediumblob".into(), None));
    }
    if cur.eat_kws(&["LONG", "VARCHAR"]) || cur.eat_kws(&["LONG", "CHAR", "VARYING"]) {
        return Ok(("mediumtext".into(), None));
    }
    if cur.eat_kws(&["CHAR", "VARYING"]) || cur.eat_kws(&["CHARACTER", "VARYING"]) {
        return Ok(("varchar".into(), None));
    }
    if cur.eat_kws(&["DOUBLE", "PRECISION"]) {
        return Ok(("double".into(), None));
    }
    let word = match cur.next() {
        Some(Token::Word(w)) if w.quote_style.is_none() => w.value.to_ascii_lowercase(),
        other => {
            return Err(format!(
                "expected a column type but found {}",
                other.map_or("the end".into(), |t| format!("`{t}`"))
            ));
        }
    };
    let ty = match word.as_str() {
        "integer" | "int4" => "int",
        "int1" | "bool" | "boolean" => "tinyint",
        "int2" => "smallint",
        "int3" | "middleint" => "mediumint",
        "int8" => "bigint",
        "dec" | "numeric" | "fixed" => "decimal",
        "real" | "float8" => "double",
        "float4" => "float",
        "character" => "char",
        "long" => {
            // LONG alone is MEDIUMTEXT; `LONG VARBINARY`/`LONG VARCHAR` were handled above.
            "mediumtext"
        }
        other => return Ok((other.to_owned(), None)),
    };
    Ok((ty.to_owned(), None))
}

/// Text columns without an explicit charset take the table's.
fn fill_charsets(columns: &mut [ColumnDef], table_charset: &str) {
    for c in columns {
        if c.charset.is_none() && ColumnDef::is_text_type(&c.data_type) {
            c.charset = Some(table_charset.to_owned());
        }
    }
}

fn known_table<'c>(
    catalog: &'c mut Catalog,
    name: &TableName,
    touched: &mut Touched,
) -> Parse<&'c mut TableDef> {
    touched.tables.push(name.clone());
    match catalog
        .databases
        .get_mut(&name.0)
        .and_then(|d| d.tables.get_mut(&name.1))
    {
        Some(TableEntry::Known(def)) => Ok(def),
        Some(TableEntry::Unknown { reason }) => Err(format!(
            "`{}`.`{}` is already unknown ({reason})",
            name.0, name.1
        )),
        None => Err(format!("`{}`.`{}` is not tracked", name.0, name.1)),
    }
}

fn alter_table(cur: &mut Cursor<'_>, catalog: &mut Catalog, touched: &mut Touched) -> Parse<()> {
    let if_exists = cur.eat_kws(&["IF", "EXISTS"]);
    let name = cur.table_name()?;
    if if_exists && catalog.table(&name.0, &name.1).is_none() {
        touched.tables.push(name);
        return Ok(());
    }
    // Split the specification list at top-level commas.
    let mut specs: Vec<(usize, usize)> = Vec::new();
    let mut start = cur.pos;
    while !cur.at_end() {
        if cur.eat(&Token::Comma) {
            specs.push((start, cur.pos - 1));
            start = cur.pos;
        } else if (cur.is_kw("PARTITION") && cur.is_kw_at(1, "BY"))
            || (cur.is_kw("REMOVE") && cur.is_kw_at(1, "PARTITIONING"))
        {
            // Partitioning clauses follow the list without a comma and change no columns.
            break;
        } else {
            cur.skip_one()?;
        }
    }
    if cur.pos > start {
        specs.push((start, cur.pos));
    }

    // A rename's target is named before anything can fail, so that a statement that
    // cannot be followed still reports both names.
    for &(from, to) in &specs {
        let mut spec = Cursor {
            tokens: &cur.tokens[..to],
            pos: from,
            default_db: cur.default_db,
            fold: cur.fold,
            mariadb: cur.mariadb,
        };
        if spec.eat_kw("RENAME")
            && !spec.is_kw("COLUMN")
            && !spec.is_kw("INDEX")
            && !spec.is_kw("KEY")
        {
            if !spec.eat_kw("TO") {
                spec.eat_kw("AS");
            }
            if let Ok(target) = spec.table_name() {
                touched.tables.push(target);
            }
        }
    }

    let mut def = known_table(catalog, &name, touched)?.clone();
    let old = def.clone();
    let mut new_name = None;

    // Table charset options first: columns added or redefined in the same statement
    // take the new default. Table options need no commas between them, so a spec that
    // opens with one is read to its end.
    let database_charset = catalog.database_charset(&name.0);
    for &(from, to) in &specs {
        let mut spec = Cursor {
            tokens: &cur.tokens[..to],
            pos: from,
            default_db: cur.default_db,
            fold: cur.fold,
            mariadb: cur.mariadb,
        };
        if spec.eat_kws(&["CONVERT", "TO"]) {
            let mut charset = def.charset.clone();
            if !charset_option(&mut spec, &mut charset, &database_charset)? {
                return Err("CONVERT TO without a charset".into());
            }
            // An optional COLLATE after CHARACTER SET names the same charset.
            charset_option(&mut spec, &mut charset.clone(), &database_charset)?;
            def.charset = charset.clone();
            for c in &mut def.columns {
                if c.data_type != "json"
                    && ColumnDef::is_text_type(&c.data_type)
                    && c.charset.as_deref() != Some("binary")
                {
                    c.charset = Some(charset.clone());
                }
            }
        } else if is_charset_option(&spec) || NO_OP_SPECS.iter().any(|kw| spec.is_kw(kw)) {
            let mut charset = def.charset.clone();
            while !spec.at_end() {
                if !charset_option(&mut spec, &mut charset, &database_charset)? {
                    spec.skip_one()?;
                }
            }
            def.charset = charset;
        }
    }
    let mut names_used = Vec::new();
    for &(from, to) in &specs {
        let mut spec = Cursor {
            tokens: &cur.tokens[..to],
            pos: from,
            default_db: cur.default_db,
            fold: cur.fold,
            mariadb: cur.mariadb,
        };
        alter_spec(&mut spec, &mut def, &mut new_name, &mut names_used)?;
    }

    let to = new_name.unwrap_or_else(|| name.clone());
    touched.effects.push(Effect::TableAlter {
        database: name.0.clone(),
        table: name.1.clone(),
        old,
        new_database: to.0.clone(),
        new_table: to.1.clone(),
        def: def.clone(),
    });
    let entry = TableEntry::Known(def);
    if to != name {
        catalog.remove_table(&name.0, &name.1);
        catalog.put_table(&to.0, &to.1, entry);
    } else {
        catalog.put_table(&name.0, &name.1, entry);
    }
    Ok(())
}

/// Keywords that open an ALTER TABLE specification changing no column, name or key.
const NO_OP_SPECS: &[&str] = &[
    "ALGORITHM",
    "LOCK",
    "ENGINE",
    "TYPE",
    "AUTO_INCREMENT",
    "AVG_ROW_LENGTH",
    "CHECKSUM",
    "COMMENT",
    "COMPRESSION",
    "CONNECTION",
    "DATA",
    "INDEX",
    "DELAY_KEY_WRITE",
    "ENCRYPTION",
    "ENCRYPTION_KEY_ID",
    "ENCRYPTED",
    "INSERT_METHOD",
    "KEY_BLOCK_SIZE",
    "MAX_ROWS",
    "MIN_ROWS",
    "PACK_KEYS",
    "PASSWORD",
    "ROW_FORMAT",
    "STATS_AUTO_RECALC",
    "STATS_PERSISTENT",
    "STATS_SAMPLE_PAGES",
    "TABLESPACE",
    "UNION",
    "FORCE",
    "ORDER",
    "ENABLE",
    "DISABLE",
    "DISCARD",
    "IMPORT",
    "ANALYZE",
    "CHECK",
    "OPTIMIZE",
    "REBUILD",
    "REPAIR",
    "TRUNCATE",
    "COALESCE",
    "REORGANIZE",
    "EXCHANGE",
    "PARTITION",
    "REMOVE",
    "UPGRADE",
    "SECONDARY_ENGINE",
    "SECONDARY_ENGINE_ATTRIBUTE",
    "ENGINE_ATTRIBUTE",
    "AUTOEXTEND_SIZE",
    "PAGE_CHECKSUM",
    "PAGE_COMPRESSED",
    "PAGE_COMPRESSION_LEVEL",
    "TRANSACTIONAL",
    "IETF_QUOTES",
    "SEQUENCE",
    "WITH",
    "WITHOUT",
    "NOWAIT",
    "WAIT",
    "VALIDATION",
];

/// The server resolves every specification of one ALTER TABLE against the table as it
/// was, while this reader applies them one after another. The two agree unless a column
/// name is reused within the statement (`RENAME COLUMN a TO b, RENAME COLUMN b TO a`), so a
/// specification whose source column an earlier one already renamed, redefined, dropped or
/// created is refused rather than applied wrongly.
fn claim_source(names_used: &mut Vec<String>, column: &str) -> Parse<()> {
    if names_used.iter().any(|n| n.eq_ignore_ascii_case(column)) {
        return Err(format!(
            "column `{column}` is named by two specifications of one ALTER TABLE"
        ));
    }
    names_used.push(column.to_owned());
    Ok(())
}

fn alter_spec(
    spec: &mut Cursor<'_>,
    def: &mut TableDef,
    new_name: &mut Option<TableName>,
    names_used: &mut Vec<String>,
) -> Parse<()> {
    if spec.at_end() {
        return Ok(());
    }
    if spec.eat_kw("ADD") {
        let column_kw = spec.eat_kw("COLUMN");
        let if_not_exists = spec.eat_kws(&["IF", "NOT", "EXISTS"]);
        if !column_kw {
            if spec.is_kw("SYSTEM") && spec.is_kw_at(1, "VERSIONING") {
                return Err(
                    "ADD SYSTEM VERSIONING adds hidden columns this version does not model".into(),
                );
            }
            if spec.is_kw("PARTITION") || spec.eat_kws(&["PERIOD", "FOR"]) {
                return Ok(());
            }
            match constraint(spec)? {
                Some(Some(columns)) => {
                    def.primary_key = columns;
                    return Ok(());
                }
                Some(None) => return Ok(()),
                None => {}
            }
        }
        if spec.eat(&Token::LParen) {
            // ADD [COLUMN] (a INT, b INT)
            loop {
                let (mut column, inline_pk, _) = column_definition(spec)?;
                fill_charsets(std::slice::from_mut(&mut column), &def.charset);
                names_used.push(column.name.clone());
                add_column(def, column, inline_pk, None, if_not_exists)?;
                if spec.eat(&Token::Comma) {
                    continue;
                }
                spec.expect(&Token::RParen)?;
                return Ok(());
            }
        }
        let (mut column, inline_pk, place) = column_definition(spec)?;
        fill_charsets(std::slice::from_mut(&mut column), &def.charset);
        names_used.push(column.name.clone());
        return add_column(def, column, inline_pk, place, if_not_exists);
    }
    if spec.eat_kw("DROP") {
        if spec.eat_kws(&["PRIMARY", "KEY"]) {
            def.primary_key.clear();
            return Ok(());
        }
        let is_other = [
            "INDEX",
            "KEY",
            "FOREIGN",
            "CHECK",
            "CONSTRAINT",
            "PARTITION",
        ]
        .iter()
        .any(|kw| spec.is_kw(kw))
            || (spec.is_kw("PERIOD") && spec.is_kw_at(1, "FOR"))
            || (spec.is_kw("SYSTEM") && spec.is_kw_at(1, "VERSIONING"));
        if is_other {
            // `DROP INDEX `PRIMARY`` and `DROP CONSTRAINT `PRIMARY`` also drop the key.
            spec.next();
            if let Ok(index) = spec.ident()
                && index.eq_ignore_ascii_case("PRIMARY")
            {
                def.primary_key.clear();
            }
            return Ok(());
        }
        spec.eat_kw("COLUMN");
        let if_exists = spec.eat_kws(&["IF", "EXISTS"]);
        let column = spec.ident()?;
        claim_source(names_used, &column)?;
        match def.column_index(&column) {
            Some(i) => {
                def.columns.remove(i);
                def.primary_key.retain(|k| !k.eq_ignore_ascii_case(&column));
            }
            None if if_exists => {}
            None => return Err(format!("DROP COLUMN `{column}`: no such column")),
        }
        return Ok(());
    }
    if spec.eat_kw("CHANGE") {
        spec.eat_kw("COLUMN");
        let if_exists = spec.eat_kws(&["IF", "EXISTS"]);
        let old = spec.ident()?;
        claim_source(names_used, &old)?;
        let (mut column, inline_pk, place) = column_definition(spec)?;
        fill_charsets(std::slice::from_mut(&mut column), &def.charset);
        if !column.name.eq_ignore_ascii_case(&old) {
            claim_source(names_used, &column.name)?;
        }
        return redefine(def, &old, column, inline_pk, place, if_exists);
    }
    if spec.eat_kw("MODIFY") {
        spec.eat_kw("COLUMN");
        let if_exists = spec.eat_kws(&["IF", "EXISTS"]);
        let (mut column, inline_pk, place) = column_definition(spec)?;
        fill_charsets(std::slice::from_mut(&mut column), &def.charset);
        let old = column.name.clone();
        claim_source(names_used, &old)?;
        return redefine(def, &old, column, inline_pk, place, if_exists);
    }
    if spec.eat_kw("RENAME") {
        if spec.eat_kw("COLUMN") {
            spec.eat_kws(&["IF", "EXISTS"]);
            let old = spec.ident()?;
            if !spec.eat_kw("TO") {
                return Err("RENAME COLUMN without TO".into());
            }
            let new = spec.ident()?;
            claim_source(names_used, &old)?;
            claim_source(names_used, &new)?;
            let i = def
                .column_index(&old)
                .ok_or_else(|| format!("RENAME COLUMN `{old}`: no such column"))?;
            def.columns[i].name = new.clone();
            for k in &mut def.primary_key {
                if k.eq_ignore_ascii_case(&old) {
                    *k = new.clone();
                }
            }
            return Ok(());
        }
        if spec.eat_kw("INDEX") || spec.eat_kw("KEY") {
            return Ok(());
        }
        if !spec.eat_kw("TO") {
            spec.eat_kw("AS");
        }
        *new_name = Some(spec.table_name()?);
        return Ok(());
    }
    if spec.eat_kw("ALTER") {
        // ALTER [COLUMN] c SET DEFAULT / DROP DEFAULT / SET VISIBLE; ALTER INDEX ...
        return Ok(());
    }
    if spec.eat_kw("CONVERT") || is_charset_option(spec) {
        // Handled before the column specifications.
        return Ok(());
    }
    if NO_OP_SPECS.iter().any(|kw| spec.is_kw(kw)) {
        return Ok(());
    }
    Err(format!(
        "ALTER TABLE specification starting with {} is not understood",
        spec.describe()
    ))
}

fn place_index(def: &TableDef, place: &Option<Place>) -> Parse<Option<usize>> {
    Ok(match place {
        None => None,
        Some(Place::First) => Some(0),
        Some(Place::After(after)) => Some(
            def.column_index(after)
                .ok_or_else(|| format!("AFTER `{after}`: no such column"))?
                + 1,
        ),
    })
}

fn add_column(
    def: &mut TableDef,
    column: ColumnDef,
    inline_pk: bool,
    place: Option<Place>,
    if_not_exists: bool,
) -> Parse<()> {
    if def.column_index(&column.name).is_some() {
        return if if_not_exists {
            Ok(())
        } else {
            Err(format!("ADD COLUMN `{}`: the column exists", column.name))
        };
    }
    if inline_pk {
        def.primary_key = vec![column.name.clone()];
    }
    match place_index(def, &place)? {
        Some(i) => def.columns.insert(i, column),
        None => def.columns.push(column),
    }
    Ok(())
}

fn redefine(
    def: &mut TableDef,
    old: &str,
    column: ColumnDef,
    inline_pk: bool,
    place: Option<Place>,
    if_exists: bool,
) -> Parse<()> {
    let Some(i) = def.column_index(old) else {
        return if if_exists {
            Ok(())
        } else {
            Err(format!("`{old}`: no such column"))
        };
    };
    let new = column.name.clone();
    for k in &mut def.primary_key {
        if k.eq_ignore_ascii_case(old) {
            *k = new.clone();
        }
    }
    if inline_pk {
        def.primary_key = vec![new];
    }
    def.columns.remove(i);
    match place_index(def, &place)? {
        Some(at) => def.columns.insert(at, column),
        None => def.columns.insert(i, column),
    }
    Ok(())
}

fn drop_tables(cur: &mut Cursor<'_>, catalog: &mut Catalog, touched: &mut Touched) -> Parse<()> {
    cur.eat_kws(&["IF", "EXISTS"]);
    loop {
        let name = cur.table_name()?;
        if catalog.remove_table(&name.0, &name.1).is_some() {
            touched.effects.push(Effect::TableDrop {
                database: name.0.clone(),
                table: name.1.clone(),
            });
        }
        touched.tables.push(name);
        if !cur.eat(&Token::Comma) {
            return Ok(());
        }
    }
}

fn rename_tables(cur: &mut Cursor<'_>, catalog: &mut Catalog, touched: &mut Touched) -> Parse<()> {
    // Every name first, so that a failure still reports all the tables involved.
    let mut pairs = Vec::new();
    loop {
        let from = cur.table_name()?;
        if !cur.eat_kw("TO") {
            return Err(format!("expected TO but found {}", cur.describe()));
        }
        let to = cur.table_name()?;
        touched.tables.push(from.clone());
        touched.tables.push(to.clone());
        pairs.push((from, to));
        if !cur.eat(&Token::Comma) {
            break;
        }
    }
    for (from, to) in pairs {
        // Renames apply one after another, so `a TO tmp, b TO a, tmp TO b` swaps.
        let entry = catalog
            .remove_table(&from.0, &from.1)
            .ok_or_else(|| format!("RENAME TABLE `{}`.`{}`: not tracked", from.0, from.1))?;
        if let TableEntry::Known(def) = &entry {
            touched.effects.push(Effect::TableAlter {
                database: from.0.clone(),
                table: from.1.clone(),
                old: def.clone(),
                new_database: to.0.clone(),
                new_table: to.1.clone(),
                def: def.clone(),
            });
        }
        catalog.put_table(&to.0, &to.1, entry);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
