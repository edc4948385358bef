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

// TestUsers: a dump with Users holds the accounts, roles and grants (one
// without does not); a whole load restores them, a partial one only with
// Users.
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
	load(t, s, LoadOptions{Filter: Filter{Include: []string{z}}}, data)
	if g := grants(t, db, acct); !strings.HasPrefix(g, "error") {
		t.Fatalf("a partial load without Users created %s: %s", user, g)
	}
	for _, o := range []LoadOptions{{Filter: Filter{Include: []string{z}}, Users: true}, {}} {
		dropSchemas(t, db, z)
		execSQL(t, db, "DROP USER IF EXISTS "+acct, "DROP ROLE IF EXISTS "+racct)
		load(t, s, o, data)
		if g := grants(t, db, acct); g != wantU {
			t.Errorf("grants of %s after a load with %+v:\n%s\nwant\n%s", acct, o.Filter, g, wantU)
		}
		if g := grants(t, db, racct); g != wantR {
			t.Errorf("grants of %s after a load with %+v:\n%s\nwant\n%s", racct, o.Filter, g, wantR)
		}
	}
	_ = ix
}
