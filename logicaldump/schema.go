package logicaldump

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// column is one column of a table as the dump reads it.
type column struct {
	name      string
	dataType  string
	generated bool
	nullable  bool
	unsigned  bool
}

// tableInfo is what the dumper knows of one table beyond its Table entry.
type tableInfo struct {
	t         *Table
	cols      []column // every column, in order
	insert    []column // the columns INSERT names: not generated
	key       []column // the chunking key's columns (nil: whole table)
	rowsEst   int64
	avgRow    int64
	create    string
	insertPre []byte // "INSERT INTO `db`.`t` (`a`,`b`) VALUES "
	selectSQL string // "SELECT `a`,CAST(`b` AS DOUBLE) FROM `db`.`t`"
	// versioned: a system-versioned table (MariaDB). With timestamp
	// history, t.History is set and from reads every row version.
	versioned bool
	from      string // what SELECTs read: `db`.`t` [FOR SYSTEM_TIME ALL]
	// warnedLong: a row longer than max_allowed_packet was logged
	// (dumper.wmu).
	warnedLong bool
}

// catalog is every object the dump holds, read at the snapshot.
type catalog struct {
	dbs     []Database
	dbSQL   map[string]string // schema -> CREATE DATABASE
	tables  []*tableInfo
	objects []objectDef
}

// objectDef is an Object and its statement.
type objectDef struct {
	Object
	sql string
}

func queryStrings(ctx context.Context, c *sql.Conn, q string, args ...any) ([][]sql.NullString, error) {
	rows, err := c.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]sql.NullString
	for rows.Next() {
		r := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range r {
			dest[i] = &r[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// showCreate runs a SHOW CREATE statement and returns its columns by name
// (lower case).
func showCreate(ctx context.Context, c *sql.Conn, q string) (map[string]string, error) {
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s returned nothing", q)
	}
	r := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range r {
		dest[i] = &r[i]
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, c := range cols {
		out[strings.ToLower(c)] = r[i].String
	}
	return out, rows.Err()
}

// readCatalog reads the schemas, tables and objects f selects, on a
// connection inside the snapshot.
func readCatalog(ctx context.Context, c *sql.Conn, f Filter, users bool) (*catalog, error) {
	cat := &catalog{dbSQL: map[string]string{}}
	schemas, err := queryStrings(ctx, c, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	wantDB := map[string]bool{}
	for _, r := range schemas {
		db := r[0].String
		if ExcludedSchemas[strings.ToLower(db)] || !f.MatchSchema(db) {
			continue
		}
		sc, err := showCreate(ctx, c, "SHOW CREATE DATABASE "+quoteIdent(db))
		if err != nil {
			return nil, fmt.Errorf("SHOW CREATE DATABASE %s: %w", quoteIdent(db), err)
		}
		wantDB[db] = true
		cat.dbs = append(cat.dbs, Database{Name: db})
		cat.dbSQL[db] = sc["create database"]
	}
	if err := readTables(ctx, c, f, wantDB, cat); err != nil {
		return nil, err
	}
	if err := readObjects(ctx, c, f, wantDB, cat); err != nil {
		return nil, err
	}
	if users {
		u, err := readUsers(ctx, c)
		if err != nil {
			return nil, err
		}
		cat.objects = append(cat.objects, u)
	}
	return cat, nil
}

func readTables(ctx context.Context, c *sql.Conn, f Filter, wantDB map[string]bool, cat *catalog) error {
	rows, err := queryStrings(ctx, c, "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_ROWS, AVG_ROW_LENGTH "+
		"FROM information_schema.TABLES WHERE TABLE_TYPE <> 'VIEW' AND TABLE_TYPE <> 'SYSTEM VIEW' ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	byName := map[[2]string]*tableInfo{}
	for _, r := range rows {
		db, name := r[0].String, r[1].String
		if !wantDB[db] || !f.Match(db, name) {
			continue
		}
		kind := "table"
		switch r[2].String {
		case "SEQUENCE":
			kind = "sequence"
		}
		ti := &tableInfo{t: &Table{Schema: db, Name: name, Kind: kind, Engine: r[3].String}, versioned: r[2].String == "SYSTEM VERSIONED"}
		fmt.Sscan(r[4].String, &ti.rowsEst)
		fmt.Sscan(r[5].String, &ti.avgRow)
		cat.tables = append(cat.tables, ti)
		byName[[2]string{db, name}] = ti
	}
	if len(cat.tables) == 0 {
		return nil
	}
	cols, err := queryStrings(ctx, c, "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, EXTRA, IS_NULLABLE, COLUMN_TYPE "+
		"FROM information_schema.COLUMNS ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION")
	if err != nil {
		return fmt.Errorf("list columns: %w", err)
	}
	for _, r := range cols {
		ti := byName[[2]string{r[0].String, r[1].String}]
		if ti == nil {
			continue
		}
		extra := strings.ToUpper(r[4].String)
		col := column{name: r[2].String, dataType: strings.ToLower(r[3].String),
			generated: strings.Contains(extra, "GENERATED") || strings.Contains(extra, "VIRTUAL") || strings.Contains(extra, "PERSISTENT"),
			nullable:  r[5].String == "YES", unsigned: strings.Contains(strings.ToLower(r[6].String), "unsigned")}
		ti.cols = append(ti.cols, col)
		if !col.generated {
			ti.insert = append(ti.insert, col)
		}
	}
	keys, err := queryStrings(ctx, c, "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART "+
		"FROM information_schema.STATISTICS ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX")
	if err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	type idx struct {
		cols   []string
		usable bool
	}
	indexes := map[[2]string]map[string]*idx{}
	var order = map[[2]string][]string{}
	for _, r := range keys {
		k := [2]string{r[0].String, r[1].String}
		if byName[k] == nil || r[3].String != "0" {
			continue
		}
		if indexes[k] == nil {
			indexes[k] = map[string]*idx{}
		}
		x := indexes[k][r[2].String]
		if x == nil {
			x = &idx{usable: true}
			indexes[k][r[2].String] = x
			order[k] = append(order[k], r[2].String)
		}
		x.cols = append(x.cols, r[4].String)
		if r[5].Valid {
			x.usable = false // a prefix key does not order the full values
		}
	}
	referenced, err := fkTables(ctx, c)
	if err != nil {
		return err
	}
	for k, ti := range byName {
		// The chunking key: the primary key, else the first unique key
		// of NOT NULL columns whose types compare exactly.
		names := order[k]
		sort.SliceStable(names, func(i, j int) bool { return names[i] == "PRIMARY" && names[j] != "PRIMARY" })
		for _, n := range names {
			x := indexes[k][n]
			key, ok := keyColumns(ti.cols, x.cols)
			if x.usable && ok {
				ti.key = key
				break
			}
		}
		for _, kc := range ti.key {
			ti.t.Key = append(ti.t.Key, kc.name)
		}
		if ti.t.Kind == "sequence" {
			sc, err := showCreate(ctx, c, "SHOW CREATE SEQUENCE "+qualified(k[0], k[1]))
			if err != nil {
				return fmt.Errorf("SHOW CREATE SEQUENCE %s: %w", qualified(k[0], k[1]), err)
			}
			ti.create = sc["create table"]
			continue
		}
		sc, err := showCreate(ctx, c, "SHOW CREATE TABLE "+qualified(k[0], k[1]))
		if err != nil {
			return fmt.Errorf("SHOW CREATE TABLE %s: %w", qualified(k[0], k[1]), err)
		}
		ti.create = sc["create table"]
		if !referenced[k] && !strings.Contains(ti.create, "FOREIGN KEY") {
			ti.t.Deferrable = deferrableKeys(ti.create)
		}
		if ti.versioned {
			ti.withHistory()
		}
		ti.prepare()
	}
	return nil
}

// keyColumns returns the columns named, when all are NOT NULL and of a
// type whose comparison is exact (not FLOAT/DOUBLE, BLOB/TEXT, spatial).
func keyColumns(cols []column, names []string) ([]column, bool) {
	var out []column
	for _, n := range names {
		var found *column
		for i := range cols {
			if cols[i].name == n {
				found = &cols[i]
			}
		}
		if found == nil || found.nullable {
			return nil, false
		}
		switch found.dataType {
		case "float", "double", "real", "tinyblob", "blob", "mediumblob", "longblob", "tinytext", "text", "mediumtext", "longtext",
			"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "json":
			return nil, false
		}
		out = append(out, *found)
	}
	return out, len(out) > 0
}

// fkTables returns the tables a foreign key references (their indexes are
// not deferred: a foreign key needs them).
func fkTables(ctx context.Context, c *sql.Conn) (map[[2]string]bool, error) {
	rows, err := queryStrings(ctx, c, "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS")
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	out := map[[2]string]bool{}
	for _, r := range rows {
		out[[2]string{r[0].String, r[1].String}] = true
		out[[2]string{r[2].String, r[3].String}] = true
	}
	return out, nil
}

// withHistory sets up a system-versioned table so that its history is
// dumped, as `mariadb-dump --dump-history` does: every row version (FOR
// SYSTEM_TIME ALL) with its period columns (row_start and row_end when
// implicit, else those of PERIOD FOR SYSTEM_TIME), which Load inserts
// with system_versioning_insert_history. A table whose history is
// transaction-precise (period columns of transaction ids) cannot be given
// its history back: its current rows are dumped, and t.History stays
// false (Dump warns).
func (ti *tableInfo) withHistory() {
	start, end, ok := periodColumns(ti.create)
	if !ok {
		// Implicit period columns: hidden, TIMESTAMP(6).
		ti.insert = append(ti.insert, column{name: "row_start", dataType: "timestamp"}, column{name: "row_end", dataType: "timestamp"})
	} else {
		var period []column
		for _, c := range ti.cols {
			if c.name == start || c.name == end {
				c.generated = false
				period = append(period, c)
			}
		}
		if len(period) != 2 || period[0].dataType != "timestamp" || period[1].dataType != "timestamp" {
			return
		}
		ti.insert = append(ti.insert, period...)
	}
	ti.t.History = true
	ti.from = qualified(ti.t.Schema, ti.t.Name) + " FOR SYSTEM_TIME ALL"
}

// periodColumns returns the columns of a CREATE TABLE's "PERIOD FOR
// SYSTEM_TIME (`start`, `end`)" line; ok is false when it has none (the
// period columns are implicit).
func periodColumns(create string) (start, end string, ok bool) {
	for _, l := range strings.Split(create, "\n") {
		rest, found := strings.CutPrefix(strings.TrimSpace(l), "PERIOD FOR SYSTEM_TIME (")
		if !found {
			continue
		}
		names, err := parseIdentList([]byte(strings.ReplaceAll(strings.TrimRight(rest, "),"), "`, `", "`,`")))
		if err != nil || len(names) != 2 {
			return "", "", false
		}
		return names[0], names[1], true
	}
	return "", "", false
}

// fromSQL is what the table's SELECTs read.
func (ti *tableInfo) fromSQL() string {
	if ti.from != "" {
		return ti.from
	}
	return qualified(ti.t.Schema, ti.t.Name)
}

// prepare builds the SELECT and the INSERT prefix.
func (ti *tableInfo) prepare() {
	var sel, ins strings.Builder
	sel.WriteString("SELECT ")
	ins.WriteString("INSERT INTO " + qualified(ti.t.Schema, ti.t.Name) + " (")
	for i, c := range ti.insert {
		if i > 0 {
			sel.WriteByte(',')
			ins.WriteByte(',')
		}
		if classOf(c.dataType) == classFloat {
			sel.WriteString("CAST(" + quoteIdent(c.name) + " AS DOUBLE)")
		} else {
			sel.WriteString(quoteIdent(c.name))
		}
		ins.WriteString(quoteIdent(c.name))
	}
	sel.WriteString(" FROM " + ti.fromSQL())
	ins.WriteString(") VALUES ")
	ti.selectSQL = sel.String()
	ti.insertPre = []byte(ins.String())
}

// deferrableKeys returns the secondary, non-unique index lines of a
// CREATE TABLE (KEY, FULLTEXT KEY, SPATIAL KEY), without their trailing
// comma.
func deferrableKeys(create string) []string {
	var out []string
	for _, l := range strings.Split(create, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "KEY ") || strings.HasPrefix(t, "FULLTEXT KEY ") || strings.HasPrefix(t, "SPATIAL KEY ") {
			out = append(out, strings.TrimSuffix(t, ","))
		}
	}
	return out
}

// withoutKeys returns create without the index lines in keys.
func withoutKeys(create string, keys []string) string {
	if len(keys) == 0 {
		return create
	}
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	lines := strings.Split(create, "\n")
	end := -1
	for i := 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], ")") {
			end = i
			break
		}
	}
	if end < 0 {
		return create
	}
	var body []string
	for _, l := range lines[1:end] {
		if drop[strings.TrimSuffix(strings.TrimSpace(l), ",")] {
			continue
		}
		body = append(body, strings.TrimSuffix(l, ","))
	}
	return lines[0] + "\n" + strings.Join(body, ",\n") + "\n" + strings.Join(lines[end:], "\n")
}
