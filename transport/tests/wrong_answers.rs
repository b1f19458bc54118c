//! A response of the wrong type, even with the right request id, answers nothing: the client
//! names it a protocol violation and retries, never hands it to Raft (a RequestVote answered with
//! an AppendEntriesResponse would be read as a vote). Found by mutation testing (MUTANTS.md).

use std::time::Duration;

use bytes::BytesMut;
use raftwire_codec::*;
use raftwire_transport::{Client, ClientConfig, Policy, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that answers every request, on every connection, with `answer` under its request id.
async fn answering(answer: Message) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                let mut decoder = StreamDecoder::new(Limits::default());
                loop {
                    buf.clear();
                    buf.resize(4096, 0);
                    let Ok(n) = conn.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    let mut ids = Vec::new();
                    if decoder.feed(&buf[..n], |f| ids.push(f.request_id)).is_err() {
                        return;
                    }
                    for id in ids {
                        let mut out = BytesMut::new();
                        encode(&Frame::new(id, answer.clone()), &mut out).unwrap();
                        if conn.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

fn vote() -> Message {
    Message::RequestVote(RequestVoteRequest {
        term: 3,
        last_log_index: 1,
        last_log_term: 1,
        pre_vote: false,
        leadership_transfer: false,
        candidate_id: Id::try_from("n1").unwrap(),
    })
}

fn config() -> ClientConfig {
    ClientConfig {
        policy: Policy::PerRpc,
        max_attempts: 2,
        backoff: Duration::from_millis(1),
        timeout: Duration::from_secs(5),
        ..ClientConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_of_the_wrong_type_answers_nothing() {
    let wrong = Message::AppendEntriesResponse(AppendEntriesResponse {
        term: 3,
        success: true,
        last_log_index: 1,
        conflict_index: 0,
        conflict_term: 0,
    });
    let client = Client::new(answering(wrong).await, config());
    match client.call(vote()).await {
        Err(TransportError::Exhausted { attempts: 2, last }) => {
            assert!(matches!(*last, TransportError::Protocol(_)), "{last}");
            assert!(last.to_string().contains("does not answer"), "{last}");
        }
        other => panic!("a wrong answer was taken: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_type_or_an_error_response_answers() {
    let right = Message::RequestVoteResponse(RequestVoteResponse { term: 3, granted: true });
    let client = Client::new(answering(right).await, config());
    let got = client.call(vote()).await.unwrap();
    assert_eq!(got.message_type(), MessageType::RequestVoteResponse);
    let error = Message::Error(ErrorResponse {
        code: ErrorResponseCode::NotLeader,
        message: "leader is n2".into(),
    });
    let client = Client::new(answering(error).await, config());
    let got = client.call(vote()).await.unwrap();
    assert_eq!(got.message_type(), MessageType::Error);
}

/// The stand-in peer answers each request with its own type, values taken from the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_handler_answers_every_request_in_kind() {
    use raftwire_transport::{MemoryHandler, Server};
    let server = Server::start("127.0.0.1:0", std::sync::Arc::new(MemoryHandler))
        .await
        .unwrap();
    let client = Client::new(server.addr, config());
    let got = client.call(vote()).await.unwrap();
    assert_eq!(
        got.message,
        Message::RequestVoteResponse(RequestVoteResponse { term: 3, granted: true })
    );
    let transfer = Message::TimeoutNow(TimeoutNowRequest {
        term: 4,
        leader_id: Id::try_from("n1").unwrap(),
    });
    let got = client.call(transfer).await.unwrap();
    assert_eq!(
        got.message,
        Message::TimeoutNowResponse(TimeoutNowResponse { term: 4, success: true })
    );
    // A dropped server stops listening: its accept task ends with it.
    let addr = server.addr;
    drop(server);
    // The abort takes effect at the task's next poll: wait for it (up to 5 s, never a timing test).
    let mut refused = false;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "still accepting 5 s after the server was dropped");
}
