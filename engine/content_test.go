package engine

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/xbstream/xbstreamtest"
)

// TestContentChecks: each content check, fed in pieces as a decoder
// writes, says what the stream holds and what is wrong with it.
func TestContentChecks(t *testing.T) {
	good, bad := xbstreamtest.Sample()
	dump := []byte("-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n\nCREATE TABLE t (a int);\n-- Dump completed on 2026-11-21 16:24:35\n")
	cut := dump[:len(dump)-45]
	m := &backup.Manifest{ID: "X", RawSHA256: "ab"}
	xb := func(ctx context.Context) ContentCheck { return NewXbstreamCheck(ctx, m, "xtrabackup") }
	sn := func(ctx context.Context) ContentCheck { return NewSniffCheck(ctx, m, "the program that produced it") }
	dc := func(ctx context.Context) ContentCheck { return NewDumpCheck(ctx, m) }
	for _, tc := range []struct {
		name    string
		check   func(context.Context) ContentCheck
		data    []byte
		ok      bool
		content string
		want    string // in the last finding's detail
		files   int
	}{
		{"xbstream", xb, good, true, ContentXbstream, "3 files", 3},
		{"xbstream damaged chunk", xb, bad, false, ContentXbstream, "xtrabackup wrote it damaged", 3},
		{"not an xbstream", xb, dump, false, ContentXbstream, "magic", 0},
		{"sniffed xbstream", sn, bad, false, ContentXbstream, "the program that produced it", 3},
		{"sniffed other data", sn, []byte("just some bytes, no format"), true, "", "", -1},
		{"sniffed tiny", sn, []byte("x"), true, "", "", -1},
		{"dump", dc, dump, true, ContentDump, "", -1},
		{"dump without trailer", dc, cut, false, ContentDump, `does not end with "-- Dump completed"`, -1},
		{"sniffed dump without trailer", sn, cut, false, ContentDump, "-- Dump completed", -1},
		{"sniffed sandbox-mode dump", sn, append([]byte("/*M!999999\\- enable the sandbox mode */ \n"), cut...), false, ContentDump, "-- Dump completed", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.check(context.Background())
			for p := tc.data; len(p) > 0; {
				n := min(len(p), 777)
				if _, err := c.Write(p[:n]); err != nil {
					t.Fatal(err)
				}
				p = p[n:]
			}
			rep := c.Finish(nil)
			if rep.Err != nil {
				t.Fatalf("the check could not run: %v", rep.Err)
			}
			if rep.Content != tc.content {
				t.Errorf("content %q, want %q", rep.Content, tc.content)
			}
			ok := true
			for _, f := range rep.Checks {
				ok = ok && f.Status == check.OK
			}
			if ok != tc.ok {
				t.Errorf("ok %v, want %v: %+v", ok, tc.ok, rep.Checks)
			}
			if tc.want != "" && (len(rep.Checks) == 0 || !strings.Contains(rep.Checks[len(rep.Checks)-1].Detail, tc.want)) {
				t.Errorf("findings %+v lack %q", rep.Checks, tc.want)
			}
			if tc.files >= 0 && len(rep.Files) != tc.files {
				t.Errorf("files %+v, want %d", rep.Files, tc.files)
			}
		})
	}
}

// TestContentCheckDecodeFailed: when the decode fails, the xbstream check
// reports only damage seen before it, and a dump's trailer is not
// judged (the stream is cut, whatever it held).
func TestContentCheckDecodeFailed(t *testing.T) {
	_, bad := xbstreamtest.Sample()
	derr := errors.New("decode failed")
	m := &backup.Manifest{ID: "X"}
	c := NewXbstreamCheck(context.Background(), m, "mariabackup")
	c.Write(bad[:bytes.Index(bad, []byte("db/t1.ibd"))+100000]) // past the damaged chunk
	rep := c.Finish(derr)
	if rep.Err != nil || len(rep.Checks) != 1 || (rep.Checks[0].Status == check.OK) || !strings.HasPrefix(rep.Checks[0].Detail, "before the decode failed: ") {
		t.Errorf("xbstream after a failed decode: %+v", rep)
	}
	d := NewDumpCheck(context.Background(), m)
	d.Write([]byte("-- MySQL dump 10.13\nCREATE TABLE"))
	if rep := d.Finish(derr); len(rep.Checks) != 0 || rep.Content != ContentDump {
		t.Errorf("dump after a failed decode: %+v", rep)
	}
}
