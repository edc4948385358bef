//go:build linux

package e2e

// End-to-end tests of verify --drill through the built binary, against a
// MariaDB sandbox of their own ("drill-src": a quiet server, so that the
// row counts recorded after each backup are exact): a clean drill of a
// full + 2 incrementals chain and of a dump (kept running with --keep),
// an incremental whose manifest names the wrong parent (verify --deep
// passes, the drill fails in prepare), tampered row counts (exact: fail;
// approximate: warn), a damaged stored object, and an interrupted drill
// that leaves neither its scratch dir nor its server.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/mysql"
)

// drillReport is the part of verify --drill --json the tests look at.
type drillReport struct {
	ID    string   `json:"id"`
	Chain []string `json:"chain"`
	Kind  string   `json:"kind"`
	OK    bool     `json:"ok"`
	Steps []struct {
		Name, Status, Detail string
	} `json:"steps"`
	RowCounts *struct {
		Exact  bool `json:"exact"`
		Tables int  `json:"tables"`
	} `json:"row_counts"`
	Tables []struct {
		Schema, Table, Check, Result, Detail string
		Rows                                 *int64 `json:"rows"`
		Recorded                             *int64 `json:"recorded_rows"`
	} `json:"tables"`
	DatadirBytes int64 `json:"datadir_size"`
	Kept         *struct {
		PID          int    `json:"pid"`
		Port         int    `json:"port"`
		ScratchDir   string `json:"scratch_dir"`
		User         string `json:"user"`
		PasswordFile string `json:"password_file"`
	} `json:"kept"`
}

func parseDrill(t *testing.T, r result) drillReport {
	t.Helper()
	var rep drillReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("verify --drill --json: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return rep
}

func (r drillReport) step(name string) string {
	for _, s := range r.Steps {
		if s.Name == name {
			return s.Status + ": " + s.Detail
		}
	}
	return "(not run)"
}

func (r drillReport) table(schema, name string) (string, *int64, *int64) {
	for _, tb := range r.Tables {
		if tb.Schema == schema && tb.Table == name {
			return tb.Result + " " + tb.Detail, tb.Rows, tb.Recorded
		}
	}
	return "(absent)", nil, nil
}

// scratchParent is a directory for --scratch-dir that the server's user
// (mysql, when the tests run as root) can enter; it must stay empty.
func scratchParent(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "mybak-drill-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o711)
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// assertEmpty checks that no scratch dir is left in dir; the logs of a
// failed drill (mybak-drill-logs-*) are kept and removed here.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "mybak-drill-logs-") {
			os.RemoveAll(filepath.Join(dir, e.Name()))
			continue
		}
		t.Errorf("scratch dir left in %s: %s", dir, e.Name())
	}
}

// keptLogs returns the files kept by a failed drill in dir.
func keptLogs(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "mybak-drill-logs-*", "*"))
	return m
}

// serversUnder returns the pids of processes whose argv mentions dir.
func serversUnder(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(string(b), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// copyStore copies a local store (cp -a) so that a test can damage it.
func copyStore(t *testing.T, store string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "store")
	if out, err := exec.Command("cp", "-a", store, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}

func TestMySQLDrill(t *testing.T) {
	mysqlTests(t)
	if _, err := os.Stat("/usr/sbin/mariadbd"); err != nil {
		testenv.NeedTool(t, "mariadbd")
	}
	src := startSandbox(t, "drill-src", "")
	db := src.db(t)
	seed(t, db, "drill_db")
	execSQL(t, db, "CREATE TABLE drill_db.mem (id INT) ENGINE=MEMORY", "INSERT INTO drill_db.mem VALUES (1)")
	store, scratch := t.TempDir(), scratchParent(t)
	key := keyFile(t, "drill key")
	metrics := filepath.Join(t.TempDir(), "mybak.prom")
	bargs := append([]string{"backup", "--engine", "auto", "--storage", store, "--encrypt-key-file", key}, src.conn(false)...)
	drill := func(store string, extra ...string) result {
		return run(t, nil, nil, append([]string{"verify", "--drill", "--json", "--storage", store, "--encrypt-key-file", key,
			"--scratch-dir", scratch}, extra...)...)
	}

	r := run(t, nil, nil, bargs...)
	must(t, r, "full backup")
	full := strings.TrimSpace(r.stdout)
	execSQL(t, db, "INSERT INTO drill_db.items (name, price) SELECT CONCAT('inc1-', seq), 3 FROM drill_db.seq_1_to_3000")
	r = run(t, nil, nil, append(bargs, "--incremental")...)
	must(t, r, "incremental 1")
	inc1 := strings.TrimSpace(r.stdout)
	execSQL(t, db, "DELETE FROM drill_db.items WHERE id % 11 = 0", "INSERT INTO drill_db.notes VALUES (3, 'inc2')")
	r = run(t, nil, nil, append(bargs, "--incremental", "--row-counts", "exact")...)
	must(t, r, "incremental 2")
	inc2 := strings.TrimSpace(r.stdout)
	var items, notes int64
	db.QueryRow("SELECT COUNT(*) FROM drill_db.items").Scan(&items)
	db.QueryRow("SELECT COUNT(*) FROM drill_db.notes").Scan(&notes)

	t.Run("row counts recorded", func(t *testing.T) {
		var rc struct {
			Mode    string `json:"mode"`
			Exact   bool   `json:"exact"`
			Why     string `json:"why"`
			Tables  []mysql.TableCount
			Skipped []mysql.TableSkip
		}
		if err := json.Unmarshal([]byte(metaOf(t, store, inc2)["row_counts"]), &rc); err != nil {
			t.Fatalf("row_counts meta of %s: %v", inc2, err)
		}
		if rc.Mode != "exact" || !rc.Exact || !strings.Contains(rc.Why, "binlog position") {
			t.Errorf("counts of a quiet server: mode %q exact %v (%s)", rc.Mode, rc.Exact, rc.Why)
		}
		got := map[string]int64{}
		for _, c := range rc.Tables {
			got[c.Schema+"."+c.Table] = c.Rows
		}
		if got["drill_db.items"] != items || got["drill_db.notes"] != notes {
			t.Errorf("recorded %v, server has items %d notes %d", got, items, notes)
		}
		if len(rc.Skipped) != 1 || rc.Skipped[0].Table != "mem" || !strings.Contains(rc.Skipped[0].Reason, "MEMORY") {
			t.Errorf("skipped: %+v", rc.Skipped)
		}
		// --row-count-max in auto mode skips a table by its estimate.
		r := run(t, nil, nil, append(bargs, "--engine", "mariadb-dump", "--row-count-max", "100")...)
		must(t, r, "dump with --row-count-max 100")
		var small struct{ Skipped []mysql.TableSkip }
		json.Unmarshal([]byte(metaOf(t, store, strings.TrimSpace(r.stdout))["row_counts"]), &small)
		if !strings.Contains(fmt.Sprint(small.Skipped), "items over the limit") && !strings.Contains(fmt.Sprint(small.Skipped), "is over the limit of 100") {
			t.Errorf("--row-count-max 100 did not skip items: %+v", small.Skipped)
		}
		r = run(t, nil, nil, append(bargs, "--row-counts", "sometimes")...)
		if r.code != 2 {
			t.Errorf("--row-counts sometimes: exit %d, want 2\n%s", r.code, r.stderr)
		}
	})

	t.Run("clean chain", func(t *testing.T) {
		r := drill(store, "--metrics-file", metrics, inc2)
		t.Logf("drill of the chain:\n%s", r.stderr)
		rep := parseDrill(t, r)
		if r.code != 0 || !rep.OK {
			t.Fatalf("clean drill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if strings.Join(rep.Chain, ",") != strings.Join([]string{full, inc1, inc2}, ",") || rep.Kind != "physical" {
			t.Errorf("chain %v kind %s", rep.Chain, rep.Kind)
		}
		res, rows, rec := rep.table("drill_db", "items")
		if rows == nil || rec == nil || *rows != items || *rec != items || !strings.HasPrefix(res, "ok") {
			t.Errorf("items: %s rows %v recorded %v, want %d", res, rows, rec, items)
		}
		if rep.RowCounts == nil || !rep.RowCounts.Exact || !strings.HasPrefix(rep.step("row counts"), "ok") ||
			!strings.HasPrefix(rep.step("check tables"), "ok") || rep.DatadirBytes == 0 {
			t.Errorf("report: %+v", rep)
		}
		assertEmpty(t, scratch)
		if p := serversUnder(scratch); len(p) > 0 {
			t.Errorf("scratch servers still running: %v", p)
		}
		m, _ := os.ReadFile(metrics)
		for _, want := range []string{`mybak_last_run_success{command="verify-drill",engine="mariabackup"`,
			`mybak_last_drill_tables_checked{command="verify-drill"`, `mybak_last_drill_row_counts_exact{command="verify-drill"`} {
			if !strings.Contains(string(m), want) {
				t.Errorf("metrics lack %s:\n%s", want, m)
			}
		}
		// The human report.
		r = run(t, nil, nil, "verify", "--drill", "--storage", store, "--encrypt-key-file", key, "--scratch-dir", scratch, full)
		must(t, r, "drill of the full backup")
		for _, want := range []string{"STEP", "check tables", "drill_db.items", "PASSED"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("human report lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("wrong parent", func(t *testing.T) {
		// inc1's manifest now says it applies onto a full backup taken
		// after it (with LSNs that line up on paper): every stored byte
		// still matches its hash, so verify --deep passes, but the delta
		// is older than its base and prepare fails. (mariabackup 10.11
		// does not notice a delta applied over a gap: a chain that skips
		// an incremental prepares, so only checkChain's LSN check and the
		// drill's data checks can catch that one.)
		execSQL(t, db, "UPDATE drill_db.items SET price = price + 2 WHERE id % 5 = 0")
		r := run(t, nil, nil, append(bargs, "--row-counts", "off")...)
		must(t, r, "a later full backup")
		later := strings.TrimSpace(r.stdout)
		bad := copyStore(t, store)
		laterTo := metaOf(t, bad, later)["to_lsn"]
		editManifest(t, bad, inc1, func(m map[string]any) {
			m["parent"] = later
			m["meta"].(map[string]any)["from_lsn"] = laterTo
		})
		// Sealed with the key, as a mybak that recorded the wrong parent
		// would have (an edit by someone without the key fails its MAC).
		sealManifest(t, bad, inc1, "drill key")
		r = run(t, nil, nil, "verify", "--deep", "--storage", bad, "--encrypt-key-file", key, inc1)
		must(t, r, "verify --deep of the mis-parented incremental")
		r = drill(bad, inc1)
		rep := parseDrill(t, r)
		if r.code != 3 || rep.OK || !strings.HasPrefix(rep.step("restore"), "failed") || !strings.Contains(rep.step("restore"), "apply incremental") {
			t.Errorf("drill of the mis-parented incremental: exit %d, restore step %s\n%s", r.code, rep.step("restore"), r.stderr)
		}
		t.Logf("restore step: %s", rep.step("restore"))
		if kept := fmt.Sprint(keptLogs(scratch)); !strings.Contains(kept, "logs") {
			t.Errorf("the failed drill kept no tool logs: %s", kept)
		}
		assertEmpty(t, scratch)
	})

	t.Run("tampered counts", func(t *testing.T) {
		bad := copyStore(t, store)
		setCounts := func(exact bool, extra bool) {
			editManifest(t, bad, inc2, func(m map[string]any) {
				meta := m["meta"].(map[string]any)
				var rc map[string]any
				json.Unmarshal([]byte(meta["row_counts"].(string)), &rc)
				rc["exact"] = exact
				var tables []any
				for _, c := range manifestCounts(t, store, inc2) {
					if c.Table == "items" {
						c.Rows++
					}
					tables = append(tables, c)
				}
				if extra {
					tables = append(tables, mysql.TableCount{Schema: "drill_db", Table: "gone", Rows: 5})
				}
				rc["tables"] = tables
				b, _ := json.Marshal(rc)
				meta["row_counts"] = string(b)
			})
			sealManifest(t, bad, inc2, "drill key")
		}
		setCounts(true, true)
		r := drill(bad, inc2)
		rep := parseDrill(t, r)
		gone, _, _ := rep.table("drill_db", "gone")
		it, _, _ := rep.table("drill_db", "items")
		if r.code != 3 || !strings.HasPrefix(rep.step("row counts"), "failed") || !strings.HasPrefix(gone, "failed") ||
			!strings.HasPrefix(it, "failed") || !strings.HasPrefix(rep.step("check tables"), "ok") {
			t.Errorf("exact counts off by one and a missing table: exit %d, row counts %s, gone %s, items %s\n%s",
				r.code, rep.step("row counts"), gone, it, r.stdout)
		}
		setCounts(false, false)
		r = drill(bad, inc2)
		rep = parseDrill(t, r)
		if r.code != 0 || !strings.HasPrefix(rep.step("row counts"), "warn") || !strings.Contains(rep.step("row counts"), "approximate") {
			t.Errorf("approximate counts off by one: exit %d, row counts %s", r.code, rep.step("row counts"))
		}
	})

	t.Run("damaged object", func(t *testing.T) {
		bad := copyStore(t, store)
		data := dataObject(t, bad, full)
		b, _ := os.ReadFile(data)
		b[len(b)/2] ^= 1
		os.WriteFile(data, b, 0o644)
		r := drill(bad, inc2)
		rep := parseDrill(t, r)
		// The verify step hashes every object of the chain, the full
		// backup's too, before anything is restored.
		if r.code != 3 || !strings.Contains(rep.step("verify"), "failed") ||
			!strings.Contains(rep.step("verify"), "sha256") || !strings.Contains(rep.step("verify"), full) {
			t.Errorf("drill of a chain with a damaged object: exit %d, verify %s, restore %s", r.code, rep.step("verify"), rep.step("restore"))
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		cmd := exec.Command(mybakBin, "verify", "--drill", "--storage", store, "--encrypt-key-file", key, "--scratch-dir", scratch, inc2)
		cmd.Env = cleanEnv()
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), `step="start server"`) {
				cmd.Process.Signal(syscall.SIGINT)
				break
			}
		}
		go func() {
			for sc.Scan() {
			}
		}()
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
			t.Errorf("interrupted drill: %v, want exit 130\n%s", err, log.String())
		}
		assertEmpty(t, scratch)
		if p := serversUnder(scratch); len(p) > 0 {
			t.Errorf("scratch servers still running after the interruption: %v", p)
		}
	})

	t.Run("logical, kept", func(t *testing.T) {
		r := run(t, nil, nil, append(bargs, "--engine", "mariadb-dump")...)
		must(t, r, "dump")
		dump := strings.TrimSpace(r.stdout)
		r = drill(store, "--keep", dump)
		rep := parseDrill(t, r)
		if k := rep.Kept; k != nil {
			// Stopped as the report says, by its pid.
			defer func() {
				syscall.Kill(k.PID, syscall.SIGTERM)
				for i := 0; i < 600 && syscall.Kill(k.PID, 0) == nil; i++ {
					time.Sleep(100 * time.Millisecond)
				}
				os.RemoveAll(k.ScratchDir)
			}()
		}
		if r.code != 0 || !rep.OK || rep.Kind != "logical" || rep.Kept == nil {
			t.Fatalf("logical drill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		k := rep.Kept
		res, rows, _ := rep.table("drill_db", "items")
		if rows == nil || *rows != items || !strings.HasPrefix(res, "ok") {
			t.Errorf("items in the dump's drill: %s %v, want %d", res, rows, items)
		}
		kdb, err := mysql.Open(t.Context(), mysql.Conn{Host: "127.0.0.1", Port: k.Port, User: k.User, PasswordFile: k.PasswordFile})
		if err != nil {
			t.Fatalf("connect to the kept server as it says: %v", err)
		}
		defer kdb.Close()
		var n int64
		if err := kdb.QueryRow("SELECT COUNT(*) FROM drill_db.notes").Scan(&n); err != nil || n != notes {
			t.Errorf("kept server: notes %d (%v), want %d", n, err, notes)
		}
	})
}

// manifestCounts returns the row counts recorded in store/id.
func manifestCounts(t *testing.T, store, id string) []mysql.TableCount {
	var rc struct{ Tables []mysql.TableCount }
	if err := json.Unmarshal([]byte(metaOf(t, store, id)["row_counts"]), &rc); err != nil {
		t.Fatal(err)
	}
	return rc.Tables
}
