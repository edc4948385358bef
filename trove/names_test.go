package trove

import (
	"testing"
)

func TestParseObjectName(t *testing.T) {
	const id = "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90"
	for _, tc := range []struct {
		name string
		want Name
		ok   bool
	}{
		{id + ".xbstream.gz.enc", Name{ID: id, Physical: true, Encrypted: true}, true},
		{id + ".xbstream.gz", Name{ID: id, Physical: true}, true},
		{id + ".gz.enc", Name{ID: id, Encrypted: true}, true},
		{id + ".gz", Name{ID: id}, true},
		{id + "_00000000", Name{}, false},
		{id + ".mybak.json", Name{}, false},
		{id + ".xbstream", Name{}, false},
		{id + ".tar.gz.enc", Name{}, false}, // an ID has no dot
		{"dir/" + id + ".gz.enc", Name{}, false},
		{".gz.enc", Name{}, false},
		{"", Name{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseObjectName(tc.name)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("ParseObjectName(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
			}
			if ok && got.Object() != tc.name {
				t.Errorf("Object() = %q, want %q", got.Object(), tc.name)
			}
		})
	}
}

func TestSegmentNames(t *testing.T) {
	const id = "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90"
	if got := SegmentName(id, 7); got != id+"_00000007" {
		t.Fatalf("SegmentName = %q", got)
	}
	for _, tc := range []struct {
		name string
		id   string
		n    int
		ok   bool
	}{
		{id + "_00000000", id, 0, true},
		{id + "_00000123", id, 123, true},
		{id + "_0000012", "", 0, false},
		{id + "_000001234", "", 0, false},
		{id + "_0000012x", "", 0, false},
		{id + ".gz.enc", "", 0, false},
		{"_00000001", "", 0, false},
	} {
		gid, n, ok := ParseSegmentName(tc.name)
		if gid != tc.id || n != tc.n || ok != tc.ok {
			t.Errorf("ParseSegmentName(%q) = %q, %d, %v; want %q, %d, %v", tc.name, gid, n, ok, tc.id, tc.n, tc.ok)
		}
	}
}

func TestParentName(t *testing.T) {
	const id = "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90"
	for _, loc := range []string{
		"http://10.0.0.1:8080/v1/AUTH_0123/database_backups/" + id + ".xbstream.gz.enc",
		"https://swift.example.com/v1/AUTH_x/database_backups/" + id + ".xbstream.gz.enc?temp=1",
		"database_backups/" + id + ".xbstream.gz.enc",
	} {
		n, err := ParentName(loc)
		if err != nil || n.ID != id || !n.Physical || !n.Encrypted {
			t.Errorf("ParentName(%q) = %+v, %v", loc, n, err)
		}
	}
	if _, err := ParentName("http://host/v1/AUTH_x/database_backups/"); err == nil {
		t.Error("ParentName of a container URL: no error")
	}
}

// FuzzParseNames checks that the name parsers never panic and that what
// they accept round-trips.
func FuzzParseNames(f *testing.F) {
	for _, s := range []string{"0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90.xbstream.gz.enc", "a_00000001", "x.gz", "http://h/v1/a/c/x.gz.enc", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := ParseObjectName(s); ok && n.Object() != s {
			t.Fatalf("ParseObjectName(%q) = %+v, Object() = %q", s, n, n.Object())
		}
		if id, n, ok := ParseSegmentName(s); ok && SegmentName(id, n) != s {
			t.Fatalf("ParseSegmentName(%q) = %q, %d", s, id, n)
		}
		if n, err := ParentName(s); err == nil {
			if _, ok := ParseObjectName(n.Object()); !ok {
				t.Fatalf("ParentName(%q) = %+v, not a valid name", s, n)
			}
		}
	})
}
