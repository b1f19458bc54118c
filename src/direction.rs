//! Accumulates what one direction of a connection showed: frames by type, bytes, skipped bytes
//! and violations, from the scanner's events. Shared by raw-file and capture validation.

use raftwire_conformance::{Event, FrameInfo, StreamViolation};

use crate::report::{DirectionReport, Excerpt, Violation};

/// Most violations kept per direction; the rest are counted, so a capture of pure garbage cannot
/// grow the report without bound.
pub const MAX_VIOLATIONS: usize = 1000;

#[derive(Debug, Default)]
pub struct DirectionAcc {
    pub report: DirectionReport,
}

impl DirectionAcc {
    pub fn push(&mut self, v: Violation) {
        if self.report.violations.len() < MAX_VIOLATIONS {
            self.report.violations.push(v);
        } else {
            self.report.violations_omitted += 1;
            match v.level.as_str() {
                "MUST" => self.report.omitted_must += 1,
                "SHOULD" => self.report.omitted_should += 1,
                _ => {}
            }
        }
    }

    /// Records a scanner event; returns the frame's offset and summary for the stream checker.
    pub fn record(&mut self, event: Event) -> Option<(u64, FrameInfo)> {
        match event {
            Event::Frame { offset, frame, .. } => {
                self.report.frames += 1;
                *self
                    .report
                    .frames_by_type
                    .entry(frame.message_type().name().to_string())
                    .or_default() += 1;
                return Some((offset, FrameInfo::from(&frame)));
            }
            Event::Error { error, frame, context } => self.push(Violation {
                offset: error.offset,
                frame_offset: Some(frame),
                code: error.code.as_str().to_string(),
                requirement: error.requirement().to_string(),
                level: "MUST".to_string(),
                message: if frame == error.offset {
                    format!("{}: {}", error.field, error.finding())
                } else {
                    format!("{} of the frame at {frame}: {}", error.field, error.finding())
                },
                after_capture_gap: false,
                excerpt: Some(Excerpt {
                    start: context.offset,
                    bytes: context.bytes,
                }),
            }),
            Event::Interleaved { frame, at } => self.push(Violation {
                offset: at,
                code: "interleaved_writers".to_string(),
                requirement: "RECV-1".to_string(),
                level: "INFO".to_string(),
                message: format!(
                    "the frame at offset {frame} is cut at offset {at} by another frame whose header verifies: \
                     two writers are sharing this connection without a lock and their bytes interleave"
                ),
                after_capture_gap: false,
                frame_offset: None,
                excerpt: None,
            }),
            Event::Skipped { len, .. } => self.report.bytes_skipped += len,
        }
        None
    }

    /// Records a stream-rule finding; `after_capture_gap` when it follows a hole in the capture
    /// and may be its consequence (then it is information, not judged).
    pub fn stream_violation(&mut self, v: StreamViolation, after_capture_gap: bool) {
        let mut violation = Violation {
            offset: v.offset,
            code: v.code.as_str().to_string(),
            requirement: v.code.requirement().to_string(),
            level: v.code.level().as_str().to_string(),
            message: v.message,
            after_capture_gap: false,
            frame_offset: None,
            excerpt: None,
        };
        if after_capture_gap {
            violation.follows_capture_gap();
        }
        self.push(violation);
    }

    /// A note about the capture itself (not the protocol): gaps, late joins.
    pub fn note(&mut self, offset: u64, code: &str, message: String) {
        self.push(Violation {
            offset,
            code: code.to_string(),
            requirement: "-".to_string(),
            level: "INFO".to_string(),
            message,
            after_capture_gap: false,
            frame_offset: None,
            excerpt: None,
        });
    }

    pub fn finish(mut self) -> DirectionReport {
        self.report.violations.sort_by_key(|v| v.offset);
        self.report
    }
}
