// Command harness runs a real hashicorp/raft cluster over NetworkTransport (TCP on loopback) and
// records, per server, how many RPCs of each type its transport decoded: the ground truth a capture
// of the run must agree with. Built offline in GOPATH mode against Debian's
// golang-github-hashicorp-raft-dev (raft 1.1.2); see regen.sh.
//
// Scenario: a 3-node cluster elects a leader, replicates commands (some of 100 KiB), snapshots and
// truncates its log, adds a 4th node that must be brought up with InstallSnapshot, then transfers
// leadership (TimeoutNow) and replicates a little more.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// sharedLayer reproduces the shared-connection bug of openziti/ziti#2533 with the real library:
// every Dial to a peer returns the same TCP connection, and that connection is also handed to
// this node's own Accept loop, so NetworkTransport's acceptor and its clients read and write one
// byte stream concurrently, as Ziti's single RaftConn per peer made them do.
type sharedLayer struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  map[raft.ServerAddress]net.Conn
	accept chan net.Conn
}

// Nodes of the shared-connection run listen on 127.0.0.N:47100+N and dial from 127.0.0.N, so an
// accepted connection's remote address names the peer, as Ziti's channel did.
func peerOf(remote net.Addr) raft.ServerAddress {
	ip := remote.(*net.TCPAddr).IP.To4()
	return raft.ServerAddress(fmt.Sprintf("%s:%d", ip, 47100+int(ip[3])))
}

func newSharedLayer(addr string) *sharedLayer {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	s := &sharedLayer{ln: ln, conns: map[raft.ServerAddress]net.Conn{}, accept: make(chan net.Conn, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(s.accept)
				return
			}
			// The bug: an incoming connection also becomes the one this node dials the peer on.
			s.mu.Lock()
			if _, ok := s.conns[peerOf(c.RemoteAddr())]; !ok {
				s.conns[peerOf(c.RemoteAddr())] = c
			}
			s.mu.Unlock()
			s.accept <- noClose{c}
		}
	}()
	return s
}

func (s *sharedLayer) Accept() (net.Conn, error) {
	c, ok := <-s.accept
	if !ok {
		return nil, fmt.Errorf("closed")
	}
	return c, nil
}
func (s *sharedLayer) Close() error   { return s.ln.Close() }
func (s *sharedLayer) Addr() net.Addr { return s.ln.Addr() }

// noClose keeps one pooled or pipeline user's Close from closing the connection under the others.
type noClose struct{ net.Conn }

func (noClose) Close() error { return nil }

func (s *sharedLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[address]; ok {
		return noClose{c}, nil
	}
	local, _ := net.ResolveTCPAddr("tcp", s.ln.Addr().(*net.TCPAddr).IP.String()+":0")
	d := net.Dialer{Timeout: timeout, LocalAddr: local}
	c, err := d.Dial("tcp", string(address))
	if err != nil {
		return nil, err
	}
	s.conns[address] = c
	// The bug: the same connection also becomes an "incoming" one for this node's acceptor.
	s.accept <- noClose{c}
	return noClose{c}, nil
}

var fault = flag.String("fault", "", "\"shared\": every connection to a peer is one shared TCP connection (openziti/ziti#2533)")

type fsm struct {
	mu   sync.Mutex
	data [][]byte
}

func (f *fsm) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = append(f.data, l.Data)
	return nil
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []byte
	for _, d := range f.data {
		all = append(all, d...)
	}
	return &snap{all}, nil
}

func (f *fsm) Restore(r io.ReadCloser) error {
	b, err := ioutil.ReadAll(r)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.data = [][]byte{b}
	f.mu.Unlock()
	return nil
}

type snap struct{ b []byte }

func (s *snap) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.b); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}
func (s *snap) Release() {}

// counting wraps a transport and counts the RPCs it hands to Raft, by the names raftwire reports.
type counting struct {
	*raft.NetworkTransport
	mu     sync.Mutex
	counts map[string]int
	ch     chan raft.RPC
}

func name(cmd interface{}) string {
	switch c := cmd.(type) {
	case *raft.AppendEntriesRequest:
		if len(c.Entries) == 0 {
			return "AppendEntries(heartbeat)"
		}
		return "AppendEntries"
	case *raft.RequestVoteRequest:
		return "RequestVote"
	case *raft.InstallSnapshotRequest:
		return "InstallSnapshot"
	case *raft.TimeoutNowRequest:
		return "TimeoutNow"
	}
	return fmt.Sprintf("%T", cmd)
}

func (c *counting) count(rpc raft.RPC) {
	c.mu.Lock()
	c.counts[name(rpc.Command)]++
	c.mu.Unlock()
}

func (c *counting) Consumer() <-chan raft.RPC { return c.ch }

func (c *counting) SetHeartbeatHandler(cb func(raft.RPC)) {
	c.NetworkTransport.SetHeartbeatHandler(func(rpc raft.RPC) {
		c.count(rpc)
		cb(rpc)
	})
}

func wrap(t *raft.NetworkTransport) *counting {
	c := &counting{NetworkTransport: t, counts: map[string]int{}, ch: make(chan raft.RPC)}
	go func() {
		for rpc := range t.Consumer() {
			c.count(rpc)
			c.ch <- rpc
		}
	}()
	return c
}

type node struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	trans *counting
	raft  *raft.Raft
}

func start(i int, port int) *node {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if *fault == "shared" {
		addr = fmt.Sprintf("127.0.0.%d:%d", i, port)
	}
	var t *raft.NetworkTransport
	if *fault == "shared" {
		t = raft.NewNetworkTransport(newSharedLayer(addr), 3, 2*time.Second, os.Stderr)
	} else {
		var err error
		t, err = raft.NewTCPTransport(addr, nil, 3, 5*time.Second, ioutil.Discard)
		if err != nil {
			panic(err)
		}
	}
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(fmt.Sprintf("n%d", i))
	conf.HeartbeatTimeout = 300 * time.Millisecond
	conf.ElectionTimeout = 300 * time.Millisecond
	conf.LeaderLeaseTimeout = 200 * time.Millisecond
	conf.CommitTimeout = 20 * time.Millisecond
	conf.SnapshotThreshold = 20
	conf.TrailingLogs = 5
	conf.LogOutput = ioutil.Discard
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	ct := wrap(t)
	r, err := raft.NewRaft(conf, &fsm{}, store, store, snaps, ct)
	if err != nil {
		panic(err)
	}
	return &node{id: conf.LocalID, addr: raft.ServerAddress(addr), trans: ct, raft: r}
}

func leader(nodes []*node) *node {
	for i := 0; i < 200; i++ {
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	panic("no leader")
}

func must(f raft.Future) {
	if err := f.Error(); err != nil {
		panic(err)
	}
}

// runShared starts a cluster on shared connections and lets it try to elect a leader and
// replicate for a few seconds; the library's own log (stderr) shows what it made of the bytes.
func runShared(base int) {
	var nodes []*node
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, start(i, base+i-1))
	}
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{ID: n.id, Address: n.addr})
	}
	nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers})
	deadline := time.Now().Add(6 * time.Second)
	transferred := false
	for i := 0; time.Now().Before(deadline); i++ {
		// A new leader dials its peers, and gets the connections they opened to it.
		if !transferred && i == 100 {
			for _, n := range nodes {
				if n.raft.State() == raft.Leader {
					n.raft.LeadershipTransfer()
					transferred = true
				}
			}
		}
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				n.raft.Apply([]byte(fmt.Sprintf("cmd-%d", i)), 200*time.Millisecond)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range nodes {
		n.raft.Shutdown()
	}
	fmt.Println(`{"fault": "shared", "note": "see the library's log for the decode errors it reported"}`)
}

func main() {
	flag.Parse()
	base := 47101
	if *fault == "shared" {
		runShared(base)
		return
	}
	var nodes []*node
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, start(i, base+i-1))
	}
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{ID: n.id, Address: n.addr})
	}
	must(nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}))
	l := leader(nodes)
	for i := 0; i < 60; i++ {
		size := 64
		if i%15 == 0 {
			size = 100 * 1024
		}
		must(l.raft.Apply([]byte(strings.Repeat(string(rune('a'+i%26)), size)), time.Second))
	}
	must(l.raft.Snapshot())
	for i := 0; i < 10; i++ {
		must(l.raft.Apply([]byte(fmt.Sprintf("after-snapshot-%d", i)), time.Second))
	}
	late := start(4, base+3)
	nodes = append(nodes, late)
	must(l.raft.AddVoter(late.id, late.addr, 0, 5*time.Second))
	time.Sleep(1 * time.Second)
	must(l.raft.LeadershipTransfer())
	old := l
	for i := 0; i < 100 && (l == old || l.raft.State() != raft.Leader); i++ {
		time.Sleep(50 * time.Millisecond)
		l = leader(nodes)
	}
	for i := 0; i < 10; i++ {
		// Leadership may still be settling: retry on the current leader.
		for try := 0; ; try++ {
			if err := leader(nodes).raft.Apply([]byte(fmt.Sprintf("new-leader-%d", i)), time.Second).Error(); err == nil {
				break
			} else if try == 20 {
				panic(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond)
	truth := map[string]map[string]int{}
	for _, n := range nodes {
		n.trans.mu.Lock()
		c := map[string]int{}
		for k, v := range n.trans.counts {
			c[k] = v
		}
		n.trans.mu.Unlock()
		truth[string(n.addr)] = c
	}
	for _, n := range nodes {
		n.raft.Shutdown().Error()
	}
	out, _ := json.MarshalIndent(map[string]interface{}{
		"raft":        "1.1.2 (Debian golang-github-hashicorp-raft-dev)",
		"decoded_rpcs": truth,
		"note":        "RPCs each server's NetworkTransport decoded, by server address; RPCs in flight at shutdown may be in the capture but not here",
	}, "", "  ")
	os.Stdout.Write(append(out, '\n'))
}
