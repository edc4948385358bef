package stream

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"github.com/mybak/mybak/crypto"
	"github.com/mybak/mybak/internal/testenv"
)

// Benchmarks run on a generated corpus of MYBAK_BENCH_MB MiB (default 64)
// and compare with the CLI pipelines in the same run:
//
//	go test ./stream -run XXX -bench . -benchtime 1x
//	MYBAK_BENCH_MB=512 go test ./stream -run XXX -bench . -benchtime 1x
//
// MB/s are of raw (uncompressed) bytes; ratio-to-gzip is the stored size
// relative to `gzip -6 | openssl enc`.

var benchOnce struct {
	sync.Once
	data []byte
	file string
	gzip int64
}

func benchCorpus(b *testing.B) ([]byte, string) {
	benchOnce.Do(func() {
		mb := 64
		if v, err := strconv.Atoi(os.Getenv("MYBAK_BENCH_MB")); err == nil && v > 0 {
			mb = v
		}
		benchOnce.data = corpus(mb<<20, 42)
		f, err := os.CreateTemp("", "mybak-bench-corpus")
		if err != nil {
			panic(err)
		}
		f.Write(benchOnce.data)
		f.Close()
		benchOnce.file = f.Name()
	})
	return benchOnce.data, benchOnce.file
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchOnce.file != "" {
		os.Remove(benchOnce.file)
	}
	os.Exit(code)
}

type countDiscard struct{ n int64 }

func (c *countDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func reportSize(b *testing.B, stored int64) {
	if benchOnce.gzip > 0 {
		b.ReportMetric(float64(stored)/float64(benchOnce.gzip), "size-vs-gzip6")
	}
	b.ReportMetric(float64(stored), "stored-bytes")
}

// BenchmarkCLI runs the baseline pipelines with the real tools.
func BenchmarkCLI(b *testing.B) {
	data, file := benchCorpus(b)
	testenv.NeedTool(b, "pigz")
	gz := os.TempDir() + "/mybak-bench.gz.enc"
	defer os.Remove(gz)
	for _, c := range []struct{ name, cmd string }{
		{"gzip6|openssl", "gzip -6 < " + file + " | openssl enc -aes-256-cbc -salt -pass env:P > " + gz},
		{"pigz-p2-6|openssl", "pigz -p2 -6 < " + file + " | openssl enc -aes-256-cbc -salt -pass env:P | wc -c"},
		{"zstd-T2|openssl", "zstd -q -T2 < " + file + " | openssl enc -aes-256-cbc -salt -pass env:P | wc -c"},
		{"openssl-d|gzip-d", "openssl enc -d -aes-256-cbc -pass env:P < " + gz + " | gzip -d > /dev/null"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				cmd := exec.Command("bash", "-o", "pipefail", "-c", c.cmd)
				cmd.Env = append(os.Environ(), "P=bench")
				out, err := cmd.Output()
				if err != nil {
					b.Fatalf("%s: %v", c.cmd, err)
				}
				if c.name == "gzip6|openssl" {
					fi, _ := os.Stat(gz)
					benchOnce.gzip = fi.Size()
				} else if n, err := strconv.ParseInt(string(bytes.TrimSpace(out)), 10, 64); err == nil {
					reportSize(b, n)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	data, _ := benchCorpus(b)
	for _, c := range []struct {
		name string
		opts EncodeOptions
	}{
		{"gzip-default+aes", EncodeOptions{Pass: []byte("bench")}},
		{"gzip-6+aes", EncodeOptions{Compression: Compression{Kind: Gzip, Level: 6}, Pass: []byte("bench")}},
		{"gzip-default-64MiBframes+aes", EncodeOptions{Pass: []byte("bench"), FrameSize: 64 << 20}},
		{"zstd+aes", EncodeOptions{Compression: Compression{Kind: Zstd}, Pass: []byte("bench")}},
		{"none+aes", EncodeOptions{Compression: Compression{Kind: None}, Pass: []byte("bench")}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var out countDiscard
			for i := 0; i < b.N; i++ {
				out.n = 0
				if _, err := Encode(context.Background(), &out, bytes.NewReader(data), c.opts); err != nil {
					b.Fatal(err)
				}
			}
			reportSize(b, out.n)
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	data, _ := benchCorpus(b)
	for _, kind := range []string{Gzip, Zstd} {
		var buf bytes.Buffer
		res, err := Encode(context.Background(), &buf, bytes.NewReader(data), EncodeOptions{Compression: Compression{Kind: kind}, Pass: []byte("bench")})
		if err != nil {
			b.Fatal(err)
		}
		stored := buf.Bytes()
		opts := DecodeOptions{Compression: kind, Pass: []byte("bench"), KDF: &crypto.DefaultKDF, Expect: expectOf(res)}
		b.Run(kind+"/sequential", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				if _, err := Decode(context.Background(), io.Discard, bytes.NewReader(stored), opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(kind+"/parallel", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			o := &opener{data: stored}
			for i := 0; i < b.N; i++ {
				if _, err := DecodeParallel(context.Background(), io.Discard, o.Open, int64(len(stored)), res.Frames, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
