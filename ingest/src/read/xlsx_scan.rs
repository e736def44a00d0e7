//! A quick reader of the common cell forms of a worksheet's rows, for the
//! pieces of a large sheet ([`super::xlsx_pieces`]).
//!
//! calamine reads every XML event of a worksheet through a general XML
//! reader; most large worksheets hold nothing but rows of `<c>` cells with a
//! `<v>` value, an inline string or a formula's cached value. This reader
//! takes those forms straight from the bytes and reads them exactly as
//! calamine does. It gives up (`None`) on anything else — an unknown
//! entity, a carriage return or an `_xHHHH_` escape in a text, an error or
//! ISO date cell, rich or phonetic inline text, another element, a comment —
//! and the piece is then read by calamine. Shared strings and the number formats of styles
//! are not read here: the cells name them ([`Raw::Shared`], [`Raw::Number`])
//! and calamine is asked how it reads each one the piece uses.

use std::borrow::Cow;

/// A cell as the bytes give it, before shared strings and styles are known.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Raw {
    /// No value (`<v></v>`, no `<v>`).
    Empty,
    /// A text value (inline string, formula string), as calamine reads it.
    Text(String),
    /// A number and the style it is shown in (`s`), when named.
    Number(f64, Option<u32>),
    /// A boolean.
    Bool(bool),
    /// The index of a shared string.
    Shared(u32),
}

/// A scanned cell: 0-based row, column, value.
pub(super) type RawCell = (u32, u32, Raw);

/// Reads the rows of `xml`, a run of whole `<row>` elements of a worksheet's
/// `<sheetData>`, rows counted from `first_row` until one names its number;
/// `None` when they hold anything this reader leaves to calamine.
pub(super) fn scan(xml: &[u8], first_row: u32) -> Option<Vec<RawCell>> {
    let mut s = Scanner { xml, at: 0 };
    let mut cells = Vec::with_capacity(xml.len() / 40);
    let mut row = first_row;
    loop {
        s.skip_space();
        if s.at >= xml.len() {
            return Some(cells);
        }
        let (name, attrs, empty) = s.start_tag()?;
        if name != b"row" {
            return None;
        }
        if empty {
            continue; // calamine passes over `<row/>`, counting nothing
        }
        if let Some(r) = attribute(attrs, b"r") {
            row = row_number(r)?;
        }
        let mut col = 0u32;
        loop {
            s.skip_space();
            if s.eat(b"</row>") {
                break;
            }
            let (name, attrs, empty) = s.start_tag()?;
            if name != b"c" {
                return None;
            }
            if empty {
                continue; // `<c …/>`: calamine passes over it
            }
            let at = match attribute(attrs, b"r") {
                Some(r) => {
                    let (r, c) = cell_reference(r)?;
                    col = c;
                    (r, c)
                }
                None => (row, col),
            };
            let kind = attribute(attrs, b"t");
            let style = match attribute(attrs, b"s") {
                Some(s) => Some(digits(s)?),
                None => None,
            };
            let value = s.cell_value(kind, style)?;
            cells.push((at.0, at.1, value));
            col = col.checked_add(1)?;
        }
        row = row.checked_add(1)?;
    }
}

struct Scanner<'a> {
    xml: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    /// Passes over XML white space between elements.
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.xml.get(self.at) {
            self.at += 1;
        }
    }

    /// Passes over `literal` when it comes next.
    fn eat(&mut self, literal: &[u8]) -> bool {
        let found = self.xml[self.at..].starts_with(literal);
        if found {
            self.at += literal.len();
        }
        found
    }

    /// The start tag next: its name, its attributes' text, and whether it
    /// closes itself. `None` for anything but a plain start tag.
    fn start_tag(&mut self) -> Option<(&'a [u8], &'a [u8], bool)> {
        let rest = &self.xml[self.at..];
        if rest.first() != Some(&b'<') {
            return None;
        }
        // Attribute values hold no `>` in what this reader accepts: the
        // first one ends the tag (a quoted `>` makes an attribute unreadable
        // below, and the piece goes to calamine).
        let end = memchr::memchr(b'>', rest)?;
        let inner = &rest[1..end];
        let name_end = inner
            .iter()
            .position(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/'))
            .unwrap_or(inner.len());
        let name = &inner[..name_end];
        if name.is_empty() || !name.iter().all(u8::is_ascii_alphabetic) {
            return None; // end tags, comments, prefixed names
        }
        let (attrs, empty) = match inner[name_end..].strip_suffix(b"/") {
            Some(a) => (a, true),
            None => (&inner[name_end..], false),
        };
        // Quotes that do not pair up: a `>` inside a value ended the tag early.
        let odd = |q: u8| attrs.iter().filter(|&&b| b == q).count() % 2 == 1;
        if odd(b'"') || odd(b'\'') || attrs.contains(&b'<') {
            return None;
        }
        self.at += end + 1;
        Some((name, attrs, empty))
    }

    /// The text up to the end tag `close`, its entities and character
    /// references replaced; `None` when it holds markup, a carriage return
    /// (calamine would rewrite it) or an unknown entity.
    fn text_until(&mut self, close: &[u8]) -> Option<Cow<'a, str>> {
        let rest = &self.xml[self.at..];
        let end = memchr::memchr(b'<', rest)?;
        let text = &rest[..end];
        if !rest[end..].starts_with(close) || memchr::memchr(b'\r', text).is_some() {
            return None;
        }
        self.at += end + close.len();
        unescape(std::str::from_utf8(text).ok()?)
    }

    /// The value of a `<c>` element whose start tag was just read, through
    /// its end tag, as calamine reads it.
    fn cell_value(&mut self, kind: Option<&[u8]>, style: Option<u32>) -> Option<Raw> {
        let mut value = Raw::Empty;
        loop {
            self.skip_space();
            if self.eat(b"</c>") {
                return Some(value);
            }
            let (name, _, empty) = self.start_tag()?;
            match (name, empty) {
                // A formula: its cached value is the `<v>`.
                (b"f", true) => {}
                (b"f", false) => {
                    let rest = &self.xml[self.at..];
                    let end = memchr::memmem::find(rest, b"</f>")?;
                    self.at += end + b"</f>".len();
                    value = Raw::Empty;
                }
                (b"v", false) => {
                    let text = self.text_until(b"</v>")?;
                    value = read_v(&text, kind, style)?;
                }
                (b"is", false) if kind == Some(b"inlineStr") => {
                    self.skip_space();
                    let (t, t_attrs, t_empty) = self.start_tag()?;
                    if t != b"t" || t_empty {
                        return None;
                    }
                    let preserve = match attribute(t_attrs, b"xml:space") {
                        Some(b"preserve") => true,
                        None if t_attrs.iter().all(u8::is_ascii_whitespace) => false,
                        _ => return None,
                    };
                    let text = self.text_until(b"</t>")?;
                    self.skip_space();
                    if !self.eat(b"</is>") || text.contains("_x") {
                        return None;
                    }
                    let text = if preserve {
                        &text
                    } else {
                        text.trim_matches([' ', '\t', '\r', '\n'])
                    };
                    value = Raw::Text(text.to_string());
                }
                _ => return None,
            }
        }
    }
}

/// A `<v>` text of a cell of type `kind` (`t`) as calamine reads it.
fn read_v(v: &str, kind: Option<&[u8]>, style: Option<u32>) -> Option<Raw> {
    match kind {
        None | Some(b"n") => {
            if v.is_empty() {
                return Some(Raw::Empty);
            }
            // calamine parses numbers with fast_float2; text that is no
            // number becomes a string: left to calamine.
            fast_float2::parse::<f64, _>(v.as_bytes())
                .ok()
                .map(|n| Raw::Number(n, style))
        }
        Some(b"s") if v.is_empty() => Some(Raw::Empty),
        Some(b"s") => digits(v.as_bytes()).map(Raw::Shared),
        Some(b"b") => match v.trim() {
            "" => Some(Raw::Empty),
            "0" => Some(Raw::Bool(false)),
            "1" => Some(Raw::Bool(true)),
            _ => None,
        },
        Some(b"str") if !v.contains("_x") => Some(Raw::Text(v.to_string())),
        _ => None,
    }
}

/// XML text with its entities (`&amp;`, `&lt;`, `&gt;`, `&quot;`,
/// `&apos;`) and character references (`&#20013;`, `&#x4E2D;`) replaced, as
/// calamine replaces them; `None` for any other `&`.
fn unescape(text: &str) -> Option<Cow<'_, str>> {
    let Some(first) = text.find('&') else {
        return Some(Cow::Borrowed(text));
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first]);
    let mut rest = &text[first..];
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';')?;
        let name = &after[..semi];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match name.strip_prefix("#x") {
                    Some(hex) if !hex.is_empty() && hex.len() <= 6 => {
                        u32::from_str_radix(hex, 16).ok()?
                    }
                    Some(_) => return None,
                    None => {
                        let dec = name.strip_prefix('#')?;
                        if dec.is_empty()
                            || dec.len() > 7
                            || !dec.bytes().all(|b| b.is_ascii_digit())
                        {
                            return None;
                        }
                        dec.parse().ok()?
                    }
                };
                char::from_u32(code).filter(|&c| c != '\0')?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// The value of attribute `name` in a start tag's attribute text.
fn attribute<'a>(attrs: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let mut rest = attrs;
    loop {
        let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        rest = &rest[start..];
        let eq = memchr::memchr(b'=', rest)?;
        let key = rest[..eq].trim_ascii_end();
        let after = rest[eq + 1..].trim_ascii_start();
        let quote = *after.first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let len = memchr::memchr(quote, &after[1..])?;
        if key == name {
            return Some(&after[1..1 + len]);
        }
        rest = &after[len + 2..];
    }
}

/// A plain decimal number of at most nine digits.
fn digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0')))
}

/// A row's number (`r="12"`) as its 0-based index.
fn row_number(r: &[u8]) -> Option<u32> {
    digits(r)?.checked_sub(1)
}

/// A cell reference (`B12`) as 0-based (row, column); at most three column
/// letters, upper case.
fn cell_reference(r: &[u8]) -> Option<(u32, u32)> {
    let letters = r.iter().take_while(|b| b.is_ascii_uppercase()).count();
    if letters == 0 || letters > 3 {
        return None;
    }
    let col = r[..letters]
        .iter()
        .fold(0u32, |c, &l| c * 26 + u32::from(l - b'A') + 1);
    Some((row_number(&r[letters..])?, col - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_cells_are_read_where_calamine_puts_them() {
        let xml = br#"<row r="3" spans="1:3"><c r="B3"><v>1.5</v></c><c t="n" s="2"><v>2E3</v></c><c r="E3" s="4"/><c t="s"><v>7</v></c></row>
            <row/><row><c t='b'><v>1</v></c><c t="str"><f t="shared" si="0"/><v>x&lt;y</v></c><c t="inlineStr"><is><t> a </t></is></c></row>"#;
        assert_eq!(
            scan(xml, 0).unwrap(),
            [
                (2, 1, Raw::Number(1.5, None)),
                (2, 2, Raw::Number(2000.0, Some(2))),
                // `<c …/>` is passed over without moving to the next column.
                (2, 3, Raw::Shared(7)),
                // `<row/>` is passed over without counting a row.
                (3, 0, Raw::Bool(true)),
                (3, 1, Raw::Text("x<y".into())),
                (3, 2, Raw::Text("a".into())),
            ]
        );
        // Rows that do not name their numbers count on from the first.
        assert_eq!(
            scan(b"<row><c><v></v></c></row>", 41).unwrap(),
            [(41, 0, Raw::Empty)]
        );
    }

    #[test]
    fn other_forms_are_left_to_calamine() {
        for cell in [
            r#"<c t="e"><v>#N/A</v></c>"#,
            r#"<c t="d"><v>2024-01-02</v></c>"#,
            r#"<c><v>abc</v></c>"#,
            r#"<c t="str"><v>a&nbsp;b</v></c>"#,
            "<c t=\"str\"><v>a\r\nb</v></c>",
            r#"<c t="str"><v>a_x000D_b</v></c>"#,
            r#"<c t="inlineStr"><is><r><t>富</t></r></is></c>"#,
            r#"<c t="inlineStr"><is><t>a</t><rPh><t>フ</t></rPh></is></c>"#,
            r#"<c t="s"><v>-1</v></c>"#,
            r#"<c t="b"><v>2</v></c>"#,
            r#"<c r="a1"><v>1</v></c>"#,
            r#"<c><!-- note --><v>1</v></c>"#,
            r#"<c><v>1</v><extLst/></c>"#,
            r#"<x:c><v>1</v></x:c>"#,
            r#"<c foo="a>b"><v>1</v></c>"#,
        ] {
            let xml = format!("<row r=\"1\">{cell}</row>");
            assert_eq!(scan(xml.as_bytes(), 0), None, "{cell}");
        }
        assert_eq!(scan(b"<row r=\"0\"></row>", 0), None);
        assert_eq!(scan(b"<row r=\"1\"><c><v>1</v>", 0), None, "cut short");
    }

    #[test]
    fn entities_and_character_references_are_replaced() {
        assert_eq!(unescape("a").unwrap(), "a");
        assert_eq!(
            unescape("R&amp;D &lt;&gt;&quot;&apos; &#20013;&#x6587;&#X41;").as_deref(),
            None,
            "&#X is no character reference"
        );
        assert_eq!(
            unescape("R&amp;D &lt;&gt;&quot;&apos; &#20013;&#x6587;").unwrap(),
            "R&D <>\"' 中文"
        );
        for bad in [
            "&nbsp;",
            "&amp",
            "&#;",
            "&#x;",
            "&#0;",
            "&#xD800;",
            "&#1114112;",
        ] {
            assert_eq!(unescape(bad), None, "{bad}");
        }
    }
}
