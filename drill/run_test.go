package drill

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mybak/mybak/check"
	"github.com/mybak/mybak/mysql"
)

// TestRunSortsFailures: the step runner is where a failure becomes damage
// (the drill stops with check.ErrDamaged naming every failed step) or a
// drill that could not run (it stops with the step's own error), and
// where the checks of the restored server go on after a failure.
func TestRunSortsFailures(t *testing.T) {
	toolMissing := errors.New("no mariadb-install-db: " + mysql.ErrToolNotFound.Error())
	fail := func(err error) func(*drill, context.Context) (check.Status, string, error) {
		return func(*drill, context.Context) (check.Status, string, error) { return "", "", err }
	}
	for _, tc := range []struct {
		name     string
		step     step
		cancel   bool
		stop     bool   // the drill stops after the step
		damage   bool   // the error wraps check.ErrDamaged
		want     string // in the error
		status   check.Status
		isDamage bool // the step's result is damage
	}{
		{"ok", step{name: "s", run: func(*drill, context.Context) (check.Status, string, error) { return check.OK, "fine", nil }},
			false, false, false, "", check.OK, false},
		{"warning goes on", step{name: "s", run: func(*drill, context.Context) (check.Status, string, error) { return check.Warn, "hm", nil }},
			false, false, false, "", check.Warn, false},
		{"could not run", step{name: "server binary", run: fail(toolMissing)}, false, true, false, "no mariadb-install-db", check.Failed, false},
		{"damage", step{name: "restore", run: fail(&mysql.ExitError{Tool: "mariabackup", ExitCode: 1}), damage: restoreDamage},
			false, true, true, "restore drill failed: restore: mariabackup exited with status 1", check.Failed, true},
		{"a missing tool in a damage step is not damage", step{name: "restore", run: fail(mysql.ErrToolNotFound), damage: restoreDamage},
			false, true, false, "not found", check.Failed, false},
		{"no room at start is not damage", step{name: "start server", run: fail(noRoom{errors.New("ran out of space")}), damage: startDamage},
			false, true, false, "ran out of space", check.Failed, false},
		{"a server that does not start is damage", step{name: "start server", run: fail(errors.New("exited during start-up")), damage: startDamage},
			false, true, true, "start server: exited during start-up", check.Failed, true},
		{"checks go on after damage", step{name: "check tables", run: fail(errors.New("CHECK TABLE failed")), damage: always, goOn: true},
			false, false, false, "", check.Failed, true},
		{"interrupted is never damage", step{name: "start server", run: fail(context.Canceled), damage: always},
			true, true, false, "canceled", check.Failed, false},
		{"interrupted checks stop", step{name: "check tables", run: fail(context.Canceled), damage: always, goOn: true},
			true, true, false, "canceled", check.Failed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			d := newDrill(nil, "x", Options{})
			err := d.run(ctx, tc.step)
			if (err != nil) != tc.stop || errors.Is(err, check.ErrDamaged) != tc.damage || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("run: %v; want stop %v, damage %v, containing %q", err, tc.stop, tc.damage, tc.want)
			}
			r := d.rep.Step(tc.step.name)
			if r == nil || r.Status != tc.status || r.Damage != tc.isDamage {
				t.Fatalf("result %+v, want %s, damage %v", r, tc.status, tc.isDamage)
			}
			if tc.step.goOn && !tc.cancel && !errors.Is(d.rep.failed(), check.ErrDamaged) {
				t.Fatalf("a failed check that goes on is not in the report's error: %v", d.rep.failed())
			}
		})
	}
}
