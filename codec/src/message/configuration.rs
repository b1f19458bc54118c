//! Cluster configuration: carried by the first InstallSnapshot chunk and by configuration log
//! entries. Decoded strictly so a membership change can never be half-understood.

use std::collections::HashSet;

use bytes::Bytes;

use super::id::Id;
use crate::error::{EncodeError, ErrorCode, Expected};
use crate::wire::{count_field, id_field, u8_field, PResult, Rule, Violation, Writer};

/// A server's voting rights (a closed enumeration, FIELD-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[repr(u8)]
pub enum Suffrage {
    /// Votes and counts towards quorum.
    Voter = 0,
    /// Receives the log but does not vote.
    Nonvoter = 1,
    /// Catching up; will become a voter.
    Staging = 2,
}

impl Suffrage {
    fn from_byte(b: u8) -> Option<Suffrage> {
        match b {
            0 => Some(Suffrage::Voter),
            1 => Some(Suffrage::Nonvoter),
            2 => Some(Suffrage::Staging),
            _ => None,
        }
    }
}

/// One member of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Server {
    /// Voting rights.
    pub suffrage: Suffrage,
    /// The server's stable id.
    pub id: Id,
    /// Where to reach it.
    pub address: Id,
}

/// A cluster configuration. Absent (no servers) where `SPEC.md` IS-3 says so; otherwise it has at
/// least one voter (CONF-1) and no server twice (CONF-2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Configuration {
    /// The members, in wire order.
    pub servers: Vec<Server>,
}

/// The smallest encoded server: suffrage byte and two one-byte ids with their length bytes.
const MIN_SERVER_LEN: usize = 5;

/// CONF-1, checked once the whole configuration is known.
fn has_voter(servers: &[Server]) -> Rule {
    if servers.is_empty() || servers.iter().any(|s| s.suffrage == Suffrage::Voter) {
        Ok(())
    } else {
        Err(Violation::new(ErrorCode::NoVoter, 0, Expected::AtLeast(1)))
    }
}

impl Configuration {
    /// True when no servers are listed (the configuration is absent).
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    pub(crate) fn decode<'a>(i: &'a [u8], payload: &Bytes) -> PResult<'a, Configuration> {
        let start = i;
        let (mut i, count) = count_field("server_count", 2, MIN_SERVER_LEN)(i)?;
        let mut servers = Vec::with_capacity(count);
        let mut seen = HashSet::with_capacity(count);
        for _ in 0..count {
            let at = i;
            let (r, b) = u8_field("server.suffrage")(i)?;
            let suffrage = Suffrage::from_byte(b).ok_or_else(|| {
                Violation::new(ErrorCode::UnknownEnum, b as u64, Expected::OneOf(&[0, 1, 2])).at(at, "server.suffrage")
            })?;
            let at = r;
            let (r, id) = id_field("server.id")(r)?;
            if !seen.insert(id) {
                return Err(
                    Violation::new(ErrorCode::DuplicateServer, id.len() as u64, Expected::End).at(at, "server.id"),
                );
            }
            let (r, address) = id_field("server.address")(r)?;
            servers.push(Server {
                suffrage,
                id: Id::from_checked(payload, id),
                address: Id::from_checked(payload, address),
            });
            i = r;
        }
        has_voter(&servers).map_err(|v| v.at(start, "server_count"))?;
        Ok((i, Configuration { servers }))
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.check(has_voter(&self.servers), "server_count")?;
        let count = crate::wire::fits::<u16>("server_count", self.servers.len(), 16)?;
        w.u16(count);
        let mut seen = HashSet::with_capacity(self.servers.len());
        for s in &self.servers {
            w.u8(s.suffrage as u8);
            let dup = if seen.insert(s.id.as_bytes()) {
                Ok(())
            } else {
                Err(Violation::new(
                    ErrorCode::DuplicateServer,
                    s.id.as_bytes().len() as u64,
                    Expected::End,
                ))
            };
            w.check(dup, "server.id")?;
            w.id(s.id.as_bytes());
            w.id(s.address.as_bytes());
        }
        Ok(())
    }

    /// Checks that `data` is exactly one present configuration (a configuration log entry's data).
    pub(crate) fn check_entry_data(data: &[u8], payload: &Bytes) -> Result<(), crate::wire::WireError> {
        let (rest, conf) = match Configuration::decode(data, payload) {
            Ok(ok) => ok,
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => return Err(e),
            Err(nom::Err::Incomplete(_)) => {
                return Err(Violation::new(ErrorCode::TruncatedBody, 0, Expected::AtLeast(1)).wire(data, "entry.data"))
            }
        };
        if conf.is_empty() {
            return Err(Violation::new(ErrorCode::NoVoter, 0, Expected::AtLeast(1)).wire(data, "server_count"));
        }
        crate::wire::end(rest).map(|_| ()).map_err(|e| match e {
            nom::Err::Error(e) | nom::Err::Failure(e) => e,
            nom::Err::Incomplete(_) => {
                Violation::new(ErrorCode::TrailingBytes, 0, Expected::End).wire(rest, "entry.data")
            }
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Configuration {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut servers: Vec<Server> = Vec::new();
        let n = u.int_in_range(1..=5)?;
        for i in 0..n {
            let mut s: Server = u.arbitrary()?;
            // Unique ids by construction; the first server votes (CONF-1, CONF-2).
            let mut id = format!("n{i}-").into_bytes();
            id.extend_from_slice(&s.id.as_bytes()[..s.id.as_bytes().len().min(200)]);
            s.id = Id::new(id).map_err(|_| arbitrary::Error::IncorrectFormat)?;
            if i == 0 {
                s.suffrage = Suffrage::Voter;
            }
            servers.push(s);
        }
        Ok(Configuration { servers })
    }
}
