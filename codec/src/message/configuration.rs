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

/// A configuration as a borrowed view of the frame: `count` servers, checked (CONF-1, CONF-2,
/// FIELD-3, FIELD-4), back to back in `region`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfigurationRef<'a> {
    region: &'a [u8],
    count: usize,
}

/// One member of a borrowed configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerRef<'a> {
    /// Voting rights.
    pub suffrage: Suffrage,
    /// The server's stable id (1-255 bytes).
    pub id: &'a [u8],
    /// Where to reach it (1-255 bytes).
    pub address: &'a [u8],
}

/// The smallest encoded server: suffrage byte and two one-byte ids with their length bytes.
pub(crate) const MIN_SERVER_LEN: usize = 5;

/// CONF-1, checked once the whole configuration is known.
fn has_voter(servers: &[Server]) -> Rule {
    voter_present(servers.len(), servers.iter().any(|s| s.suffrage == Suffrage::Voter))
}

/// CONF-1, from the count and whether a voter was seen.
fn voter_present(count: usize, any_voter: bool) -> Rule {
    if count == 0 || any_voter {
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
}

impl<'a> ConfigurationRef<'a> {
    /// How many servers.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when no servers are listed (the configuration is absent).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The members, in wire order, read from the frame.
    pub fn servers(&self) -> Servers<'a> {
        Servers {
            rest: self.region,
            left: self.count,
        }
    }

    /// The owned configuration, its long ids shared from `buffer`, which should be the buffer
    /// this view was decoded from (ids outside it are copied).
    pub fn to_owned_in(&self, buffer: &Bytes) -> Configuration {
        Configuration {
            servers: self
                .servers()
                .map(|s| Server {
                    suffrage: s.suffrage,
                    id: Id::from_checked(buffer, s.id),
                    address: Id::from_checked(buffer, s.address),
                })
                .collect(),
        }
    }

    /// `data` as exactly one present configuration: a configuration log entry's data (AE-5).
    pub(crate) fn from_entry_data(data: &'a [u8]) -> Result<Self, crate::wire::WireError> {
        let (rest, conf) = ConfigurationRef::decode(data).map_err(crate::message::unwrap_nom)?;
        if conf.is_empty() {
            return Err(Violation::new(ErrorCode::NoVoter, 0, Expected::AtLeast(1)).wire(data, "server_count"));
        }
        crate::wire::end(rest).map_err(crate::message::unwrap_nom)?;
        Ok(conf)
    }

    /// Decodes and checks a configuration. The duplicate check holds one set entry per server,
    /// and the count is bounded by the bytes present before anything is reserved (FIELD-1).
    pub(crate) fn decode(i: &'a [u8]) -> PResult<'a, Self> {
        let start = i;
        let (mut i, count) = count_field("server_count", 2, MIN_SERVER_LEN)(i)?;
        let region = i;
        let mut seen = HashSet::with_capacity(count);
        let mut any_voter = false;
        for _ in 0..count {
            let at = i;
            let (r, b) = u8_field("server.suffrage")(i)?;
            let suffrage = Suffrage::from_byte(b).ok_or_else(|| {
                Violation::new(ErrorCode::UnknownEnum, b as u64, Expected::OneOf(&[0, 1, 2])).at(at, "server.suffrage")
            })?;
            any_voter |= suffrage == Suffrage::Voter;
            let at = r;
            let (r, id) = id_field("server.id")(r)?;
            if !seen.insert(id) {
                return Err(
                    Violation::new(ErrorCode::DuplicateServer, id.len() as u64, Expected::End).at(at, "server.id"),
                );
            }
            let (r, _address) = id_field("server.address")(r)?;
            i = r;
        }
        voter_present(count, any_voter).map_err(|v| v.at(start, "server_count"))?;
        let region = region.get(..region.len() - i.len()).unwrap_or_default();
        Ok((i, ConfigurationRef { region, count }))
    }
}

impl std::fmt::Debug for ConfigurationRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.servers()).finish()
    }
}

/// Iterator over a [`ConfigurationRef`]'s servers.
pub struct Servers<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Servers<'a> {
    type Item = ServerRef<'a>;

    fn next(&mut self) -> Option<ServerRef<'a>> {
        if self.left == 0 {
            return None;
        }
        // Validated when decoded: a failure here is impossible, and ends the iteration.
        let (&suffrage, rest) = self.rest.split_first()?;
        let (id, rest) = split_id(rest)?;
        let (address, rest) = split_id(rest)?;
        self.rest = rest;
        self.left -= 1;
        Some(ServerRef {
            suffrage: Suffrage::from_byte(suffrage)?,
            id,
            address,
        })
    }
}

/// An id already checked by the decoder: its length byte, then its bytes.
fn split_id(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = b.split_first()?;
    rest.split_at_checked(len as usize)
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
