//! Hand-assembled hashicorp/raft messages, written the way go-msgpack writes them (fixmaps with
//! fixstr keys in the order given, which callers give sorted; smallest unsigned forms), for tests,
//! fuzzing and anything that must put exact bytes of any release on the wire: the checker never
//! encodes, so this is the only writer in the crate.

/// A msgpack value, enough to write raft's messages of any release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V<'a> {
    /// An unsigned integer, in its smallest form (positive fixint, then uint8/16/32/64).
    U(u64),
    /// A positive signed integer as go-msgpack v2 (raft >= 1.6) writes one above 127: int16/32/64.
    I2(i64),
    /// A bool.
    B(bool),
    /// A raw string (raft's `[]byte` and strings alike): fixstr, or str16 from 32 bytes.
    S(&'a [u8]),
    /// nil.
    Nil,
    /// Bytes already encoded (a nested map or array).
    Raw(Vec<u8>),
}

/// Appends `v` in msgpack.
pub fn put(out: &mut Vec<u8>, v: &V<'_>) {
    match v {
        V::U(n) if *n < 128 => out.push(*n as u8),
        V::U(n) if *n <= 0xff => out.extend_from_slice(&[0xcc, *n as u8]),
        V::U(n) if *n <= 0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(*n as u16).to_be_bytes());
        }
        V::U(n) if *n <= 0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(*n as u32).to_be_bytes());
        }
        V::U(n) => {
            out.push(0xcf);
            out.extend_from_slice(&n.to_be_bytes());
        }
        V::I2(n) if (0..128).contains(n) => out.push(*n as u8),
        V::I2(n) if i16::try_from(*n).is_ok() => {
            out.push(0xd1);
            out.extend_from_slice(&(*n as i16).to_be_bytes());
        }
        V::I2(n) if i32::try_from(*n).is_ok() => {
            out.push(0xd2);
            out.extend_from_slice(&(*n as i32).to_be_bytes());
        }
        V::I2(n) => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
        V::B(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        V::S(s) if s.len() < 32 => {
            out.push(0xa0 | s.len() as u8);
            out.extend_from_slice(s);
        }
        V::S(s) => {
            out.push(0xda);
            out.extend_from_slice(&(s.len().min(0xffff) as u16).to_be_bytes());
            out.extend_from_slice(s.get(..0xffff).unwrap_or(s));
        }
        V::Nil => out.push(0xc0),
        V::Raw(b) => out.extend_from_slice(b),
    }
}

/// A fixmap of `pairs` (at most 15), keys in the order given.
pub fn map(pairs: &[(&str, V<'_>)]) -> Vec<u8> {
    let mut out = vec![0x80 | pairs.len().min(15) as u8];
    for (k, v) in pairs.iter().take(15) {
        put(&mut out, &V::S(k.as_bytes()));
        put(&mut out, v);
    }
    out
}

/// A fixarray of encoded items (at most 15).
pub fn array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0x90 | items.len().min(15) as u8];
    for i in items.iter().take(15) {
        out.extend_from_slice(i);
    }
    out
}

/// A request: the rpc type byte, then its map.
pub fn request(rpc: u8, body: &[(&str, V<'_>)]) -> Vec<u8> {
    let mut out = vec![rpc];
    out.extend(map(body));
    out
}

/// A response: the error string (empty: `a0`), then its map.
pub fn response(error: &str, body: &[(&str, V<'_>)]) -> Vec<u8> {
    let mut out = Vec::new();
    put(&mut out, &V::S(error.as_bytes()));
    out.extend(map(body));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_take_the_forms_each_codec_generation_writes() {
        let enc = |v: V<'_>| {
            let mut o = Vec::new();
            put(&mut o, &v);
            o
        };
        assert_eq!(enc(V::U(5)), [5]);
        assert_eq!(enc(V::U(128)), [0xcc, 0x80]);
        assert_eq!(enc(V::U(1000)), [0xcd, 0x03, 0xe8]);
        assert_eq!(enc(V::U(70_000)), [0xce, 0, 1, 0x11, 0x70]);
        assert_eq!(enc(V::U(1 << 40)), [0xcf, 0, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(enc(V::I2(5)), [5]);
        assert_eq!(enc(V::I2(128)), [0xd1, 0, 0x80]);
        assert_eq!(enc(V::I2(70_000)), [0xd2, 0, 1, 0x11, 0x70]);
        assert_eq!(enc(V::I2(1 << 40)), [0xd3, 0, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(enc(V::S(b"ab")), [0xa2, b'a', b'b']);
        assert_eq!(enc(V::S(&[b'x'; 40]))[..3], [0xda, 0, 40]);
        assert_eq!(
            response("", &[("Term", V::U(2))]),
            [0xa0, 0x81, 0xa4, b'T', b'e', b'r', b'm', 2]
        );
        assert_eq!(array(&[vec![1], vec![2]]), [0x92, 1, 2]);
    }
}
