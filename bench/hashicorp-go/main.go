// Command hashicorp-go decodes captured hashicorp/raft NetworkTransport streams with the library's
// own decoding (raft 1.1.2 and its go-msgpack handle, exactly as net_transport.go reads a
// connection: an rpc type byte then the request; a msgpack error string then the response;
// InstallSnapshot data skipped by its Size) and reports messages per second: the baseline
// raftwire's hashicorp checker is compared with in BENCHMARKS.md. See bench/hashicorp-vs-go.sh.
//
// usage: hashicorp-go DIR   (DIR holds NAME.c2s.bin / NAME.s2c.bin pairs from `raftwire streams`)
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/ioutil"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-msgpack/codec"
	"github.com/hashicorp/raft"
)

// The rpc type bytes of net_transport.go.
const (
	rpcAppendEntries uint8 = iota
	rpcRequestVote
	rpcInstallSnapshot
	rpcTimeoutNow
)

type pair struct{ c2s, s2c []byte }

// decodeConnection decodes both directions of one connection and returns how many messages.
func decodeConnection(p pair) (int, error) {
	r := bufio.NewReaderSize(bytes.NewReader(p.c2s), 64*1024)
	dec := codec.NewDecoder(r, &codec.MsgpackHandle{})
	var types []uint8
	for {
		t, err := r.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		switch t {
		case rpcAppendEntries:
			var req raft.AppendEntriesRequest
			err = dec.Decode(&req)
		case rpcRequestVote:
			var req raft.RequestVoteRequest
			err = dec.Decode(&req)
		case rpcInstallSnapshot:
			var req raft.InstallSnapshotRequest
			if err = dec.Decode(&req); err == nil {
				_, err = io.CopyN(ioutil.Discard, r, req.Size)
			}
		case rpcTimeoutNow:
			var req raft.TimeoutNowRequest
			err = dec.Decode(&req)
		default:
			return 0, fmt.Errorf("unknown rpc type %d", t)
		}
		if err != nil {
			return 0, err
		}
		types = append(types, t)
	}
	w := bufio.NewReaderSize(bytes.NewReader(p.s2c), 64*1024)
	rdec := codec.NewDecoder(w, &codec.MsgpackHandle{})
	n := len(types)
	for _, t := range types {
		if _, err := w.Peek(1); err == io.EOF {
			break // the capture ended before this answer
		}
		var rpcError string
		if err := rdec.Decode(&rpcError); err != nil {
			return 0, err
		}
		var err error
		switch t {
		case rpcAppendEntries:
			err = rdec.Decode(&raft.AppendEntriesResponse{})
		case rpcRequestVote:
			err = rdec.Decode(&raft.RequestVoteResponse{})
		case rpcInstallSnapshot:
			err = rdec.Decode(&raft.InstallSnapshotResponse{})
		case rpcTimeoutNow:
			err = rdec.Decode(&raft.TimeoutNowResponse{})
		}
		if err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hashicorp-go DIR")
		os.Exit(2)
	}
	names, _ := filepath.Glob(filepath.Join(os.Args[1], "*.c2s.bin"))
	sort.Strings(names)
	var pairs []pair
	total := 0
	for _, c := range names {
		c2s, err1 := ioutil.ReadFile(c)
		s2c, err2 := ioutil.ReadFile(strings.TrimSuffix(c, ".c2s.bin") + ".s2c.bin")
		if err1 != nil || err2 != nil {
			fmt.Fprintln(os.Stderr, "cannot read", c)
			os.Exit(2)
		}
		pairs = append(pairs, pair{c2s, s2c})
		total += len(c2s) + len(s2c)
	}
	// One checked pass: every connection must decode cleanly.
	messages := 0
	for _, p := range pairs {
		n, err := decodeConnection(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "decode error:", err)
			os.Exit(1)
		}
		messages += n
	}
	// Then rounds of at least 200 ms each; the median round is reported.
	var rates []float64
	for round := 0; round < 15; round++ {
		start := time.Now()
		passes := 0
		for time.Since(start) < 200*time.Millisecond {
			for _, p := range pairs {
				decodeConnection(p)
			}
			passes++
		}
		rates = append(rates, float64(passes*messages)/time.Since(start).Seconds())
	}
	sort.Float64s(rates)
	median := rates[len(rates)/2]
	fmt.Printf("go\t%d\t%d\t%.0f\n", messages, total, median)
}
