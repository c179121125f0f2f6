//! Randomness from `crypto.getRandomValues` (getrandom's wasm_js backend).

/// `N` random bytes. Failure means the runtime has no CSPRNG, which no Worker
/// can run without: a panic (an opaque 500) is the right answer.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("crypto.getRandomValues is available in Workers");
    out
}
