package xbstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/internal/testenv"
)

// tool returns the path of mbstream (or Percona's xbstream): it skips the
// test when neither is installed, or fails when testenv.Required.
func tool(t *testing.T) string {
	t.Helper()
	return testenv.NeedTool(t, "mbstream", "xbstream")
}

// testFiles are the files of the test streams: empty, small, several
// chunks, in a subdirectory.
func testFiles(t *testing.T) map[string][]byte {
	big := make([]byte, 3<<20+12345)
	rand.Read(big)
	return map[string][]byte{
		"ibdata1":            big,
		"xtrabackup_info":    []byte("tool_name = mariabackup\n"),
		"empty":              nil,
		"db1/t1.ibd":         bytes.Repeat([]byte("page"), 40000),
		"db1/with space.frm": []byte{0, 1, 2, 3},
	}
}

var order = []string{"xtrabackup_info", "ibdata1", "empty", "db1/t1.ibd", "db1/with space.frm"}

// write encodes files with our Writer, interleaving the chunks of two
// files as the tools do when they copy in parallel.
func write(t *testing.T, files map[string][]byte, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.ChunkSize = chunk
	a, b := files["ibdata1"], files["db1/t1.ibd"]
	for off := 0; off < max(len(a), len(b)); off += chunk {
		if off < len(a) {
			if err := w.WriteChunk(&Chunk{Type: TypePayload, Path: "ibdata1", Offset: int64(off)}, a[off:min(off+chunk, len(a))]); err != nil {
				t.Fatal(err)
			}
		}
		if off < len(b) {
			if err := w.WriteChunk(&Chunk{Type: TypePayload, Path: "db1/t1.ibd", Offset: int64(off)}, b[off:min(off+chunk, len(b))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, p := range []string{"ibdata1", "db1/t1.ibd"} {
		if err := w.WriteChunk(&Chunk{Type: TypeEOF, Path: p}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"xtrabackup_info", "empty", "db1/with space.frm"} {
		if _, err := w.WriteFile(p, bytes.NewReader(files[p])); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func checkSummary(t *testing.T, s *Summary, files map[string][]byte) {
	t.Helper()
	if len(s.Files) != len(files) {
		t.Errorf("%d files, want %d: %+v", len(s.Files), len(files), s.Files)
	}
	for _, f := range s.Files {
		want, ok := files[f.Path]
		if !ok || f.Size != int64(len(want)) || !f.Complete || f.Damaged != 0 {
			t.Errorf("file %+v: want size %d (known %v)", f, len(want), ok)
		}
	}
}

// TestMbstreamExtractsOurStream: mbstream -x extracts what Writer writes,
// byte for byte.
func TestMbstreamExtractsOurStream(t *testing.T) {
	bin := tool(t)
	files := testFiles(t)
	data := write(t, files, 1<<20)
	dir := t.TempDir()
	cmd := exec.Command(bin, "-x", "-C", dir)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s -x: %v\n%s", bin, err, out)
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: extracted %d bytes, differ from the %d written", p, len(got), len(want))
		}
	}
	s, err := Scan(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	checkSummary(t, s, files)
	if s.Bytes != int64(len(data)) || s.Chunks != 12 {
		t.Errorf("summary: %d bytes (want %d), %d chunks", s.Bytes, len(data), s.Chunks)
	}
}

// TestParseMbstreamCreate: Scan and Reader parse what mbstream -c writes;
// the payloads reassemble into the files.
func TestParseMbstreamCreate(t *testing.T) {
	bin := tool(t)
	files := testFiles(t)
	dir := t.TempDir()
	for p, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, append([]string{"-c"}, order...)...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s -c: %v\n%s", bin, err, errb.String())
	}
	s, err := Scan(context.Background(), bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	checkSummary(t, s, files)

	got := map[string][]byte{}
	r := NewReader(bytes.NewReader(out.Bytes()))
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.Type == TypeEOF {
			continue
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(got[c.Path])) != c.Offset {
			t.Fatalf("chunk %d of %s at offset %d, have %d bytes", c.Index, c.Path, c.Offset, len(got[c.Path]))
		}
		got[c.Path] = append(got[c.Path], b...)
	}
	for p, want := range files {
		if !bytes.Equal(got[p], want) {
			t.Errorf("%s: payloads give %d bytes, file has %d", p, len(got[p]), len(want))
		}
	}
}

// chunkAt returns the stream offset of the n-th chunk (from 1) of data.
func chunkAt(t *testing.T, data []byte, n int64) *Chunk {
	t.Helper()
	r := NewReader(bytes.NewReader(data))
	for {
		c, err := r.Next()
		if errors.Is(err, ErrChecksum) {
			continue
		}
		if err != nil {
			t.Fatalf("chunk %d: %v", n, err)
		}
		if c.Index == n {
			return c
		}
	}
}

// payloadStart is where chunk c's payload starts (after its header).
func payloadStart(c *Chunk) int {
	return int(c.StreamOffset) + 14 + len(c.Path) + 20 + 8*len(c.Sparse) + map[bool]int{true: 4}[c.Type == TypeSparse]
}

func TestDamage(t *testing.T) {
	files := testFiles(t)
	good := write(t, files, 1<<20)
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, b []byte) []byte
		is      error
		want    []string
		mbstops bool // mbstream -x fails on it too
	}{
		{"flipped payload byte", func(t *testing.T, b []byte) []byte {
			c := chunkAt(t, b, 3) // ibdata1, offset 1 MiB
			b[payloadStart(c)+1000] ^= 0x40
			return b
		}, ErrChecksum, []string{`chunk 3 at stream offset`, `(file "ibdata1", offset 1048576): CRC mismatch`}, true},
		{"two damaged files", func(t *testing.T, b []byte) []byte {
			b[payloadStart(chunkAt(t, b, 2))] ^= 1
			b[payloadStart(chunkAt(t, b, 5))+5] ^= 1
			return b
		}, ErrChecksum, []string{`(file "db1/t1.ibd", offset 0)`, `(file "ibdata1", offset 3145728)`}, true},
		{"flipped checksum", func(t *testing.T, b []byte) []byte {
			c := chunkAt(t, b, 1)
			b[payloadStart(c)-1] ^= 0xff
			return b
		}, ErrChecksum, []string{`chunk 1 at stream offset 0 (file "ibdata1", offset 0): CRC mismatch`}, true},
		{"truncated in a payload", func(t *testing.T, b []byte) []byte {
			return b[:payloadStart(chunkAt(t, b, 4))+10]
		}, ErrTruncated, []string{`chunk 4`, `(file "ibdata1", offset 2097152)`, "ends 10 bytes into a payload of 1048576"}, true},
		{"truncated in a header", func(t *testing.T, b []byte) []byte {
			return b[:chunkAt(t, b, 5).StreamOffset+9]
		}, ErrTruncated, []string{"chunk 5 at stream offset", "ends 9 bytes into a chunk header"}, true},
		{"cut between chunks", func(t *testing.T, b []byte) []byte {
			return b[:chunkAt(t, b, 6).StreamOffset]
		}, ErrTruncated, []string{`file "ibdata1": truncated: its end-of-file chunk is missing (3158073 bytes, 4 chunks seen)`, `file "db1/t1.ibd"`}, false},
		{"garbage magic", func(t *testing.T, b []byte) []byte {
			copy(b[chunkAt(t, b, 2).StreamOffset:], "GARBAGE!")
			return b
		}, ErrFormat, []string{`chunk 2 at stream offset 1048617: not a valid xbstream chunk: magic "GARBAGE!"`}, true},
		{"not an xbstream", func(*testing.T, []byte) []byte {
			return []byte("-- MariaDB dump 10.19\n")
		}, ErrFormat, []string{"chunk 1 at stream offset 0", "magic"}, true},
		{"unknown chunk type", func(t *testing.T, b []byte) []byte {
			b[chunkAt(t, b, 2).StreamOffset+9] = 'X'
			return b
		}, ErrFormat, []string{"unknown chunk type 0x58"}, true},
		{"path too long", func(t *testing.T, b []byte) []byte {
			binary.LittleEndian.PutUint32(b[chunkAt(t, b, 2).StreamOffset+10:], 4096)
			return b
		}, ErrFormat, []string{"path length 4096"}, true},
		{"chunk missing", func(t *testing.T, b []byte) []byte {
			c3, c5 := chunkAt(t, b, 3), chunkAt(t, b, 5)
			return append(b[:c3.StreamOffset:c3.StreamOffset], b[c5.StreamOffset:]...)
		}, ErrFormat, []string{`(file "ibdata1", offset 3145728)`, "previous chunk ends at offset 1048576"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.damage(t, bytes.Clone(good))
			s, err := Scan(context.Background(), bytes.NewReader(b))
			if !errors.Is(err, tc.is) || !Damaged(err) {
				t.Fatalf("Scan: %v, want %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if s == nil || s.Damaged == 0 {
				t.Errorf("summary counts no damage: %+v", s)
			}
			if tc.is == ErrChecksum {
				// The scan went on: every file is there and complete.
				checkSummaryDamaged(t, s, files)
			}
			if tc.mbstops {
				t.Run("mbstream refuses it too", func(t *testing.T) {
					bin := tool(t)
					cmd := exec.Command(bin, "-x", "-C", t.TempDir())
					cmd.Stdin = bytes.NewReader(b)
					if out, err := cmd.CombinedOutput(); err == nil {
						t.Errorf("%s -x accepted it (we call it damaged): %s", bin, out)
					}
				})
			}
		})
	}
}

func checkSummaryDamaged(t *testing.T, s *Summary, files map[string][]byte) {
	t.Helper()
	if len(s.Files) != len(files) {
		t.Errorf("%d files, want %d", len(s.Files), len(files))
	}
	for _, f := range s.Files {
		if f.Size != int64(len(files[f.Path])) || !f.Complete {
			t.Errorf("file %+v, want size %d", f, len(files[f.Path]))
		}
	}
	if len(s.DamagedFiles()) == 0 {
		t.Error("no damaged file named")
	}
}

// TestChecksumMismatchNotFinal: Read reports the mismatch at the end of
// the payload, and Next goes on.
func TestChecksumMismatchNotFinal(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.WriteFile("a", strings.NewReader("hello"))
	w.WriteFile("b", strings.NewReader("world"))
	b := buf.Bytes()
	c := chunkAt(t, b, 1)
	b[payloadStart(c)] = 'J'
	r := NewReader(bytes.NewReader(b))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	var ce *ChunkError
	if string(got) != "jello"[:0]+"Jello" || !errors.As(err, &ce) || !errors.Is(err, ErrChecksum) {
		t.Fatalf("read %q, %v", got, err)
	}
	want := fmt.Sprintf(`chunk 1 at stream offset 0 (file "a", offset 0): CRC mismatch: the chunk says %08x, its 5 payload bytes give`, c.Checksum)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\nwant prefix %q", err, want)
	}
	var paths []string
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, fmt.Sprintf("%s:%s", c.Type, c.Path))
	}
	if strings.Join(paths, " ") != "E:a P:b E:b" {
		t.Errorf("chunks after the damaged one: %v", paths)
	}
}

// TestSparse: sparse chunks (Percona XtraBackup 8.0) are parsed, their
// extent includes the holes, and the checksum covers the map.
func TestSparse(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	payload := bytes.Repeat([]byte("x"), 300)
	if err := w.WriteChunk(&Chunk{Type: TypeSparse, Path: "t.ibd", Offset: 0,
		Sparse: []SparseEntry{{0, 100}, {16284, 100}, {16284, 100}}}, payload); err != nil {
		t.Fatal(err)
	}
	w.WriteChunk(&Chunk{Type: TypePayload, Path: "t.ibd", Offset: 32868}, []byte("tail"))
	w.WriteChunk(&Chunk{Type: TypeEOF, Path: "t.ibd"}, nil)
	good := buf.Bytes()
	s, err := Scan(context.Background(), bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 1 || s.Files[0].Size != 32872 || !s.Files[0].Sparse || s.Files[0].Chunks != 2 {
		t.Errorf("summary %+v", s.Files)
	}
	c := chunkAt(t, good, 1)
	if len(c.Sparse) != 3 || c.Sparse[1] != (SparseEntry{16284, 100}) || c.Extent() != 32868 {
		t.Errorf("chunk %+v extent %d", c, c.Extent())
	}
	bad := bytes.Clone(good)
	bad[payloadStart(c)-8] ^= 1 // the map's last entry
	if _, err := Scan(context.Background(), bytes.NewReader(bad)); !errors.Is(err, ErrChecksum) {
		t.Errorf("damaged sparse map: %v", err)
	}
	bad = bytes.Clone(good)
	binary.LittleEndian.PutUint32(bad[payloadStart(c)-4:], 1000)
	if _, err := Scan(context.Background(), bytes.NewReader(bad)); !errors.Is(err, ErrFormat) {
		t.Errorf("sparse map longer than the payload: %v", err)
	}
}

// TestIgnorableChunk: an unknown chunk type with the ignorable flag is
// skipped.
func TestIgnorableChunk(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.WriteChunk(&Chunk{Type: 'Z', Flags: FlagIgnorable, Path: "future"}, []byte("new stuff"))
	w.WriteFile("a", strings.NewReader("abc"))
	s, err := Scan(context.Background(), bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if s.Chunks != 3 || len(s.Files) != 1 || s.Files[0].Size != 3 {
		t.Errorf("summary %+v", s)
	}
}

// TestScanReaderError: an error of the underlying reader is not damage.
func TestScanReaderError(t *testing.T) {
	var buf bytes.Buffer
	NewWriter(&buf).WriteFile("a", bytes.NewReader(make([]byte, 100000)))
	boom := errors.New("the decoder failed")
	_, err := Scan(context.Background(), io.MultiReader(bytes.NewReader(buf.Bytes()[:5000]), &errReader{boom}))
	if !errors.Is(err, boom) || Damaged(err) {
		t.Errorf("Scan: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, bytes.NewReader(buf.Bytes())); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Scan: %v", err)
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }
