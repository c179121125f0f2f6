//! Entity tags for cacheable responses (RFC 9110 sections 8.8.3 and 13.1.2).
//!
//! The tag is a hash of the exact body bytes, so it changes whenever the
//! representation does (new catalog data, a provider becoming available)
//! and never otherwise. Collision resistance against an attacker is not
//! needed: the worst case is a client keeping a stale copy of public data.

/// A strong entity tag for `body`: 64-bit FNV-1a, quoted.
pub fn etag(body: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in body {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

/// Whether `If-None-Match` matches `tag`, using the weak comparison the RFC
/// requires for this header (a `W/` prefix is ignored on either side).
pub fn if_none_match(header: &str, tag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let tag = opaque(tag);
    header.trim() == "*" || header.split(',').any(|candidate| opaque(candidate) == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_body_same_tag_and_different_body_different_tag() {
        assert_eq!(etag(b"abc"), etag(b"abc"));
        assert_ne!(etag(b"abc"), etag(b"abd"));
        assert!(etag(b"").starts_with('"') && etag(b"").ends_with('"'));
    }

    #[test]
    fn if_none_match_handles_lists_weak_tags_and_star() {
        let tag = etag(b"body");
        assert!(if_none_match(&tag, &tag));
        assert!(if_none_match(&format!("\"x\", W/{tag}"), &tag));
        assert!(if_none_match("*", &tag));
        assert!(!if_none_match("\"other\"", &tag));
        assert!(!if_none_match("", &tag));
    }
}
