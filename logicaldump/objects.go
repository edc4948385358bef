package logicaldump

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// readObjects reads views (in dependency order), routines, triggers,
// events and sequence values of the selected schemas.
func readObjects(ctx context.Context, c *sql.Conn, f Filter, wantDB map[string]bool, cat *catalog) error {
	sel := func(db, name string) bool { return wantDB[db] && f.Match(db, name) }
	for _, read := range []func(context.Context, *sql.Conn, func(db, name string) bool, *catalog) error{
		readViews, readRoutines, readTriggers, readEvents, readSequences} {
		if err := read(ctx, c, sel, cat); err != nil {
			return err
		}
	}
	return nil
}

// readViews reads the selected views, in dependency order.
func readViews(ctx context.Context, c *sql.Conn, sel func(db, name string) bool, cat *catalog) error {
	rows, err := queryStrings(ctx, c, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return fmt.Errorf("list views: %w", err)
	}
	var views []objectDef
	for _, r := range rows {
		db, name := r[0].String, r[1].String
		if !sel(db, name) {
			continue
		}
		if _, err := c.ExecContext(ctx, "USE "+quoteIdent(db)); err != nil {
			return fmt.Errorf("USE %s: %w", quoteIdent(db), err)
		}
		sc, err := showCreate(ctx, c, "SHOW CREATE VIEW "+qualified(db, name))
		if err != nil {
			return fmt.Errorf("SHOW CREATE VIEW %s: %w", qualified(db, name), err)
		}
		views = append(views, objectDef{Object: Object{Kind: KindView, Schema: db, Name: name,
			CharsetClient: sc["character_set_client"], Collation: sc["collation_connection"]}, sql: sc["create view"]})
	}
	cat.objects = append(cat.objects, orderViews(views)...)
	return nil
}

// readRoutines reads the selected procedures and functions.
func readRoutines(ctx context.Context, c *sql.Conn, sel func(db, name string) bool, cat *catalog) error {
	rows, err := queryStrings(ctx, c, "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "+
		"WHERE ROUTINE_TYPE IN ('PROCEDURE','FUNCTION') ORDER BY ROUTINE_SCHEMA, ROUTINE_TYPE DESC, ROUTINE_NAME")
	if err != nil {
		return fmt.Errorf("list routines: %w", err)
	}
	for _, r := range rows {
		db, name, typ := r[0].String, r[1].String, r[2].String
		if !sel(db, name) {
			continue
		}
		q := "SHOW CREATE " + typ + " " + qualified(db, name)
		sc, err := showCreate(ctx, c, q)
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		body := sc["create "+strings.ToLower(typ)]
		if body == "" {
			return fmt.Errorf("%s showed no definition: the dump user needs SELECT on mysql.proc (or SHOW CREATE ROUTINE)", q)
		}
		kind := KindProcedure
		if typ == "FUNCTION" {
			kind = KindFunction
		}
		cat.objects = append(cat.objects, objectDef{Object: Object{Kind: kind, Schema: db, Name: name, SQLMode: sc["sql_mode"],
			CharsetClient: sc["character_set_client"], Collation: sc["collation_connection"]}, sql: body})
	}
	return nil
}

// readTriggers reads the triggers of the selected tables, in their order.
func readTriggers(ctx context.Context, c *sql.Conn, sel func(db, name string) bool, cat *catalog) error {
	rows, err := queryStrings(ctx, c, "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "+
		"ORDER BY TRIGGER_SCHEMA, EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER")
	if err != nil {
		return fmt.Errorf("list triggers: %w", err)
	}
	for _, r := range rows {
		db, name, table := r[0].String, r[1].String, r[2].String
		if !sel(db, table) {
			continue
		}
		q := "SHOW CREATE TRIGGER " + qualified(db, name)
		sc, err := showCreate(ctx, c, q)
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		cat.objects = append(cat.objects, objectDef{Object: Object{Kind: KindTrigger, Schema: db, Name: name, Table: table,
			SQLMode: sc["sql_mode"], CharsetClient: sc["character_set_client"], Collation: sc["collation_connection"]},
			sql: sc["sql original statement"]})
	}
	return nil
}

// readEvents reads the selected events.
func readEvents(ctx context.Context, c *sql.Conn, sel func(db, name string) bool, cat *catalog) error {
	rows, err := queryStrings(ctx, c, "SELECT EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS ORDER BY EVENT_SCHEMA, EVENT_NAME")
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	for _, r := range rows {
		db, name := r[0].String, r[1].String
		if !sel(db, name) {
			continue
		}
		q := "SHOW CREATE EVENT " + qualified(db, name)
		sc, err := showCreate(ctx, c, q)
		if err != nil {
			return fmt.Errorf("%s: %w (the dump user needs EVENT)", q, err)
		}
		cat.objects = append(cat.objects, objectDef{Object: Object{Kind: KindEvent, Schema: db, Name: name, SQLMode: sc["sql_mode"],
			CharsetClient: sc["character_set_client"], Collation: sc["collation_connection"], TimeZone: sc["time_zone"]},
			sql: sc["create event"]})
	}
	return nil
}

// readSequences reads the next value of the dumped sequences.
func readSequences(ctx context.Context, c *sql.Conn, _ func(db, name string) bool, cat *catalog) error {
	for _, ti := range cat.tables {
		if ti.t.Kind != "sequence" {
			continue
		}
		var next sql.NullString
		if err := c.QueryRowContext(ctx, "SELECT next_not_cached_value FROM "+qualified(ti.t.Schema, ti.t.Name)).Scan(&next); err != nil {
			return fmt.Errorf("read sequence %s: %w", qualified(ti.t.Schema, ti.t.Name), err)
		}
		cat.objects = append(cat.objects, objectDef{Object: Object{Kind: KindSequence, Schema: ti.t.Schema, Name: ti.t.Name},
			sql: fmt.Sprintf("SELECT SETVAL(%s, %s, 0)", qualified(ti.t.Schema, ti.t.Name), next.String)})
	}
	return nil
}

// orderViews sorts views so that a view comes after the views its
// definition names (a backquoted `name` of a view of the same schema, or
// `db`.`name`); cycles, which the server cannot have, fall back to name
// order.
func orderViews(views []objectDef) []objectDef {
	idx := map[[2]string]int{}
	for i, v := range views {
		idx[[2]string{v.Schema, v.Name}] = i
	}
	deps := make([][]int, len(views))
	for i, v := range views {
		for j, w := range views {
			if i == j {
				continue
			}
			ref := quoteIdent(w.Name)
			if w.Schema == v.Schema && strings.Contains(v.sql, ref) || strings.Contains(v.sql, qualified(w.Schema, w.Name)) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	state := make([]int, len(views)) // 0 new, 1 visiting, 2 done
	var out []objectDef
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		for _, d := range deps[i] {
			if state[d] == 0 {
				visit(d)
			}
		}
		state[i] = 2
		out = append(out, views[i])
	}
	for i := range views {
		visit(i)
	}
	return out
}

// systemUsers are the accounts every server creates for itself; --users
// leaves them out.
var systemUsers = map[string]bool{"root": true, "mariadb.sys": true, "mysql.sys": true, "mysql.session": true,
	"mysql.infoschema": true, "mysql": true, "PUBLIC": true}

// readUsers reads the accounts and roles (other than systemUsers) with
// SHOW CREATE USER and SHOW GRANTS, as one file of statements.
func readUsers(ctx context.Context, c *sql.Conn) (objectDef, error) {
	rows, err := queryStrings(ctx, c, "SELECT User, Host, IF(is_role='Y',1,0) FROM mysql.user ORDER BY User, Host")
	if err != nil {
		rows, err = queryStrings(ctx, c, "SELECT User, Host, 0 FROM mysql.user ORDER BY User, Host")
	}
	if err != nil {
		return objectDef{}, fmt.Errorf("list users: %w (--users needs SELECT on mysql.user)", err)
	}
	var b strings.Builder
	var grants []string
	for _, r := range rows {
		user, host, role := r[0].String, r[1].String, r[2].String == "1"
		if systemUsers[user] || user == "" {
			continue
		}
		acct := quoteString(user) + "@" + quoteString(host)
		if role {
			fmt.Fprintf(&b, "CREATE ROLE IF NOT EXISTS %s;\n", quoteString(user))
			acct = quoteString(user)
		} else {
			sc, err := queryStrings(ctx, c, "SHOW CREATE USER "+acct)
			if err != nil || len(sc) == 0 {
				return objectDef{}, fmt.Errorf("SHOW CREATE USER %s: %w", acct, err)
			}
			stmt := sc[0][0].String
			if rest, ok := strings.CutPrefix(stmt, "CREATE USER "); ok {
				stmt = "CREATE USER IF NOT EXISTS " + rest
			}
			b.WriteString(oneLine(stmt) + ";\n")
		}
		gs, err := queryStrings(ctx, c, "SHOW GRANTS FOR "+acct)
		if err != nil {
			return objectDef{}, fmt.Errorf("SHOW GRANTS FOR %s: %w", acct, err)
		}
		for _, g := range gs {
			grants = append(grants, oneLine(g[0].String)+";\n")
		}
	}
	for _, g := range grants {
		b.WriteString(g)
	}
	return objectDef{Object: Object{Kind: KindUsers}, sql: b.String()}, nil
}

// quoteString is a SQL string literal of s.
func quoteString(s string) string { return string(appendString(nil, []byte(s))) }

// oneLine replaces newlines by spaces (a user statement holds none that
// matter).
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
