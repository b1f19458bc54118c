//! # raftwire-conformance
//!
//! The RFW/1 specification (`SPEC.md`), the resynchronising [`scan::Scanner`] a validator reads
//! each direction with, and the [`checker`] for the stream rules of `SPEC.md` §6.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cases;
pub mod checker;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod leader_cases;
pub mod requirements;
pub mod rules;
pub mod scan;
pub mod vectors;

pub use checker::{check_one_direction, check_untimed, ConnectionChecker, Direction, FrameInfo, StreamViolation};
pub use rules::{Level, StreamCode};
pub use scan::{scan_all, Context, Event, Scanner};
