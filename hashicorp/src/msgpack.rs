//! A strict msgpack reader for the hashicorp/raft wire, written with nom: every value knows its
//! byte offset and the exact encoding it used (so a stream's go-msgpack generation can be read off
//! its integers), lengths are checked against the input before anything is allocated, and nesting
//! is bounded. No general-purpose msgpack crate reports offsets or refuses what this must refuse.

use std::cell::RefCell;

use bumpalo::Bump;
use nom::error::{ErrorKind, ParseError};
use nom::IResult;

/// One decoded value. Arrays and maps live in an arena ([`with_arena`]), so a value is a few
/// words to copy and nothing to free.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// `c0`.
    Nil,
    /// `c2` / `c3`.
    Bool(bool),
    /// Any integer; `format` is its first byte (fixint, `cc`-`cf` unsigned, `d0`-`d3` signed).
    Int {
        /// The value.
        value: i128,
        /// The encoding byte.
        format: u8,
    },
    /// Raw/str family (`a0`-`bf`, `d9`, `da`, `db`): go-msgpack writes both strings and `[]byte` so.
    Str(&'a [u8]),
    /// bin family (`c4`-`c6`): accepted, never written by raft.
    Bin(&'a [u8]),
    /// An array.
    Array(&'a [Value<'a>]),
    /// A map, in wire order.
    Map(&'a [(Value<'a>, Value<'a>)]),
}

/// Most bytes an arena keeps between messages: one huge message must not hold its memory for
/// the rest of the run.
const ARENA_KEPT: usize = 1 << 20;

thread_local! {
    /// The arena values are read into, one per thread, emptied for each use.
    static ARENA: RefCell<Bump> = RefCell::new(Bump::new());
}

/// Runs `f` with an empty arena to read values into ([`value_in`]); nothing read can outlive the
/// call. The thread's arena is reused (emptied, its memory kept up to [`ARENA_KEPT`]); a nested
/// call gets a fresh one.
pub fn with_arena<R>(f: impl FnOnce(&Bump) -> R) -> R {
    ARENA.with(|cell| match cell.try_borrow_mut() {
        Ok(mut arena) => {
            if arena.allocated_bytes() > ARENA_KEPT {
                *arena = Bump::new();
            } else {
                arena.reset();
            }
            f(&arena)
        }
        Err(_) => f(&Bump::new()),
    })
}

impl<'a> Value<'a> {
    /// The value as bytes (`Str`, `Bin`; `Nil` as empty).
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Str(b) | Value::Bin(b) => Some(b),
            Value::Nil => Some(&[]),
            _ => None,
        }
    }

    /// The value as a non-negative integer.
    pub fn uint(&self) -> Option<u64> {
        match self {
            Value::Int { value, .. } => u64::try_from(*value).ok(),
            _ => None,
        }
    }
}

/// Why a value could not be read, and where (as the input left at the failing byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgpackError {
    /// Bytes left at the failure.
    pub remaining: usize,
    /// What was wrong.
    pub what: &'static str,
    /// The byte at the failure, if any.
    pub byte: Option<u8>,
}

impl<'a> ParseError<&'a [u8]> for MsgpackError {
    fn from_error_kind(input: &'a [u8], _: ErrorKind) -> Self {
        MsgpackError {
            remaining: input.len(),
            what: "truncated value",
            byte: input.first().copied(),
        }
    }
    fn append(_: &'a [u8], _: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = IResult<&'a [u8], T, MsgpackError>;

/// Deepest nesting accepted (raft's messages nest three deep).
const MAX_DEPTH: usize = 16;

fn fail<'a, T>(at: &'a [u8], what: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Failure(MsgpackError {
        remaining: at.len(),
        what,
        byte: at.first().copied(),
    }))
}

/// Needs `n` more bytes: `Incomplete`, so a caller with more input coming can wait.
fn need<T>(n: usize) -> PResult<'static, T> {
    Err(nom::Err::Incomplete(nom::Needed::new(n.max(1))))
}

fn take(i: &[u8], n: usize) -> PResult<'_, &[u8]> {
    match (i.get(..n), i.get(n..)) {
        (Some(a), Some(b)) => Ok((b, a)),
        _ => need(n - i.len()),
    }
}

fn be(i: &[u8], n: usize) -> PResult<'_, u64> {
    let (rest, b) = take(i, n)?;
    Ok((rest, b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x))))
}

/// One msgpack value, its arrays and maps in `arena` (streaming: a short input is `Incomplete`,
/// never an error).
pub fn value_in<'i: 'v, 'b: 'v, 'v>(i: &'i [u8], arena: &'b Bump) -> PResult<'i, Value<'v>> {
    value_at_depth(i, 0, arena)
}

/// Where `part` lies in `buffer`, if it is a slice of it.
pub fn range_in(buffer: &[u8], part: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(buffer.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= buffer.len()).then_some(start..end)
}

/// Passes over one msgpack value, judging it as [`value_in`] does.
pub fn value(i: &[u8]) -> PResult<'_, ()> {
    with_arena(|arena| value_in(i, arena).map(|(rest, _)| rest)).map(|rest| (rest, ()))
}

fn value_at_depth<'i: 'v, 'b: 'v, 'v>(i: &'i [u8], depth: usize, arena: &'b Bump) -> PResult<'i, Value<'v>> {
    if depth > MAX_DEPTH {
        return fail(i, "nesting deeper than any raft message");
    }
    let Some((&b, rest)) = i.split_first() else {
        return need(1);
    };
    match b {
        0x00..=0x7f => Ok((
            rest,
            Value::Int {
                value: b as i128,
                format: b,
            },
        )),
        0xe0..=0xff => Ok((
            rest,
            Value::Int {
                value: (b as i8) as i128,
                format: b,
            },
        )),
        0xc0 => Ok((rest, Value::Nil)),
        0xc2 => Ok((rest, Value::Bool(false))),
        0xc3 => Ok((rest, Value::Bool(true))),
        0xcc..=0xcf => {
            let (r, v) = be(rest, 1 << (b - 0xcc))?;
            Ok((
                r,
                Value::Int {
                    value: v as i128,
                    format: b,
                },
            ))
        }
        0xd0..=0xd3 => {
            let n = 1usize << (b - 0xd0);
            let (r, v) = be(rest, n)?;
            let shift = 64 - 8 * n as u32;
            Ok((
                r,
                Value::Int {
                    value: (((v << shift) as i64) >> shift) as i128,
                    format: b,
                },
            ))
        }
        0xa0..=0xbf => str_of(rest, (b & 0x1f) as usize).map(|(r, s)| (r, Value::Str(s))),
        0xd9..=0xdb => {
            let (r, n) = be(rest, 1 << (b - 0xd9))?;
            str_of(r, n as usize).map(|(r, s)| (r, Value::Str(s)))
        }
        0xc4..=0xc6 => {
            let (r, n) = be(rest, 1 << (b - 0xc4))?;
            str_of(r, n as usize).map(|(r, s)| (r, Value::Bin(s)))
        }
        0x90..=0x9f => array(rest, (b & 0x0f) as usize, depth, arena),
        0xdc | 0xdd => {
            let (r, n) = be(rest, if b == 0xdc { 2 } else { 4 })?;
            array(r, n as usize, depth, arena)
        }
        0x80..=0x8f => map(rest, (b & 0x0f) as usize, depth, arena),
        0xde | 0xdf => {
            let (r, n) = be(rest, if b == 0xde { 2 } else { 4 })?;
            map(r, n as usize, depth, arena)
        }
        0xc1 => fail(i, "0xc1 is never used by msgpack"),
        0xca | 0xcb => fail(i, "a float: raft's messages have none"),
        _ => fail(i, "an extension type: go-msgpack's raft handle never writes one"),
    }
}

fn str_of(i: &[u8], n: usize) -> PResult<'_, &[u8]> {
    take(i, n)
}

fn array<'i: 'v, 'b: 'v, 'v>(i: &'i [u8], n: usize, depth: usize, arena: &'b Bump) -> PResult<'i, Value<'v>> {
    // Every element is at least one byte: a count above what is left cannot be honest, so the
    // allocation below is bounded by the input, never by the claim.
    let mut items = bumpalo::collections::Vec::with_capacity_in(n.min(i.len()), arena);
    let mut r = i;
    for _ in 0..n {
        let (next, v) = value_at_depth(r, depth + 1, arena)?;
        items.push(v);
        r = next;
    }
    Ok((r, Value::Array(items.into_bump_slice())))
}

fn map<'i: 'v, 'b: 'v, 'v>(i: &'i [u8], n: usize, depth: usize, arena: &'b Bump) -> PResult<'i, Value<'v>> {
    let mut items = bumpalo::collections::Vec::with_capacity_in(n.min(i.len() / 2), arena);
    let mut r = i;
    for _ in 0..n {
        let (next, k) = value_at_depth(r, depth + 1, arena)?;
        let (next, v) = value_at_depth(next, depth + 1, arena)?;
        items.push((k, v));
        r = next;
    }
    Ok((r, Value::Map(items.into_bump_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_keep_their_encoding_and_sign() {
        assert_eq!(
            value_in(&[0xd1, 0x00, 0x80], &Bump::new()).unwrap().1,
            Value::Int {
                value: 128,
                format: 0xd1
            }
        );
        assert_eq!(
            value_in(&[0xcc, 0x80], &Bump::new()).unwrap().1,
            Value::Int {
                value: 128,
                format: 0xcc
            }
        );
        assert_eq!(
            value_in(&[0xff], &Bump::new()).unwrap().1,
            Value::Int {
                value: -1,
                format: 0xff
            }
        );
        assert_eq!(
            value_in(&[0xd0, 0xfe], &Bump::new()).unwrap().1,
            Value::Int {
                value: -2,
                format: 0xd0
            }
        );
    }

    #[test]
    fn short_input_is_incomplete_and_forged_counts_allocate_nothing() {
        assert!(matches!(value(&[0xda, 0x00]), Err(nom::Err::Incomplete(_))));
        assert!(matches!(
            value(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(nom::Err::Incomplete(_))
        ));
        assert!(matches!(value(&[0xc1]), Err(nom::Err::Failure(_))));
    }
}
