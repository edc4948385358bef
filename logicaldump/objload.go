package logicaldump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	mysqldrv "github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"
)

// keyName returns the index name of a KEY line ("KEY `a“b` (...)").
func keyName(line string) string {
	i := strings.IndexByte(line, '`')
	if i < 0 {
		return ""
	}
	var b strings.Builder
	for j := i + 1; j < len(line); j++ {
		if line[j] == '`' {
			if j+1 < len(line) && line[j+1] == '`' {
				b.WriteByte('`')
				j++
				continue
			}
			return b.String()
		}
		b.WriteByte(line[j])
	}
	return ""
}

// addIndexes adds the deferred secondary indexes, a table per connection,
// all of a table's in one ALTER TABLE and in their original order (so
// SHOW CREATE TABLE is as on the source); an index that exists (a resumed
// load) is left alone.
func (l *loader) addIndexes(ctx context.Context, ix *Index) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.o.Threads)
	for _, t := range ix.Tables {
		if !l.sel[l.planTable(t)] || len(t.Deferrable) == 0 {
			continue
		}
		g.Go(func() error {
			name := qualified(t.Schema, t.Name)
			c, err := l.connect(gctx)
			if err != nil {
				return err
			}
			defer c.Close()
			have := map[string]bool{}
			rows, err := c.QueryContext(gctx, "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", t.Schema, t.Name)
			if err != nil {
				return fmt.Errorf("list the indexes of %s: %w", name, err)
			}
			for rows.Next() {
				var n string
				rows.Scan(&n)
				have[n] = true
			}
			rows.Close()
			var adds []string
			for _, k := range t.Deferrable {
				if !have[keyName(k)] {
					adds = append(adds, "ADD "+k)
				}
			}
			if len(adds) == 0 {
				return nil
			}
			if _, err := c.ExecContext(gctx, "ALTER TABLE "+name+" "+strings.Join(adds, ", ")); err != nil {
				return fmt.Errorf("add the deferred indexes of %s: %w", name, err)
			}
			l.mu.Lock()
			l.res.IndexesAdded += len(adds)
			l.mu.Unlock()
			return nil
		})
	}
	return g.Wait()
}

// planTable returns the plan's entry for an index table (they are the same
// tables, decoded twice).
func (l *loader) planTable(t *Table) *Table {
	for _, p := range l.plan.Tables {
		if p.Schema == t.Schema && p.Name == t.Name {
			return p
		}
	}
	return nil
}

// objectSelected decides whether an object is restored.
func (l *loader) objectSelected(o Object) bool {
	switch o.Kind {
	case KindUsers:
		return l.o.Users || len(l.o.Filter.Include) == 0 && len(l.o.Filter.Exclude) == 0
	case KindTrigger:
		return l.o.Filter.Match(o.Schema, o.Table)
	}
	return l.o.Filter.Match(o.Schema, o.Name)
}

var dropKind = map[string]string{KindView: "VIEW", KindProcedure: "PROCEDURE", KindFunction: "FUNCTION",
	KindTrigger: "TRIGGER", KindEvent: "EVENT"}

// createObjects creates the views (in the index's dependency order, with
// further passes for a view whose dependency failed first), routines,
// triggers and events, sets the sequences' values and runs users.sql, each
// with the sql_mode and collation it was defined under.
func (l *loader) createObjects(ctx context.Context, ix *Index) error {
	c, err := l.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var pending []Object
	for _, o := range ix.Objects {
		if !l.objectSelected(o) {
			continue
		}
		data, ok := l.objs[o.File]
		if !ok {
			return fmt.Errorf("%s (%s %s) is in the index but not in the stream: the backup is damaged", o.File, o.Kind, o.Name)
		}
		if got := sha256hex(data); got != o.SHA256 {
			return fmt.Errorf("%s has sha256 %s, the index says %s: the backup is damaged", o.File, got, o.SHA256)
		}
		if err := checkObjectStmt(o, data); err != nil {
			return err
		}
		pending = append(pending, o)
	}
	for len(pending) > 0 {
		var retry []Object
		var lastErr error
		for _, o := range pending {
			err := l.createObject(ctx, c, o, l.objs[o.File])
			var me *mysqldrv.MySQLError
			if err != nil && o.Kind == KindView && errors.As(err, &me) && me.Number == 1146 {
				retry = append(retry, o) // a view on a view not created yet
				lastErr = err
				continue
			}
			if err != nil {
				return err
			}
			l.res.Objects++
		}
		if len(retry) == len(pending) {
			return lastErr
		}
		pending = retry
	}
	return nil
}

func (l *loader) createObject(ctx context.Context, c *sql.Conn, o Object, body []byte) error {
	what := o.Kind + " " + qualified(o.Schema, o.Name)
	if o.Kind == KindUsers {
		what = "users and grants"
		return splitStatements(body, func(stmt []byte) error {
			if _, err := c.ExecContext(ctx, string(stmt)); err != nil {
				return fmt.Errorf("restore %s (%s): %.200s: %w", what, o.File, stmt, err)
			}
			return nil
		})
	}
	if err := l.ensureDB(ctx, c, o.Schema); err != nil {
		return err
	}
	set := []string{"USE " + quoteIdent(o.Schema), "SET NAMES utf8mb4"}
	if o.Collation != "" {
		set = append(set, "SET collation_connection = "+quoteString(o.Collation))
	}
	if o.TimeZone != "" {
		set = append(set, "SET SESSION time_zone = "+quoteString(o.TimeZone))
	}
	// Last of the quoted values: the object's sql_mode may change how
	// the session reads quotes (NO_BACKSLASH_ESCAPES).
	if o.Kind != KindView && o.Kind != KindSequence {
		set = append(set, "SET SESSION sql_mode = "+quoteString(o.SQLMode))
	}
	if kw := dropKind[o.Kind]; kw != "" && (l.o.Resume || l.o.Force) {
		set = append(set, "DROP "+kw+" IF EXISTS "+qualified(o.Schema, o.Name))
	}
	defer l.session(context.WithoutCancel(ctx), c)
	for _, q := range set {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("restore %s: %s: %w", what, q, err)
		}
	}
	if _, err := c.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("restore %s (%s): %w", what, o.File, err)
	}
	return nil
}

// userStatement reports whether stmt is one users.sql may hold.
func userStatement(stmt []byte) bool {
	for _, p := range []string{"CREATE USER IF NOT EXISTS ", "CREATE ROLE IF NOT EXISTS ", "GRANT ", "SET DEFAULT ROLE "} {
		if strings.HasPrefix(string(stmt), p) {
			return true
		}
	}
	return false
}
