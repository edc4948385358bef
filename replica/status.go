package replica

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is a replica's state as SHOW SLAVE STATUS / SHOW REPLICA STATUS
// reports it, with MySQL 8.0.22+'s Replica_/Source_ column names mapped to
// the older ones.
type Status struct {
	Configured    bool   `json:"configured"`
	IORunning     string `json:"io_running"`  // Yes, No, Connecting
	SQLRunning    string `json:"sql_running"` // Yes, No
	IOState       string `json:"io_state,omitempty"`
	PrimaryHost   string `json:"primary_host,omitempty"`
	PrimaryPort   int    `json:"primary_port,omitempty"`
	PrimaryUser   string `json:"primary_user,omitempty"`
	SecondsBehind *int64 `json:"seconds_behind,omitempty"` // nil: NULL (a thread is not running)
	ReadFile      string `json:"read_file,omitempty"`
	ReadPos       uint64 `json:"read_pos,omitempty"`
	ExecFile      string `json:"exec_file,omitempty"`
	ExecPos       uint64 `json:"exec_pos,omitempty"`
	// UsingGTID: MariaDB's Using_Gtid (Slave_Pos, Current_Pos, No), MySQL's
	// Auto_Position (1 -> "Auto_Position").
	UsingGTID string `json:"using_gtid,omitempty"`
	// GTIDReceived: MariaDB Gtid_IO_Pos, MySQL Retrieved_Gtid_Set.
	GTIDReceived string `json:"gtid_received,omitempty"`
	// GTIDExecuted: MariaDB @@gtid_slave_pos, MySQL Executed_Gtid_Set.
	GTIDExecuted string `json:"gtid_executed,omitempty"`
	LastIOErrno  int    `json:"last_io_errno,omitempty"`
	LastIOError  string `json:"last_io_error,omitempty"`
	LastSQLErrno int    `json:"last_sql_errno,omitempty"`
	LastSQLError string `json:"last_sql_error,omitempty"`
}

// Running reports whether both replication threads run.
func (s Status) Running() bool { return s.IORunning == "Yes" && s.SQLRunning == "Yes" }

// Failed reports whether a replication thread reports an error.
func (s Status) Failed() bool { return s.LastIOErrno != 0 || s.LastSQLErrno != 0 }

// ParseStatus builds a Status from one row of SHOW SLAVE STATUS / SHOW
// REPLICA STATUS (column name -> value; NULL as absent). Multi-line GTID
// sets are joined.
func ParseStatus(row map[string]string) Status {
	r := map[string]string{}
	for k, v := range row {
		k = strings.ReplaceAll(k, "Replica", "Slave")
		k = strings.ReplaceAll(k, "Source", "Master")
		r[k] = v
	}
	num := func(k string) uint64 { n, _ := strconv.ParseUint(r[k], 10, 64); return n }
	s := Status{
		Configured:   len(row) > 0,
		IORunning:    r["Slave_IO_Running"],
		SQLRunning:   r["Slave_SQL_Running"],
		IOState:      r["Slave_IO_State"],
		PrimaryHost:  r["Master_Host"],
		PrimaryPort:  int(num("Master_Port")),
		PrimaryUser:  r["Master_User"],
		ReadFile:     r["Master_Log_File"],
		ReadPos:      num("Read_Master_Log_Pos"),
		ExecFile:     r["Relay_Master_Log_File"],
		ExecPos:      num("Exec_Master_Log_Pos"),
		GTIDReceived: joinGTID(r["Gtid_IO_Pos"] + r["Retrieved_Gtid_Set"]),
		GTIDExecuted: joinGTID(r["Executed_Gtid_Set"]),
		LastIOErrno:  int(num("Last_IO_Errno")),
		LastIOError:  r["Last_IO_Error"],
		LastSQLErrno: int(num("Last_SQL_Errno")),
		LastSQLError: r["Last_SQL_Error"],
	}
	if v, ok := r["Seconds_Behind_Master"]; ok && v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			s.SecondsBehind = &n
		}
	}
	switch {
	case r["Using_Gtid"] != "":
		s.UsingGTID = r["Using_Gtid"]
	case r["Auto_Position"] == "1":
		s.UsingGTID = "Auto_Position"
	case r["Auto_Position"] == "0":
		s.UsingGTID = "No"
	}
	return s
}

func joinGTID(s string) string {
	return strings.NewReplacer("\n", "", "\r", "", " ", "").Replace(s)
}

// ReadStatus runs the dialect's status query on the replica (and, on
// MariaDB, reads @@gtid_slave_pos).
func ReadStatus(ctx context.Context, db *sql.DB, d Dialect) (Status, error) {
	rows, err := db.QueryContext(ctx, StatusQuery(d))
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", StatusQuery(d), err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Status{}, err
	}
	row := map[string]string{}
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return Status{}, fmt.Errorf("%s: %w", StatusQuery(d), err)
		}
		for i, c := range cols {
			if vals[i].Valid {
				row[c] = vals[i].String
			}
		}
	}
	if err := rows.Err(); err != nil {
		return Status{}, err
	}
	rows.Close()
	s := ParseStatus(row)
	if d.MariaDB && s.Configured {
		var pos sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_slave_pos").Scan(&pos); err == nil {
			s.GTIDExecuted = pos.String
		}
	}
	return s, nil
}

// ReplicationError is returned when replication was configured but a
// thread stopped or reports an error. Status holds the replica's state.
type ReplicationError struct {
	Status Status
	Reason string
}

func (e *ReplicationError) Error() string {
	s := e.Status
	var b strings.Builder
	fmt.Fprintf(&b, "replication is configured but %s (IO thread: %s, SQL thread: %s)", e.Reason, dash(s.IORunning), dash(s.SQLRunning))
	if s.LastIOErrno != 0 {
		fmt.Fprintf(&b, "; Last_IO_Error %d: %s", s.LastIOErrno, s.LastIOError)
	}
	if s.LastSQLErrno != 0 {
		fmt.Fprintf(&b, "; Last_SQL_Error %d: %s", s.LastSQLErrno, s.LastSQLError)
	}
	b.WriteString(": fix the cause (replication user and password, the primary's address, that it runs, its firewall) and run START SLAVE on the replica")
	return b.String()
}

// ErrWaitTimeout is wrapped when the replica did not catch up in time.
var ErrWaitTimeout = errors.New("the replica did not catch up with the primary in time")

// WaitOptions configure Wait.
type WaitOptions struct {
	// Target is the primary's position the replica must reach; nil: wait
	// until it has applied everything it received and reports no lag.
	Target *Position
	// Timeout bounds the whole wait (0: 30 minutes).
	Timeout time.Duration
	// Poll is the time between status reads (0: 500ms).
	Poll time.Duration
	// OnStatus, when set, sees every status read.
	OnStatus func(Status)
}

// Wait polls the replica until both replication threads run and it has
// caught up (see WaitOptions.Target), and returns its last status. A
// thread reporting an error (Last_IO_Errno / Last_SQL_Errno), or stopped,
// ends the wait at once with a *ReplicationError; running out of time
// returns an error wrapping ErrWaitTimeout.
func Wait(ctx context.Context, db *sql.DB, d Dialect, o WaitOptions) (Status, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	deadline := time.Now().Add(o.Timeout)
	for {
		s, err := ReadStatus(ctx, db, d)
		if err != nil {
			return s, err
		}
		if o.OnStatus != nil {
			o.OnStatus(s)
		}
		switch {
		case !s.Configured:
			return s, &ReplicationError{Status: s, Reason: "SHOW SLAVE STATUS is empty"}
		case s.Failed():
			return s, &ReplicationError{Status: s, Reason: "a replication thread reports an error"}
		case s.IORunning == "No" || s.SQLRunning == "No":
			return s, &ReplicationError{Status: s, Reason: "a replication thread stopped"}
		}
		if s.Running() {
			ok, err := caughtUp(ctx, db, d, s, o, min(o.Poll, time.Until(deadline)))
			if err != nil {
				return s, err
			}
			if ok {
				if s2, err := ReadStatus(ctx, db, d); err == nil {
					s = s2
				}
				return s, nil
			}
		} else if err := sleep(ctx, o.Poll); err != nil {
			return s, err
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%w (waited %s; IO thread %s, SQL thread %s, %s behind): it keeps replicating; "+
				"watch SHOW SLAVE STATUS or raise --wait-timeout", ErrWaitTimeout, o.Timeout, s.IORunning, s.SQLRunning, lag(s))
		}
	}
}

// caughtUp reports whether the running replica has reached the target,
// waiting at most wait for it.
func caughtUp(ctx context.Context, db *sql.DB, d Dialect, s Status, o WaitOptions, wait time.Duration) (bool, error) {
	if o.Target != nil {
		secs := max(1, int(wait.Round(time.Second)/time.Second))
		if q, args := WaitQuery(d, *o.Target, secs); q != "" {
			var res sql.NullInt64
			if err := db.QueryRowContext(ctx, q, args...).Scan(&res); err != nil {
				return false, fmt.Errorf("wait for the primary's position on the replica: %w", err)
			}
			if !res.Valid {
				return false, nil
			}
			if o.Target.GTID != "" {
				return res.Int64 == 0, nil
			}
			return res.Int64 >= 0, nil
		}
	}
	ok := s.SecondsBehind != nil && *s.SecondsBehind == 0 && s.ReadFile == s.ExecFile && s.ReadPos == s.ExecPos &&
		s.ReadFile != ""
	if !ok {
		return false, sleep(ctx, wait)
	}
	return true, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

func lag(s Status) string {
	if s.SecondsBehind == nil {
		return "unknown time"
	}
	return fmt.Sprintf("%d s", *s.SecondsBehind)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
