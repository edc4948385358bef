//go:build linux

package e2e

// End-to-end tests of where restored bytes land (issue 10, findings 1, 3
// and 9): crafted xbstreams (names with "..", absolute names, long names,
// NUL bytes, a file that is also a directory) stored as physical backups
// or sent as wire streams, extracted by every command that extracts
// (restore --target-dir, restore --copy-back, verify --drill, make-replica
// from a store and from standard input): each fails naming the unsafe
// file, and nothing appears outside its target. TestExtractCrafted needs
// mariabackup and mbstream (package mariadb-backup) and, for the drill,
// mariadbd; TestForceKeepsStore needs the MariaDB sandbox (see
// helpers_test.go).

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/storage/local"
	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/xbstream"
)

// craftedEngine stands in for mariabackup: its stream is data. Its
// extension is not .xbstream, so the backup's own stream check (which
// refuses such streams since issue 10) does not run: the test plays a
// store someone else wrote to.
type craftedEngine struct{ data []byte }

func (craftedEngine) Name() string      { return "mariabackup" }
func (craftedEngine) Extension() string { return "" }
func (e craftedEngine) Run(_ context.Context, w io.Writer, _ *backup.Manifest) (backup.EngineResult, error) {
	_, err := w.Write(e.data)
	return backup.EngineResult{Meta: map[string]string{backup.MetaFromLSN: "0", backup.MetaToLSN: "1000"}}, err
}

// craftedStreams returns xbstreams that are valid but for one name, which
// would land outside the extract dir, in victim, or is not a name the
// tools write; each has good files before and after the unsafe one.
func craftedStreams(t *testing.T, victim string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, path := range map[string]string{
		"dot-dot":              "../escaped.txt",
		"deep dot-dot":         "db/" + strings.Repeat("../", 40) + strings.TrimPrefix(victim, "/") + "/deep.txt",
		"absolute":             victim + "/abs.txt",
		"long name":            "db/" + strings.Repeat("n", 300),
		"NUL byte":             "db/t1.ibd\x00/../../../nul.txt",
		"file replaced by dir": "ibdata1/x",
		"dir replaced by file": "db",
	} {
		var b bytes.Buffer
		w := xbstream.NewWriter(&b)
		w.WriteFile("ibdata1", bytes.NewReader(corpus(100000)))
		w.WriteFile("db/t1.ibd", bytes.NewReader(corpus(50000)))
		w.WriteFile(path, strings.NewReader("planted by a crafted backup\n"))
		w.WriteFile("xtrabackup_checkpoints", strings.NewReader("backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 1000\n"))
		out[name] = b.Bytes()
	}
	return out
}

// storeCrafted stores data as a physical backup in the local store dir
// and returns its ID.
func storeCrafted(t *testing.T, store string, data []byte) string {
	t.Helper()
	st, err := local.New(store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := backup.Run(context.Background(), backup.Options{Store: st, Engine: craftedEngine{data},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "zstd"}}})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// wireCrafted returns data as a wire stream (`mybak backup --to-stdout`).
func wireCrafted(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := backup.RunToWriter(context.Background(), &b, backup.Options{Engine: craftedEngine{data},
		Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: "gzip"}}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withHeaderID rewrites the ID in a wire stream's header record (with a
// correct CRC): what a hostile sender writes.
func withHeaderID(t *testing.T, w []byte, id string) []byte {
	t.Helper()
	off := len(backup.WireMagic)
	if w[off] != 'H' {
		t.Fatalf("first record is %q", w[off])
	}
	n := int(binary.BigEndian.Uint32(w[off+1:]))
	var h map[string]any
	if err := json.Unmarshal(w[off+5:off+5+n], &h); err != nil {
		t.Fatal(err)
	}
	h["id"] = id
	p, _ := json.Marshal(h)
	rec := append([]byte{'H'}, binary.BigEndian.AppendUint32(nil, uint32(len(p)))...)
	rec = append(rec, p...)
	rec = binary.BigEndian.AppendUint32(rec, crc32.ChecksumIEEE(append([]byte{'H'}, p...)))
	out := append([]byte(backup.WireMagic), rec...)
	return append(out, w[off+5+n+4:]...)
}

// outside lists what lies below root and is not below one of allowed
// (paths relative to root; directories only when empty).
func outside(root string, allowed ...string) []string {
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		for _, a := range allowed {
			if ok, _ := filepath.Match(a, rel); ok || strings.HasPrefix(rel, strings.TrimSuffix(a, "*")) && strings.HasSuffix(a, "*") {
				return nil
			}
		}
		if !fi.IsDir() {
			out = append(out, rel)
		} else if ents, _ := os.ReadDir(p); len(ents) == 0 {
			out = append(out, rel+"/")
		}
		return nil
	})
	return out
}

// keptLogsOnly lists what lies below root other than kept tool logs of a
// failed restore (.NAME.mybak-staging-*/logs/...) or drill
// (mybak-drill-logs-*).
func keptLogsOnly(root string) []string {
	var bad []string
	for _, f := range outside(root) {
		parts := strings.Split(f, string(filepath.Separator))
		logs := false
		for i, p := range parts {
			if strings.HasPrefix(p, "mybak-drill-logs-") || strings.Contains(p, ".mybak-staging-") && i+1 < len(parts) && parts[i+1] == "logs" {
				logs = true
			}
		}
		if !logs {
			bad = append(bad, f)
		}
	}
	return bad
}

// physicalTools fails (CI) or skips the test without mariabackup, mbstream
// and mariadbd.
func physicalTools(t *testing.T) {
	t.Helper()
	mbstreamBin(t)
	for _, bin := range []string{"mariabackup", "mariadbd"} {
		if _, err := os.Stat("/usr/sbin/" + bin); err != nil {
			testenv.NeedTool(t, bin)
		}
	}
}

// TestExtractCrafted: every command that extracts refuses every crafted
// stream, naming the unsafe file, and nothing appears outside its target
// (only the tool logs of the failed restore are kept beside it); verify
// --deep reports the stream as damaged.
func TestExtractCrafted(t *testing.T) {
	physicalTools(t)
	// The drill's scratch server (user mysql) must enter its root: not
	// below the test's private (0700) temp dirs.
	sharedTmp := os.TempDir()
	drillRoot := func() string {
		d, err := os.MkdirTemp(sharedTmp, "mybak-drill-test-")
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o711)
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	t.Setenv("TMPDIR", t.TempDir()) // make-replica's log dir
	victim := filepath.Join(t.TempDir(), "victim")
	os.Mkdir(victim, 0o755)
	store := filepath.Join(t.TempDir(), "store")
	pw := filepath.Join(t.TempDir(), "repl.password")
	os.WriteFile(pw, []byte("not used\n"), 0o600)
	replica := []string{"make-replica", "--primary-host", "127.0.0.1", "--primary-port", "1", "--replication-user", "r",
		"--replication-password-file", pw, "--start-timeout", "1s"}

	for name, data := range craftedStreams(t, victim) {
		t.Run(name, func(t *testing.T) {
			id := storeCrafted(t, store, data)
			wire := wireCrafted(t, data)
			for _, c := range []struct {
				name  string
				stdin []byte
				args  func(root string) []string
			}{
				{"restore --target-dir", nil, func(root string) []string {
					return []string{"restore", id, "--storage", store, "--target-dir", filepath.Join(root, "a", "target")}
				}},
				{"restore --copy-back", nil, func(root string) []string {
					return []string{"restore", id, "--storage", store, "--copy-back", "--datadir", filepath.Join(root, "a", "data")}
				}},
				{"verify --drill", nil, func(root string) []string {
					return []string{"verify", "--drill", id, "--storage", store, "--scratch-dir", root}
				}},
				{"make-replica --backup", nil, func(root string) []string {
					return append(replica, "--backup", id, "--storage", store, "--datadir", filepath.Join(root, "a", "data"))
				}},
				{"make-replica --from-stdin", wire, func(root string) []string {
					return append(replica, "--from-stdin", "--datadir", filepath.Join(root, "a", "data"))
				}},
			} {
				root := t.TempDir()
				if c.name == "verify --drill" {
					root = drillRoot()
				}
				r := run(t, bytes.NewReader(c.stdin), nil, c.args(root)...)
				if r.code == 0 || !strings.Contains(r.stderr, "unsafe file name") {
					t.Errorf("%s: exit %d, want a failure naming the unsafe file:\n%s", c.name, r.code, r.stderr)
				}
				if bad := keptLogsOnly(root); len(bad) > 0 {
					t.Errorf("%s left %v in %s", c.name, bad, root)
				}
				if f := outside(victim); len(f) > 0 {
					t.Fatalf("%s planted %v in %s", c.name, f, victim)
				}
				if f := outside(filepath.Dir(store), "store*"); len(f) > 0 {
					t.Errorf("%s planted %v beside the store", c.name, f)
				}
			}
			r := run(t, nil, nil, "verify", "--deep", "--list", "--storage", store, id)
			if r.code != 3 || !strings.Contains(r.stdout, "unsafe file name") {
				t.Errorf("verify --deep --list: exit %d, want 3 (damaged) naming the unsafe file:\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}

	// Finding 1: a wire header whose ID climbs out of the extract dir.
	cron := filepath.Join(victim, "cron.d")
	var good bytes.Buffer
	w := xbstream.NewWriter(&good)
	w.WriteFile("ibdata1", bytes.NewReader(corpus(10000)))
	w.WriteFile("xtrabackup_checkpoints", strings.NewReader("backup_type = full-backuped\n"))
	wire := withHeaderID(t, wireCrafted(t, good.Bytes()), "/../../../../../../../../../../../../../../../../../.."+cron)
	root := t.TempDir()
	r := run(t, bytes.NewReader(wire), nil, append(replica, "--from-stdin", "--datadir", filepath.Join(root, "a", "data"))...)
	if r.code == 0 {
		t.Errorf("make-replica --from-stdin of a stream whose ID is a path: exit 0\n%s", r.stderr)
	}
	if f := outside(victim); len(f) > 0 {
		t.Errorf("a stream whose ID is a path planted %v in %s:\n%s", f, victim, r.stderr)
	}
	if bad := keptLogsOnly(root); len(bad) > 0 {
		t.Errorf("left %v in %s", bad, root)
	}
}

// TestForceKeepsStore reproduces finding 3 of issue 10: `restore
// --target-dir X --force` with the store inside X restored, then moved X
// aside and removed it, store and all. Such a target is refused (also as
// --copy-back --datadir and make-replica --datadir, also through a
// symlink); --force moves the old contents of a target aside to
// X.mybak-old-<time> and says so; --force --remove-old deletes them.
func TestForceKeepsStore(t *testing.T) {
	p := primary(t)
	base := t.TempDir()
	x := filepath.Join(base, "x")
	store := filepath.Join(x, "store")
	os.MkdirAll(filepath.Join(x, "other"), 0o755)
	os.WriteFile(filepath.Join(x, "other", "precious"), []byte("not a backup"), 0o644)
	r := run(t, nil, nil, append([]string{"backup", "--engine", "auto", "--no-encrypt", "--storage", store}, p.conn(false)...)...)
	must(t, r, "backup")
	id := strings.TrimSpace(r.stdout)
	link := filepath.Join(base, "link-to-x")
	os.Symlink(x, link)
	before := outside(x)

	pw := filepath.Join(t.TempDir(), "repl.password")
	os.WriteFile(pw, []byte("not used\n"), 0o600)
	for _, args := range [][]string{
		{"restore", id, "--storage", store, "--target-dir", x, "--force"},
		{"restore", id, "--storage", store, "--target-dir", link, "--force", "--remove-old"},
		{"restore", id, "--storage", store, "--copy-back", "--datadir", x, "--force"},
		{"restore", id, "--storage", store, "--target-dir", filepath.Join(store, "t")},
		{"make-replica", "--backup", id, "--storage", store, "--datadir", link, "--force", "--primary-host", "127.0.0.1",
			"--replication-user", "r", "--replication-password-file", pw},
	} {
		r := run(t, nil, nil, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "unsafe restore target") || !strings.Contains(r.stderr, "store") {
			t.Errorf("%s: exit %d, want a refusal naming the store:\n%s", strings.Join(args, " "), r.code, r.stderr)
		}
		if after := outside(x); strings.Join(after, "\n") != strings.Join(before, "\n") {
			t.Fatalf("%s changed %s:\nbefore %v\nafter  %v", strings.Join(args, " "), x, before, after)
		}
	}
	must(t, run(t, nil, nil, "verify", "--storage", store, id), "verify after the refusals")

	// --force keeps the old contents aside, and says where.
	target := filepath.Join(base, "target")
	os.MkdirAll(target, 0o755)
	os.WriteFile(filepath.Join(target, "stale"), []byte("old"), 0o644)
	r = run(t, nil, nil, "restore", id, "--storage", store, "--target-dir", target, "--force", "--use-memory", "64M")
	must(t, r, "restore --force")
	aside, _ := filepath.Glob(target + ".mybak-old-*")
	if len(aside) != 1 {
		t.Fatalf("aside dirs %v", aside)
	}
	if b, _ := os.ReadFile(filepath.Join(aside[0], "stale")); string(b) != "old" {
		t.Errorf("the old contents are not in %s", aside[0])
	}
	if !strings.Contains(r.stderr, "moved aside") || !strings.Contains(r.stderr, aside[0]) {
		t.Errorf("restore --force does not say where the old contents went:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(target, "ibdata1")); err != nil {
		t.Errorf("restore --force: %v", err)
	}
	// --force --remove-old deletes them: no second aside dir.
	os.WriteFile(filepath.Join(target, "stale"), []byte("old"), 0o644)
	r = run(t, nil, nil, "restore", id, "--storage", store, "--target-dir", target, "--force", "--remove-old", "--use-memory", "64M")
	must(t, r, "restore --force --remove-old")
	if a, _ := filepath.Glob(target + ".mybak-old-*"); len(a) != 1 {
		t.Errorf("--remove-old kept the old contents: %v", a)
	}
	if _, err := os.Stat(filepath.Join(target, "stale")); err == nil {
		t.Error("--remove-old: the old file is still in the target")
	}
	if !strings.Contains(r.stderr, "deleted") {
		t.Errorf("restore --force --remove-old does not say it deletes:\n%s", r.stderr)
	}
	r = run(t, nil, nil, "restore", id, "--storage", store, "--target-dir", target, "--remove-old")
	if r.code != 2 || !strings.Contains(r.stderr, "--remove-old goes with --force") {
		t.Errorf("--remove-old without --force: exit %d\n%s", r.code, r.stderr)
	}
}

// withBackupCnf returns the xbstream xb with its backup-my.cnf replaced by
// cnf (the other chunks as they were).
func withBackupCnf(t *testing.T, xb []byte, cnf string) []byte {
	t.Helper()
	var out bytes.Buffer
	r, w := xbstream.NewReader(bytes.NewReader(xb)), xbstream.NewWriter(&out)
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		payload, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if c.Path == "backup-my.cnf" {
			continue
		}
		if err := w.WriteChunk(c, payload); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.WriteFile("backup-my.cnf", strings.NewReader(cnf)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestPrepareOptionsContained: mariabackup --prepare reads the server
// options of the backup's backup-my.cnf; an absolute file in
// innodb_data_file_path made it create that file (12 MiB of tablespace)
// outside the target, and the restore succeeded. Such a backup is refused
// before prepare runs.
func TestPrepareOptionsContained(t *testing.T) {
	p := primary(t)
	store := t.TempDir()
	r := run(t, nil, nil, append([]string{"backup", "--engine", "auto", "--no-encrypt", "--compress", "none", "--storage", store}, p.conn(false)...)...)
	must(t, r, "backup")
	id := strings.TrimSpace(r.stdout)
	xb, err := os.ReadFile(filepath.Join(store, id, "data.xbstream"))
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	os.Mkdir(victim, 0o755)
	crafted := storeCrafted(t, store, withBackupCnf(t, xb, "[mysqld]\ninnodb_checksum_algorithm=crc32\n"+
		"innodb_data_file_path=ibdata1:12M;"+victim+"/planted:12M:autoextend\ninnodb_log_file_size=50331648\n"+
		"innodb_page_size=16384\ninnodb_undo_directory=./\ninnodb_undo_tablespaces=0\n"))
	root := t.TempDir()
	r = run(t, nil, nil, "restore", crafted, "--storage", store, "--target-dir", filepath.Join(root, "target"), "--use-memory", "64M")
	if r.code != 1 || !strings.Contains(r.stderr, "backup-my.cnf") {
		t.Errorf("restore of a backup whose backup-my.cnf names %s: exit %d, want a refusal naming backup-my.cnf:\n%s", victim, r.code, r.stderr)
	}
	if f := outside(victim); len(f) > 0 {
		t.Errorf("prepare created %v in %s", f, victim)
	}
	if bad := keptLogsOnly(root); len(bad) > 0 {
		t.Errorf("left %v in %s", bad, root)
	}
	// The untouched backup restores.
	must(t, run(t, nil, nil, "restore", id, "--storage", store, "--target-dir", filepath.Join(root, "good"), "--use-memory", "64M"), "restore of the real backup")
}

// withFiles returns the xbstream xb with files added at its end.
func withFiles(t *testing.T, xb []byte, files map[string]string) []byte {
	t.Helper()
	out := bytes.NewBuffer(bytes.Clone(xb))
	w := xbstream.NewWriter(out)
	for name, content := range files {
		if _, err := w.WriteFile(name, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// TestCopyBackContained: mariabackup --copy-back / --move-back put a
// table's .ibd where its .isl (DATA DIRECTORY) says, creating the file
// anywhere (as root: /etc/cron.d/...). A backup with .isl files is refused
// for --copy-back / --move-back before anything is written; --target-dir
// alone still restores it.
func TestCopyBackContained(t *testing.T) {
	p := primary(t)
	store := t.TempDir()
	r := run(t, nil, nil, append([]string{"backup", "--engine", "auto", "--no-encrypt", "--compress", "none", "--storage", store}, p.conn(false)...)...)
	must(t, r, "backup")
	id := strings.TrimSpace(r.stdout)
	xb, err := os.ReadFile(filepath.Join(store, id, "data.xbstream"))
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	crafted := storeCrafted(t, store, withFiles(t, xb, map[string]string{
		"mysql/evil.isl": victim + "/cron.d/planted",
		"mysql/evil.ibd": "* * * * * root touch /tmp/owned\n",
	}))
	for _, mode := range []string{"--copy-back", "--move-back"} {
		root := t.TempDir()
		r = run(t, nil, nil, "restore", crafted, "--storage", store, mode, "--datadir", filepath.Join(root, "data"), "--use-memory", "64M")
		if r.code != 1 || !strings.Contains(r.stderr, "DATA DIRECTORY") || !strings.Contains(r.stderr, "mysql/evil.isl") {
			t.Errorf("restore %s of a backup with an .isl naming %s: exit %d, want a refusal naming the .isl:\n%s", mode, victim, r.code, r.stderr[max(0, len(r.stderr)-1500):])
		}
		if _, err := os.Stat(victim); err == nil {
			t.Fatalf("restore %s created %v", mode, outside(filepath.Dir(victim)))
		}
		if bad := keptLogsOnly(root); len(bad) > 0 {
			t.Errorf("restore %s left %v in %s", mode, bad, root)
		}
	}
	must(t, run(t, nil, nil, "restore", crafted, "--storage", store, "--target-dir", filepath.Join(t.TempDir(), "t"), "--use-memory", "64M"),
		"restore --target-dir of the backup with an .isl")
	if _, err := os.Stat(victim); err == nil {
		t.Fatalf("restore --target-dir created %s", victim)
	}
}
