package cli

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/ops"
)

// metricsFlag is on every command that reports metrics.
func metricsFlag() cli.Flag {
	return &cli.StringFlag{Name: "metrics-file", Usage: "write Prometheus text-format metrics here after the run (node_exporter textfile collector), atomically"}
}

func lockFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "lock-timeout", Usage: "how long to wait for another run of the same job (same storage, --name and server) to finish (default: do not wait, exit 4)"},
		&cli.BoolFlag{Name: "no-lock", Usage: "do not take the job lock"},
	}
}

// withOps wraps a command's action: the job lock for commands with
// lockFlags, and the metrics file for commands with metricsFlag, which is
// written whether the action succeeds or fails. Actions add engine and
// sizes to e.run.
func withOps(cmd *cli.Command, e *env) {
	has := map[string]bool{}
	for _, f := range cmd.Flags {
		has[f.Names()[0]] = true
	}
	action := cmd.Action
	cmd.Action = func(c *cli.Context) (err error) {
		e.run = &ops.Run{Command: cmd.Name, Storage: c.String("storage"), Label: c.String("name"), Start: time.Now()}
		if has["metrics-file"] && c.String("metrics-file") != "" {
			defer func() {
				if _, usage := err.(usageError); usage {
					return
				}
				e.run.Success, e.run.End = err == nil, time.Now()
				if merr := ops.WriteMetrics(c.String("metrics-file"), *e.run); merr != nil {
					e.log.Warn("could not write the metrics file", "err", merr)
				}
			}()
		}
		if has["no-lock"] && !c.Bool("no-lock") && c.String("resume") == "" {
			job := []string{cmd.Name, c.String("storage"), c.String("name"), c.String("engine"),
				c.String("host"), fmt.Sprint(c.Int("port")), c.String("socket")}
			desc := fmt.Sprintf("%s to %s", cmd.Name, c.String("storage"))
			if n := c.String("name"); n != "" {
				desc += " (--name " + n + ")"
			}
			dir, lerr := ops.LockDir()
			if lerr != nil {
				return fmt.Errorf("take the job lock: %w (or give --no-lock)", lerr)
			}
			lock, lerr := ops.AcquireLock(c.Context, ops.LockPath(dir, job...), desc, c.Duration("lock-timeout"))
			if lerr != nil {
				return lerr
			}
			defer lock.Unlock()
		}
		return action(c)
	}
}
