//! CRC-32 (ISO-HDLC, the same CRC `crc32fast` computes) of exactly the 20 header bytes that
//! precede the header CRC, from tables built at compile time.
//!
//! Why not `crc32fast::hash`: it has no fixed-length path, so every call pays its setup and a
//! byte-serial tail, about 9 ns for 20 bytes (`research/perf-ceilings.md`), which was a tenth of
//! decoding a small frame and more than the whole per-frame cost of a length-delimited split.
//! A CRC is linear over GF(2): for a fixed length n, `crc(m) = crc(0^n) ^ XOR_k T_k[m_k]`, where
//! `T_k[b]` is the contribution of byte value `b` at position `k`. The 20 lookups are independent
//! (no serial chain through the CRC register), so they run in parallel. The result
//! is checked against `crc32fast` on every vector and on random headers (tests below, and the
//! property tests that decode `crc32fast`-sealed frames).

/// Bytes the header CRC covers.
pub(crate) const COVERED: usize = 20;

/// The reflected CRC-32 polynomial.
const POLY: u32 = 0xEDB8_8320;

/// One step of the bit-serial reflected CRC register over a byte (no init, no final xor).
const fn shift_byte(mut crc: u32, byte: u8) -> u32 {
    crc ^= byte as u32;
    let mut bit = 0;
    while bit < 8 {
        crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
        bit += 1;
    }
    crc
}

/// The register after `byte` at position `k` followed by `COVERED - 1 - k` zero bytes, starting
/// from a zero register: the linear part of the CRC that byte contributes.
const fn contribution(k: usize, byte: u8) -> u32 {
    let mut crc = shift_byte(0, byte);
    let mut i = k + 1;
    while i < COVERED {
        crc = shift_byte(crc, 0);
        i += 1;
    }
    crc
}

/// `TABLES[k][b]`: 20 KiB, built by the compiler.
static TABLES: [[u32; 256]; COVERED] = {
    let mut t = [[0u32; 256]; COVERED];
    let mut k = 0;
    while k < COVERED {
        let mut b = 0;
        while b < 256 {
            t[k][b] = contribution(k, b as u8);
            b += 1;
        }
        k += 1;
    }
    t
};

/// The CRC of 20 zero bytes, which carries the initial value and the final xor.
const ZEROS: u32 = {
    let mut crc = 0xFFFF_FFFFu32;
    let mut i = 0;
    while i < COVERED {
        crc = shift_byte(crc, 0);
        i += 1;
    }
    !crc
};

/// CRC-32/ISO-HDLC of the 20 bytes.
#[inline]
pub(crate) fn header_crc(bytes: &[u8; COVERED]) -> u32 {
    // Four independent accumulators: the lookups do not wait on each other's XOR.
    let mut acc = [ZEROS, 0, 0, 0];
    for (k, (table, &b)) in TABLES.iter().zip(bytes).enumerate() {
        // A u8 always indexes a 256-entry table and `k % 4` a 4-entry array: neither can panic,
        // and both compile without a check.
        acc[k % 4] ^= table[b as usize];
    }
    acc[0] ^ acc[1] ^ acc[2] ^ acc[3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_crc32fast() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut bytes = [0u8; COVERED];
        assert_eq!(header_crc(&bytes), crc32fast::hash(&bytes));
        for _ in 0..100_000 {
            for b in bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            assert_eq!(header_crc(&bytes), crc32fast::hash(&bytes), "{bytes:02x?}");
        }
        for k in 0..COVERED {
            for v in 0..=255u8 {
                let mut one = [0u8; COVERED];
                one[k] = v;
                assert_eq!(header_crc(&one), crc32fast::hash(&one));
            }
        }
    }
}
