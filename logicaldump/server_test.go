package logicaldump

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/internal/testenv"
	"github.com/mybak/mybak/mysql"
)

// Tests against a real server use a MariaDB of the package's own (main_test.go),
// started beside the one the environment describes (eval "$(mysql-sandbox.sh env
// primary)"): MYBAK_TEST_MYSQL=1 switches them on; with CI=true and the
// switch off they fail instead of skipping. Every test works in schemas
// of its own (named after it, with a random suffix) and dumps only those.

type server struct {
	backup mysql.Conn // the sandbox's backup user (the privileges a DBA grants mybak)
	admin  mysql.Conn // everything, for set-up and loads
}

func testServer(t *testing.T) *server {
	t.Helper()
	testenv.Need(t, os.Getenv("MYBAK_TEST_MYSQL") == "1",
		"MySQL integration tests are not configured: start a server with scripts/mysql-sandbox.sh start primary and eval its env")
	port, _ := strconv.Atoi(os.Getenv("MYBAK_TEST_MYSQL_PORT"))
	host := os.Getenv("MYBAK_TEST_MYSQL_HOST")
	if port == 0 || host == "" {
		t.Fatal("MYBAK_TEST_MYSQL_HOST/PORT not set: eval \"$(scripts/mysql-sandbox.sh env primary)\"")
	}
	return &server{
		backup: mysql.Conn{Host: host, Port: port, User: os.Getenv("MYBAK_TEST_MYSQL_USER"), PasswordFile: os.Getenv("MYBAK_TEST_MYSQL_PASSWORD_FILE")},
		admin:  mysql.Conn{Host: host, Port: port, User: os.Getenv("MYBAK_TEST_MYSQL_ADMIN_USER"), PasswordFile: os.Getenv("MYBAK_TEST_MYSQL_ADMIN_PASSWORD_FILE")},
	}
}

func (s *server) db(t *testing.T) *sql.DB {
	t.Helper()
	db, err := mysql.Open(context.Background(), s.admin)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(8)
	t.Cleanup(func() { db.Close() })
	return db
}

// schemaName is a schema name of this test's own.
func schemaName(t *testing.T, base string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "t_" + base + "_" + hex.EncodeToString(b)
}

func execSQL(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%.300s: %v", q, err)
		}
	}
}

func dropSchemas(t *testing.T, db *sql.DB, names ...string) {
	t.Helper()
	for _, n := range names {
		execSQL(t, db, "DROP DATABASE IF EXISTS "+quoteIdent(n))
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// state is what must survive a round trip: CHECKSUM TABLE of every table,
// SHOW CREATE of every object, the sequences' next values.
func state(t *testing.T, db *sql.DB, schemas ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	// SHOW CREATE VIEW names tables of the current schema unqualified:
	// one connection, in the schema it reads.
	c, err := db.Conn(ctxT(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := func(query string, args ...any) [][]sql.NullString {
		rows, err := c.QueryContext(context.Background(), query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var all [][]sql.NullString
		for rows.Next() {
			r := make([]sql.NullString, len(cols))
			d := make([]any, len(cols))
			for i := range r {
				d[i] = &r[i]
			}
			if err := rows.Scan(d...); err != nil {
				t.Fatal(err)
			}
			all = append(all, r)
		}
		return all
	}
	col := func(query, name string) string {
		rows, err := c.QueryContext(context.Background(), query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		if !rows.Next() {
			t.Fatalf("%s: no row", query)
		}
		r := make([]sql.NullString, len(cols))
		d := make([]any, len(cols))
		for i := range r {
			d[i] = &r[i]
		}
		rows.Scan(d...)
		for i, c := range cols {
			if strings.EqualFold(c, name) {
				return r[i].String
			}
		}
		t.Fatalf("%s: no column %s", query, name)
		return ""
	}
	for _, s := range schemas {
		if _, err := c.ExecContext(context.Background(), "USE "+quoteIdent(s)); err != nil {
			out["schema "+s] = err.Error()
			continue
		}
		out["schema "+s] = col("SHOW CREATE DATABASE "+quoteIdent(s), "Create Database")
		for _, r := range q("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", s) {
			name := qualified(s, r[0].String)
			switch r[1].String {
			case "VIEW":
				out["view "+name] = col("SHOW CREATE VIEW "+name, "Create View")
			case "SEQUENCE":
				out["sequence "+name] = col("SHOW CREATE SEQUENCE "+name, "Create Table")
				out["sequence value "+name] = col("SELECT next_not_cached_value FROM "+name, "next_not_cached_value")
			default:
				out["table "+name] = col("SHOW CREATE TABLE "+name, "Create Table")
				out["checksum "+name] = col("CHECKSUM TABLE "+name, "Checksum")
				out["count "+name] = col("SELECT COUNT(*) AS n FROM "+name, "n")
			}
		}
		for _, r := range q("SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?", s) {
			name := qualified(s, r[0].String)
			out[r[1].String+" "+name] = col("SHOW CREATE "+r[1].String+" "+name, "Create "+r[1].String)
			out[r[1].String+" mode "+name] = col("SHOW CREATE "+r[1].String+" "+name, "sql_mode")
		}
		for _, r := range q("SELECT TRIGGER_NAME, ACTION_ORDER FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", s) {
			name := qualified(s, r[0].String)
			out["trigger "+name] = col("SHOW CREATE TRIGGER "+name, "SQL Original Statement") + " order " + r[1].String
			out["trigger mode "+name] = col("SHOW CREATE TRIGGER "+name, "sql_mode")
		}
		for _, r := range q("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?", s) {
			name := qualified(s, r[0].String)
			out["event "+name] = col("SHOW CREATE EVENT "+name, "Create Event")
		}
	}
	return out
}

func sameState(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want[k] != got[k] {
			t.Errorf("%s: %s:\n  source:   %.400q\n  restored: %.400q", what, k, want[k], got[k])
		}
	}
}

// dump runs Dump of schemas into a buffer.
func dump(t *testing.T, s *server, o Options, schemas ...string) (*Index, []byte) {
	t.Helper()
	o.Conn = s.backup
	o.Filter.Include = append(o.Filter.Include, schemas...)
	var buf bytes.Buffer
	ix, err := Dump(ctxT(t, 5*time.Minute), o, &buf)
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return ix, buf.Bytes()
}

func load(t *testing.T, s *server, o LoadOptions, data []byte) *LoadResult {
	t.Helper()
	o.Conn = s.admin
	res, err := Load(ctxT(t, 5*time.Minute), o, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return res
}

var _ = fmt.Sprint

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
