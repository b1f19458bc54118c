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
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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

var busy = flag.Int("busy", 0, "entry-heavy traffic for benchmarks: this many small commands applied concurrently (so AppendEntries batch them), a few 64-160 KiB blobs, several snapshots and a late joiner")

var serve = flag.Bool("serve", false, "a live cluster for raftwire probe: print the leader's address as a JSON line, apply a command every 20 ms, answer each \"status\" line on stdin with a JSON line (leader, leader changes, applies, memory), stop at the end of stdin")

var base = flag.Int("base", 47101, "first node's port (nodes listen on base, base+1, base+2)")

var fault = flag.String("fault", "", "\"shared\": every connection to a peer is one shared TCP connection (openziti/ziti#2533); \"mixed\": a newer release's requests sent to these raft 1.1.2 nodes")

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
		logs := ioutil.Discard
		if *fault == "mixed" || *serve {
			logs = os.Stderr
		}
		t, err = raft.NewTCPTransport(addr, nil, 3, 5*time.Second, logs)
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
	if *busy > 0 {
		conf.SnapshotInterval = 300 * time.Millisecond
		conf.SnapshotThreshold = 1000
		conf.TrailingLogs = 50
	}
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

// bootstrapped starts nodes n1..n3 on base..base+2 and bootstraps them as one cluster.
func bootstrapped(base int) ([]*node, raft.Future) {
	var nodes []*node
	for i := 1; i <= 3; i++ {
		nodes = append(nodes, start(i, base+i-1))
	}
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{ID: n.id, Address: n.addr})
	}
	return nodes, nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers})
}

func must(f raft.Future) {
	if err := f.Error(); err != nil {
		panic(err)
	}
}

// runShared starts a cluster on shared connections and lets it try to elect a leader and
// replicate for a few seconds; the library's own log (stderr) shows what it made of the bytes.
func runShared(base int) {
	// On shared connections the bootstrap may already see decode errors: they are the point.
	nodes, _ := bootstrapped(base)
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

// A map key or short string as go-msgpack writes it: fixstr.
func str(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }

// preVote is a RequestPreVote (rpc type 4) exactly as raft 1.7.3 writes it (see the shared
// raft-1.7.3 capture): RPCHeader with ID and Addr, keys in go-msgpack's sorted order.
func preVote(id, addr string, term byte) []byte {
	b := []byte{4, 0x86}
	b = append(b, str("Addr")...)
	b = append(b, str(addr)...)
	b = append(b, str("ID")...)
	b = append(b, str(id)...)
	b = append(b, str("LastLogIndex")...)
	b = append(b, 0x05)
	b = append(b, str("LastLogTerm")...)
	b = append(b, 0x01)
	b = append(b, str("ProtocolVersion")...)
	b = append(b, 0x03)
	b = append(b, str("Term")...)
	return append(b, term)
}

// newTimeAppend is an AppendEntries as raft >= 1.6 writes it with MsgpackUseNewTimeFormat: one
// entry whose AppendedAt is a msgpack timestamp written as a raw string (A8 + 8 bytes). Its term
// is stale, so a follower rejects it without changing its state.
func newTimeAppend(id, addr string) []byte {
	b := []byte{0, 0x89}
	b = append(b, str("Addr")...)
	b = append(b, str(addr)...)
	b = append(b, str("Entries")...)
	b = append(b, 0x91, 0x86)
	b = append(b, str("AppendedAt")...)
	b = append(b, 0xa8, 0x00, 0x00, 0x5d, 0xc0, 0x65, 0x93, 0x7d, 0x25)
	b = append(b, str("Data")...)
	b = append(b, str("new")...)
	b = append(b, str("Extensions")...)
	b = append(b, 0xc0)
	b = append(b, str("Index")...)
	b = append(b, 0x01)
	b = append(b, str("Term")...)
	b = append(b, 0x01)
	b = append(b, str("Type")...)
	b = append(b, 0x00)
	b = append(b, str("ID")...)
	b = append(b, str(id)...)
	b = append(b, str("Leader")...)
	b = append(b, str(addr)...)
	b = append(b, str("LeaderCommitIndex")...)
	b = append(b, 0x00)
	b = append(b, str("PrevLogEntry")...)
	b = append(b, 0x00)
	b = append(b, str("PrevLogTerm")...)
	b = append(b, 0x00)
	b = append(b, str("ProtocolVersion")...)
	b = append(b, 0x03)
	b = append(b, str("Term")...)
	return append(b, 0x01)
}

// sendRaw dials target as a newer node would, writes one request, and reports what came back
// before the node closed the connection (or the read timed out).
func sendRaw(target string, req []byte) map[string]interface{} {
	c, err := net.Dial("tcp", target)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		panic(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	got, err := ioutil.ReadAll(c)
	outcome := "closed by the node"
	if err != nil {
		outcome = err.Error()
	}
	return map[string]interface{}{"target": target, "sent_bytes": len(req), "answer_bytes": len(got), "outcome": outcome}
}

// runMixed runs a raft 1.1.2 cluster and, while it replicates, sends its nodes requests shaped
// like a newer release's from a client of this harness's own (node "n4" at 127.0.0.1:47104, which
// does not listen): a RequestPreVote, which 1.1.2 cannot decode, and an AppendEntries with the new
// time format, which 1.1.2 decodes (it has no AppendedAt field) and rejects for its stale term.
func runMixed(base int) {
	nodes, boot := bootstrapped(base)
	must(boot)
	l := leader(nodes)
	for i := 0; i < 20; i++ {
		must(l.raft.Apply([]byte(fmt.Sprintf("cmd-%d", i)), time.Second))
	}
	var follower *node
	for _, n := range nodes {
		if n != l {
			follower = n
			break
		}
	}
	newer := "127.0.0.1:47104"
	term := byte(l.raft.Stats()["term"][0]-'0') + 1
	sent := []map[string]interface{}{
		sendRaw(string(follower.addr), preVote("n4", newer, term)),
		sendRaw(string(follower.addr), newTimeAppend("n4", newer)),
	}
	for i := 20; i < 30; i++ {
		must(l.raft.Apply([]byte(fmt.Sprintf("cmd-%d", i)), time.Second))
	}
	time.Sleep(500 * time.Millisecond)
	nodesOut := map[string]string{}
	for _, n := range nodes {
		nodesOut[string(n.id)] = string(n.addr)
	}
	for _, n := range nodes {
		n.raft.Shutdown().Error()
	}
	out, _ := json.MarshalIndent(map[string]interface{}{
		"raft":       "1.1.2 (Debian golang-github-hashicorp-raft-dev)",
		"nodes":      nodesOut,
		"leader":     string(l.addr),
		"newer_node": map[string]string{"id": "n4", "addr": newer, "release": "requests shaped as raft 1.7.3 writes them"},
		"sent":       sent,
		"note":       "the nodes' own log (stderr) records how the 1.1.2 node took each request",
	}, "", "  ")
	os.Stdout.Write(append(out, '\n'))
}

// runBusy replicates `commands` small commands (4-123 bytes) from 32 goroutines at once, so the
// leader batches them into AppendEntries of up to 64 entries, with a 64-160 KiB blob every 1000
// commands; snapshots every 1000 entries truncate the log, and a node that joins late is brought
// up by InstallSnapshot. The shape of a busy production cluster's replication traffic.
func runBusy(base int, commands int) {
	nodes, boot := bootstrapped(base)
	must(boot)
	l := leader(nodes)
	var wg sync.WaitGroup
	next := make(chan int, 64)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				size := 4 + (i*37)%120
				if i%1000 == 999 {
					size = 64*1024 + (i*7919)%(96*1024)
				}
				l.raft.Apply([]byte(strings.Repeat(string(rune('a'+i%26)), size)), 5*time.Second).Error()
			}
		}()
	}
	for i := 0; i < commands; i++ {
		if i == commands/2 {
			// A snapshot first, so the late joiner is brought up by InstallSnapshot.
			l.raft.Snapshot().Error()
			late := start(4, base+3)
			nodes = append(nodes, late)
			l.raft.AddVoter(late.id, late.addr, 0, 5*time.Second)
		}
		next <- i
	}
	close(next)
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	for _, n := range nodes {
		n.raft.Shutdown().Error()
	}
	fmt.Printf("{\"busy\": %d, \"raft\": \"1.1.2 (Debian golang-github-hashicorp-raft-dev)\"}\n", commands)
}

// runServe keeps a 3-node cluster leading and applying while a probe runs against it, and says
// whether leadership and replication survived, and how much memory the process took.
func runServe(base int) {
	nodes, boot := bootstrapped(base)
	must(boot)
	l := leader(nodes)
	term := l.raft.Stats()["term"]
	var applied, failed, changes int64
	var heapMax uint64
	current := atomic.Value{}
	current.Store(string(l.addr))
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if err := leader(nodes).raft.Apply([]byte(fmt.Sprintf("serve-%d", i)), time.Second).Error(); err != nil {
				atomic.AddInt64(&failed, 1)
			} else {
				atomic.AddInt64(&applied, 1)
			}
		}
	}()
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for _, n := range nodes {
				if n.raft.State() == raft.Leader && string(n.addr) != current.Load().(string) {
					current.Store(string(n.addr))
					atomic.AddInt64(&changes, 1)
				}
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > atomic.LoadUint64(&heapMax) {
				atomic.StoreUint64(&heapMax, m.HeapAlloc)
			}
		}
	}()
	status := func() map[string]interface{} {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		hwm := ""
		if b, err := ioutil.ReadFile("/proc/self/status"); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "VmHWM:") {
					hwm = strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
				}
			}
		}
		l := leader(nodes)
		return map[string]interface{}{
			"leader":         string(l.addr),
			"term":           l.raft.Stats()["term"],
			"leader_changes": atomic.LoadInt64(&changes),
			"applied":        atomic.LoadInt64(&applied),
			"apply_errors":   atomic.LoadInt64(&failed),
			"heap_alloc_max": atomic.LoadUint64(&heapMax),
			"sys_bytes":      m.Sys,
			"vm_hwm":         hwm,
			"goroutines":     runtime.NumGoroutine(),
		}
	}
	emit := func(v interface{}) {
		out, _ := json.Marshal(v)
		os.Stdout.Write(append(out, '\n'))
	}
	emit(map[string]interface{}{"leader": string(l.addr), "term": term, "raft": "1.1.2 (Debian golang-github-hashicorp-raft-dev)"})
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if strings.TrimSpace(in.Text()) == "status" {
			emit(status())
		}
	}
	emit(status())
	close(stop)
	for _, n := range nodes {
		n.raft.Shutdown().Error()
	}
}

func main() {
	flag.Parse()
	base := *base
	if *serve {
		runServe(base)
		return
	}
	if *fault == "shared" {
		runShared(base)
		return
	}
	if *fault == "mixed" {
		runMixed(base)
		return
	}
	if *busy > 0 {
		runBusy(base, *busy)
		return
	}
	nodes, boot := bootstrapped(base)
	must(boot)
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
		"raft":         "1.1.2 (Debian golang-github-hashicorp-raft-dev)",
		"decoded_rpcs": truth,
		"note":         "RPCs each server's NetworkTransport decoded, by server address; RPCs in flight at shutdown may be in the capture but not here",
	}, "", "  ")
	os.Stdout.Write(append(out, '\n'))
}
