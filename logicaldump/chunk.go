package logicaldump

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"strings"
)

// isInteger reports whether a column of this type is an integer.
func isInteger(dataType string) bool {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return true
	}
	return false
}

// literal is the SQL literal of a key value as the text protocol returned it.
func literal(c column, v []byte) string {
	cl := classOf(c.dataType)
	return string(appendValue(nil, cl, v, 1<<30))
}

// gtCond is "(k1,...,kn) > (v1,...,vn)" written out so that the range
// optimizer uses the key: k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...
func gtCond(key []column, vals [][]byte) string { return rowCond(key, vals, ">", false) }

// leCond is "(k1,...,kn) <= (v1,...,vn)".
func leCond(key []column, vals [][]byte) string { return rowCond(key, vals, "<", true) }

func rowCond(key []column, vals [][]byte, op string, orEqual bool) string {
	if len(key) == 1 {
		if orEqual {
			op += "="
		}
		return quoteIdent(key[0].name) + " " + op + " " + literal(key[0], vals[0])
	}
	var alts []string
	for i := range key {
		var parts []string
		for j := 0; j < i; j++ {
			parts = append(parts, quoteIdent(key[j].name)+" = "+literal(key[j], vals[j]))
		}
		parts = append(parts, quoteIdent(key[i].name)+" "+op+" "+literal(key[i], vals[i]))
		alts = append(alts, "("+strings.Join(parts, " AND ")+")")
	}
	if orEqual {
		var parts []string
		for j := range key {
			parts = append(parts, quoteIdent(key[j].name)+" = "+literal(key[j], vals[j]))
		}
		alts = append(alts, "("+strings.Join(parts, " AND ")+")")
	}
	return "(" + strings.Join(alts, " OR ") + ")"
}

// between joins a lower (exclusive) and upper (inclusive) condition.
func between(lo, hi string) string {
	switch {
	case lo == "":
		return hi
	case hi == "":
		return lo
	}
	return lo + " AND " + hi
}

// denseFactor bounds the key values per row of an integer key that is
// cut by value (planTable): at most this many ranges per range's worth
// of rows, so ranges are on average at least 1/denseFactor full.
const denseFactor = 4

// planTable cuts ti into key ranges of about rows rows and calls emit
// with each range's WHERE condition ("" for the whole table), in key
// order, as soon as it is known. It reads on c, inside the snapshot.
// Ranges are open at both ends (the first has no lower bound, the last no
// upper one), so every row is in exactly one range whatever the bounds.
func planTable(ctx context.Context, c *sql.Conn, ti *tableInfo, rows int64, emit func(where string)) error {
	if len(ti.key) == 0 || rows <= 0 || ti.rowsEst <= rows {
		emit("")
		return nil
	}
	t, from := qualified(ti.t.Schema, ti.t.Name), ti.fromSQL()
	if len(ti.key) == 1 && isInteger(ti.key[0].dataType) {
		k := quoteIdent(ti.key[0].name)
		var lo, hi sql.NullString
		if err := c.QueryRowContext(ctx, "SELECT MIN("+k+"), MAX("+k+") FROM "+from).Scan(&lo, &hi); err != nil {
			return fmt.Errorf("read the key range of %s: %w", t, err)
		}
		if !lo.Valid {
			emit("")
			return nil
		}
		min, ok1 := new(big.Int).SetString(lo.String, 10)
		max, ok2 := new(big.Int).SetString(hi.String, 10)
		if !ok1 || !ok2 {
			return fmt.Errorf("key range of %s: %q..%q are not integers", t, lo.String, hi.String)
		}
		// Cut MIN..MAX into steps of rows key values when the key is
		// dense enough: a step then holds at most rows rows (the values
		// are distinct integers) wherever they cluster, and there are at
		// most denseFactor times the ranges the rows need. A sparse or
		// skewed key (two clusters far apart, AUTO_INCREMENT jumps, an
		// outlier) is walked instead, as any other key: dividing its
		// span evenly would put most rows in a few ranges.
		span := new(big.Int).Sub(max, min)
		span.Add(span, big.NewInt(1))
		step := big.NewInt(rows)
		n := new(big.Int).Add(span, big.NewInt(rows-1))
		n.Div(n, step)
		if n.Cmp(big.NewInt(1)) <= 0 {
			emit("")
			return nil
		}
		if n.Cmp(big.NewInt(denseFactor*((ti.rowsEst+rows-1)/rows)+1)) <= 0 {
			prev := ""
			for i := int64(1); i < n.Int64(); i++ {
				b := new(big.Int).Mul(step, big.NewInt(i))
				b.Add(b, min)
				b.Sub(b, big.NewInt(1))
				v := [][]byte{[]byte(b.String())}
				emit(between(prev, leCond(ti.key, v)))
				prev = gtCond(ti.key, v)
			}
			emit(prev)
			return nil
		}
	}
	// Any other key: walk it, reading every rows-th key value in order.
	var cols []string
	for _, kc := range ti.key {
		cols = append(cols, quoteIdent(kc.name))
	}
	order := strings.Join(cols, ",")
	prev := ""
	for {
		q := "SELECT " + order + " FROM " + from
		if prev != "" {
			q += " WHERE " + prev
		}
		q += fmt.Sprintf(" ORDER BY %s LIMIT 1 OFFSET %d", order, rows-1)
		r, err := c.QueryContext(ctx, q)
		if err != nil {
			return fmt.Errorf("walk the key of %s: %w", t, err)
		}
		vals := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		found := r.Next()
		var bound [][]byte
		if found {
			if err := r.Scan(dest...); err != nil {
				r.Close()
				return fmt.Errorf("walk the key of %s: %w", t, err)
			}
			for _, v := range vals {
				bound = append(bound, append([]byte{}, v...))
			}
		}
		if err := r.Close(); err != nil {
			return fmt.Errorf("walk the key of %s: %w", t, err)
		}
		if !found {
			emit(prev)
			return nil
		}
		emit(between(prev, leCond(ti.key, bound)))
		prev = gtCond(ti.key, bound)
	}
}
