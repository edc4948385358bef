// Command benchpitr prints what make bench-pitr measures from a store's
// binlog archive: the archive lag of the pieces stored since a time
// (stored minus the piece's first and last event times: the oldest and
// the newest write it held), and the archive's stored bytes against the
// raw binary log.
//
//	go run ./scripts/benchpitr STORE-DIR SINCE-UNIX-SECONDS
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/mybak/mybak/pitr"
	"github.com/mybak/mybak/storage/local"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: benchpitr STORE-DIR SINCE-UNIX-SECONDS")
		os.Exit(2)
	}
	since, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpitr:", err)
		os.Exit(2)
	}
	st, err := local.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpitr:", err)
		os.Exit(1)
	}
	ix, err := pitr.LoadIndex(context.Background(), st, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpitr:", err)
		os.Exit(1)
	}
	var oldest, newest []float64
	var raw, stored int64
	for _, p := range ix.Pieces {
		raw += p.RawSize
		stored += p.StoredSize
		if p.FirstTime.Unix() < since || p.GTIDs == 0 {
			continue
		}
		// Event times have a resolution of one second: an event of second
		// t was written in [t, t+1); the lag counts from t+0.5.
		oldest = append(oldest, p.Archived.Sub(p.FirstTime.Add(500*time.Millisecond)).Seconds())
		newest = append(newest, p.Archived.Sub(p.LastTime.Add(500*time.Millisecond)).Seconds())
	}
	if len(oldest) == 0 {
		fmt.Fprintln(os.Stderr, "benchpitr: no piece with transactions since", time.Unix(since, 0).UTC())
		os.Exit(1)
	}
	fmt.Printf("pieces %d\n", len(oldest))
	fmt.Printf("lag_oldest_p50 %.2f\nlag_oldest_p99 %.2f\nlag_newest_p50 %.2f\nlag_newest_p99 %.2f\n",
		pct(oldest, 50), pct(oldest, 99), pct(newest, 50), pct(newest, 99))
	fmt.Printf("raw_bytes %d\nstored_bytes %d\n", raw, stored)
}

func pct(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(float64(len(s)-1)*p/100 + 0.5)
	return s[i]
}
