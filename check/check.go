// Package check is the one report model of mybak's checks: preflight (can
// a backup of this server run?), verify (is a stored backup intact?),
// verify --drill (does it restore into a server that passes CHECK TABLE?)
// and binlog verify (is the binary log archive whole? pitr.ProblemResults).
//
// A check produces a Result: its name, a Status, a detail for the reader,
// how long it took, and, when it failed, whether the failure is damage of
// the backup (exit 3) or says that the check could not run (exit 1: the
// backup's state is unknown). Err turns a run's results into the run's
// error: that is the one place where a failure becomes ErrDamaged or not,
// and cli maps ErrDamaged to exit code 3.
//
// The commands print their results through one text printer and one JSON
// printer (print.go). Each command spells a status its own way in --json,
// as its documentation promises (preflight "fail", drill "failed", verify
// "ok": false): Style holds those spellings, so the model is one and the
// documented output stays what it was.
//
// Where to add a check: a preflight check is a method of
// backup.PreflightReport called from backup.Preflight; a verify check a
// Result added in verify.Run (a failure there is damage); a drill step a
// row of the step table in drill/steps.go (its name, what it needs, its
// function, and which of its failures are damage).
package check

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is how a check went.
type Status string

// The statuses of a check. The zero Status means "not set".
const (
	OK      Status = "ok"
	Warn    Status = "warn" // reported; does not fail the run
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// ErrDamaged is returned (wrapped) when a check found the backup damaged:
// the message lists the failed checks. Callers test it with errors.Is;
// the CLI exits 3 on it.
var ErrDamaged = errors.New("backup is damaged")

// Result is one check and how it went.
type Result struct {
	Name     string
	Status   Status
	Detail   string
	Duration time.Duration
	// Damage says what a Failed result means: damage of the backup when
	// true, otherwise that the check (or what it checks for, a backup in
	// preflight's case) could not run, which says nothing about the backup.
	Damage bool
	// Err is the error behind a Failed result (nil when it has none).
	Err error
}

// FromError returns the result of a check called name that returned err:
// OK when err is nil, else Failed with err's message as the detail and
// damage as what the failure means.
func FromError(name string, err error, damage bool) Result {
	if err == nil {
		return Result{Name: name, Status: OK}
	}
	return Result{Name: name, Status: Failed, Detail: err.Error(), Damage: damage, Err: err}
}

// Passed reports whether no result of rs failed (warnings pass).
func Passed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Failed {
			return false
		}
	}
	return true
}

// Failures returns the failed results of rs, in order.
func Failures(rs []Result) []Result {
	var f []Result
	for _, r := range rs {
		if r.Status == Failed {
			f = append(f, r)
		}
	}
	return f
}

// Find returns the result of rs called name, or nil.
func Find(rs []Result, name string) *Result {
	for i := range rs {
		if rs[i].Name == name {
			return &rs[i]
		}
	}
	return nil
}

// Err is the error that a run whose results are rs ends with, and the one
// place where a failure becomes damage or not:
//   - nil when no result failed;
//   - when a failed result is damage, an error wrapping ErrDamaged that
//     names every failed result ("name: detail; name: detail"), after what
//     when it is not empty ("backup is damaged: restore drill failed: ...");
//   - otherwise the Err of the first failed result (or its name and
//     detail): the run could not do its job, the backup's state is unknown.
func Err(rs []Result, what string) error {
	failed := Failures(rs)
	if len(failed) == 0 {
		return nil
	}
	damage := false
	msgs := make([]string, 0, len(failed))
	for _, r := range failed {
		damage = damage || r.Damage
		msgs = append(msgs, r.Name+": "+r.Detail)
	}
	if damage {
		if what != "" {
			what += ": "
		}
		return fmt.Errorf("%w: %s%s", ErrDamaged, what, strings.Join(msgs, "; "))
	}
	if failed[0].Err != nil {
		return failed[0].Err
	}
	return errors.New(msgs[0])
}
