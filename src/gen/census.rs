//! The first of `gen`'s two passes: what connections the simulation will open and how many
//! segments each carries, without keeping any bytes. The writing pass needs it to close each
//! connection right after its last segment (its FIN lies among the other connections' packets)
//! and to place an injected fault; the simulation is deterministic, so both passes see the same
//! traffic.

use raftwire_codec::Frame;
use raftwire_conformance::Direction;

use super::traffic::{Endpoints, Sink};

/// One connection as counted.
#[derive(Debug, Clone)]
pub struct Counted {
    pub endpoints: Endpoints,
    pub segments: usize,
    pub requests: usize,
}

/// Every connection, by id (order of first use).
#[derive(Debug, Default)]
pub struct Census {
    pub connections: Vec<Counted>,
}

impl Census {
    /// Connection ids in name order: the order the capture's connections are listed and written
    /// in, and the tie-break between packets of the same microsecond.
    pub fn by_name(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = (0..self.connections.len()).collect();
        ids.sort_by(|&a, &b| {
            self.connections[a]
                .endpoints
                .name
                .cmp(&self.connections[b].endpoints.name)
        });
        ids
    }
}

impl Sink for Census {
    fn open(&mut self, _id: usize, endpoints: &Endpoints) {
        self.connections.push(Counted {
            endpoints: endpoints.clone(),
            segments: 0,
            requests: 0,
        });
    }

    fn frame(&mut self, id: usize, _time_us: u64, direction: Direction, _frame: &Frame) {
        if let Some(c) = self.connections.get_mut(id) {
            c.segments += 1;
            c.requests += usize::from(direction == Direction::ClientToServer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raftwire_codec::{Message, TimeoutNowRequest, TimeoutNowResponse};

    fn endpoints(name: &str) -> Endpoints {
        Endpoints {
            name: name.into(),
            client: "10.0.0.1:40000".into(),
            server: "10.0.0.2:7000".into(),
        }
    }

    /// Requests are the client's frames only; connections are listed in name order whatever
    /// order they were opened in (the capture's order, and the tie-break between packets).
    #[test]
    fn counts_requests_and_orders_connections_by_name() {
        let mut census = Census::default();
        census.open(0, &endpoints("n2-n1"));
        census.open(1, &endpoints("n1-n2"));
        let request = Frame::new(
            1,
            Message::TimeoutNow(TimeoutNowRequest {
                term: 1,
                leader_id: "n1".try_into().unwrap(),
            }),
        );
        let response = Frame::new(
            1,
            Message::TimeoutNowResponse(TimeoutNowResponse { term: 1, success: true }),
        );
        census.frame(0, 1, Direction::ClientToServer, &request);
        census.frame(0, 2, Direction::ServerToClient, &response);
        census.frame(0, 3, Direction::ServerToClient, &response);
        assert_eq!((census.connections[0].segments, census.connections[0].requests), (3, 1));
        assert_eq!(census.by_name(), vec![1, 0]);
        assert_eq!(super::super::ranks(&census), vec![1, 0]);
    }
}
