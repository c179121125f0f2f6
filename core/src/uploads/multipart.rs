//! The file out of a `multipart/form-data` body (RFC 7578), as a browser's
//! `<form>` or `FormData` sends it: the first part with a filename, or the
//! part named `file`.

use crate::error::ApiError;

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// The boundary parameter of a multipart content type.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"'))
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

fn bad(detail: &str) -> ApiError {
    ApiError::bad_request(format!("malformed multipart/form-data body: {detail}"))
}

/// The bytes of the uploaded file in `body`.
pub fn file_part<'a>(content_type: &str, body: &'a [u8]) -> Result<&'a [u8], ApiError> {
    let boundary = boundary(content_type).ok_or_else(|| bad("no boundary"))?;
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    let mut at = find(body, delimiter.as_bytes(), 0).ok_or_else(|| bad("no part"))?;
    loop {
        at += delimiter.len();
        if body[at..].starts_with(b"--") {
            return Err(ApiError::unprocessable(
                "file",
                "the form has no file: send it in a part named 'file'",
            ));
        }
        // Transport padding, then CRLF.
        while body.get(at).is_some_and(|b| *b == b' ' || *b == b'\t') {
            at += 1;
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err(bad("a delimiter is not followed by a line break"));
        }
        at += 2;
        let headers_end =
            find(body, b"\r\n\r\n", at).ok_or_else(|| bad("a part has no end of headers"))?;
        let headers = String::from_utf8_lossy(&body[at..headers_end]);
        let content_start = headers_end + 4;
        let content_end = find(body, next.as_bytes(), content_start)
            .ok_or_else(|| bad("a part is not closed"))?;
        let disposition = headers
            .split("\r\n")
            .find_map(|h| {
                let (name, value) = h.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then(|| value.to_owned())
            })
            .unwrap_or_default();
        let is_file = disposition.contains("filename=") || disposition.contains("name=\"file\"");
        if is_file {
            return Ok(&body[content_start..content_end]);
        }
        at = content_end + 2;
    }
}
