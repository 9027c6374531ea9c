//! Span-aware reading of a parsed `toml_edit::Document`: a [`Section`] hands out typed values
//! with their byte spans, and every wrong type, unknown key or missing key becomes a
//! [`ConfigError`] in the shared [`Ctx`] while reading goes on. Byte offsets become 1-based
//! line and column (in characters) only when an error is recorded.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::ConfigError;

pub(super) type Span = Range<usize>;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub(super) struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// The errors found so far, and what is needed to place them.
pub(super) struct Ctx<'t> {
    path: String,
    text: &'t str,
    line_starts: Vec<usize>,
    errors: Vec<ConfigError>,
    resolve: super::load::Resolver,
}

impl<'t> Ctx<'t> {
    pub fn new(text: &'t str, path: String, resolve: super::load::Resolver) -> Self {
        let line_starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Ctx {
            path,
            text,
            line_starts,
            errors: Vec::new(),
            resolve,
        }
    }

    /// How upstream names are resolved.
    pub fn resolver(&self) -> super::load::Resolver {
        self.resolve
    }

    /// 1-based line and column (counted in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = match self.text.get(start..offset) {
            Some(s) => s.chars().count(),
            None => offset - start,
        };
        (line, col + 1)
    }

    pub fn error(&mut self, span: &Span, message: impl Into<String>) {
        let (line, col) = self.position(span.start);
        self.errors.push(ConfigError {
            path: self.path.clone(),
            line,
            col,
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Every error, in the order they appear in the file.
    pub fn into_errors(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|e| (e.line, e.col));
        self.errors
    }
}

/// A table: a `[header]` table, one `[[array]]` entry, or an inline table.
#[derive(Clone)]
pub(super) struct Section<'d> {
    /// How messages name it: `[server]`, `[[function]]`, `[[domain.route]]`.
    pub name: &'static str,
    table: &'d dyn TableLike,
    /// Its header (or the inline table); errors about the table as a whole point here.
    pub span: Span,
}

impl<'d> Section<'d> {
    pub fn new(name: &'static str, table: &'d dyn TableLike, span: Span) -> Self {
        Section { name, table, span }
    }

    /// Reports every key that is not in `allowed`.
    pub fn check_keys(&self, ctx: &mut Ctx, allowed: &[&str]) {
        for (key, _) in self.table.iter() {
            if !allowed.contains(&key) {
                ctx.error(
                    &self.key_span(key),
                    format!(
                        "unknown key `{key}` in {} (expected one of: {})",
                        self.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    pub fn key_span(&self, key: &str) -> Span {
        self.table
            .key(key)
            .and_then(|k| k.span())
            .unwrap_or_else(|| self.span.clone())
    }

    /// The item under `key` and the span of its value (or of its key, or of this table).
    fn item(&self, key: &str) -> Option<(&'d Item, Span)> {
        let item = self.table.get(key)?;
        let span = item
            .span()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.key_span(key));
        Some((item, span))
    }

    fn wrong_type(&self, ctx: &mut Ctx, key: &str, expected: &str, item: &Item, span: &Span) {
        ctx.error(
            span,
            format!(
                "`{key}` in {} must be {expected}, not {}",
                self.name,
                describe(item)
            ),
        );
    }

    /// Reports a missing required key at this table's header.
    pub fn missing(&self, ctx: &mut Ctx, key: &str) {
        ctx.error(
            &self.span,
            format!("{} is missing the required key `{key}`", self.name),
        );
    }

    pub fn str(&self, ctx: &mut Ctx, key: &str) -> Option<Spanned<&'d str>> {
        let (item, span) = self.item(key)?;
        match item.as_str() {
            Some(value) => Some(Spanned { value, span }),
            None => {
                self.wrong_type(ctx, key, "a string", item, &span);
                None
            }
        }
    }

    /// Like [`Section::str`], and reports the key's absence.
    pub fn required_str(&self, ctx: &mut Ctx, key: &str) -> Option<Spanned<&'d str>> {
        if self.table.get(key).is_none() {
            self.missing(ctx, key);
        }
        self.str(ctx, key)
    }

    pub fn bool(&self, ctx: &mut Ctx, key: &str) -> Option<bool> {
        let (item, span) = self.item(key)?;
        let b = item.as_bool();
        if b.is_none() {
            self.wrong_type(ctx, key, "a boolean (true or false)", item, &span);
        }
        b
    }

    /// A non-negative integer not below `min`.
    pub fn uint(&self, ctx: &mut Ctx, key: &str, min: u64) -> Option<Spanned<u64>> {
        let (item, span) = self.item(key)?;
        let Some(i) = item.as_integer() else {
            self.wrong_type(ctx, key, "an integer", item, &span);
            return None;
        };
        if i < 0 {
            ctx.error(
                &span,
                format!("`{key}` in {} must not be negative", self.name),
            );
            return None;
        }
        let value = i as u64;
        if value < min {
            ctx.error(
                &span,
                format!("`{key}` in {} must be at least {min}", self.name),
            );
            return None;
        }
        Some(Spanned { value, span })
    }

    /// An array of strings; a non-string element is reported at the element.
    pub fn str_array(&self, ctx: &mut Ctx, key: &str) -> Option<Spanned<Vec<Spanned<&'d str>>>> {
        let (item, span) = self.item(key)?;
        let Some(array) = item.as_array() else {
            self.wrong_type(ctx, key, "an array of strings", item, &span);
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        let mut ok = true;
        for v in array.iter() {
            let vspan = v.span().unwrap_or_else(|| span.clone());
            match v.as_str() {
                Some(s) => out.push(Spanned {
                    value: s,
                    span: vspan,
                }),
                None => {
                    ctx.error(
                        &vspan,
                        format!(
                            "`{key}` in {} must contain only strings, not {}",
                            self.name,
                            describe_value(v)
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(Spanned { value: out, span })
    }

    /// A sub-table (`[name]` or `name = { ... }`).
    pub fn table(&self, ctx: &mut Ctx, key: &str, name: &'static str) -> Option<Section<'d>> {
        let (item, span) = self.item(key)?;
        match item.as_table_like() {
            Some(t) => Some(Section::new(name, t, span)),
            None => {
                self.wrong_type(ctx, key, "a table", item, &span);
                None
            }
        }
    }

    /// An array of tables (`[[name]]` entries, or `name = [{ ... }, ...]`).
    pub fn tables(&self, ctx: &mut Ctx, key: &str, name: &'static str) -> Vec<Section<'d>> {
        let Some((item, span)) = self.item(key) else {
            return Vec::new();
        };
        match item {
            Item::ArrayOfTables(a) => a
                .iter()
                .map(|t| {
                    let s = t.span().unwrap_or_else(|| span.clone());
                    Section::new(name, t as &dyn TableLike, s)
                })
                .collect(),
            Item::Value(Value::Array(a)) => {
                let mut out = Vec::new();
                for v in a.iter() {
                    let vspan = v.span().unwrap_or_else(|| span.clone());
                    match v.as_inline_table() {
                        Some(t) => out.push(Section::new(name, t as &dyn TableLike, vspan)),
                        None => ctx.error(
                            &vspan,
                            format!(
                                "`{key}` in {} must contain only tables, not {}",
                                self.name,
                                describe_value(v)
                            ),
                        ),
                    }
                }
                out
            }
            _ => {
                self.wrong_type(
                    ctx,
                    key,
                    &format!("an array of tables (`{name}`)"),
                    item,
                    &span,
                );
                Vec::new()
            }
        }
    }
}

fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => describe_value(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

fn describe_value(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let text = "ab\ncé d\n\nx";
        let ctx = Ctx::new(text, "f".into(), super::super::load::offline_resolver);
        assert_eq!(ctx.position(0), (1, 1));
        assert_eq!(ctx.position(1), (1, 2));
        assert_eq!(ctx.position(3), (2, 1));
        assert_eq!(ctx.position(7), (2, 4)); // after the two-byte é
        assert_eq!(ctx.position(9), (3, 1));
        assert_eq!(ctx.position(10), (4, 1));
        assert_eq!(ctx.position(999), (4, 2));
        assert_eq!(ctx.position(5), (2, 3)); // inside é: counted in bytes, no panic
    }
}
