// Package status is the progress model an engine reports in its own units
// (tables, chunks, rows) beside the bytes the pipeline counts: the engine
// fills a Report, the command line shows it (the bar's description, the
// plain progress lines) with a percentage and an ETA where a total is
// known. An engine that reports nothing is shown by its bytes alone.
package status

// Units of Report.Done and Report.Total.
const (
	// Rows are table rows (a logical backup's dump).
	Rows = "rows"
	// Bytes are bytes of the backup's stream (a restore reading it).
	Bytes = "bytes"
)

// Report is how far an engine's backup or restore is. The engine sends a
// new Report whenever it moved on (a chunk written or committed); each
// Report replaces the one before, whole.
type Report struct {
	// Unit is what Done and Total count (Rows, Bytes); "" when the
	// engine measures nothing, only Counts.
	Unit string
	// Done is how much of the work is done; Total the whole, 0 when it
	// is not known (then there is no percentage and no ETA).
	Done, Total int64
	// Estimated says Total is an estimate (the server's statistics of
	// its tables), so the percentage and the ETA are estimates too, and
	// Done may pass Total.
	Estimated bool
	// Free is the part of Done that took no time (the chunks a resumed
	// load skipped because an earlier run committed them): it is left
	// out of the rate, so that the ETA does not assume the rest goes as
	// fast.
	Free int64
	// Counts are the engine's own units, in the order shown: tables 3
	// of 8, chunks 12 of 40, 4 skipped.
	Counts []Count
}

// Count is one of the engine's units in a Report.
type Count struct {
	// Name is the unit, plural, lower case ("tables", "chunks").
	Name string
	// N is how many are done; Of how many there are, 0 when not known.
	N, Of int64
}

// Func receives an engine's Reports. Engines call it from one goroutine
// at a time; it must not block.
type Func func(Report)
