package pitr

import (
	"strings"
	"testing"

	"github.com/mybak/mybak/binlog"
)

func TestState(t *testing.T) {
	g := func(s string) binlog.GTID {
		x, err := binlog.ParseGTID(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	st, err := ParseState("0-1-42, 7-3-5,\n" + u + ":1-5:7-9")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.String(); got != "0-1-42,7-3-5,"+u+":1-5:7-9" {
		t.Errorf("String %q", got)
	}
	for _, c := range []struct {
		g        string
		contains bool
		missing  string
	}{
		{"0-1-42", true, ""},
		{"0-9-41", true, ""}, // MariaDB: the domain's sequence decides, whoever wrote it
		{"0-1-43", false, ""},
		{"0-1-45", false, "0-?-43..44"},
		{"0-1-44", false, "0-?-43"},
		{"5-1-100", false, ""}, // an unknown domain starts anywhere
		{u + ":6", false, ""},
		{u + ":8", true, ""},
		{u + ":10", false, ""},
		{u + ":12", false, u + ":10-11"},
		{"aaaaaaaa-71ca-11e1-9e33-c80aa9429562:3", false, ""},
	} {
		x := g(c.g)
		if st.Contains(x) != c.contains || st.Missing(x) != c.missing {
			t.Errorf("%s: contains %v missing %q; want %v %q", c.g, st.Contains(x), st.Missing(x), c.contains, c.missing)
		}
	}
	st2 := st.Clone()
	st2.Add(g(u + ":6"))
	st2.Add(g("0-2-43"))
	if got := st2.String(); got != "0-2-43,7-3-5,"+u+":1-9" {
		t.Errorf("after Add: %q", got)
	}
	if st.String() == st2.String() {
		t.Error("Clone shares state")
	}
	if !st2.Covers(st) || st.Covers(st2) {
		t.Error("Covers")
	}
	for _, bad := range []string{"0-1", "x:1", u + ":0", u + ":5-3", u + ":a", "0-1-2-3"} {
		if _, err := ParseState(bad); err == nil {
			t.Errorf("ParseState(%q) accepted", bad)
		}
	}
	if e, _ := ParseState(" "); !e.Empty() {
		t.Error("blank state not empty")
	}
}

// FuzzParseState: a GTID position is read from manifests (input from
// outside): any string parses or fails without panicking, and what parses
// prints back to a string that parses to the same.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"0-1-42,7-3-5", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9", "", "0-1-18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseState(s)
		if err != nil {
			return
		}
		again, err := ParseState(st.String())
		if err != nil || again.String() != st.String() {
			t.Fatalf("%q -> %q -> %q, %v", s, st.String(), again.String(), err)
		}
		if strings.Count(st.String(), ",") > strings.Count(s, ",")+1 {
			t.Fatalf("more parts out than in: %q -> %q", s, st.String())
		}
	})
}

// FuzzRecord: piece records are read from the store: any bytes are a
// record, or an error, never a panic; with a key, only a sealed record
// passes.
func FuzzRecord(f *testing.F) {
	seal, _ := newSealer([]byte("k"))
	body := []byte(`{"format":1,"server":"mariadb-7","file":"b.000001","start":0,"end":4,"object":"000000000000-000000000004.binlog.gz","raw_size":4,"stored_size":30}`)
	f.Add(seal.seal(body))
	f.Add(body)
	f.Fuzz(func(t *testing.T, b []byte) {
		openRecord(b, nil)
		if out, err := openRecord(b, []byte("k")); err == nil {
			if _, err := openRecord(seal.seal(out), []byte("k")); err != nil {
				t.Fatalf("resealed record refused: %v", err)
			}
		}
	})
}
