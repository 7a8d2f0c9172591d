//! Where each field of a RON scenario sits in its source text. serde gives no spans, so after a
//! successful parse this small scanner walks the same text and records the line and column of
//! every struct field, list element and map key under a path such as `world.patch_size`,
//! `items[2].interactions["onion"]`. Semantic checks report a path; the index turns it into
//! `LINE:COL`. The scanner is forgiving: on text it does not understand it stops and keeps what
//! it has, since its only job is to point at things.

/// A 1-based line and column (columns count characters, as ron's do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// One recorded field, element or map entry: where it starts (its name or key) and where its
/// value ends (`None` when the text broke off inside it).
#[derive(Debug)]
struct Entry {
    path: String,
    start: Pos,
    end: Option<Pos>,
}

/// Positions of every field path of one RON document, in document order.
#[derive(Debug, Default)]
pub struct SourceIndex {
    entries: Vec<Entry>,
}

impl SourceIndex {
    /// Scans `src`.
    pub fn build(src: &str) -> Self {
        let mut scanner =
            Scanner { chars: src.chars().collect(), at: 0, pos: Pos { line: 1, col: 1 }, out: Vec::new() };
        scanner.document();
        SourceIndex { entries: scanner.out }
    }

    /// Where the field or element at `path` starts (its name for struct fields, its key for
    /// map entries).
    pub fn find(&self, path: &str) -> Option<Pos> {
        self.entries.iter().find(|e| e.path == path).map(|e| e.start)
    }

    /// Where `path` starts, or else its closest recorded ancestor.
    pub fn find_or_parent(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.find(p) {
                return Some(pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// The innermost path whose text contains `pos` (the field an error at `pos` belongs to).
    pub fn path_at(&self, pos: Pos) -> Option<&str> {
        self.entries
            .iter()
            .filter(|e| e.start <= pos && e.end.is_none_or(|end| pos < end))
            .max_by_key(|e| e.start)
            .map(|e| e.path.as_str())
    }
}

struct Scanner {
    chars: Vec<char>,
    at: usize,
    pos: Pos,
    out: Vec<Entry>,
}

/// Why the scanner stopped early; never shown to users.
struct Stop;

type Scan = Result<(), Stop>;

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.at + k).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    /// Records `path` as starting here; returns its entry for [`Scanner::end`].
    fn begin(&mut self, path: &str) -> usize {
        self.out.push(Entry { path: path.to_string(), start: self.pos, end: None });
        self.out.len() - 1
    }

    /// Records that the entry's value ends here.
    fn end(&mut self, entry: usize) {
        self.out[entry].end = Some(self.pos);
    }

    fn expect(&mut self, c: char) -> Scan {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(Stop)
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                (Some('/'), Some('*')) => {
                    let mut depth = 0usize;
                    while let Some(c) = self.bump() {
                        match (c, self.peek()) {
                            ('/', Some('*')) => {
                                self.bump();
                                depth += 1;
                            }
                            ('*', Some('/')) => {
                                self.bump();
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn document(&mut self) {
        self.skip_trivia();
        // Extensions such as `#![enable(implicit_some)]`.
        while self.peek() == Some('#') {
            while let Some(c) = self.bump() {
                if c == ']' {
                    break;
                }
            }
            self.skip_trivia();
        }
        let _ = self.value("");
    }

    fn is_token_char(c: char) -> bool {
        c.is_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')
    }

    fn token(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|&c| Self::is_token_char(c)) {
            s.push(c);
            self.bump();
        }
        s
    }

    fn string(&mut self) -> Result<String, Stop> {
        self.expect('"')?;
        let mut s = String::new();
        loop {
            match self.bump().ok_or(Stop)? {
                '"' => return Ok(s),
                '\\' => {
                    s.push(self.bump().ok_or(Stop)?);
                }
                c => s.push(c),
            }
        }
    }

    fn raw_string(&mut self) -> Result<String, Stop> {
        self.expect('r')?;
        let mut hashes = 0;
        while self.peek() == Some('#') {
            self.bump();
            hashes += 1;
        }
        self.expect('"')?;
        let mut s = String::new();
        loop {
            let c = self.bump().ok_or(Stop)?;
            if c == '"' && (0..hashes).all(|k| self.peek_at(k) == Some('#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                return Ok(s);
            }
            s.push(c);
        }
    }

    fn value(&mut self, path: &str) -> Scan {
        self.skip_trivia();
        match self.peek().ok_or(Stop)? {
            '(' => self.parens(path),
            '[' => {
                self.bump();
                let mut index = 0;
                loop {
                    self.skip_trivia();
                    if self.peek() == Some(']') {
                        self.bump();
                        return Ok(());
                    }
                    let child = format!("{path}[{index}]");
                    let entry = self.begin(&child);
                    self.value(&child)?;
                    self.end(entry);
                    self.separator(']')?;
                    index += 1;
                }
            }
            '{' => {
                self.bump();
                loop {
                    self.skip_trivia();
                    if self.peek() == Some('}') {
                        self.bump();
                        return Ok(());
                    }
                    let start = self.pos;
                    let key = match self.peek() {
                        Some('"') => self.string()?,
                        _ => self.token(),
                    };
                    if key.is_empty() {
                        return Err(Stop);
                    }
                    let child = format!("{path}[{key:?}]");
                    self.out.push(Entry { path: child.clone(), start, end: None });
                    let entry = self.out.len() - 1;
                    self.skip_trivia();
                    self.expect(':')?;
                    self.value(&child)?;
                    self.end(entry);
                    self.separator('}')?;
                }
            }
            '"' => self.string().map(drop),
            'r' if matches!(self.peek_at(1), Some('#' | '"')) => self.raw_string().map(drop),
            '\'' => {
                self.bump();
                if self.bump() == Some('\\') {
                    self.bump();
                }
                self.expect('\'')
            }
            c if Self::is_token_char(c) => {
                self.token();
                self.skip_trivia();
                if self.peek() == Some('(') { self.parens(path) } else { Ok(()) }
            }
            _ => Err(Stop),
        }
    }

    /// After an element: a comma, or the closing bracket (left for the caller).
    fn separator(&mut self, close: char) -> Scan {
        self.skip_trivia();
        match self.peek() {
            Some(',') => {
                self.bump();
                Ok(())
            }
            Some(c) if c == close => Ok(()),
            _ => Err(Stop),
        }
    }

    /// `( … )`: named fields `name: value` or positional elements.
    fn parens(&mut self, path: &str) -> Scan {
        self.expect('(')?;
        let mut index = 0;
        loop {
            self.skip_trivia();
            if self.peek() == Some(')') {
                self.bump();
                return Ok(());
            }
            if let Some(name) = self.field_name() {
                let child = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                let entry = self.begin(&child);
                self.token();
                self.skip_trivia();
                self.expect(':')?;
                self.value(&child)?;
                self.end(entry);
            } else {
                let child = format!("{path}[{index}]");
                let entry = self.begin(&child);
                self.value(&child)?;
                self.end(entry);
                index += 1;
            }
            self.separator(')')?;
        }
    }

    /// If the text ahead is `identifier :`, the identifier.
    fn field_name(&self) -> Option<String> {
        let mut k = 0;
        let mut name = String::new();
        while let Some(c) = self.peek_at(k).filter(|&c| c.is_alphanumeric() || c == '_') {
            name.push(c);
            k += 1;
        }
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        while self.peek_at(k).is_some_and(char::is_whitespace) {
            k += 1;
        }
        (self.peek_at(k) == Some(':') && self.peek_at(k + 1) != Some(':')).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"// a scenario
Scenario(
    name: "x",
    world: (patch_size: 32),
    items: [
        (
            name: "banana",
            interactions: {
                "onion": PiecewiseBox(l1: 10, l2: 200, c1: 0, c2: -6), /* comment */
            },
            intensity: Constant(-5.3),
        ),
    ],
)
"#;

    #[test]
    fn records_fields_elements_and_keys() {
        let index = SourceIndex::build(SRC);
        assert_eq!(index.find("name"), Some(Pos { line: 3, col: 5 }));
        assert_eq!(index.find("world.patch_size"), Some(Pos { line: 4, col: 13 }));
        assert_eq!(index.find("items[0]"), Some(Pos { line: 6, col: 9 }));
        assert_eq!(index.find("items[0].name"), Some(Pos { line: 7, col: 13 }));
        assert_eq!(index.find(r#"items[0].interactions["onion"]"#), Some(Pos { line: 9, col: 17 }));
        assert_eq!(index.find(r#"items[0].interactions["onion"].l2"#), Some(Pos { line: 9, col: 47 }));
        assert_eq!(index.find("items[0].intensity[0]"), Some(Pos { line: 11, col: 33 }));
    }

    #[test]
    fn falls_back_to_the_closest_ancestor() {
        let index = SourceIndex::build(SRC);
        assert_eq!(index.find_or_parent("world.mcmc_iterations"), index.find("world"));
        assert_eq!(index.path_at(Pos { line: 4, col: 26 }), Some("world.patch_size"));
        // The closing parenthesis of a struct belongs to the struct, not its last field.
        assert_eq!(index.path_at(Pos { line: 9, col: 69 }), Some(r#"items[0].interactions["onion"]"#));
        assert_eq!(index.path_at(Pos { line: 15, col: 1 }), None);
    }

    #[test]
    fn survives_broken_text() {
        let index = SourceIndex::build("Scenario(name: \"x\", world: (patch_size: ");
        assert_eq!(index.find("name"), Some(Pos { line: 1, col: 10 }));
    }
}
