// gobgp-decode-bench: times GoBGP's wire parser (pkg/packet/bgp.ParseBGPMessage) over raw
// BGP message streams, the same files sart's codec benchmark decodes, so the two can be
// put side by side. One line per file:
//
//	gobgp <file> MB/s=<x> messages/s=<x> prefixes/s=<x> runs=<n> messages=<n> prefixes=<n> bytes=<n>
//
// Rates are medians over the runs. Usage: gobgp-decode-bench [-runs 5] FILE...
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

const headerLen = 19

// split cuts a raw stream into messages by the header length field.
func split(data []byte) ([][]byte, error) {
	var msgs [][]byte
	for off := 0; off < len(data); {
		if off+headerLen > len(data) {
			return nil, fmt.Errorf("truncated header at byte %d", off)
		}
		n := int(binary.BigEndian.Uint16(data[off+16 : off+18]))
		if n < headerLen || off+n > len(data) {
			return nil, fmt.Errorf("bad message length %d at byte %d", n, off)
		}
		msgs = append(msgs, data[off:off+n])
		off += n
	}
	return msgs, nil
}

// prefixes counts the announced and withdrawn prefixes of one parsed message.
func prefixes(m *bgp.BGPMessage) int {
	u, ok := m.Body.(*bgp.BGPUpdate)
	if !ok {
		return 0
	}
	n := len(u.NLRI) + len(u.WithdrawnRoutes)
	for _, a := range u.PathAttributes {
		switch v := a.(type) {
		case *bgp.PathAttributeMpReachNLRI:
			n += len(v.Value)
		case *bgp.PathAttributeMpUnreachNLRI:
			n += len(v.Value)
		}
	}
	return n
}

// parseAll parses every message once; the first error stops the run.
func parseAll(msgs [][]byte) (int, error) {
	total := 0
	for i, b := range msgs {
		m, err := bgp.ParseBGPMessage(b)
		if err != nil {
			return 0, fmt.Errorf("message %d: %v", i, err)
		}
		total += prefixes(m)
	}
	return total, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func bench(path string, runs int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	msgs, err := split(data)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	pfx, err := parseAll(msgs) // warm-up, and the prefix count
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	secs := make([]float64, 0, runs)
	for r := 0; r < runs; r++ {
		start := time.Now()
		if _, err := parseAll(msgs); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		secs = append(secs, time.Since(start).Seconds())
	}
	rate := func(amount float64) float64 {
		rates := make([]float64, len(secs))
		for i, s := range secs {
			rates[i] = amount / s
		}
		return median(rates)
	}
	fmt.Printf("gobgp %s MB/s=%.1f messages/s=%.0f prefixes/s=%.0f runs=%d messages=%d prefixes=%d bytes=%d\n",
		filepath.Base(path), rate(float64(len(data))/1e6), rate(float64(len(msgs))), rate(float64(pfx)),
		runs, len(msgs), pfx, len(data))
	return nil
}

func main() {
	runs := flag.Int("runs", 5, "timed runs per file (the median is printed)")
	flag.Parse()
	if flag.NArg() == 0 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: gobgp-decode-bench [-runs N] FILE...")
		os.Exit(2)
	}
	for _, path := range flag.Args() {
		if err := bench(path, *runs); err != nil {
			fmt.Fprintln(os.Stderr, "gobgp-decode-bench:", err)
			os.Exit(1)
		}
	}
}
