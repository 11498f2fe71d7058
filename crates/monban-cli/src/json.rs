//! Compact JSON for `verify --json`'s one line per message, written straight into a
//! reused buffer.
//!
//! serde_json escapes every string byte by byte through its table, the field names
//! too: with some fifty fields per message that was about half the cost of the output
//! (`benches/RESULTS.md`, the small messages). Here a field name (a Rust identifier
//! that `serde` gives as `&'static str`) and a value without a character to escape,
//! which is nearly every value, are copied whole after one branch-free test.
//!
//! The text is exactly serde_json's compact form (the tests compare the two); what this
//! writer does not take (floating-point numbers, bytes, 128-bit integers, map keys
//! that are not strings) makes [`to_json_into`] fall back to serde_json for that value,
//! so no type can make it write something different.

use serde::Serialize;
use serde::ser::{self, Impossible};

/// Appends the compact JSON of `value` to `out`, as `serde_json::to_string` writes it.
pub fn to_json_into<T: Serialize + ?Sized>(value: &T, out: &mut String) {
    let start = out.len();
    if value.serialize(&mut Writer { out }).is_err() {
        out.truncate(start);
        match serde_json::to_string(value) {
            Ok(text) => out.push_str(&text),
            Err(_) => out.push_str("null"),
        }
    }
}

/// A type or form this writer leaves to serde_json.
#[derive(Debug)]
pub struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("left to serde_json")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Self
    }
}

struct Writer<'o> {
    out: &'o mut String,
}

/// Whether a byte must be escaped in a JSON string (RFC 8259 §7: the quote, the
/// backslash and the control characters; serde_json escapes exactly these).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it: `\"`, `\\`, `\b`,
/// `\f`, `\n`, `\r`, `\t` and `\u00XX` (lowercase hex) for the other control
/// characters; everything else, non-ASCII included, as it is.
pub fn push_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    if plain(s.as_bytes()) {
        out.push_str(s);
    } else {
        let mut from = 0;
        for (i, b) in s.bytes().enumerate() {
            if !needs_escape(b) {
                continue;
            }
            // `i` is an ASCII byte's position (no byte of a multi-byte character needs
            // escaping), so both cuts are character boundaries.
            out.push_str(s.get(from..i).unwrap_or_default());
            from = i + 1;
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push_str("\\u00");
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0xf)]));
                }
            }
        }
        out.push_str(s.get(from..).unwrap_or_default());
    }
    out.push('"');
}

/// Whether no byte of `s` needs escaping ([`needs_escape`]), eight bytes at a time:
/// most strings here are a field name or a domain, a dozen bytes, for which a vector
/// loop would do its work in its scalar rest.
fn plain(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether any byte of `x` is zero: exact as a whole (a false bit can only stand
    // above a true one).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let mut blocks = s.chunks_exact(8);
    for block in &mut blocks {
        let mut word = [0u8; 8];
        word.copy_from_slice(block);
        let x = u64::from_le_bytes(word);
        // A byte below 0x20 (the same formula with 0x20 in each byte: exact for
        // bytes under 0x80, and a byte of 0x80 or more has its top bit masked by !x),
        // or a quote, or a backslash.
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
        if control || zero(x ^ (ONES * u64::from(b'"'))) || zero(x ^ (ONES * u64::from(b'\\'))) {
            return false;
        }
    }
    !blocks.remainder().iter().any(|&b| needs_escape(b))
}

/// Appends an integer in decimal.
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
}

fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// A sequence, map or struct being written: whether an element was written already.
struct Compound<'w, 'o> {
    w: &'w mut Writer<'o>,
    first: bool,
    /// What closes it: `]`, `}`, or `]}` / `}}` for a variant's contents.
    close: &'static str,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.w.out.push(',');
        }
    }

    fn key(&mut self, key: &str) {
        self.comma();
        push_str(self.w.out, key);
        self.w.out.push(':');
    }

    fn end(self) -> Result<(), Unsupported> {
        self.w.out.push_str(self.close);
        Ok(())
    }
}

impl<'o> Writer<'o> {
    /// Starts a sequence or map (`open` is `[` or `{`), inside `{"variant":` for an enum
    /// variant's contents; `close` ends all of it.
    fn open<'w>(
        &'w mut self,
        variant: Option<&str>,
        open: char,
        close: &'static str,
    ) -> Compound<'w, 'o> {
        if let Some(v) = variant {
            self.out.push('{');
            push_str(self.out, v);
            self.out.push(':');
        }
        self.out.push(open);
        Compound {
            w: self,
            first: true,
            close,
        }
    }
}

/// Integer methods that widen to the 64-bit one of their sign.
macro_rules! widen {
    ($($method:ident($t:ty) => $wide:ident),*) => {$(
        fn $method(self, v: $t) -> Result<(), Unsupported> {
            self.$wide(v.into())
        }
    )*};
}

impl<'w, 'o> ser::Serializer for &'w mut Writer<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'w, 'o>;
    type SerializeTuple = Compound<'w, 'o>;
    type SerializeTupleStruct = Compound<'w, 'o>;
    type SerializeTupleVariant = Compound<'w, 'o>;
    type SerializeMap = Compound<'w, 'o>;
    type SerializeStruct = Compound<'w, 'o>;
    type SerializeStructVariant = Compound<'w, 'o>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    widen!(
        serialize_i8(i8) => serialize_i64,
        serialize_i16(i16) => serialize_i64,
        serialize_i32(i32) => serialize_i64,
        serialize_u8(u8) => serialize_u64,
        serialize_u16(u16) => serialize_u64,
        serialize_u32(u32) => serialize_u64
    );
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        push_i64(self.out, v);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        push_u64(self.out, v);
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        push_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        push_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.out.push('{');
        push_str(self.out, variant);
        self.out.push(':');
        value.serialize(&mut *self)?;
        self.out.push('}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'w, 'o>, Unsupported> {
        Ok(self.open(None, '[', "]"))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'o>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'o>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w, 'o>, Unsupported> {
        Ok(self.open(Some(variant), '[', "]}"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'w, 'o>, Unsupported> {
        Ok(self.open(None, '{', "}"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'o>, Unsupported> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w, 'o>, Unsupported> {
        Ok(self.open(Some(variant), '{', "}}"))
    }
}

/// The elements of a sequence, a tuple, or a tuple struct or variant: each after a
/// comma but the first.
macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.comma();
                value.serialize(&mut *self.w)
            }
            fn end(self) -> Result<(), Unsupported> {
                Compound::end(self)
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.comma();
        // A key must be a string here; serde_json also takes numbers and more.
        key.serialize(KeyWriter { out: self.w.out })?;
        self.w.out.push(':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Unsupported> {
        Compound::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.key(key);
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Unsupported> {
        Compound::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result<(), Unsupported> {
        Compound::end(self)
    }
}

/// Methods of [`KeyWriter`] for what is not a string: each refuses.
macro_rules! refuse {
    ($($method:ident($arg:ty)),*) => {$(
        fn $method(self, _: $arg) -> Result<(), Unsupported> {
            Err(Unsupported)
        }
    )*};
}

/// A map key: a string (or a character), anything else left to serde_json.
struct KeyWriter<'o> {
    out: &'o mut String,
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        push_str(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );
    fn serialize_none(self) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// `value` written as serde_json writes it, and (`ours`) by this writer itself,
    /// not by the fallback.
    fn same_as<T: Serialize + ?Sized>(value: &T, ours: bool) {
        let mut text = String::from("kept ");
        to_json_into(value, &mut text);
        let theirs = serde_json::to_string(value).unwrap();
        assert_eq!(text.strip_prefix("kept "), Some(theirs.as_str()));
        let direct = value.serialize(&mut Writer {
            out: &mut String::new(),
        });
        assert_eq!(direct.is_ok(), ours, "{theirs}");
    }

    fn same<T: Serialize + ?Sized>(value: &T) {
        same_as(value, true);
    }

    /// Every string of up to three characters drawn from the bytes that matter (each
    /// control character, the quote, the backslash, DEL, '/', letters, non-ASCII) is
    /// written as serde_json writes it.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut pieces: Vec<String> = (0u8..0x20).map(|b| char::from(b).to_string()).collect();
        for s in [
            "\"", "\\", "\u{7f}", "/", "a", "Z", " ", "é", "門", "😀", "\u{2028}",
        ] {
            pieces.push(s.to_owned());
        }
        let mut n = 0;
        for a in &pieces {
            same(a);
            for b in &pieces {
                same(&format!("{a}{b}"));
                for c in ["x", "\n", "\"", "é"] {
                    same(&format!("{a}{b}{c}"));
                    n += 1;
                }
            }
        }
        assert!(n > 4000);
        // Longer than any block, with each byte to escape at every place, beside bytes
        // that differ from it by one bit and beside non-ASCII.
        for special in 0u8..0x80 {
            for at in 0..40 {
                let mut s = "abcdefgh\u{80}ij\u{ff}klmnopq\u{7f}rstuvwxy".to_owned();
                if at < s.len() && s.is_char_boundary(at) && s.is_char_boundary(at + 1) {
                    s.replace_range(at..=at, char::from(special).encode_utf8(&mut [0; 4]));
                    same(&s);
                    assert_eq!(plain(s.as_bytes()), !s.bytes().any(needs_escape), "{s:?}");
                }
            }
        }
    }

    #[derive(Serialize)]
    #[allow(dead_code)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(u8, &'static str),
        Struct { a: bool, b: Option<i32> },
    }

    #[derive(Serialize)]
    struct Inner<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        maybe: Option<Option<&'a str>>,
    }

    #[derive(Serialize)]
    struct Outer<'a> {
        name: String,
        n: u64,
        m: i64,
        small: i8,
        yes: bool,
        list: Vec<&'a str>,
        empty: Vec<u32>,
        inner: Inner<'a>,
        inners: Vec<Inner<'a>>,
        shapes: Vec<Shape>,
        map: BTreeMap<String, u32>,
        tuple: (u8, char),
        unit: (),
    }

    /// Structs, options (skipped, null, nested), sequences, maps, enums of every form,
    /// numbers at their limits: the same text as serde_json.
    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        for (n, m, small) in [(0, 0, 0), (u64::MAX, i64::MIN, i8::MIN), (10, -1, 127)] {
            let value = Outer {
                name: "a \"name\"\twith\u{0}escapes".into(),
                n,
                m,
                small,
                yes: n > 1,
                list: vec!["one", "two\n"],
                empty: Vec::new(),
                inner: Inner {
                    kind: "k",
                    skipped: None,
                    maybe: Some(None),
                },
                inners: vec![
                    Inner {
                        kind: "x",
                        skipped: Some(3),
                        maybe: None,
                    },
                    Inner {
                        kind: "",
                        skipped: None,
                        maybe: Some(Some("y")),
                    },
                ],
                shapes: vec![
                    Shape::Unit,
                    Shape::Newtype(7),
                    Shape::Tuple(1, "t"),
                    Shape::Struct { a: true, b: None },
                ],
                map: [("k\"1".to_owned(), 1), ("k2".to_owned(), 2)].into(),
                tuple: (9, '"'),
                unit: (),
            };
            same(&value);
        }
    }

    /// What this writer leaves to serde_json gives serde_json's text, from the start
    /// of the value (nothing half-written before the fallback stays).
    #[test]
    fn unsupported_values_fall_back_to_serde_json() {
        #[derive(Serialize)]
        struct WithFloat {
            before: &'static str,
            x: f64,
        }
        same_as(
            &WithFloat {
                before: "written, then taken back",
                x: 1.5,
            },
            false,
        );
        same_as(&vec![f64::NAN, 0.1], false);
        let by_number: BTreeMap<u32, &str> = [(1, "a"), (2, "b")].into();
        same_as(&by_number, false);
        #[derive(Serialize)]
        struct Bytes<'a>(#[serde(with = "serde_bytes_like")] &'a [u8]);
        mod serde_bytes_like {
            pub fn serialize<S: serde::Serializer>(v: &&[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        same_as(&Bytes(b"\x00\xff"), false);
        same_as(&u128::MAX, false);
    }
}
