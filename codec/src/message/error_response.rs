//! The Error response: what a server sends instead of a typed response when it cannot answer
//! (`SPEC.md` §5.5). It echoes the request id, so the client knows which RPC failed.

use crate::error::{EncodeError, ErrorCode, Expected};
use crate::wire::{text_field, u16_field, PResult, Violation, Writer};

/// Longest error message, in bytes (FIELD-6).
pub const MAX_ERROR_MESSAGE_LEN: u16 = 4096;

/// Why a server could not answer (a closed enumeration, FIELD-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[repr(u16)]
pub enum ErrorResponseCode {
    /// This server is not the leader (or not a member) and cannot serve the request.
    NotLeader = 1,
    /// Shutting down or not yet started.
    Unavailable = 2,
    /// Too many requests in flight.
    Overloaded = 3,
    /// The request broke a rule of the format (the server drops the connection after sending this).
    Malformed = 4,
    /// The request is valid but this server does not support it.
    Unsupported = 5,
    /// The server failed while handling the request.
    Internal = 6,
}

const CODES: &[u64] = &[1, 2, 3, 4, 5, 6];

impl ErrorResponseCode {
    fn from_u16(v: u16) -> Option<Self> {
        use ErrorResponseCode::*;
        [NotLeader, Unavailable, Overloaded, Malformed, Unsupported, Internal]
            .into_iter()
            .find(|c| *c as u16 == v)
    }
}

/// A server's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// Why.
    pub code: ErrorResponseCode,
    /// Human-readable detail, UTF-8, at most [`MAX_ERROR_MESSAGE_LEN`] bytes.
    pub message: String,
}

impl ErrorResponse {
    /// An Error response whose message is `message` cut, at a character boundary, to the
    /// [`MAX_ERROR_MESSAGE_LEN`] bytes the body allows (FIELD-6): a server passing on a library's
    /// error text can never build an answer its own encoder refuses.
    pub fn cut(code: ErrorResponseCode, message: impl Into<String>) -> ErrorResponse {
        let mut message = message.into();
        let mut end = message.len().min(MAX_ERROR_MESSAGE_LEN as usize);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        ErrorResponse { code, message }
    }
}

/// An Error response as a borrowed view of its frame ([`crate::decode_ref`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorResponseRef<'a> {
    /// Why.
    pub code: ErrorResponseCode,
    /// Human-readable detail, checked UTF-8 of at most [`MAX_ERROR_MESSAGE_LEN`] bytes.
    pub message: &'a str,
}

impl<'a> ErrorResponseRef<'a> {
    /// The owned response (the message is copied into a `String`).
    pub fn to_owned(&self) -> ErrorResponse {
        ErrorResponse {
            code: self.code,
            message: self.message.to_owned(),
        }
    }

    #[inline]
    pub(crate) fn decode(i: &'a [u8]) -> PResult<'a, Self> {
        let at = i;
        let (i, raw) = u16_field("error_code")(i)?;
        let code = ErrorResponseCode::from_u16(raw).ok_or_else(|| {
            Violation::new(ErrorCode::UnknownEnum, raw as u64, Expected::OneOf(CODES)).at(at, "error_code")
        })?;
        let (i, message) = text_field("message", MAX_ERROR_MESSAGE_LEN)(i)?;
        Ok((i, ErrorResponseRef { code, message }))
    }
}

impl ErrorResponse {
    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(self.code as u16);
        w.text("message", &self.message, MAX_ERROR_MESSAGE_LEN)
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for ErrorResponse {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let message: String = u.arbitrary()?;
        Ok(ErrorResponse::cut(u.arbitrary()?, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_message_ends_at_the_last_whole_character_within_the_limit() {
        // 'a' then two-byte characters: byte 4096 falls inside one.
        let long = format!("a{}", "é".repeat(3000));
        let e = ErrorResponse::cut(ErrorResponseCode::Internal, long.clone());
        assert_eq!((e.code, e.message.len()), (ErrorResponseCode::Internal, 4095));
        assert!(long.starts_with(&e.message));
        let short = ErrorResponse::cut(ErrorResponseCode::Malformed, "kept whole");
        assert_eq!(short.message, "kept whole");
        let exact = "x".repeat(MAX_ERROR_MESSAGE_LEN as usize);
        assert_eq!(
            ErrorResponse::cut(ErrorResponseCode::Malformed, exact.clone()).message,
            exact
        );
    }
}
