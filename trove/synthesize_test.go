package trove

import (
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/storage/swift"
)

func TestSynthesize(t *testing.T) {
	const id = "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90"
	const parent = "7d0e8a2c-5b4f-4c6e-8a1d-3f9b2e7c6d50"
	mod := time.Date(2019, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		object     string
		ro         swift.RawObject
		engine     string
		typ        string
		parent     string
		encrypted  bool
		md5        string
		toLSN      string
		fromLSN    string
		wantErrSub string
	}{
		{name: "full xbstream with metadata", object: id + ".xbstream.gz.enc",
			ro:     swift.RawObject{Size: 100, ETag: "e1", ModTime: mod, SLO: true, Meta: map[string]string{"lsn": "1626101", "datastore": "mysql"}},
			engine: "xtrabackup", typ: "full", encrypted: true, toLSN: "1626101", fromLSN: "0"},
		{name: "mariadb incremental", object: id + ".xbstream.gz.enc",
			ro: swift.RawObject{Size: 100, ETag: "e2", ModTime: mod, SLO: true, Meta: map[string]string{"lsn": "2000", "datastore": "mariadb",
				"parent-location": "http://h:8080/v1/AUTH_t/database_backups/" + parent + ".xbstream.gz.enc"}},
			engine: "mariabackup", typ: "incremental", parent: parent, encrypted: true, toLSN: "2000"},
		{name: "old multi-segment without metadata", object: id + ".xbstream.gz.enc",
			ro:     swift.RawObject{Size: 100, ETag: "e3", ModTime: mod, DLO: "database_backups/" + id + "_", Meta: map[string]string{}},
			engine: "xtrabackup", typ: "full", encrypted: true},
		{name: "single-segment dump", object: id + ".gz.enc",
			ro:     swift.RawObject{Size: 10, ETag: "d41d8cd98f00b204e9800998ecf8427e", ModTime: mod, Meta: map[string]string{}},
			engine: "mysqldump", typ: "full", encrypted: true, md5: "d41d8cd98f00b204e9800998ecf8427e"},
		{name: "unencrypted", object: id + ".gz",
			ro:     swift.RawObject{Size: 10, ETag: "x", ModTime: mod, Meta: map[string]string{}},
			engine: "mysqldump", typ: "full", md5: "x"},
		{name: "bad parent location", object: id + ".gz.enc",
			ro:         swift.RawObject{Size: 10, ModTime: mod, Meta: map[string]string{"parent-location": "http://h/v1/a/c/"}},
			wantErrSub: "parent location"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := ParseObjectName(tc.object)
			if !ok {
				t.Fatal("bad test object name")
			}
			m, err := synthesize(n, tc.object, tc.ro)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Layout != backup.LayoutTrove || m.ID != id || m.Engine.Name != tc.engine || m.Type != tc.typ || m.Parent != tc.parent ||
				(m.Encryption != nil) != tc.encrypted || m.Compression.Kind != "gzip" || m.StoredSize != tc.ro.Size ||
				m.Objects[0].Name != tc.object || m.Objects[0].MD5 != tc.md5 || m.Meta[backup.MetaToLSN] != tc.toLSN ||
				m.Meta[backup.MetaFromLSN] != tc.fromLSN || !m.StartTime.Equal(mod) {
				t.Errorf("manifest = %+v", m)
			}
			if m.Encryption != nil && m.Encryption.KDF != nil {
				t.Error("a synthesized manifest records a KDF: nothing says which one Trove used")
			}
			if m.ObjectPath(m.Objects[0].Name) != tc.object {
				t.Errorf("ObjectPath = %q", m.ObjectPath(m.Objects[0].Name))
			}
		})
	}
}
