//! Request bodies as HQ reads them: JSON (RFC 8259) into the wire types, with two rules
//! applied at the edge so that both backends answer alike.
//!
//! - A string holding U+0000 is refused: PostgreSQL's text cannot store it (it answered 500)
//!   while SQLite stored it, so the same request had two outcomes.
//! - A whole number written with a fraction of zero (`5.0`) is a number JSON Schema calls an
//!   integer, and the OpenAPI spec promises integers: it is read as that integer.

use serde::de::DeserializeOwned;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("text holds a NUL character (U+0000), which HQ does not store")]
    Nul,
}

/// Reads `body` as a `T`. Errors: not JSON or not a `T` ([`BodyError::Json`]), or a string
/// holding U+0000 ([`BodyError::Nul`]).
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, BodyError> {
    if holds_nul(body) {
        return Err(BodyError::Nul);
    }
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        // Only on failure: tills write integers as integers, so the common path pays nothing.
        Err(first) => {
            let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) else {
                return Err(first.into());
            };
            if !integral_floats_to_integers(&mut value) {
                return Err(first.into());
            }
            serde_json::from_value(value).map_err(BodyError::from)
        }
    }
}

/// Whether a JSON text's strings hold U+0000. JSON has no raw control characters inside
/// strings (a parser refuses them), so a NUL can only be the escape `\u0000`, and a
/// backslash that starts an escape is one preceded by an even run of backslashes.
fn holds_nul(body: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &b) in body.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        let escaped = backslashes % 2 == 1;
        backslashes = 0;
        if escaped && b == b'u' && body.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
    }
    false
}

/// Replaces every float with no fraction that fits an `i64` or a `u64` by that integer;
/// true if any was replaced.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let Some(f) = n.as_f64() else { return false };
            let whole = f.fract() == 0.0;
            // 2^63 and 2^64 as floats: the first values past each range.
            let integer = if whole
                && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
            {
                Some(Value::from(f as i64))
            } else if whole && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                Some(Value::from(f as u64))
            } else {
                None
            };
            match integer {
                Some(integer) => {
                    *value = integer;
                    true
                }
                None => false,
            }
        }
        // Every element is visited (no short circuit): all of them are converted.
        Value::Array(items) => {
            let mut any = false;
            for item in items {
                any |= integral_floats_to_integers(item);
            }
            any
        }
        Value::Object(fields) => {
            let mut any = false;
            for item in fields.values_mut() {
                any |= integral_floats_to_integers(item);
            }
            any
        }
        _ => false,
    }
}

/// What every string in HQ's API may not hold, as a JSON Schema pattern (ECMA-262): U+0000,
/// which [`parse`] refuses.
pub(crate) const NO_NUL: &str = "^[^\\u0000]*$";

/// Gives every string schema in an OpenAPI document that has no pattern, format or enum of its
/// own the [`NO_NUL`] pattern, so the spec says what [`parse`] enforces for every string at
/// once.
pub(crate) fn forbid_nul_in_strings(node: &mut serde_json::Value) {
    use serde_json::Value;
    each_object(node, &mut |fields| {
        let is_string = match fields.get("type") {
            Some(Value::String(t)) => t == "string",
            Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
            _ => false,
        };
        let constrained = ["pattern", "format", "enum", "const"]
            .iter()
            .any(|k| fields.contains_key(*k));
        if is_string && !constrained {
            fields.insert("pattern".into(), NO_NUL.into());
        }
    });
}

/// Calls `f` on every JSON object in `node`, outermost first.
fn each_object(
    node: &mut serde_json::Value,
    f: &mut dyn FnMut(&mut serde_json::Map<String, serde_json::Value>),
) {
    use serde_json::Value;
    match node {
        Value::Object(fields) => {
            f(fields);
            for value in fields.values_mut() {
                each_object(value, f);
            }
        }
        Value::Array(items) => {
            for item in items {
                each_object(item, f);
            }
        }
        _ => {}
    }
}

/// Gives every object schema with named properties and no word on others
/// `additionalProperties: false`: every wire type HQ reads refuses unknown fields (serde's
/// `deny_unknown_fields`), and every one it writes has none, so the spec says so.
pub(crate) fn forbid_unknown_fields(node: &mut serde_json::Value) {
    each_object(node, &mut |fields| {
        if fields.contains_key("properties") && !fields.contains_key("additionalProperties") {
            fields.insert(
                "additionalProperties".into(),
                serde_json::Value::Bool(false),
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Shape {
        n: i64,
        u: u64,
        text: String,
    }

    #[test]
    fn a_body_is_read_as_its_type_with_nul_refused_and_whole_floats_taken() {
        fn check(body: &str, want: Result<(i64, u64, &str), &str>) {
            let got = parse::<Shape>(body.as_bytes())
                .map(|s| (s.n, s.u, s.text))
                .map_err(|e| e.to_string());
            match want {
                Ok((n, u, text)) => assert_eq!(got.unwrap(), (n, u, text.to_string()), "{body}"),
                Err(fragment) => {
                    let error = got.unwrap_err();
                    assert!(error.contains(fragment), "{body}: {error}");
                }
            }
        }
        check(r#"{"n":-5,"u":7,"text":"水"}"#, Ok((-5, 7, "水")));
        check(r#"{"n":-5.0,"u":7.0,"text":"a"}"#, Ok((-5, 7, "a")));
        check(r#"{"n":1e3,"u":0.0,"text":"a"}"#, Ok((1000, 0, "a")));
        check(
            r#"{"n":-8589934591.0,"u":1,"text":"a"}"#,
            Ok((-8_589_934_591, 1, "a")),
        );
        check(
            r#"{"n":5.5,"u":7,"text":"a"}"#,
            Err("invalid type: floating point"),
        );
        check(
            r#"{"n":1e19,"u":7,"text":"a"}"#,
            Err("invalid value: integer `10000000000000000000`"),
        );
        check(
            r#"{"n":1e20,"u":7,"text":"a"}"#,
            Err("invalid type: floating point"),
        );
        check(
            r#"{"n":1,"u":-1.0,"text":"a"}"#,
            Err("invalid value: integer `-1`"),
        );
        check(r#"{"n":1,"u":1,"text":"a\u0000b"}"#, Err("NUL character"));
        check(r#"{"n":1,"u":1,"text":"\u0000"}"#, Err("NUL character"));
        // A backslash, then the letters u0000: text, not a NUL.
        check(r#"{"n":1,"u":1,"text":"\\u0000"}"#, Ok((1, 1, "\\u0000")));
        check(r#"{"n":1,"u":1,"text":"\\\u0000"}"#, Err("NUL character"));
        check(r#"{"n":1,"u":1,"text":"\u0001"}"#, Ok((1, 1, "\u{1}")));
        check(r#"{"n":1,"u":1}"#, Err("missing field `text`"));
        check("not json", Err("expected ident"));
    }

    #[test]
    fn every_unconstrained_string_in_the_spec_forbids_nul() {
        let mut spec = serde_json::json!({
            "a": {"type": "string"},
            "b": {"type": ["string", "null"]},
            "c": {"type": "string", "format": "date-time"},
            "d": {"type": "string", "pattern": "^x$"},
            "e": {"type": "integer"},
            "f": {"properties": {"g": {"type": "string"}}, "type": "object"},
            "h": [{"type": "string", "enum": ["x"]}],
        });
        forbid_nul_in_strings(&mut spec);
        let pattern = |path: &str| spec.pointer(path).cloned();
        let nul = Some(serde_json::Value::from(NO_NUL));
        assert_eq!(pattern("/a/pattern"), nul);
        assert_eq!(pattern("/b/pattern"), nul);
        assert_eq!(pattern("/c/pattern"), None);
        assert_eq!(pattern("/d/pattern"), Some("^x$".into()));
        assert_eq!(pattern("/e/pattern"), None);
        assert_eq!(pattern("/f/properties/g/pattern"), nul);
        assert_eq!(pattern("/h/0/pattern"), None);
        assert_eq!(NO_NUL, r"^[^\u0000]*$");
    }

    #[test]
    fn every_object_with_properties_in_the_spec_refuses_others() {
        let mut spec = serde_json::json!({
            "components": {"schemas": {
                "A": {"type": "object", "properties": {"x": {"type": "integer"}}},
                "B": {"type": "object", "additionalProperties": {"type": "string"}},
                "C": {"oneOf": [{"type": "object", "properties": {"kind": {"type": "string"}}}]},
            }},
        });
        forbid_unknown_fields(&mut spec);
        let closed = |path: &str| spec.pointer(path).cloned();
        assert_eq!(
            closed("/components/schemas/A/additionalProperties"),
            Some(false.into())
        );
        assert_eq!(
            closed("/components/schemas/B/additionalProperties"),
            Some(serde_json::json!({"type": "string"}))
        );
        assert_eq!(
            closed("/components/schemas/C/oneOf/0/additionalProperties"),
            Some(false.into())
        );
        assert_eq!(closed("/components/additionalProperties"), None);
    }
}
