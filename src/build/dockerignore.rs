//! `.dockerignore` files with the Docker CLI's own semantics, so a context holds exactly what
//! `docker build` would send.
//!
//! The rules are those of moby's `ignorefile` reader and `patternmatcher`, including their
//! quirks: lines are trimmed and cleaned (`./a/` is `a`, a leading `/` is dropped), patterns are
//! anchored at the context root, `*` and `?` never cross `/`, `**` spans any number of
//! directories, `[...]` is a character class, `!` re-includes, and the last pattern that
//! matches wins. Docker turns each pattern into a Go regular expression; the few parts of that
//! syntax a pattern can produce are interpreted here the way Go's `regexp` does, so odd
//! patterns such as `[a*]` or `\d` match what they match for Docker.

use std::fmt;

/// A pattern as Docker's reader leaves it, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub pattern: String,
}

/// Reads the patterns of an ignore file: a UTF-8 BOM is dropped, lines starting with `#` are
/// comments, blank lines are skipped, and each pattern is trimmed and cleaned, keeping `!`.
pub fn read_patterns(text: &[u8]) -> Vec<Line> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut lines = Vec::new();
    let mut rest = text;
    let mut number = 0;
    while !rest.is_empty() {
        let (raw, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        number += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = String::from_utf8_lossy(raw);
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        lines.push(Line {
            number,
            pattern: cleaned,
        });
    }
    lines
}

/// Go's `filepath.Clean` on Unix: the shortest path naming the same place, lexically.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// Why a pattern was refused, as Docker would refuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub line: usize,
    pub pattern: String,
    pub reason: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: pattern `{}` is not valid: {}",
            self.line, self.pattern, self.reason
        )
    }
}

impl std::error::Error for PatternError {}

/// One compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The cleaned pattern without its `!`.
    cleaned: String,
    /// How many path components the pattern has, for the single-parent check of `matches`.
    dirs: usize,
    exclusion: bool,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Exact,
    Prefix(String),
    Suffix(String),
    Regex(Vec<Node>),
}

impl Pattern {
    /// The cleaned pattern, without `!`.
    pub fn as_str(&self) -> &str {
        &self.cleaned
    }

    /// Whether this is a `!` pattern.
    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|s| path == s)
            }
            Kind::Regex(nodes) => regex_matches(nodes, path),
        }
    }
}

/// The patterns of one ignore file, in order.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl Matcher {
    /// Compiles patterns as `patternmatcher.New` does, refusing the ones Docker refuses.
    pub fn new(lines: &[Line]) -> Result<Matcher, PatternError> {
        let mut matcher = Matcher::default();
        for line in lines {
            let refuse = |reason: &str| PatternError {
                line: line.number,
                pattern: line.pattern.clone(),
                reason: reason.to_owned(),
            };
            let trimmed = line.pattern.trim();
            if trimmed.is_empty() {
                continue;
            }
            let mut cleaned = clean(trimmed);
            let exclusion = cleaned.starts_with('!');
            if exclusion {
                if cleaned.len() == 1 {
                    return Err(refuse("`!` alone re-includes nothing"));
                }
                cleaned.remove(0);
                matcher.exclusions = true;
            }
            validate_glob(&cleaned).map_err(refuse)?;
            let kind = compile(&cleaned).map_err(|r| refuse(&r))?;
            matcher.patterns.push(Pattern {
                dirs: cleaned.split('/').count(),
                cleaned,
                exclusion,
                kind,
            });
        }
        Ok(matcher)
    }

    /// Whether any pattern starts with `!`.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// A new matcher with one more pattern at the end, such as the `!Dockerfile` that keeps the
    /// Dockerfile in the context.
    /// Docker adds the path as a pattern, so a name with glob characters acts as a glob.
    pub fn with_reinclude(&self, path: &str) -> Result<Matcher, PatternError> {
        let line = Line {
            number: 0,
            pattern: format!("!{path}"),
        };
        let mut matcher = self.clone();
        let extra = Matcher::new(std::slice::from_ref(&line))?;
        matcher.patterns.extend(extra.patterns);
        matcher.exclusions = true;
        Ok(matcher)
    }

    /// `patternmatcher.Matches`: the check the Docker CLI uses to decide whether the Dockerfile
    /// and `.dockerignore` are excluded, and the engine uses to drop them from the context. It
    /// looks at the path and at one ancestor only, the one as deep as the pattern.
    pub fn matches(&self, file: &str) -> bool {
        let file = clean(file);
        if file == "." {
            return false;
        }
        let parent = parent_of(&file);
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            let mut hit = pattern.matches(&file);
            if !hit && parent != "." && pattern.dirs <= parent_dirs.len() {
                hit = pattern.matches(&parent_dirs[..pattern.dirs].join("/"));
            }
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// `MatchesOrParentMatches`: whether the path or any of its ancestors is excluded, the
    /// last matching pattern winning.
    pub fn matches_or_parent_matches(&self, file: &str) -> bool {
        let file = clean(file);
        if file == "." {
            return false;
        }
        let mut matched = false;
        for pattern in &self.patterns {
            if pattern.exclusion != matched {
                continue;
            }
            if pattern.matches(&file) || ancestors(&file).any(|dir| pattern.matches(dir)) {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// `MatchesUsingParentResults`, the check Docker's context walker makes for each entry:
    /// `parent` is what the entry's directory got (`None` at the top), and the returned flags
    /// are what the entry's own children get. A pattern skipped for the parent is not
    /// considered matched by the child, as in Docker.
    pub fn matches_using_parent(&self, file: &str, parent: Option<&[bool]>) -> (bool, Vec<bool>) {
        let mut matched = false;
        let mut flags = vec![false; self.patterns.len()];
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent.is_some_and(|p| p[i]);
            if !hit {
                if pattern.exclusion != matched {
                    continue;
                }
                hit = pattern.matches(file);
                if !hit && parent.is_none() {
                    hit = ancestors(file).any(|dir| pattern.matches(dir));
                }
            }
            flags[i] = hit;
            if hit {
                matched = !pattern.exclusion;
            }
        }
        (matched, flags)
    }

    /// Whether Docker's walker enters an excluded directory: only when the text of some `!`
    /// pattern starts with the directory's path and a `/`.
    pub fn walks_into(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| format!("{}/", p.cleaned).starts_with(&dir_slash))
    }
}

fn parent_of(file: &str) -> &str {
    match file.rfind('/') {
        Some(0) => "/",
        Some(i) => &file[..i],
        None => ".",
    }
}

/// The ancestors of a relative path, outermost first: `a`, `a/b` for `a/b/c`.
fn ancestors(file: &str) -> impl Iterator<Item = &str> {
    file.match_indices('/').map(move |(i, _)| &file[..i])
}

/// The syntax check Docker makes with Go's `filepath.Match`: classes closed and not empty,
/// no range or class item missing, no `\` at the very end.
fn validate_glob(pattern: &str) -> Result<(), &'static str> {
    let bad_class = "a character class is not closed or has an empty item";
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return Err("it ends with `\\`");
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut items = 0;
                loop {
                    if items > 0 && chars.get(i) == Some(&']') {
                        i += 1;
                        break;
                    }
                    i = class_char(&chars, i).ok_or(bad_class)?;
                    if chars.get(i) == Some(&'-') {
                        i = class_char(&chars, i + 1).ok_or(bad_class)?;
                    }
                    items += 1;
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// One character of a `filepath.Match` class at `i`; the index after it, or `None` when Go
/// calls the pattern malformed.
fn class_char(chars: &[char], mut i: usize) -> Option<usize> {
    match chars.get(i)? {
        '-' | ']' => return None,
        '\\' => i += 1,
        _ => {}
    }
    chars.get(i)?;
    i += 1;
    // Go wants something after every class character: at least the closing bracket.
    chars.get(i)?;
    Some(i)
}

/// Turns a cleaned pattern into its kind exactly as `Pattern.compile` does, including which
/// patterns are matched as plain text, as a prefix, as a suffix or as a regular expression.
fn compile(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut regex = String::from("^");
    let mut detected = Detected::Exact;
    let mut pos = 0;
    let mut token = 0;
    while pos < chars.len() {
        let ch = chars[pos];
        pos += 1;
        match ch {
            '*' if chars.get(pos) == Some(&'*') => {
                pos += 1;
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        regex.push_str(".*");
                        detected = Detected::Regex;
                    }
                } else {
                    regex.push_str("(.*/)?");
                    detected = Detected::Regex;
                }
                if token == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                regex.push_str("[^/]*");
                detected = Detected::Regex;
            }
            '?' => {
                regex.push_str("[^/]");
                detected = Detected::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                regex.push('\\');
                regex.push(ch);
            }
            '\\' => {
                regex.push('\\');
                if let Some(&next) = chars.get(pos) {
                    regex.push(next);
                    pos += 1;
                    detected = Detected::Regex;
                }
            }
            '[' | ']' => {
                regex.push(ch);
                detected = Detected::Regex;
            }
            _ => regex.push(ch),
        }
        token += 1;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_owned()),
        Detected::Suffix => Kind::Suffix(pattern[2..].to_owned()),
        Detected::Regex => {
            regex.push('$');
            Kind::Regex(RegexParser::parse(&regex)?)
        }
    })
}

/// A node of the regular expressions Docker's patterns turn into, read with Go's syntax.
#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Class(Class),
    /// `.`: any character but a newline.
    Any,
    BeginText,
    EndText,
    WordBoundary(bool),
    Group(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

#[derive(Debug, Clone, Default)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }

    fn add_named(&mut self, ranges: &[(char, char)], negated: bool) {
        if !negated {
            self.ranges.extend_from_slice(ranges);
            return;
        }
        let mut sorted = ranges.to_vec();
        sorted.sort();
        let mut next = '\0';
        for (lo, hi) in sorted {
            if lo > next {
                self.ranges.push((next, char_before(lo)));
            }
            next = char_after(hi);
        }
        if next != char::MAX {
            self.ranges.push((next, char::MAX));
        }
    }
}

fn char_before(c: char) -> char {
    char::from_u32(c as u32 - 1).unwrap_or('\u{D7FF}')
}

fn char_after(c: char) -> char {
    char::from_u32(c as u32 + 1).unwrap_or(if c == char::MAX { c } else { '\u{E000}' })
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const SPACE_PERL: &[(char, char)] = &[('\t', '\n'), ('\x0C', '\r'), (' ', ' ')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];

fn posix_class(name: &str) -> Option<&'static [(char, char)]> {
    Some(match name {
        "alnum" => &[('0', '9'), ('A', 'Z'), ('a', 'z')],
        "alpha" => &[('A', 'Z'), ('a', 'z')],
        "ascii" => &[('\0', '\x7F')],
        "blank" => &[('\t', '\t'), (' ', ' ')],
        "cntrl" => &[('\0', '\x1F'), ('\x7F', '\x7F')],
        "digit" => DIGIT,
        "graph" => &[('!', '~')],
        "lower" => &[('a', 'z')],
        "print" => &[(' ', '~')],
        "punct" => &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')],
        "space" => &[('\t', '\r'), (' ', ' ')],
        "upper" => &[('A', 'Z')],
        "word" => WORD,
        "xdigit" => &[('0', '9'), ('A', 'F'), ('a', 'f')],
        _ => return None,
    })
}

fn perl_class(c: char) -> Option<(&'static [(char, char)], bool)> {
    Some(match c {
        'd' => (DIGIT, false),
        'D' => (DIGIT, true),
        's' => (SPACE_PERL, false),
        'S' => (SPACE_PERL, true),
        'w' => (WORD, false),
        'W' => (WORD, true),
        _ => return None,
    })
}

/// Reads the subset of Go's regular expression syntax that Docker's patterns can produce.
/// Escapes beyond it (`\p{...}`, `\Q...\E`, `\C`) are refused rather than guessed.
struct RegexParser {
    chars: Vec<char>,
    pos: usize,
}

impl RegexParser {
    fn parse(source: &str) -> Result<Vec<Node>, String> {
        let mut parser = RegexParser {
            chars: source.chars().collect(),
            pos: 0,
        };
        let nodes = parser.sequence()?;
        if parser.pos < parser.chars.len() {
            return Err("it has an unmatched `)`".into());
        }
        Ok(nodes)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn sequence(&mut self) -> Result<Vec<Node>, String> {
        let mut nodes: Vec<Node> = Vec::new();
        while let Some(c) = self.peek() {
            if c == ')' {
                break;
            }
            self.pos += 1;
            let node = match c {
                '*' | '+' | '?' => {
                    let (min, max) = match c {
                        '*' => (0, None),
                        '+' => (1, None),
                        _ => (0, Some(1)),
                    };
                    let Some(last) = nodes.pop() else {
                        return Err("a repetition has nothing to repeat".into());
                    };
                    if matches!(last, Node::Repeat { .. }) {
                        // `x*?` is a lazy `x*`, which matches the same paths; `x**` is an error.
                        if c == '?' {
                            nodes.push(last);
                            continue;
                        }
                        return Err("it has a nested repetition".into());
                    }
                    Node::Repeat {
                        node: Box::new(last),
                        min,
                        max,
                    }
                }
                '(' => {
                    let inner = self.sequence()?;
                    if self.peek() != Some(')') {
                        return Err("it has an unclosed `(`".into());
                    }
                    self.pos += 1;
                    Node::Group(inner)
                }
                '[' => Node::Class(self.class()?),
                '.' => Node::Any,
                '^' => Node::BeginText,
                '$' => Node::EndText,
                '\\' => self.escape_outside_class()?,
                c => Node::Char(c),
            };
            nodes.push(node);
        }
        Ok(nodes)
    }

    fn escape_outside_class(&mut self) -> Result<Node, String> {
        let Some(c) = self.peek() else {
            return Err("it ends with `\\`".into());
        };
        if let Some((ranges, negated)) = perl_class(c) {
            self.pos += 1;
            let mut class = Class::default();
            class.add_named(ranges, negated);
            return Ok(Node::Class(class));
        }
        match c {
            'A' => {
                self.pos += 1;
                Ok(Node::BeginText)
            }
            'z' => {
                self.pos += 1;
                Ok(Node::EndText)
            }
            'b' | 'B' => {
                self.pos += 1;
                Ok(Node::WordBoundary(c == 'b'))
            }
            _ => Ok(Node::Char(self.escaped_char()?)),
        }
    }

    /// The character of an escape whose `\` was just read, as Go's `parseEscape` reads it.
    fn escaped_char(&mut self) -> Result<char, String> {
        let c = self.peek().ok_or("it ends with `\\`")?;
        self.pos += 1;
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            return Ok(c);
        }
        let simple = match c {
            'a' => Some('\x07'),
            'f' => Some('\x0C'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0B'),
            _ => None,
        };
        if let Some(simple) = simple {
            return Ok(simple);
        }
        if c.is_digit(8) && (c == '0' || self.peek().is_some_and(|n| n.is_digit(8))) {
            let mut value = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match self.peek().and_then(|n| n.to_digit(8)) {
                    Some(d) => {
                        value = value * 8 + d;
                        self.pos += 1;
                    }
                    None => break,
                }
            }
            return char::from_u32(value).ok_or_else(|| "it has a bad octal escape".into());
        }
        if c == 'x' {
            return self.hex_escape();
        }
        Err(format!("`\\{c}` is not an escape Docker accepts"))
    }

    fn hex_escape(&mut self) -> Result<char, String> {
        let bad = || "it has a bad `\\x` escape".to_string();
        let digits: String = if self.peek() == Some('{') {
            self.pos += 1;
            let start = self.pos;
            while self.peek().is_some_and(|c| c != '}') {
                self.pos += 1;
            }
            if self.peek() != Some('}') {
                return Err(bad());
            }
            let digits = self.chars[start..self.pos].iter().collect();
            self.pos += 1;
            digits
        } else {
            let end = (self.pos + 2).min(self.chars.len());
            let digits = self.chars[self.pos..end].iter().collect();
            self.pos = end;
            digits
        };
        let ok = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit());
        let value = u32::from_str_radix(&digits, 16).ok().filter(|_| ok);
        value.and_then(char::from_u32).ok_or_else(bad)
    }

    /// A bracketed class after its `[`, read as Go reads one: `]` first is literal, `[:name:]`
    /// is a POSIX class, `\d` and friends are Perl classes, `a-z` is a range.
    fn class(&mut self) -> Result<Class, String> {
        let mut class = Class::default();
        if self.peek() == Some('^') {
            class.negated = true;
            self.pos += 1;
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err("a character class is not closed".into());
            };
            if c == ']' && !first {
                self.pos += 1;
                return Ok(class);
            }
            first = false;
            if c == '[' && self.chars.get(self.pos + 1) == Some(&':') {
                let rest: String = self.chars[self.pos + 2..].iter().collect();
                if let Some(end) = rest.find(":]") {
                    let name = &rest[..end];
                    let (name, negated) = match name.strip_prefix('^') {
                        Some(n) => (n, true),
                        None => (name, false),
                    };
                    let ranges = posix_class(name)
                        .ok_or_else(|| format!("`[:{name}:]` is not a character class"))?;
                    class.add_named(ranges, negated);
                    self.pos += 2 + rest[..end].chars().count() + 2;
                    continue;
                }
            }
            let perl = self.chars.get(self.pos + 1).and_then(|&n| perl_class(n));
            if let (true, Some((ranges, negated))) = (c == '\\', perl) {
                class.add_named(ranges, negated);
                self.pos += 2;
                continue;
            }
            let lo = self.class_char()?;
            let mut hi = lo;
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                hi = self.class_char()?;
                if hi < lo {
                    return Err(format!("the range `{lo}-{hi}` is backwards"));
                }
            }
            class.ranges.push((lo, hi));
        }
    }

    fn class_char(&mut self) -> Result<char, String> {
        let c = self.peek().ok_or("a character class is not closed")?;
        self.pos += 1;
        if c == '\\' {
            return self.escaped_char();
        }
        Ok(c)
    }
}

/// Whether the whole path matches: the expressions start with `^` and end with `$`, so an
/// unanchored search is the same as a match from the start.
fn regex_matches(nodes: &[Node], path: &str) -> bool {
    let text: Vec<char> = path.chars().collect();
    (0..=text.len()).any(|start| !ends(nodes, &text, vec![start]).is_empty())
}

/// The positions a sequence of nodes can end at, from each start position: a set-based walk
/// that stays polynomial for any pattern.
fn ends(nodes: &[Node], text: &[char], mut positions: Vec<usize>) -> Vec<usize> {
    for node in nodes {
        let mut next = Vec::new();
        for &p in &positions {
            node_ends(node, text, p, &mut next);
        }
        next.sort_unstable();
        next.dedup();
        positions = next;
        if positions.is_empty() {
            break;
        }
    }
    positions
}

fn node_ends(node: &Node, text: &[char], p: usize, out: &mut Vec<usize>) {
    let is_word = |i: usize| {
        text.get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
    };
    match node {
        Node::Char(c) => {
            if text.get(p) == Some(c) {
                out.push(p + 1);
            }
        }
        Node::Class(class) => {
            if text.get(p).is_some_and(|&c| class.contains(c)) {
                out.push(p + 1);
            }
        }
        Node::Any => {
            if text.get(p).is_some_and(|&c| c != '\n') {
                out.push(p + 1);
            }
        }
        Node::BeginText => {
            if p == 0 {
                out.push(p);
            }
        }
        Node::EndText => {
            if p == text.len() {
                out.push(p);
            }
        }
        Node::WordBoundary(want) => {
            let before = p > 0 && is_word(p - 1);
            if (before != is_word(p)) == *want {
                out.push(p);
            }
        }
        Node::Group(inner) => out.extend(ends(inner, text, vec![p])),
        Node::Repeat { node, min, max } => {
            let mut seen = vec![false; text.len() + 1];
            let mut current = vec![p];
            let mut count = 0;
            loop {
                if count >= *min {
                    current.retain(|&q| !std::mem::replace(&mut seen[q], true));
                    out.extend_from_slice(&current);
                }
                if current.is_empty() || max.is_some_and(|m| count >= m) {
                    break;
                }
                let mut next = Vec::new();
                for &q in &current {
                    node_ends(node, text, q, &mut next);
                }
                next.sort_unstable();
                next.dedup();
                current = next;
                count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(lines: &[&str]) -> Matcher {
        let text = lines.join("\n");
        Matcher::new(&read_patterns(text.as_bytes())).expect("valid patterns")
    }

    fn pattern_matches(pattern: &str, path: &str) -> bool {
        let lines = read_patterns(pattern.as_bytes());
        Matcher::new(&lines).expect("valid pattern").patterns[0].matches(path)
    }

    #[test]
    fn reading_trims_cleans_and_drops_comments_and_the_leading_slash() {
        let text = b"\xEF\xBB\xBF# comment\n  ./a/b/  \r\n\n /abs\n! ./keep/\n #not-a-comment\n/\n";
        let patterns: Vec<String> = read_patterns(text).into_iter().map(|l| l.pattern).collect();
        assert_eq!(patterns, ["a/b", "abs", "!keep", "#not-a-comment", "/"]);
        let numbers: Vec<usize> = read_patterns(text).into_iter().map(|l| l.number).collect();
        assert_eq!(numbers, [2, 4, 5, 6, 7]);
    }

    #[test]
    fn clean_is_go_filepath_clean() {
        for (input, want) in [
            ("", "."),
            ("a//b/./c/", "a/b/c"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("../../x/../y", "../../y"),
            ("./", "."),
            ("/", "/"),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn star_and_question_mark_do_not_cross_a_slash() {
        assert!(pattern_matches("*.md", "README.md"));
        assert!(!pattern_matches("*.md", "docs/README.md"));
        assert!(pattern_matches("*/temp*", "somedir/temporary.txt"));
        assert!(!pattern_matches("*/temp*", "a/b/temp"));
        assert!(pattern_matches("temp?", "temp1"));
        assert!(!pattern_matches("temp?", "temp/"));
        assert!(!pattern_matches("a?b", "a/b"));
    }

    #[test]
    fn double_star_spans_directories_in_each_of_its_forms() {
        assert!(pattern_matches("**/*.go", "main.go"));
        assert!(pattern_matches("**/*.go", "a/b/main.go"));
        assert!(pattern_matches("**", "anything/at/all"));
        assert!(pattern_matches("a/**", "a/b/c"));
        assert!(!pattern_matches("a/**", "a"));
        assert!(pattern_matches("a/**/z", "a/z"));
        assert!(pattern_matches("a/**/z", "a/b/c/z"));
        assert!(!pattern_matches("a/**/z", "ab/z"));
        // `**.txt` is a suffix test in Docker, so it also matches inside a name.
        assert!(pattern_matches("**.txt", "dir/notes.txt"));
        // `foo**` is a plain prefix test, which crosses `/`.
        assert!(pattern_matches("foo**", "foobar/baz"));
        assert!(pattern_matches("**/node_modules", "node_modules"));
        assert!(pattern_matches("**/node_modules", "web/node_modules"));
    }

    #[test]
    fn patterns_are_anchored_at_the_root() {
        assert!(pattern_matches("secret", "secret"));
        assert!(!pattern_matches("secret", "app/secret"));
        assert!(pattern_matches("/app/secret", "app/secret"));
    }

    #[test]
    fn classes_and_escapes_read_like_go() {
        assert!(pattern_matches("file[0-9]", "file7"));
        assert!(!pattern_matches("file[0-9]", "filex"));
        assert!(pattern_matches("file[^0-9]", "filex"));
        // `!` is not negation in Go, it is a member.
        assert!(pattern_matches("file[!x]", "file!"));
        assert!(!pattern_matches("file[!x]", "filey"));
        assert!(pattern_matches("[[:upper:]]*", "Makefile"));
        assert!(!pattern_matches("[[:upper:]]*", "makefile"));
        // In a Go regexp `\d` is a digit, so it is in Docker's patterns too.
        assert!(pattern_matches("v\\d", "v1"));
        assert!(pattern_matches("a\\*b", "a*b"));
        assert!(!pattern_matches("a\\*b", "axb"));
        // `[a*]` becomes `[a[^/]*]`: a class of a, [, ^ and / repeated, then `]`.
        assert!(pattern_matches("[a*]", "a]"));
        assert!(pattern_matches("[a*]", "]"));
        assert!(!pattern_matches("[a*]", "a"));
        // Dots and other regexp characters are literal.
        assert!(!pattern_matches("a.b*", "axb"));
        assert!(pattern_matches("a+(b)", "a+(b)"));
    }

    #[test]
    fn malformed_patterns_are_refused_as_go_refuses_them() {
        for bad in [
            "[",
            "a[]",
            "[]a]",
            "[a-]",
            "[-a]",
            "x\\",
            "!",
            "[z-a]",
            "\\q",
            "[[:nope:]]",
        ] {
            let lines = read_patterns(bad.as_bytes());
            assert!(Matcher::new(&lines).is_err(), "{bad} should be refused");
        }
        for good in ["[[]", "[\\]]", "[a-a]", "[^a]", "a]"] {
            let lines = read_patterns(good.as_bytes());
            assert!(Matcher::new(&lines).is_ok(), "{good} should be accepted");
        }
    }

    #[test]
    fn the_last_matching_pattern_wins() {
        let m = matcher(&["*.md", "!README.md", "README*"]);
        assert!(m.matches_or_parent_matches("README.md"));
        let m = matcher(&["*.md", "!README.md"]);
        assert!(!m.matches_or_parent_matches("README.md"));
        assert!(m.matches_or_parent_matches("CHANGES.md"));
    }

    #[test]
    fn a_matching_directory_excludes_what_is_inside() {
        let m = matcher(&["docs"]);
        assert!(m.matches_or_parent_matches("docs/a/b.txt"));
        let (skip, flags) = m.matches_using_parent("docs", None);
        assert!(skip);
        assert!(m.matches_using_parent("docs/a", Some(&flags)).0);
    }

    #[test]
    fn the_walker_enters_an_excluded_directory_only_for_a_literal_reinclusion_prefix() {
        let m = matcher(&["docs", "!docs/keep.txt"]);
        assert!(m.walks_into("docs"));
        assert!(!m.walks_into("doc"));
        let m = matcher(&["docs", "!**/keep.txt"]);
        assert!(!m.walks_into("docs"));
        let m = matcher(&["a", "!a/*/keep"]);
        assert!(m.walks_into("a"));
        assert!(!m.walks_into("a/b"));
    }

    #[test]
    fn children_do_not_inherit_patterns_skipped_for_their_parent() {
        // For `a`, `!a` is skipped (nothing matched yet), so `a/f` is checked against `a`
        // itself only and stays excluded by `*/f`; the full check would re-include it.
        let m = matcher(&["*/f", "!a"]);
        let (skip_dir, flags) = m.matches_using_parent("a", None);
        assert!(!skip_dir);
        assert!(m.matches_using_parent("a/f", Some(&flags)).0);
        assert!(!m.matches_or_parent_matches("a/f"));
    }

    #[test]
    fn matches_checks_a_single_ancestor_as_deep_as_the_pattern() {
        let m = matcher(&["sub"]);
        assert!(m.matches("sub/Dockerfile"));
        let m = matcher(&["b"]);
        assert!(!m.matches("a/b/Dockerfile"));
        assert!(m.matches_or_parent_matches("b/c/Dockerfile"));
    }
}
