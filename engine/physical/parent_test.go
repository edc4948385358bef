package physical

import (
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/trove"
)

// TestParentProblem (moved from the cli with the rule): which backups can be the parent of an incremental of
// a MariaDB 10.11 server at LSN 5000, with mariabackup, and what the
// refusal says. The backups Trove made are synthesized as
// trove.Catalogue does it (no raw SHA-256, engine from the Datastore).
func TestParentProblem(t *testing.T) {
	e := Engine{tool: mysql.EngineMariabackup}
	srv := &mysql.ServerInfo{Version: "10.11.19-MariaDB-log", Flavor: mysql.FlavorMariaDB, Major: 10, Minor: 11, LSN: 5000}
	own := func(engine, version, toLSN string) *backup.Manifest {
		return &backup.Manifest{ID: "20261121T160000Z-abcdef", RawSHA256: "ab", Engine: backup.EngineInfo{Name: engine, ServerVersion: version},
			Meta: map[string]string{backup.MetaToLSN: toLSN}}
	}
	byTrove := func(engine string, meta map[string]string) *backup.Manifest {
		m := &backup.Manifest{ID: "0b3c1f4e-1d1a-4b9e-9f3a-2a7c5d6e8f90", Layout: backup.LayoutTrove,
			Engine: backup.EngineInfo{Name: engine, ServerVersion: meta[trove.ManifestMetaDatastoreVersion]}, Meta: meta}
		if !trove.MadeByTrove(m) {
			t.Fatal("MadeByTrove of a synthesized manifest is false")
		}
		return m
	}
	for _, tc := range []struct {
		name string
		m    *backup.Manifest
		want string // "" when m can be the parent
	}{
		{"mybak full", own("mariabackup", "10.11.19-MariaDB-log", "4000"), ""},
		{"mybak, LSN equal to the server's", own("mariabackup", "10.11.6-MariaDB", "5000"), ""},
		{"mybak, another engine", own("xtrabackup", "8.0.35", "4000"), "was taken with xtrabackup, not mariabackup"},
		{"mybak dump", own("mariadb-dump", "10.11.19-MariaDB-log", ""), "is a logical (mariadb-dump) backup"},
		{"mybak, no to_lsn", own("mariabackup", "10.11.19-MariaDB-log", ""), "records no to_lsn"},
		{"mybak, LSN ahead", own("mariabackup", "10.11.19-MariaDB-log", "5001"), "beyond this server's current LSN 5000"},
		{"mybak, older version", own("mariabackup", "10.6.16-MariaDB", "4000"), "was taken from a 10.6 server"},
		{"Trove MariaDB full", byTrove("mariabackup", map[string]string{backup.MetaToLSN: "4000",
			trove.ManifestMetaDatastore: "mariadb", trove.ManifestMetaDatastoreVersion: "10.11"}), ""},
		{"Trove, no metadata at all", byTrove("xtrabackup", map[string]string{}), "(no datastore recorded) has no X-Object-Meta-Lsn"},
		{"Trove MariaDB, no Lsn", byTrove("mariabackup", map[string]string{trove.ManifestMetaDatastore: "mariadb"}),
			"(datastore mariadb) has no X-Object-Meta-Lsn"},
		{"Trove MySQL", byTrove("xtrabackup", map[string]string{backup.MetaToLSN: "4000", trove.ManifestMetaDatastore: "mysql",
			trove.ManifestMetaDatastoreVersion: "5.7.29"}), "(datastore mysql 5.7.29) was made with xtrabackup"},
		{"Trove MySQL, no Lsn", byTrove("xtrabackup", map[string]string{trove.ManifestMetaDatastore: "mysql"}), "was made with xtrabackup"},
		{"Trove dump", byTrove("mysqldump", map[string]string{trove.ManifestMetaDatastore: "mariadb"}), "is a logical (mysqldump) backup"},
		{"Trove, another server", byTrove("mariabackup", map[string]string{backup.MetaToLSN: "99999", trove.ManifestMetaDatastore: "mariadb"}),
			"ends at LSN 99999, beyond this server's current LSN 5000"},
		{"Trove, other version", byTrove("mariabackup", map[string]string{backup.MetaToLSN: "4000", trove.ManifestMetaDatastore: "mariadb",
			trove.ManifestMetaDatastoreVersion: "10.4"}), "was taken from a 10.4 server, this one runs 10.11.19-MariaDB-log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.Problem(tc.m, srv)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("Problem = %q, want %q", got, tc.want)
			}
			if tc.want != "" && !strings.Contains(got, tc.m.ID) {
				t.Errorf("Problem = %q does not name the backup", got)
			}
		})
	}
}
