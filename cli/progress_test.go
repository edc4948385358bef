package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mybak/mybak/backup"
)

// TestProgressFields: a progress line names the backup, the time elapsed,
// the bytes, a rounded rate and, with a known size, the percentage and ETA.
func TestProgressFields(t *testing.T) {
	p := &progress{total: 400 << 20}
	p.SetID("20261203T010000Z-abcdef")
	p.n.Store(100 << 20)
	got := fmt.Sprint(p.fields(10 * time.Second))
	for _, want := range []string{"id 20261203T010000Z-abcdef", "elapsed 10s", "bytes 104857600", "size 100.0 MiB",
		"rate 10.0 MiB/s", "percent 25", "eta 30s"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress fields %s lack %q", got, want)
		}
	}
	unknown := &progress{total: -1}
	unknown.n.Store(5 << 20)
	if got := fmt.Sprint(unknown.fields(time.Second)); strings.Contains(got, "eta") || strings.Contains(got, "percent") || strings.Contains(got, " id ") {
		t.Errorf("unknown size or ID: %s", got)
	}
}

func TestCompleteFields(t *testing.T) {
	start := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	m := &backup.Manifest{ID: "x", RawSize: 300 << 20, StoredSize: 100 << 20, StartTime: start, EndTime: start.Add(10 * time.Second),
		Meta: map[string]string{backup.MetaBinlogFile: "bin.000007", backup.MetaBinlogPos: "1234", backup.MetaGTID: "0-1-99"}}
	m.Engine.Name = "mariabackup"
	got := fmt.Sprint(completeFields(m))
	for _, want := range []string{"rate 30.0 MiB/s", "ratio 3", "binlog_file bin.000007", "binlog_pos 1234", "gtid 0-1-99", "seconds 10"} {
		if !strings.Contains(got, want) {
			t.Errorf("backup complete fields %s lack %q", got, want)
		}
	}
}
