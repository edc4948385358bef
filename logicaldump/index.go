package logicaldump

import (
	"encoding/json"
	"fmt"
	"time"
)

// Format is the container format version Dump writes and Load reads.
const Format = 1

// Names of the container's fixed files.
const (
	PlanFile  = "plan.json"
	IndexFile = "index.json"
)

// Index describes a container: written as plan.json (without chunks and
// objects) after the schema files, and whole as index.json at the end.
type Index struct {
	Format int `json:"format"`
	// DumpID identifies this dump; Load keys its progress records by it.
	DumpID        string    `json:"dump_id"`
	ServerVersion string    `json:"server_version"`
	Flavor        string    `json:"flavor"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished,omitzero"`
	// BinlogFile, BinlogPos and GTID are the snapshot's coordinates, read
	// while commits were blocked (empty without a binary log).
	BinlogFile string `json:"binlog_file,omitempty"`
	BinlogPos  uint64 `json:"binlog_pos,omitempty"`
	GTID       string `json:"gtid,omitempty"`
	// LockSeconds is how long commits were blocked for the snapshot.
	LockSeconds float64 `json:"lock_seconds"`
	// MaxStatement is the longest statement (bytes) a chunk holds.
	MaxStatement int `json:"max_statement"`
	// ChunkBytes is the size a chunk file is cut at (a file may exceed
	// it by one statement).
	ChunkBytes int        `json:"chunk_bytes"`
	Databases  []Database `json:"databases"`
	Tables     []*Table   `json:"tables"`
	Objects    []Object   `json:"objects,omitempty"`
	Rows       int64      `json:"rows"`
	Bytes      int64      `json:"bytes"`
}

// Database is one schema and the file of its CREATE DATABASE.
type Database struct {
	Name string `json:"name"`
	File string `json:"file"`
}

// Table is one base table or sequence.
type Table struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Kind is "table" or "sequence".
	Kind   string `json:"kind"`
	Engine string `json:"engine,omitempty"`
	// File holds the CREATE statement as SHOW CREATE printed it.
	File string `json:"file"`
	// DataPrefix starts the names of the table's chunk files:
	// PREFIX.NNNNNN.sql, PREFIX.NNNNNN-P.sql when a range was cut in parts.
	DataPrefix string `json:"data_prefix,omitempty"`
	// Key is the columns the chunks are cut by (empty: one chunk).
	Key []string `json:"key,omitempty"`
	// Deferrable are the secondary index definitions (lines of the
	// CREATE TABLE) that Load may add after the data.
	Deferrable []string `json:"deferrable,omitempty"`
	// History: the table is system-versioned (MariaDB) with timestamp
	// history, and its chunks hold every row version, with their
	// row_start and row_end; Load inserts them with
	// system_versioning_insert_history (MariaDB 10.11+).
	History bool `json:"history,omitempty"`
	// CurrentRows is the rows of a History table that are current (what
	// SELECT COUNT(*) counts), read in the snapshot.
	CurrentRows int64   `json:"current_rows,omitempty"`
	Chunks      []Chunk `json:"chunks,omitempty"`
}

// RowCount is the table's rows as SELECT COUNT(*) counts them: its
// chunks' rows, or for a table whose chunks hold its history, its current
// rows.
func (t *Table) RowCount() int64 {
	if t.History {
		return t.CurrentRows
	}
	var n int64
	for _, ch := range t.Chunks {
		n += ch.Rows
	}
	return n
}

// Chunk is one data file: a transaction's worth of INSERT statements.
type Chunk struct {
	File   string `json:"file"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Where is the key range the chunk's rows came from ("" for all).
	Where string `json:"where,omitempty"`
}

// Object kinds, in the order Load creates them.
const (
	KindView      = "view"
	KindProcedure = "procedure"
	KindFunction  = "function"
	KindTrigger   = "trigger"
	KindEvent     = "event"
	KindSequence  = "sequence_value"
	KindUsers     = "users"
)

// Object is a view, routine, trigger, event, sequence value or the users
// file, with the session settings it was created under.
type Object struct {
	Kind   string `json:"kind"`
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name,omitempty"`
	// Table is a trigger's table.
	Table  string `json:"table,omitempty"`
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// SQLMode, CharsetClient, Collation and TimeZone are the session
	// values the object's body was parsed with.
	SQLMode       string `json:"sql_mode,omitempty"`
	CharsetClient string `json:"charset_client,omitempty"`
	Collation     string `json:"collation_connection,omitempty"`
	TimeZone      string `json:"time_zone,omitempty"`
}

// ParseIndex decodes plan.json or index.json and checks its format.
func ParseIndex(b []byte) (*Index, error) {
	var ix Index
	if err := json.Unmarshal(b, &ix); err != nil {
		return nil, fmt.Errorf("parse the logical backup's index: %w", err)
	}
	if ix.Format != Format {
		return nil, fmt.Errorf("logical backup format %d: this mybak reads format %d only; use the mybak version that wrote it", ix.Format, Format)
	}
	for i, t := range ix.Tables {
		if t == nil {
			return nil, fmt.Errorf("%w: the logical backup's index has an empty table entry (%d): refusing it", errFormat, i)
		}
	}
	return &ix, nil
}

// ChunkCount is the number of chunks over all tables.
func (ix *Index) ChunkCount() int {
	n := 0
	for _, t := range ix.Tables {
		n += len(t.Chunks)
	}
	return n
}

// jsonMarshal is the encoding of plan.json and index.json.
func jsonMarshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", " ")
	return append(b, '\n'), err
}
