//! Membership of the leader-id family (`SPEC.md` §5.7): voter sets (two during a joint change)
//! and the nodes they name, each id list in strictly increasing order so that a membership has
//! one encoding (MEM-1) and every voter has a node (MEM-2).

use crate::error::{EncodeError, ErrorCode, Expected};
use crate::wire::{count_field, text_field, u64_field, PResult, Violation, Writer};

/// Longest node address, in bytes.
pub const MAX_ADDRESS_LEN: u16 = 1024;

/// One node a membership may name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MemberNode {
    /// The node id.
    pub id: u64,
    /// Where to reach it (may be empty, for applications whose nodes carry no address).
    pub address: String,
}

/// A membership: `configs` are voter sets (one; two during a joint change), `nodes` every node
/// any set names plus learners. Both in increasing id order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Membership {
    /// The voter sets, each strictly increasing.
    pub configs: Vec<Vec<u64>>,
    /// The nodes, strictly increasing by id.
    pub nodes: Vec<MemberNode>,
}

/// A checked membership as a borrowed view of the bytes it was decoded from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipRef<'a> {
    region: &'a [u8],
}

/// The smallest voter set: its count alone.
const MIN_CONFIG_LEN: usize = 2;
/// The smallest node: id and an empty address.
const MIN_NODE_LEN: usize = 10;

impl Membership {
    /// True for the uninitialised membership (no voter set, no node).
    pub fn is_empty(&self) -> bool {
        self.configs.is_empty() && self.nodes.is_empty()
    }

    /// The membership encoded as a Membership entry's data (AE-5), checked.
    pub fn to_entry_data(&self) -> Result<bytes::Bytes, EncodeError> {
        let mut buf = bytes::BytesMut::new();
        let mut w = Writer::new(&mut buf, 0);
        self.encode(&mut w)?;
        super::checked_body(&w, 0, |b: &[u8]| crate::message::whole(entry_data(b)).map(|_| ()))?;
        Ok(buf.freeze())
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u16(crate::wire::fits::<u16>("config_count", self.configs.len(), 16)?);
        for config in &self.configs {
            w.u16(crate::wire::fits::<u16>("voter_count", config.len(), 16)?);
            for voter in config {
                w.u64(*voter);
            }
        }
        w.u16(crate::wire::fits::<u16>("node_count", self.nodes.len(), 16)?);
        for node in &self.nodes {
            w.u64(node.id);
            w.text("node.address", &node.address, MAX_ADDRESS_LEN)?;
        }
        Ok(())
    }
}

impl<'a> MembershipRef<'a> {
    /// The voter sets, in order, each as its voter ids.
    pub fn configs(&self) -> impl Iterator<Item = impl Iterator<Item = u64> + 'a> + 'a {
        let mut rest = self.region.get(2..).unwrap_or_default();
        let count = read_u16(self.region);
        (0..count).map(move |_| {
            let n = read_u16(rest) as usize;
            let ids = rest.get(2..2 + 8 * n).unwrap_or_default();
            rest = rest.get(2 + 8 * n..).unwrap_or_default();
            ids.chunks_exact(8).map(read_u64)
        })
    }

    /// Number of voter sets.
    pub fn config_count(&self) -> usize {
        read_u16(self.region) as usize
    }

    /// The nodes, in increasing id order.
    pub fn nodes(&self) -> impl Iterator<Item = (u64, &'a str)> + 'a {
        let nodes_at = self.configs_len();
        let mut rest = self.region.get(nodes_at..).unwrap_or_default();
        let count = read_u16(rest);
        rest = rest.get(2..).unwrap_or_default();
        (0..count).map(move |_| {
            let id = read_u64(rest);
            let len = rest.get(8..10).map_or(0, read_u16) as usize;
            let address = rest
                .get(10..10 + len)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default();
            rest = rest.get(10 + len..).unwrap_or_default();
            (id, address)
        })
    }

    /// The owned membership.
    pub fn to_owned(&self) -> Membership {
        Membership {
            configs: self.configs().map(|c| c.collect()).collect(),
            nodes: self
                .nodes()
                .map(|(id, address)| MemberNode {
                    id,
                    address: address.to_owned(),
                })
                .collect(),
        }
    }

    /// True for the uninitialised membership.
    pub fn is_empty(&self) -> bool {
        self.region == [0, 0, 0, 0]
    }

    fn configs_len(&self) -> usize {
        let mut at = 2;
        for _ in 0..self.config_count() {
            let n = self.region.get(at..).map_or(0, read_u16) as usize;
            at += 2 + 8 * n;
        }
        at
    }

    /// Decodes and checks a membership (CONF-1 for each voter set, MEM-1, MEM-2, the field
    /// rules). Whether zero voter sets are allowed is the caller's rule (AE-5, IS-4).
    pub(crate) fn decode(start: &'a [u8]) -> PResult<'a, Self> {
        let (mut i, configs) = count_field("config_count", 2, MIN_CONFIG_LEN)(start)?;
        for _ in 0..configs {
            let at = i;
            let (r, voters) = count_field("voter_count", 2, 8)(i)?;
            if voters == 0 {
                return Err(Violation::new(ErrorCode::NoVoter, 0, Expected::AtLeast(1)).at(at, "voter_count"));
            }
            i = increasing_ids(r, voters, "voter", |r| Ok((r, ())))?.0;
        }
        let nodes_at = i;
        let (r, nodes) = count_field("node_count", 2, MIN_NODE_LEN)(i)?;
        let (end, ()) = increasing_ids(r, nodes, "node.id", |r| {
            text_field("node.address", MAX_ADDRESS_LEN)(r).map(|(r, _)| (r, ()))
        })?;
        let used = start.len() - end.len();
        let view = MembershipRef {
            region: start.get(..used).unwrap_or_default(),
        };
        if let Some(voter) = view.voter_without_node() {
            return Err(Violation::new(ErrorCode::VoterWithoutNode, voter, Expected::End).at(nodes_at, "node_count"));
        }
        Ok((end, view))
    }

    /// MEM-2: the first voter (in wire order) that names no node. Both lists are increasing, so
    /// each voter set is one merge walk over the nodes.
    fn voter_without_node(&self) -> Option<u64> {
        for config in self.configs() {
            let mut nodes = self.nodes().map(|(id, _)| id).peekable();
            for voter in config {
                while nodes.next_if(|&n| n < voter).is_some() {}
                if nodes.peek() != Some(&voter) {
                    return Some(voter);
                }
            }
        }
        None
    }
}

/// `count` elements, each a u64 id (`field`) and what `rest` reads after it, ids strictly
/// increasing (MEM-1). The order is checked as soon as the id is read, before the rest of its
/// element: the rule's fields are the two ids (`SPEC.md` §5).
fn increasing_ids<'a>(
    mut i: &'a [u8],
    count: usize,
    field: &'static str,
    rest: impl Fn(&'a [u8]) -> PResult<'a, ()>,
) -> PResult<'a, ()> {
    let mut previous: Option<u64> = None;
    for _ in 0..count {
        let at = i;
        let (r, id) = u64_field(field)(i)?;
        if let Some(p) = previous.filter(|&p| id <= p) {
            return Err(
                Violation::new(ErrorCode::IdsOutOfOrder, id, Expected::AtLeast(p.saturating_add(1))).at(at, field),
            );
        }
        previous = Some(id);
        (i, ()) = rest(r)?;
    }
    Ok((i, ()))
}

/// A Membership entry's data (AE-5): exactly one membership with at least one voter set.
pub(crate) fn entry_data(data: &[u8]) -> PResult<'_, MembershipRef<'_>> {
    let (rest, m) = MembershipRef::decode(data)?;
    if m.config_count() == 0 {
        return Err(Violation::new(ErrorCode::NoVoter, 0, Expected::AtLeast(1)).at(data, "config_count"));
    }
    Ok((rest, m))
}

fn read_u16(b: &[u8]) -> u16 {
    b.get(..2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map_or(0, u16::from_be_bytes)
}

fn read_u64(b: &[u8]) -> u64 {
    b.get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Membership {
    /// A valid membership: one or two voter sets over nodes 1..=n.
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let n: u64 = u.int_in_range(1..=6)?;
        let nodes = (1..=n)
            .map(|id| {
                Ok(MemberNode {
                    id,
                    address: if u.arbitrary()? {
                        format!("10.0.0.{id}:21001")
                    } else {
                        String::new()
                    },
                })
            })
            .collect::<arbitrary::Result<Vec<_>>>()?;
        let sets = u.int_in_range(1..=2)?;
        let mut configs = Vec::new();
        for _ in 0..sets {
            let set: Vec<u64> = (1..=n).filter(|_| u.arbitrary().unwrap_or(true)).collect();
            configs.push(if set.is_empty() { vec![1] } else { set });
        }
        Ok(Membership { configs, nodes })
    }
}
