package stream

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkLevels sweeps compression levels and settings on the synthetic
// corpus, for a quick look. DefaultGzipLevel is chosen by scripts/bench.sh
// (make bench) on a real mariabackup stream against gzip -6 and pigz in the
// same run; DefaultZstdLevel was chosen here.
func BenchmarkLevels(b *testing.B) {
	data, _ := benchCorpus(b)
	var cases []Compression
	for _, l := range []int{4, 5, 6, 7} {
		cases = append(cases, Compression{Kind: Gzip, Level: l})
	}
	for _, l := range []int{1, 3} {
		cases = append(cases, Compression{Kind: Zstd, Level: l}, Compression{Kind: Zstd, Level: l, Concurrency: 1})
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%s-%d-c%d", c.Kind, c.Level, c.Concurrency), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out countDiscard
			for i := 0; i < b.N; i++ {
				out.n = 0
				if _, err := Encode(context.Background(), &out, bytes.NewReader(data), EncodeOptions{Compression: c, Pass: []byte("x")}); err != nil {
					b.Fatal(err)
				}
			}
			reportSize(b, out.n)
		})
	}
}
