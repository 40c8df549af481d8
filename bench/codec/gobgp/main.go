// gobgp-decode-bench: times GoBGP's receive-side decoding over raw BGP message streams,
// the same files sart's codec benchmark decodes, so the two can be put side by side.
// Everything a receiver does from the byte stream on is inside the timing:
//
//	parse:   framing (cut the stream at each header's length) + bgp.ParseBGPMessage (Go
//	         structs: one object per prefix and per attribute) + bgp.ValidateUpdateMsg
//	         (the checks gobgpd's FSM runs on every UPDATE); beside sart's count-only decode
//	objects: parse, then the consumer view sart's materialising decode gives in JS: per
//	         UPDATE the withdrawn and announced prefixes as strings ("10.0.0.0/24") and the
//	         attributes as values (origin name, AS path segments, next hop string, MED,
//	         LOCAL_PREF, communities as "65000:100")
//
// One line per file and mode (rates are medians over the runs):
//
//	gobgp-<mode> <file> MB/s=<x> messages/s=<x> prefixes/s=<x> runs=<n> messages=<n> prefixes=<n> bytes=<n>
//
// Usage: gobgp-decode-bench [-runs 5] [-modes parse,objects] FILE...
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

const headerLen = 19

var families = map[bgp.RouteFamily]bgp.BGPAddPathMode{bgp.RF_IPv4_UC: bgp.BGP_ADD_PATH_NONE, bgp.RF_IPv6_UC: bgp.BGP_ADD_PATH_NONE}

// The consumer view: the fields of sart's decode JSON for an UPDATE.
type segment struct {
	Type string
	ASNs []uint32
}

type attributes struct {
	Origin      string
	ASPath      []segment
	NextHop     string
	MED         *uint32
	LocalPref   *uint32
	Communities []string
}

type update struct {
	Withdrawn  []string
	NLRI       []string
	Attributes attributes
}

var originNames = []string{"IGP", "EGP", "INCOMPLETE"}
var segmentNames = map[uint8]string{1: "AS_SET", 2: "AS_SEQUENCE", 3: "AS_CONFED_SEQUENCE", 4: "AS_CONFED_SET"}

// sink keeps the last view reachable so the compiler cannot drop the work.
var sink *update

func prefixStrings[P bgp.AddrPrefixInterface](list []P) []string {
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.String()
	}
	return out
}

func view(u *bgp.BGPUpdate) *update {
	v := &update{Withdrawn: prefixStrings(u.WithdrawnRoutes), NLRI: prefixStrings(u.NLRI)}
	a := &v.Attributes
	for _, attr := range u.PathAttributes {
		switch x := attr.(type) {
		case *bgp.PathAttributeOrigin:
			if int(x.Value) < len(originNames) {
				a.Origin = originNames[x.Value]
			}
		case *bgp.PathAttributeAsPath:
			for _, s := range x.Value {
				a.ASPath = append(a.ASPath, segment{Type: segmentNames[s.GetType()], ASNs: s.GetAS()})
			}
		case *bgp.PathAttributeNextHop:
			a.NextHop = x.Value.String()
		case *bgp.PathAttributeMultiExitDisc:
			med := x.Value
			a.MED = &med
		case *bgp.PathAttributeLocalPref:
			lp := x.Value
			a.LocalPref = &lp
		case *bgp.PathAttributeCommunities:
			a.Communities = make([]string, len(x.Value))
			for i, c := range x.Value {
				a.Communities[i] = strconv.FormatUint(uint64(c>>16), 10) + ":" + strconv.FormatUint(uint64(c&0xffff), 10)
			}
		case *bgp.PathAttributeMpReachNLRI:
			a.NextHop = x.Nexthop.String()
			v.NLRI = append(v.NLRI, prefixStrings(x.Value)...)
		case *bgp.PathAttributeMpUnreachNLRI:
			v.Withdrawn = append(v.Withdrawn, prefixStrings(x.Value)...)
		}
	}
	return v
}

// prefixes counts the announced and withdrawn prefixes of one parsed UPDATE.
func prefixes(u *bgp.BGPUpdate) int {
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

// decodeAll frames, parses and validates every message of the stream (and builds the view
// with objects); returns the messages and prefixes seen. The first error stops the run.
func decodeAll(data []byte, objects bool) (msgs, pfx int, err error) {
	for off := 0; off < len(data); {
		if off+headerLen > len(data) {
			return 0, 0, fmt.Errorf("truncated header at byte %d", off)
		}
		n := int(binary.BigEndian.Uint16(data[off+16 : off+18]))
		if n < headerLen || off+n > len(data) {
			return 0, 0, fmt.Errorf("bad message length %d at byte %d", n, off)
		}
		m, err := bgp.ParseBGPMessage(data[off : off+n])
		if err != nil {
			return 0, 0, fmt.Errorf("message %d: %v", msgs, err)
		}
		off += n
		msgs++
		u, ok := m.Body.(*bgp.BGPUpdate)
		if !ok {
			continue
		}
		if ok, err := bgp.ValidateUpdateMsg(u, families, true, false); !ok {
			return 0, 0, fmt.Errorf("message %d: %v", msgs, err)
		}
		if objects {
			v := view(u)
			pfx += len(v.NLRI) + len(v.Withdrawn)
			sink = v
		} else {
			pfx += prefixes(u)
		}
	}
	return msgs, pfx, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func bench(path, mode string, runs int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	objects := mode == "objects"
	msgs, pfx, err := decodeAll(data, objects) // warm-up, and the counts
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	secs := make([]float64, 0, runs)
	for r := 0; r < runs; r++ {
		start := time.Now()
		if _, _, err := decodeAll(data, objects); err != nil {
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
	fmt.Printf("gobgp-%s %s MB/s=%.1f messages/s=%.0f prefixes/s=%.0f runs=%d messages=%d prefixes=%d bytes=%d\n",
		mode, filepath.Base(path), rate(float64(len(data))/1e6), rate(float64(msgs)), rate(float64(pfx)),
		runs, msgs, pfx, len(data))
	return nil
}

func main() {
	runs := flag.Int("runs", 5, "timed runs per file and mode (the median is printed)")
	modes := flag.String("modes", "parse,objects", "comma-separated: parse, objects")
	flag.Parse()
	if flag.NArg() == 0 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: gobgp-decode-bench [-runs N] [-modes parse,objects] FILE...")
		os.Exit(2)
	}
	for _, path := range flag.Args() {
		for _, mode := range strings.Split(*modes, ",") {
			if mode != "parse" && mode != "objects" {
				fmt.Fprintf(os.Stderr, "gobgp-decode-bench: unknown mode %q\n", mode)
				os.Exit(2)
			}
			if err := bench(path, mode, *runs); err != nil {
				fmt.Fprintln(os.Stderr, "gobgp-decode-bench:", err)
				os.Exit(1)
			}
		}
	}
}
