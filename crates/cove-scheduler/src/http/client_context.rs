//! The client context of an invocation (pure): the invoker sends base64 of a JSON
//! object in `X-Amz-Client-Context` (boto3's `ClientContext=`); the runtime receives
//! the JSON itself in `Lambda-Runtime-Client-Context`, as Lambda hands it over.

use base64::Engine as _;

/// `X-Amz-Client-Context` is not base64 of a JSON object
/// (`InvalidRequestContentException`, 400, with Lambda's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Client context must be a valid Base64-encoded JSON object. (X-Amz-Client-Context {problem}; send base64 of a JSON object such as {{\"custom\":{{\"k\":\"v\"}}}})"
)]
pub struct InvalidClientContext {
    /// What is wrong with it.
    pub problem: String,
}

/// Decodes the header to the JSON the runtime receives, re-serialized compactly with
/// every non-ASCII character escaped (`\uXXXX`), so that it travels in an HTTP header.
pub fn decode(header: &str) -> Result<String, InvalidClientContext> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(header.trim())
        .map_err(|e| InvalidClientContext {
            problem: format!("is not base64: {e}"),
        })?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| InvalidClientContext {
            problem: format!("does not decode to JSON: {e}"),
        })?;
    if !value.is_object() {
        return Err(InvalidClientContext {
            problem: "decodes to JSON that is not an object".to_owned(),
        });
    }
    Ok(ascii_json(&value.to_string()))
}

/// `json` with every non-ASCII character written as a JSON escape. Compact JSON has
/// non-ASCII characters only inside strings, where an escape means the same.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn base64_json_object_becomes_the_json_itself() {
        let json = r#"{"custom": {"k": "v"}, "client": {"installation_id": "i-1"}}"#;
        let out = decode(&b64(json)).expect("valid");
        let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["custom"]["k"], "v");
        assert_eq!(v["client"]["installation_id"], "i-1");
        // Unpadded base64 is accepted too.
        assert_eq!(decode(b64(json).trim_end_matches('=')), Ok(out));
    }

    #[test]
    fn non_ascii_is_escaped_and_means_the_same() {
        let out = decode(&b64(r#"{"custom":{"name":"café 🐟"}}"#)).expect("valid");
        assert!(out.is_ascii(), "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["custom"]["name"], "café 🐟");
    }

    #[test]
    fn invalid_base64_json_or_non_objects_are_refused() {
        for bad in [
            "not base64!".to_owned(),
            b64("{not json"),
            b64("[1,2]"),
            b64("\"s\""),
        ] {
            let e = decode(&bad).expect_err(&bad);
            assert!(
                e.to_string()
                    .starts_with("Client context must be a valid Base64-encoded JSON object."),
                "{e}"
            );
        }
    }
}
