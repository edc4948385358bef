package logicaldump

import (
	"database/sql"
	"strings"
	"testing"
)

func grants(t *testing.T, db *sql.DB, acct string) string {
	t.Helper()
	rows, err := db.Query("SHOW GRANTS FOR " + acct)
	if err != nil {
		return "error: " + err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		rows.Scan(&g)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return "error: " + err.Error()
	}
	return strings.Join(out, "\n")
}

// TestUsers: with Users the accounts, roles and grants come back (Load
// with Users); without it, users.sql is neither written nor run.
func TestUsers(t *testing.T) {
	s := testServer(t)
	db := s.db(t)
	z := schemaName(t, "users")
	user, role := z+"_u", z+"_r"
	acct, racct := quoteString(user)+"@'10.0.0.%'", quoteString(role)
	t.Cleanup(func() {
		dropSchemas(t, db, z)
		db.Exec("DROP USER IF EXISTS " + acct)
		db.Exec("DROP ROLE IF EXISTS " + racct)
	})
	execSQL(t, db, "CREATE DATABASE "+quoteIdent(z), "CREATE TABLE "+qualified(z, "t")+" (id INT PRIMARY KEY)",
		"CREATE ROLE "+racct, "GRANT SELECT ON "+quoteIdent(z)+".* TO "+racct,
		"CREATE USER "+acct+" IDENTIFIED BY 'pw-"+z+"'", "GRANT "+racct+" TO "+acct,
		"GRANT INSERT ON "+qualified(z, "t")+" TO "+acct)
	wantU, wantR := grants(t, db, acct), grants(t, db, racct)

	ix, data := dump(t, s, Options{}, z)
	for _, o := range ix.Objects {
		if o.Kind == KindUsers {
			t.Fatalf("users.sql written without Users")
		}
	}
	ix, data = dump(t, s, Options{Users: true}, z)
	dropSchemas(t, db, z)
	execSQL(t, db, "DROP USER "+acct, "DROP ROLE "+racct)
	load(t, s, LoadOptions{}, data)
	if g := grants(t, db, acct); !strings.HasPrefix(g, "error") {
		t.Fatalf("a load without Users created %s: %s", user, g)
	}
	dropSchemas(t, db, z)
	load(t, s, LoadOptions{Users: true}, data)
	if g := grants(t, db, acct); g != wantU {
		t.Errorf("grants of %s after the load:\n%s\nwant\n%s", acct, g, wantU)
	}
	if g := grants(t, db, racct); g != wantR {
		t.Errorf("grants of %s after the load:\n%s\nwant\n%s", racct, g, wantR)
	}
	_ = ix
}
