//! Which hashicorp/raft release wrote some bytes: each wire feature a message shows bounds the
//! sender's release from below (a feature it has) or above (a feature it lacks), as
//! `../shared/research/hashicorp-raft-wire.md` and HASHICORP.md "Releases" record them. The
//! cluster view brackets each node's release from everything it wrote, and knows which features a
//! release can read.

use std::fmt;

/// A hashicorp/raft release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release(pub u8, pub u8, pub u8);

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The releases tagged from 1.0.0 on, oldest first: an upper bound ("before 1.3.7") is named as
/// the release before it, so ranges are inclusive at both ends.
pub const RELEASES: &[Release] = &[
    Release(1, 0, 0),
    Release(1, 0, 1),
    Release(1, 1, 0),
    Release(1, 1, 1),
    Release(1, 1, 2),
    Release(1, 2, 0),
    Release(1, 3, 0),
    Release(1, 3, 1),
    Release(1, 3, 2),
    Release(1, 3, 3),
    Release(1, 3, 4),
    Release(1, 3, 5),
    Release(1, 3, 6),
    Release(1, 3, 7),
    Release(1, 3, 8),
    Release(1, 3, 9),
    Release(1, 3, 10),
    Release(1, 3, 11),
    Release(1, 4, 0),
    Release(1, 5, 0),
    Release(1, 6, 0),
    Release(1, 6, 1),
    Release(1, 7, 0),
    Release(1, 7, 1),
    Release(1, 7, 2),
    Release(1, 7, 3),
];

/// The last release before `r`.
pub fn before(r: Release) -> Release {
    RELEASES
        .iter()
        .rev()
        .copied()
        .find(|x| *x < r)
        .unwrap_or(Release(0, 0, 0))
}

/// A wire feature that bounds its writer's release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// The flattened RPCHeader has `ID` and `Addr` (PR #477).
    HeaderIdAddr,
    /// The RPCHeader has only `ProtocolVersion`.
    HeaderWithoutIdAddr,
    /// rpc type 4 (pre-vote, PR #530), or its response.
    PreVote,
    /// rpc type 3 (leadership transfer, PR #306).
    TimeoutNow,
    /// `RequestVoteRequest.LeadershipTransfer` (PR #306).
    LeadershipTransferField,
    /// A RequestVote without `LeadershipTransfer`.
    NoLeadershipTransferField,
    /// `Log.Extensions`.
    LogExtensions,
    /// A `Log` without `Extensions`.
    LogWithoutExtensions,
    /// `Log.AppendedAt` in the legacy `time.MarshalBinary` form.
    AppendedAtLegacy,
    /// `Log.AppendedAt` in the new msgpack timestamp form (`MsgpackUseNewTimeFormat`).
    AppendedAtNew,
    /// A `Log` without `AppendedAt`.
    NoAppendedAt,
    /// A positive signed integer above 127 written as int16/32/64 (go-msgpack v2).
    SignedIntV2,
    /// A positive signed integer above 127 written as uint8/16/32/64 (go-msgpack 0.5.5).
    SignedIntV1,
}

impl Feature {
    /// The releases that write it: (first, last), inclusive; `None` where unbounded.
    pub fn written_by(self) -> (Option<Release>, Option<Release>) {
        use Feature::*;
        let since = |r| (Some(r), None);
        let until = |r| (None, Some(before(r)));
        match self {
            HeaderIdAddr => since(Release(1, 3, 7)),
            HeaderWithoutIdAddr => until(Release(1, 3, 7)),
            PreVote => since(Release(1, 7, 0)),
            TimeoutNow | LeadershipTransferField => since(Release(1, 1, 0)),
            NoLeadershipTransferField => until(Release(1, 1, 0)),
            LogExtensions => since(Release(1, 1, 1)),
            LogWithoutExtensions => until(Release(1, 1, 1)),
            AppendedAtLegacy => since(Release(1, 3, 0)),
            AppendedAtNew | SignedIntV2 => since(Release(1, 6, 0)),
            NoAppendedAt => until(Release(1, 3, 0)),
            SignedIntV1 => until(Release(1, 6, 0)),
        }
    }

    /// The evidence, in words, as the report lists it.
    pub fn describe(self) -> &'static str {
        use Feature::*;
        match self {
            HeaderIdAddr => "RPCHeader has ID and Addr (raft >= 1.3.7)",
            HeaderWithoutIdAddr => "RPCHeader without ID and Addr (raft <= 1.3.6)",
            PreVote => "RequestPreVote, rpc type 4 (raft >= 1.7.0)",
            TimeoutNow => "TimeoutNow, rpc type 3 (raft >= 1.1.0)",
            LeadershipTransferField => "RequestVote has LeadershipTransfer (raft >= 1.1.0)",
            NoLeadershipTransferField => "RequestVote without LeadershipTransfer (raft <= 1.0.1)",
            LogExtensions => "Log has Extensions (raft >= 1.1.1)",
            LogWithoutExtensions => "Log without Extensions (raft <= 1.1.0)",
            AppendedAtLegacy => "Log.AppendedAt in the legacy time format (raft >= 1.3.0)",
            AppendedAtNew => "Log.AppendedAt in the new time format, MsgpackUseNewTimeFormat (raft >= 1.6.0)",
            NoAppendedAt => "Log without AppendedAt (raft <= 1.2.0)",
            SignedIntV2 => "signed integers as int16/32/64: go-msgpack v2 (raft >= 1.6.0)",
            SignedIntV1 => "positive signed integers as uint8/16/32/64: go-msgpack 0.5.5 (raft <= 1.5.0)",
        }
    }

    /// The releases that cannot decode a message carrying it, if some cannot: (first, last)
    /// inclusive, and what such a receiver does with it (the consequence a report names).
    pub fn unreadable_by(self) -> Option<(Release, Release, &'static str)> {
        use Feature::*;
        match self {
            PreVote => Some((
                Release(0, 0, 0),
                before(Release(1, 7, 0)),
                "a release before 1.7.0 knows rpc types 0-3 only: it logs `failed to decode incoming command: \
                 error=\"unknown rpc type 4\"` and closes the connection without answering",
            )),
            TimeoutNow => Some((
                Release(0, 0, 0),
                before(Release(1, 1, 0)),
                "a release before 1.1.0 knows rpc types 0-2 only: it logs `unknown rpc type 3` and closes the \
                 connection, so the leadership transfer fails",
            )),
            AppendedAtNew => Some((
                Release(1, 3, 0),
                before(Release(1, 6, 0)),
                "raft 1.3.0-1.5.0 decodes AppendedAt with go-msgpack 0.5.5, which fails on the new format: it logs \
                 `failed to decode incoming command: error=\"Time.UnmarshalBinary: unsupported version\"` and \
                 closes the connection, so the follower never receives these entries",
            )),
            _ => None,
        }
    }
}

impl Feature {
    /// Every feature, in a fixed order (a [`FeatureSet`]'s bit order).
    pub const ALL: [Feature; 13] = [
        Feature::HeaderIdAddr,
        Feature::HeaderWithoutIdAddr,
        Feature::PreVote,
        Feature::TimeoutNow,
        Feature::LeadershipTransferField,
        Feature::NoLeadershipTransferField,
        Feature::LogExtensions,
        Feature::LogWithoutExtensions,
        Feature::AppendedAtLegacy,
        Feature::AppendedAtNew,
        Feature::NoAppendedAt,
        Feature::SignedIntV2,
        Feature::SignedIntV1,
    ];
}

/// A set of features, as bits: a message's features cost no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeatureSet(u16);

impl FeatureSet {
    /// A feature's bit: its place in the enum, which is its place in [`Feature::ALL`].
    fn bit(f: Feature) -> u16 {
        1 << (f as u16)
    }

    /// Adds `f`.
    pub fn insert(&mut self, f: Feature) {
        self.0 |= Self::bit(f);
    }

    /// True if `f` is in the set.
    pub fn contains(&self, f: Feature) -> bool {
        self.0 & Self::bit(f) != 0
    }

    /// The features, in [`Feature::ALL`]'s order (nothing to do for an empty set, the usual one).
    pub fn iter(&self) -> impl Iterator<Item = Feature> + '_ {
        let all: &[Feature] = if self.0 == 0 { &[] } else { &Feature::ALL };
        all.iter().copied().filter(|f| self.contains(*f))
    }

    /// True if there is none.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// A release range, inclusive, from evidence: `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    /// The oldest release the evidence admits.
    pub min: Option<Release>,
    /// The newest release the evidence admits.
    pub max: Option<Release>,
}

impl Range {
    /// Narrows the range by a feature its writer showed.
    pub fn narrow(&mut self, f: Feature) {
        let (lo, hi) = f.written_by();
        if let Some(lo) = lo {
            self.min = Some(self.min.map_or(lo, |m| m.max(lo)));
        }
        if let Some(hi) = hi {
            self.max = Some(self.max.map_or(hi, |m| m.min(hi)));
        }
    }

    /// True if every release in the range is at most `r` (known to be that old or older).
    pub fn at_most(&self, r: Release) -> bool {
        self.max.is_some_and(|m| m <= r)
    }

    /// True if every release in the range is at least `r`.
    pub fn at_least(&self, r: Release) -> bool {
        self.min.is_some_and(|m| m >= r)
    }

    /// True if the evidence puts every release of the range inside `lo..=hi`.
    pub fn within(&self, lo: Release, hi: Release) -> bool {
        let low_ok = lo == Release(0, 0, 0) || self.at_least(lo);
        low_ok && self.at_most(hi)
    }

    /// True if the evidence contradicts itself (features of releases that never coexisted).
    pub fn contradictory(&self) -> bool {
        matches!((self.min, self.max), (Some(a), Some(b)) if a > b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_name_real_releases_inclusively() {
        assert_eq!(
            Feature::HeaderWithoutIdAddr.written_by(),
            (None, Some(Release(1, 3, 6)))
        );
        assert_eq!(Feature::NoAppendedAt.written_by(), (None, Some(Release(1, 2, 0))));
        assert_eq!(Feature::SignedIntV1.written_by(), (None, Some(Release(1, 5, 0))));
        assert_eq!(
            Feature::LogWithoutExtensions.written_by(),
            (None, Some(Release(1, 1, 0)))
        );
        assert_eq!(Feature::PreVote.written_by(), (Some(Release(1, 7, 0)), None));
    }

    #[test]
    fn a_feature_sets_bit_is_its_place_in_the_list() {
        for (i, f) in Feature::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
        let mut set = FeatureSet::default();
        assert!(set.is_empty() && set.iter().next().is_none());
        set.insert(Feature::SignedIntV1);
        set.insert(Feature::HeaderIdAddr);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Feature::HeaderIdAddr, Feature::SignedIntV1]
        );
        assert!(!set.contains(Feature::PreVote));
    }

    #[test]
    fn a_range_narrows_from_both_sides() {
        // What raft 1.1.2 writes: no ID/Addr, Extensions, no AppendedAt.
        let mut r = Range::default();
        for f in [
            Feature::HeaderWithoutIdAddr,
            Feature::LogExtensions,
            Feature::NoAppendedAt,
        ] {
            r.narrow(f);
        }
        assert_eq!((r.min, r.max), (Some(Release(1, 1, 1)), Some(Release(1, 2, 0))));
        assert!(r.at_most(Release(1, 6, 1)) && !r.at_most(Release(1, 1, 2)));
        assert!(r.at_least(Release(1, 1, 0)) && !r.at_least(Release(1, 1, 2)));
        assert!(!r.contradictory());
        let (lo, hi, _) = Feature::PreVote.unreadable_by().unwrap_or_else(|| unreachable!());
        assert!(r.within(lo, hi));
        let (lo, hi, _) = Feature::AppendedAtNew.unreadable_by().unwrap_or_else(|| unreachable!());
        assert!(!r.within(lo, hi), "1.1.x skips AppendedAt, whatever its format");
        assert!(
            !Range::default().within(Release(0, 0, 0), Release(1, 6, 1)),
            "no evidence, no bound"
        );
        r.narrow(Feature::PreVote);
        assert!(r.contradictory());
    }
}
