package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	jStart = `{"op":"start","v":1,"id":"ID","object":"ID/data","upload_id":"u","location":"mem://test","part_size":10}`
	jPart0 = `{"op":"part","n":0,"size":10,"md5":"0123456789abcdef0123456789abcdef"}`
	jPart1 = `{"op":"part","n":1,"size":4,"md5":"0123456789abcdef0123456789abcdef"}`
	jUp0   = `{"op":"uploaded","n":0,"name":"c/ID/data/u/00000000"}`
	jEnd   = `{"op":"end","parts":2,"size":14}`
	jComm  = `{"op":"committed"}`
)

func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

func TestParseJournal(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        string
		parts     int
		ended     bool
		committed bool
		torn      bool
		err       string // substring of the error, "" for none
	}{
		{"complete", lines(jStart, jPart0, jUp0, jPart1, jEnd, jComm), 2, true, true, false, ""},
		{"start only", lines(jStart), 0, false, false, false, ""},
		{"cut during the stream", lines(jStart, jPart0), 1, false, false, false, ""},
		{"torn last line", lines(jStart, jPart0) + `{"op":"part","n":1,"si`, 1, false, false, true, ""},
		{"torn garbage", lines(jStart, jPart0, jPart1, jEnd) + "\x00\x00\x00", 2, true, false, true, ""},
		{"complete last line without newline", lines(jStart, jPart0, jPart1) + jEnd, 2, true, false, false, ""},
		{"damaged middle line", lines(jStart, `{"op":"part","n":0,"size":1x}`, jPart1, jEnd), 0, false, false, false, "line 2"},
		{"empty middle line", lines(jStart, "", jPart0), 0, false, false, false, "line 2"},
		{"unknown field", lines(jStart, `{"op":"part","n":0,"size":10,"md5":"0123456789abcdef0123456789abcdef","x":1}`), 0, false, false, false, "unknown field"},
		{"no start", lines(jPart0), 0, false, false, false, "before the start record"},
		{"empty", "", 0, false, false, false, "no start record"},
		{"parts out of order", lines(jStart, jPart1), 0, false, false, false, "out of order"},
		{"part after short part", lines(jStart, `{"op":"part","n":0,"size":3,"md5":"0123456789abcdef0123456789abcdef"}`, jPart1), 0, false, false, false, "short last part"},
		{"end disagrees", lines(jStart, jPart0, `{"op":"end","parts":2,"size":14}`), 0, false, false, false, "end record says"},
		{"uploaded unknown part", lines(jStart, jUp0), 0, false, false, false, "unknown part"},
		{"newer version", lines(strings.Replace(jStart, `"v":1`, `"v":2`, 1)), 0, false, false, false, "version 2"},
		{"committed before end", lines(jStart, jPart0, jComm), 0, false, false, false, "before the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, tail, err := parseJournal([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrDamagedJournal) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrDamagedJournal with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(st.parts) != tc.parts || st.ended != tc.ended || st.committed != tc.committed || st.torn != tc.torn {
				t.Errorf("parts %d ended %v committed %v torn %v", len(st.parts), st.ended, st.committed, st.torn)
			}
			if tail > len(tc.in) || (tc.torn && tail == len(tc.in)) {
				t.Errorf("tail %d of %d bytes", tail, len(tc.in))
			}
		})
	}
}

// TestRepairTail: after a torn line, the next record starts on its own
// line and the journal parses.
func TestRepairTail(t *testing.T) {
	for _, in := range []string{
		lines(jStart, jPart0) + `{"op":"part","n":1,"si`,
		lines(jStart, jPart0, jPart1) + jEnd,
		lines(jStart, jPart0),
	} {
		path := filepath.Join(t.TempDir(), JournalName)
		os.WriteFile(path, []byte(in), 0o600)
		st, tail, err := parseJournal([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if err := repairTail(path, []byte(in), tail); err != nil {
			t.Fatal(err)
		}
		j, err := openJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		next := record{Op: opPart, N: intp(len(st.parts)), Size: 4, MD5: "0123456789abcdef0123456789abcdef"}
		if st.ended {
			next = record{Op: opCommitted}
		}
		if err := j.append(next); err != nil {
			t.Fatal(err)
		}
		j.close()
		b, _ := os.ReadFile(path)
		st2, _, err := parseJournal(b)
		if err != nil {
			t.Fatalf("after repair: %v\n%s", err, b)
		}
		if st2.torn {
			t.Errorf("still torn:\n%s", b)
		}
	}
}

// FuzzParseJournal: parseJournal never panics, and what it accepts is
// consistent.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(lines(jStart, jPart0, jUp0, jPart1, jEnd, jComm)))
	f.Add([]byte(lines(jStart, jPart0) + `{"op":"pa`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, tail, err := parseJournal(b)
		if err != nil {
			return
		}
		if tail < 0 || tail > len(b) {
			t.Fatalf("tail %d of %d", tail, len(b))
		}
		var total int64
		for _, p := range st.parts {
			total += p.Size
		}
		if st.ended && total != st.size {
			t.Fatalf("ended with size %d, parts add up to %d", st.size, total)
		}
		if len(st.uploaded) != len(st.parts) {
			t.Fatal("uploaded and parts differ in length")
		}
	})
}
