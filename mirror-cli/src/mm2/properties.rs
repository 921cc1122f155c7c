//! A reader for Java `.properties` text, as `java.util.Properties.load`
//! reads it (which is how `connect-mirror-maker.sh` reads its file).
//!
//! - A natural line ends with `\n`, `\r` or `\r\n`.
//! - Leading spaces, tabs and form feeds are skipped. A line whose first
//!   other character is `#` or `!` is a comment; blank lines are skipped.
//! - A line ending in an odd number of backslashes continues on the next
//!   line; the backslash is dropped, and so is the next line's leading
//!   whitespace.
//! - The key ends at the first unescaped `=`, `:` or whitespace. Whitespace
//!   around the separator is skipped, and a whitespace-ended key may still be
//!   followed by one `=` or `:` (`key = value`, `key: value`, `key value`).
//!   The value is the rest of the line, trailing whitespace included.
//! - Escapes in keys and values: `\t`, `\n`, `\r`, `\f`, `\uXXXX` (UTF-16,
//!   surrogate pairs combined); a backslash before any other character
//!   stands for that character (`\=`, `\:`, `\ `, `\#`, `\\`).
//!
//! Each entry keeps the line number where it starts. Unlike Java, a
//! malformed `\u` escape is reported with its line rather than thrown.

/// One `key=value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, unescaped.
    pub key: String,
    /// The value, unescaped; leading whitespace removed, trailing kept.
    pub value: String,
    /// 1-based number of the line where the entry starts.
    pub line: usize,
}

/// A line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertiesError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Splits text into natural lines (`\n`, `\r`, `\r\n`).
fn natural_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn trailing_backslashes(s: &str) -> usize {
    s.chars().rev().take_while(|&c| c == '\\').count()
}

/// Reads every entry of `text`, in file order (duplicates included).
pub fn parse(text: &str) -> Result<Vec<Entry>, PropertiesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = natural_lines(text);
    let mut entries = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let first = lines[i].trim_start_matches(is_ws);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut current = first;
        loop {
            if trailing_backslashes(current) % 2 == 1 {
                logical.push_str(&current[..current.len() - 1]);
                if i >= lines.len() {
                    break;
                }
                current = lines[i].trim_start_matches(is_ws);
                i += 1;
                if current.is_empty() {
                    break;
                }
            } else {
                logical.push_str(current);
                break;
            }
        }
        let (key, value) = split_entry(&logical);
        let key = unescape(key).map_err(|reason| PropertiesError {
            line: line_no,
            reason,
        })?;
        let value = unescape(value).map_err(|reason| PropertiesError {
            line: line_no,
            reason,
        })?;
        entries.push(Entry {
            key,
            value,
            line: line_no,
        });
    }
    Ok(entries)
}

/// Splits a logical line into its raw (still escaped) key and value.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_sep = false;
    for (idx, c) in line.char_indices() {
        if !escaped && (c == '=' || c == ':') {
            key_end = idx;
            value_start = idx + 1;
            has_sep = true;
            break;
        }
        if !escaped && is_ws(c) {
            key_end = idx;
            value_start = idx + c.len_utf8();
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    let rest = &line[value_start..];
    let mut skip = 0;
    for (idx, c) in rest.char_indices() {
        if is_ws(c) {
            skip = idx + 1;
        } else if !has_sep && (c == '=' || c == ':') {
            has_sep = true;
            skip = idx + 1;
        } else {
            skip = idx;
            break;
        }
    }
    (&line[..key_end], &rest[skip.min(rest.len())..])
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Result<u16, String> {
    let mut v: u16 = 0;
    for _ in 0..4 {
        let d = chars.next().and_then(|c| c.to_digit(16)).ok_or_else(|| {
            "malformed \\uXXXX escape: \\u must be followed by 4 hex digits".to_owned()
        })?;
        v = v * 16 + d as u16;
    }
    Ok(v)
}

/// Resolves escapes.
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else { break };
        match e {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\x0c'),
            'u' => {
                let unit = hex4(&mut chars)?;
                if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate must be followed by \u and a low one.
                    let mut look = chars.clone();
                    let low = match (look.next(), look.next()) {
                        (Some('\\'), Some('u')) => hex4(&mut look).ok(),
                        _ => None,
                    };
                    match low {
                        Some(low) if (0xDC00..0xE000).contains(&low) => {
                            chars = look;
                            let cp = 0x10000
                                + ((u32::from(unit) - 0xD800) << 10)
                                + (u32::from(low) - 0xDC00);
                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            return Err(format!(
                                "malformed \\uXXXX escape: \\u{unit:04X} is half of a surrogate pair without its other half"
                            ))
                        }
                    }
                } else if (0xDC00..0xE000).contains(&unit) {
                    return Err(format!(
                        "malformed \\uXXXX escape: \\u{unit:04X} is half of a surrogate pair without its other half"
                    ));
                } else {
                    out.push(char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}'));
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, String, usize)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect()
    }

    fn one(text: &str) -> (String, String) {
        let v = kv(text);
        assert_eq!(v.len(), 1, "{v:?}");
        (v[0].0.clone(), v[0].1.clone())
    }

    #[test]
    fn the_three_separators() {
        assert_eq!(one("a=b"), ("a".into(), "b".into()));
        assert_eq!(one("a: b"), ("a".into(), "b".into()));
        assert_eq!(one("a b"), ("a".into(), "b".into()));
        assert_eq!(one("  a   =   b"), ("a".into(), "b".into()));
        assert_eq!(one("a \t: \t b c"), ("a".into(), "b c".into()));
        assert_eq!(one("a = = b"), ("a".into(), "= b".into()));
        assert_eq!(one("a==b"), ("a".into(), "=b".into()));
        assert_eq!(one("a"), ("a".into(), "".into()));
        assert_eq!(one("a="), ("a".into(), "".into()));
        assert_eq!(one("=b"), ("".into(), "b".into()));
    }

    #[test]
    fn trailing_whitespace_in_values_is_kept() {
        assert_eq!(one("a = b  "), ("a".into(), "b  ".into()));
    }

    #[test]
    fn comments_and_blank_lines() {
        let v = kv("# c\n! c\n   # indented\n\n \t \na=1\nb=2 # not a comment\n");
        assert_eq!(
            v,
            vec![
                ("a".into(), "1".into(), 6),
                ("b".into(), "2 # not a comment".into(), 7)
            ]
        );
    }

    #[test]
    fn continuation_lines() {
        let v = kv("topics = a, \\\n    b, \\\n\tc\nnext=1\n");
        assert_eq!(
            v,
            vec![
                ("topics".into(), "a, b, c".into(), 1),
                ("next".into(), "1".into(), 4)
            ]
        );
        // An even number of backslashes is an escaped backslash, not a
        // continuation.
        let v = kv("a=x\\\\\nb=y");
        assert_eq!(v[0].1, "x\\");
        assert_eq!(v[1], ("b".into(), "y".into(), 2));
        // A continued comment is not continued.
        let v = kv("# comment \\\na=1");
        assert_eq!(v, vec![("a".into(), "1".into(), 2)]);
        // A continuation line that looks like a comment is part of the value.
        assert_eq!(one("a=1\\\n  # 2").1, "1# 2");
        // A backslash on the last line.
        assert_eq!(one("a=1\\").1, "1");
    }

    #[test]
    fn line_endings() {
        let v = kv("a=1\r\nb=2\rc=3\n");
        assert_eq!(
            v,
            vec![
                ("a".into(), "1".into(), 1),
                ("b".into(), "2".into(), 2),
                ("c".into(), "3".into(), 3)
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(one(r"a\=b=c"), ("a=b".into(), "c".into()));
        assert_eq!(one(r"a\:b:c"), ("a:b".into(), "c".into()));
        assert_eq!(one(r"a\ b c"), ("a b".into(), "c".into()));
        assert_eq!(one(r"k=\t\n\r\f\\\x"), ("k".into(), "\t\n\r\x0c\\x".into()));
        assert_eq!(one(r"k=\u0041\u00e9"), ("k".into(), "Aé".into()));
        assert_eq!(one(r"k=\uD83D\uDE00"), ("k".into(), "😀".into()));
        assert_eq!(one(r"\#k=1"), ("#k".into(), "1".into()));
        assert_eq!(one("k=é😀"), ("k".into(), "é😀".into()));
    }

    #[test]
    fn malformed_unicode_escapes_name_the_line() {
        let err = parse("a=1\nb=\\u12\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("4 hex digits"), "{}", err.reason);
        let err = parse("b=\\uD83D").unwrap_err();
        assert!(err.reason.contains("surrogate"), "{}", err.reason);
        let err = parse("b=\\uDE00").unwrap_err();
        assert!(err.reason.contains("surrogate"), "{}", err.reason);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(one("\u{feff}a=1"), ("a".into(), "1".into()));
    }

    #[test]
    fn continued_entry_keeps_its_first_line() {
        let v = kv("\n\na=1,\\\n2\nb=3");
        assert_eq!(v[0].2, 3);
        assert_eq!(v[1].2, 5);
    }
}
