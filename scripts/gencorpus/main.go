// Command gencorpus writes a deterministic benchmark corpus that looks like
// what mybak backs up: SQL-like text (a dump), mostly-empty 16 KiB pages
// (InnoDB data files) and some random pages (compressed or encrypted
// columns). Used by scripts/bench.sh; nothing it writes is committed.
//
//	go run ./scripts/gencorpus -size 512M > corpus
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

func main() {
	sizeFlag := flag.String("size", "512M", "bytes to write (suffix K, M, G)")
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike " +
		"november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu " +
		"customer order invoice shipped pending cancelled paid refund warehouse berlin paris london")
	page := make([]byte, 16<<10)
	var written int64
	var line []byte
	for written < size {
		var chunk []byte
		switch r := rng.IntN(100); {
		case r < 40: // ~16 KiB of SQL text
			line = line[:0]
			for len(line) < 16<<10 {
				id := rng.IntN(10_000_000)
				line = append(line, "INSERT INTO `orders` VALUES ("...)
				line = strconv.AppendInt(line, int64(id), 10)
				line = append(line, ",'"...)
				for k := 0; k < 3+rng.IntN(5); k++ {
					line = append(line, words[rng.IntN(len(words))]...)
					line = append(line, ' ')
				}
				line = append(line, "',"...)
				line = strconv.AppendFloat(line, float64(rng.IntN(1_000_000))/100, 'f', 2, 64)
				line = append(line, ",'2026-"...)
				line = strconv.AppendInt(line, int64(1+rng.IntN(12)), 10)
				line = append(line, '-')
				line = strconv.AppendInt(line, int64(1+rng.IntN(28)), 10)
				line = append(line, "');\n"...)
			}
			chunk = line
		case r < 88: // a mostly-empty 16 KiB page: header, a few rows, zeros
			clear(page)
			for i := 0; i < 38; i++ {
				page[i] = byte(rng.Uint32())
			}
			off := 120
			for rows := rng.IntN(12); rows > 0 && off < len(page)-200; rows-- {
				for k := 0; k < 4; k++ {
					w := words[rng.IntN(len(words))]
					off += copy(page[off:], w)
					page[off] = byte(rng.IntN(256))
					off++
				}
			}
			for i := len(page) - 8; i < len(page); i++ {
				page[i] = byte(rng.Uint32())
			}
			chunk = page
		default: // a random page
			for i := 0; i < len(page); i += 8 {
				v := rng.Uint64()
				for k := 0; k < 8; k++ {
					page[i+k] = byte(v >> (8 * k))
				}
			}
			chunk = page
		}
		if rem := size - written; int64(len(chunk)) > rem {
			chunk = chunk[:rem]
		}
		n, err := w.Write(chunk)
		written += int64(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gencorpus:", err)
			os.Exit(1)
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return v * mult, nil
}
