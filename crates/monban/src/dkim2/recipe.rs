//! Recipes (draft-ietf-dkim-dkim2-spec-02 §6.2, the `r=` of a `Message-Instance`): how to
//! rebuild the message a hop received from the one it sent, so the hashes the earlier
//! hops recorded can be checked.
//!
//! `{"h": {"<field>": [step, ...], ...}, "b": [step, ...] | null}` where a step copies a
//! range of the current lines or values (`{"c": [first, last]}`, 1-based, inclusive) or
//! adds literal ones (`{"d": ["text", ...]}`). Header values are numbered from the
//! bottom of the header up; body lines from the top. `"b": null` says the body cannot be
//! rebuilt; no `"b"` leaves it as it is.

use super::fields::is_ws;

/// The most a recipe may rebuild (bytes of body, plus bytes of header values): a hostile
/// recipe copying the whole body many times is refused past it.
pub const MAX_REBUILT_BYTES: usize = 64 * 1024 * 1024;

/// The most steps one recipe may hold.
pub const MAX_STEPS: usize = 10_000;

/// What each rebuilt header value or body line costs against [`MAX_REBUILT_BYTES`]
/// besides its bytes (so copies of empty values are not free).
const ENTRY_COST: usize = 64;

/// The most header fields a rebuilt instance may have (as many as a header may).
const MAX_FIELDS: usize = crate::message::MAX_HEADER_FIELDS;

/// One step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Copy the current lines or values `first..=last` (1-based).
    Copy(u64, u64),
    /// Add these.
    Data(Vec<String>),
}

/// A parsed recipe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipe {
    /// Steps per header field name (lowercase).
    pub headers: Vec<(String, Vec<Step>)>,
    /// The body: `None` leaves it unchanged, `Some(None)` cannot rebuild it.
    pub body: Option<Option<Vec<Step>>>,
}

/// A message as the hashes see it: the header fields top to bottom and the body (the
/// received body is borrowed, not copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance<'a> {
    /// (name, value) pairs.
    pub fields: Vec<(String, Vec<u8>)>,
    /// The body bytes.
    pub body: std::borrow::Cow<'a, [u8]>,
}

fn steps(v: &serde_json::Value, count: &mut usize) -> Result<Vec<Step>, String> {
    let serde_json::Value::Array(items) = v else {
        return Err("a step list is not an array".into());
    };
    let mut out = Vec::new();
    for item in items {
        *count += 1;
        if *count > MAX_STEPS {
            return Err(format!("more than {MAX_STEPS} steps"));
        }
        // Anything that is not a step object is passed over (the draft's later
        // revisions add step kinds).
        let serde_json::Value::Object(o) = item else {
            continue;
        };
        if let Some(c) = o.get("c") {
            let serde_json::Value::Array(range) = c else {
                continue;
            };
            let n = |i: usize| match range.get(i) {
                Some(serde_json::Value::Number(n)) => n
                    .as_u64()
                    .ok_or_else(|| "a copy range is not a non-negative integer".to_owned()),
                _ => Err("a copy range needs two numbers".to_owned()),
            };
            out.push(Step::Copy(n(0)?, n(1)?));
        } else if let Some(serde_json::Value::Array(d)) = o.get("d") {
            let texts = d
                .iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    _ => Err("a data step holds something other than text".to_owned()),
                })
                .collect::<Result<_, _>>()?;
            out.push(Step::Data(texts));
        }
    }
    Ok(out)
}

impl Recipe {
    /// Parses the JSON of `r=`.
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
        let serde_json::Value::Object(o) = v else {
            return Err("not a JSON object".into());
        };
        let mut count = 0;
        let mut headers = Vec::new();
        match o.get("h") {
            None => {}
            Some(serde_json::Value::Object(h)) => {
                for (name, list) in h {
                    headers.push((name.to_ascii_lowercase(), steps(list, &mut count)?));
                }
            }
            Some(_) => return Err("\"h\" is not an object".into()),
        }
        let body = match o.get("b") {
            None => None,
            Some(serde_json::Value::Null) => Some(None),
            Some(list) => Some(Some(steps(list, &mut count)?)),
        };
        Ok(Self { headers, body })
    }

    /// Rebuilds the previous instance from `cur`; `Err` when the body cannot be rebuilt
    /// (`"b": null`) or the result would pass [`MAX_REBUILT_BYTES`].
    pub fn apply<'a>(&self, cur: &Instance<'a>) -> Result<Instance<'a>, &'static str> {
        let mut budget = MAX_REBUILT_BYTES;
        let mut spend = |n: usize| -> Result<(), &'static str> {
            budget = budget
                .checked_sub(n)
                .ok_or("the recipe rebuilds more than the limit")?;
            Ok(())
        };
        // Header groups by lowercase name, top to bottom, values trimmed; unsigned
        // fields are left out (they are not hashed).
        // (lowercase name, name as written, values top to bottom), and where each name's
        // group is: one map lookup per field, so a header of many names stays linear.
        let mut groups: Vec<(String, String, Vec<Vec<u8>>)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        for (name, value) in &cur.fields {
            let lower = name.to_ascii_lowercase();
            if super::canon::is_unsigned(&lower) {
                continue;
            }
            let start = value.iter().position(|&b| !is_ws(b)).unwrap_or(value.len());
            let end = value
                .iter()
                .rposition(|&b| !is_ws(b))
                .map_or(start, |e| e + 1);
            let v = value[start..end.max(start)].to_vec();
            match index.get(&lower) {
                Some(&g) => groups[g].2.push(v),
                None => {
                    index.insert(lower.clone(), groups.len());
                    groups.push((lower, name.clone(), vec![v]));
                }
            }
        }
        for (name, list) in &self.headers {
            let current = index
                .get(name)
                .map(|&g| groups[g].2.clone())
                .unwrap_or_default();
            let n = current.len() as u64;
            let mut built: Vec<Vec<u8>> = Vec::new();
            for step in list {
                match step {
                    Step::Copy(first, last) => {
                        for k in (*first).max(1)..=(*last).min(n) {
                            // Numbered from the bottom: 1 is the last occurrence.
                            let v = &current[(n - k) as usize];
                            spend(v.len() + ENTRY_COST)?;
                            built.push(v.clone());
                        }
                    }
                    Step::Data(texts) => {
                        for t in texts {
                            spend(t.len() + ENTRY_COST)?;
                            built.push(t.as_bytes().to_vec());
                        }
                    }
                }
                if built.len() > MAX_FIELDS {
                    return Err("the recipe rebuilds more header fields than a header may have");
                }
            }
            built.reverse();
            match index.get(name) {
                Some(&g) => groups[g].2 = built,
                None => {
                    index.insert(name.clone(), groups.len());
                    groups.push((name.clone(), name.clone(), built));
                }
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        if groups.iter().map(|g| g.2.len()).sum::<usize>() > MAX_FIELDS {
            return Err("the recipe rebuilds more header fields than a header may have");
        }
        let fields = groups
            .into_iter()
            .flat_map(|(_, name, values)| values.into_iter().map(move |v| (name.clone(), v)))
            .collect();

        let body = match &self.body {
            None => cur.body.clone(),
            Some(None) => return Err("the recipe says the body cannot be rebuilt"),
            Some(Some(list)) => {
                let mut lines: Vec<&[u8]> = cur
                    .body
                    .split(|&b| b == b'\n')
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                    .collect();
                if lines.last().is_some_and(|l| l.is_empty()) {
                    lines.pop();
                }
                let count = lines.len() as u64;
                let mut out = Vec::new();
                for step in list {
                    match step {
                        Step::Copy(first, last) => {
                            for k in (*first).max(1)..=(*last).min(count) {
                                let l = lines[(k - 1) as usize];
                                spend(l.len() + ENTRY_COST)?;
                                out.extend_from_slice(l);
                                out.extend_from_slice(b"\r\n");
                            }
                        }
                        Step::Data(texts) => {
                            for t in texts {
                                spend(t.len() + ENTRY_COST)?;
                                out.extend_from_slice(t.as_bytes());
                                out.extend_from_slice(b"\r\n");
                            }
                        }
                    }
                }
                if out.is_empty() {
                    out.extend_from_slice(b"\r\n");
                }
                std::borrow::Cow::Owned(out)
            }
        };
        Ok(Instance { fields, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance<'a>(fields: &[(&str, &str)], body: &'a str) -> Instance<'a> {
        Instance {
            fields: fields
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            body: std::borrow::Cow::Borrowed(body.as_bytes()),
        }
    }

    #[test]
    fn body_and_header_steps() {
        let r = Recipe::parse(
            br#"{"h":{"subject":[{"d":["old"]}],"x-new":[]},"b":[{"c":[1,1]},{"d":["two"]},{"c":[3,9]}]}"#,
        )
        .unwrap();
        let cur = instance(
            &[("Subject", " new"), ("To", " a@b")],
            "one\r\nTWO\r\nthree\r\n",
        );
        let prev = r.apply(&cur).unwrap();
        assert_eq!(&*prev.body, b"one\r\ntwo\r\nthree\r\n");
        assert_eq!(
            prev.fields,
            vec![
                ("Subject".to_owned(), b"old".to_vec()),
                ("To".to_owned(), b"a@b".to_vec())
            ]
        );
        assert!(
            Recipe::parse(br#"{"b":null}"#)
                .unwrap()
                .apply(&cur)
                .is_err()
        );
        assert!(Recipe::parse(br#"{"h":null}"#).is_err());
    }

    #[test]
    fn copies_of_empty_values_are_bounded() {
        let fields: Vec<(&str, &str)> = (0..5000).map(|_| ("Keywords", "")).collect();
        let steps: Vec<String> = (0..10).map(|_| r#"{"c":[1,5000]}"#.to_owned()).collect();
        let json = format!(r#"{{"h":{{"keywords":[{}]}}}}"#, steps.join(","));
        let r = Recipe::parse(json.as_bytes()).unwrap();
        assert!(r.apply(&instance(&fields, "")).is_err());
    }

    #[test]
    fn copies_are_bounded() {
        let big = "x".repeat(1 << 20) + "\r\n";
        let steps: Vec<String> = (0..100).map(|_| r#"{"c":[1,1]}"#.to_owned()).collect();
        let json = format!(r#"{{"b":[{}]}}"#, steps.join(","));
        let r = Recipe::parse(json.as_bytes()).unwrap();
        let cur = instance(&[], &big);
        assert!(r.apply(&cur).is_err(), "100 MiB rebuilt from 1 MiB");
    }
}
