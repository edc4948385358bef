package ops

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Run describes one finished run of a command for the metrics file.
type Run struct {
	Command string // backup, verify, drill, ...
	Engine  string
	Storage string
	Label   string
	Success bool
	Start   time.Time
	End     time.Time
	// Values are extra gauges, e.g. "raw_bytes", "stored_bytes"; each is
	// written as mybak_last_<name>.
	Values map[string]float64
	// Gauges describe the state of something rather than the last run
	// (the binary log archive's newest event); each is written as
	// mybak_<name>, its name as given.
	Gauges map[string]float64
}

const metricPrefix = "mybak_"

// WriteMetrics records r in the Prometheus text-format file at path (for
// node_exporter's textfile collector), atomically: a temp file renamed
// into place. Series of other commands, engines or stores already in the
// file are kept, and so is the last success time of this one when r
// failed, so one file can serve every job of a host.
func WriteMetrics(path string, r Run) error {
	labels := fmt.Sprintf(`command=%q,engine=%q,storage=%q,label=%q`,
		r.Command, r.Engine, r.Storage, r.Label)
	samples := map[string]map[string]string{} // metric -> labels -> value
	if old, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(old))
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name, rest, ok := strings.Cut(line, "{")
			lab, val, ok2 := strings.Cut(rest, "} ")
			if !ok || !ok2 || !strings.HasPrefix(name, metricPrefix) {
				continue
			}
			if samples[name] == nil {
				samples[name] = map[string]string{}
			}
			samples[name][lab] = val
		}
	} else if !os.IsNotExist(err) {
		return fmt.Errorf("read metrics file %s: %w", path, err)
	}
	set := func(name string, v float64) {
		name = metricPrefix + name
		if samples[name] == nil {
			samples[name] = map[string]string{}
		}
		samples[name][labels] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	ok := 0.0
	if r.Success {
		ok = 1
		set("last_success_timestamp_seconds", float64(r.End.UnixMilli())/1000)
	}
	set("last_run_timestamp_seconds", float64(r.End.UnixMilli())/1000)
	set("last_run_success", ok)
	set("last_run_duration_seconds", r.End.Sub(r.Start).Seconds())
	for k, v := range r.Values {
		set("last_"+k, v)
	}
	for k, v := range r.Gauges {
		set(k, v)
	}

	var buf bytes.Buffer
	names := make([]string, 0, len(samples))
	for n := range samples {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&buf, "# HELP %s %s\n# TYPE %s gauge\n", n, help(n), n)
		labs := make([]string, 0, len(samples[n]))
		for l := range samples[n] {
			labs = append(labs, l)
		}
		sort.Strings(labs)
		for _, l := range labs {
			fmt.Fprintf(&buf, "%s{%s} %s\n", n, l, samples[n][l])
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write metrics file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write metrics file %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write metrics file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write metrics file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write metrics file %s: %w", path, err)
	}
	return nil
}

func help(name string) string {
	switch strings.TrimPrefix(name, metricPrefix) {
	case "last_success_timestamp_seconds":
		return "Unix time of the last successful run."
	case "last_run_timestamp_seconds":
		return "Unix time of the last run, successful or not."
	case "last_run_success":
		return "1 if the last run succeeded, 0 if it failed."
	case "last_run_duration_seconds":
		return "Duration of the last run."
	case "binlog_last_event_timestamp_seconds":
		return "Unix time of the newest event in the binary log archive."
	case "binlog_archive_lag_seconds":
		return "Seconds between the newest archived event and the moment its piece was stored."
	case "binlog_window_start_timestamp_seconds":
		return "Unix time of the oldest event in the binary log archive."
	case "binlog_stored_bytes":
		return "Stored bytes of the newest piece of the binary log archive."
	}
	return "Value reported by the last run (" + strings.TrimPrefix(name, metricPrefix+"last_") + ")."
}
