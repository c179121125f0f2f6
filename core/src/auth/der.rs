//! Just enough DER to read an RSA SubjectPublicKeyInfo (RFC 5280 §4.1,
//! RFC 8017 §A.1.1): the modulus and public exponent, nothing else.

/// `rsaEncryption`, 1.2.840.113549.1.1.1, as DER content bytes.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const NULL: u8 = 0x05;

/// Reads one element of type `tag` from the front of `input`: its content
/// and what follows it. Definite lengths only (DER), at most 4 length bytes.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// `(modulus, exponent)` of an RSA SubjectPublicKeyInfo, as big-endian bytes
/// (an INTEGER's sign byte included); `None` for anything else.
pub fn rsa_spki(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (spki, trailing) = element(der, SEQUENCE)?;
    if !trailing.is_empty() {
        return None;
    }
    let (algorithm, rest) = element(spki, SEQUENCE)?;
    let (oid, params) = element(algorithm, OID)?;
    if oid != RSA_ENCRYPTION || !(params.is_empty() || params == [NULL, 0]) {
        return None;
    }
    let (bits, rest) = element(rest, BIT_STRING)?;
    if !rest.is_empty() {
        return None;
    }
    // The first content byte of a BIT STRING counts its unused bits: none here.
    let (&0, key) = bits.split_first()? else {
        return None;
    };
    let (fields, rest) = element(key, SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    let (n, rest) = element(fields, INTEGER)?;
    let (e, rest) = element(rest, INTEGER)?;
    rest.is_empty().then_some((n, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_bounded_by_the_input() {
        assert_eq!(element(&[0x30, 0x03, 1, 2], SEQUENCE), None);
        assert_eq!(element(&[0x30, 0x82, 0x00], SEQUENCE), None);
        assert_eq!(element(&[0x30, 0x80], SEQUENCE), None);
        assert_eq!(
            element(&[0x30, 0x81, 0x02, 7, 8, 9], SEQUENCE),
            Some((&[7u8, 8][..], &[9u8][..]))
        );
    }

    #[test]
    fn only_rsa_keys_are_read() {
        assert_eq!(rsa_spki(&[]), None);
        // An EC P-256 SPKI header (id-ecPublicKey) is refused.
        let ec = [
            0x30, 0x13, 0x30, 0x11, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x06, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x00,
        ];
        assert_eq!(rsa_spki(&ec), None);
    }
}
