//! HMAC-SHA512 (RFC 2104, FIPS 180-4) whose whole state is wiped when dropped.
//!
//! The signature of every request is keyed with the secret key. The `hmac` crate keeps its
//! keyed state in memory that is freed without being wiped, and that state is as good as the
//! key for forging signatures. This small implementation keeps every key-derived byte (the
//! padded key, the chaining values, the block buffer) in types that zeroize on drop, and uses
//! only the SHA-512 compression function of the `sha2` crate. It is checked against the RFC
//! 4231 test vectors and against the `hmac` crate on many inputs.

use sha2::digest::generic_array::GenericArray;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const BLOCK: usize = 128;

const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// A SHA-512 computation in progress; wiped when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Sha512 {
    state: [u64; 8],
    buf: [u8; BLOCK],
    buf_len: usize,
    total: u128,
}

impl Sha512 {
    fn new() -> Sha512 {
        Sha512 {
            state: IV,
            buf: [0; BLOCK],
            buf_len: 0,
            total: 0,
        }
    }

    fn compress(state: &mut [u64; 8], block: &[u8; BLOCK]) {
        sha2::compress512(state, &[*GenericArray::from_slice(block)]);
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u128);
        if self.buf_len > 0 {
            let take = (BLOCK - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < BLOCK {
                return;
            }
            Self::compress(&mut self.state, &self.buf);
            self.buf_len = 0;
        }
        let mut blocks = data.chunks_exact(BLOCK);
        for b in &mut blocks {
            let mut block = Zeroizing::new([0u8; BLOCK]);
            block.copy_from_slice(b);
            Self::compress(&mut self.state, &block);
        }
        let rest = blocks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    fn finish(mut self) -> Zeroizing<[u8; 64]> {
        let bits = self.total.wrapping_mul(8);
        let mut pad = Zeroizing::new([0u8; 2 * BLOCK]);
        pad[0] = 0x80;
        // Room for 0x80 and the 16-byte length: one block, or two when the buffer is full.
        let pad_len = if self.buf_len < BLOCK - 16 {
            BLOCK - self.buf_len
        } else {
            2 * BLOCK - self.buf_len
        };
        pad[pad_len - 16..pad_len].copy_from_slice(&bits.to_be_bytes());
        let total = self.total;
        self.update(&pad[..pad_len]);
        self.total = total;
        let mut out = Zeroizing::new([0u8; 64]);
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.state.iter()) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// HMAC-SHA512 of `message` keyed with `key`.
pub(crate) fn hmac_sha512(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 64]> {
    let mut k = Zeroizing::new([0u8; BLOCK]);
    if key.len() > BLOCK {
        let mut h = Sha512::new();
        h.update(key);
        k[..64].copy_from_slice(&*h.finish());
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut pad = Zeroizing::new([0u8; BLOCK]);
    for (p, b) in pad.iter_mut().zip(k.iter()) {
        *p = b ^ 0x36;
    }
    let mut inner = Sha512::new();
    inner.update(&*pad);
    inner.update(message);
    let inner = inner.finish();
    for (p, b) in pad.iter_mut().zip(k.iter()) {
        *p = b ^ 0x5c;
    }
    let mut outer = Sha512::new();
    outer.update(&*pad);
    outer.update(&*inner);
    outer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc_4231_vectors() {
        // Test case 1.
        assert_eq!(
            hex(&*hmac_sha512(&[0x0b; 20], b"Hi There")),
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        );
        // Test case 2: a key shorter than the output.
        assert_eq!(
            hex(&*hmac_sha512(b"Jefe", b"what do ya want for nothing?")),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        // Test case 6: a key longer than a block.
        assert_eq!(
            hex(&*hmac_sha512(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"
        );
    }

    #[test]
    fn agrees_with_the_hmac_crate_on_every_length_around_the_block_size() {
        for key_len in [0usize, 1, 40, 127, 128, 129, 300] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            for msg_len in 0..=(3 * BLOCK + 1) {
                let msg: Vec<u8> = (0..msg_len).map(|i| (i * 13 + 1) as u8).collect();
                let Ok(mut reference) = Hmac::<sha2::Sha512>::new_from_slice(&key) else {
                    panic!("hmac accepts any key length");
                };
                reference.update(&msg);
                let want = reference.finalize().into_bytes();
                assert_eq!(
                    &hmac_sha512(&key, &msg)[..],
                    &want[..],
                    "key {key_len} msg {msg_len}"
                );
            }
        }
    }
}
