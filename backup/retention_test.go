package backup

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// at is a UTC time given as "2006-01-02 15:04".
func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// done is a complete backup started at start (UTC "2006-01-02 15:04"),
// of label@host, with a parent when parent is not empty. Its ID is
// derived from its start time and name, so catalogue order is time order.
func done(name, start, label, host, parent string) Entry {
	t := at(start)
	m := validManifest()
	m.ID = t.Format(idLayout) + "-" + name
	m.StartTime, m.EndTime = t, t.Add(time.Minute)
	m.Label, m.Host = label, host
	if parent != "" {
		m.Type, m.Parent = "incremental", parent
	}
	return Entry{ID: m.ID, State: StateComplete, Manifest: m, StoredBytes: 100, LastModified: m.EndTime}
}

// leftoverAt is an incomplete (or damaged) entry last modified at mod.
func leftoverAt(name, start, state string, mod time.Time) Entry {
	return Entry{ID: at(start).Format(idLayout) + "-" + name, State: state, LastModified: mod, StoredBytes: 7}
}

func ids(es ...Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestPlanRetention(t *testing.T) {
	now := at("2026-12-31 12:00")
	// One job over several weeks: two backups a day on some days.
	a1 := done("00000a", "2026-11-02 01:00", "db", "h1", "") // Monday, week 45
	a2 := done("00000b", "2026-11-15 01:00", "db", "h1", "") // Sunday, week 46
	a3 := done("00000c", "2026-11-16 01:00", "db", "h1", "") // Monday, week 47
	a4 := done("00000d", "2026-11-30 01:00", "db", "h1", "") // Monday, week 49
	a5 := done("00000e", "2026-11-30 13:00", "db", "h1", "")
	a6 := done("00000f", "2026-12-01 23:30", "db", "h1", "")
	a7 := done("000010", "2026-12-02 00:30", "db", "h1", "")
	// The ISO week of 2026-12-31 (Thursday) holds 2027-01-01..03.
	y1 := done("000020", "2026-12-28 01:00", "db", "h1", "") // Monday, 2026-W53
	y2 := done("000021", "2027-01-03 01:00", "db", "h1", "") // Sunday, 2026-W53
	y3 := done("000022", "2027-01-04 01:00", "db", "h1", "") // Monday, 2027-W01

	// A chain: full, incremental, incremental.
	f := done("000030", "2026-12-01 01:00", "db", "h1", "")
	i1 := done("000031", "2026-12-02 01:00", "db", "h1", f.ID)
	i2 := done("000032", "2026-12-03 01:00", "db", "h1", i1.ID)
	// Another job on the same host, and the same label on another host.
	o1 := done("000040", "2026-12-01 02:00", "web", "h1", "")
	o2 := done("000041", "2026-12-02 02:00", "web", "h1", "")
	h1 := done("000050", "2026-12-01 03:00", "db", "h2", "")
	h2 := done("000051", "2026-12-02 03:00", "db", "h2", "")

	type want struct {
		keep, remove, stale, young, live, needed, other []string
		reasons                                         map[string]string // ID -> reasons joined by ", "
	}
	tests := []struct {
		name    string
		entries []Entry
		opts    RetentionOptions
		want    want
	}{
		{
			name:    "keep-last counts each job on its own",
			entries: []Entry{o1, h1, a6, o2, h2, a7},
			opts:    RetentionOptions{Policy: Policy{Last: 1}},
			want:    want{keep: ids(o2, h2, a7), remove: ids(o1, h1, a6)},
		},
		{
			name:    "keep-daily: the newest of each UTC day with a backup; empty days do not count",
			entries: []Entry{a1, a2, a3, a4, a5, a6, a7},
			opts:    RetentionOptions{Policy: Policy{Daily: 3}},
			want: want{keep: ids(a5, a6, a7), remove: ids(a1, a2, a3, a4),
				reasons: map[string]string{a5.ID: "daily 2026-11-30", a6.ID: "daily 2026-12-01", a7.ID: "daily 2026-12-02"}},
		},
		{
			name: "days are UTC, whatever zone the start time is in",
			entries: func() []Entry {
				x, y := a6, a7
				zone := time.FixedZone("UTC+2", 2*3600)
				mx, my := *x.Manifest, *y.Manifest
				mx.StartTime, my.StartTime = mx.StartTime.In(zone), my.StartTime.In(zone) // both 2026-12-02 local
				x.Manifest, y.Manifest = &mx, &my
				return []Entry{x, y}
			}(),
			opts: RetentionOptions{Policy: Policy{Daily: 2}},
			want: want{keep: ids(a6, a7)},
		},
		{
			name:    "keep-weekly: ISO weeks start on Monday",
			entries: []Entry{a1, a2, a3, a4, a5, a6, a7},
			opts:    RetentionOptions{Policy: Policy{Weekly: 3}},
			want: want{keep: ids(a2, a3, a7), remove: ids(a1, a4, a5, a6),
				reasons: map[string]string{a7.ID: "weekly 2026-W49", a3.ID: "weekly 2026-W47", a2.ID: "weekly 2026-W46"}},
		},
		{
			name:    "keep-weekly across a new year: 2027-01-03 is in 2026-W53",
			entries: []Entry{y1, y2, y3},
			opts:    RetentionOptions{Policy: Policy{Weekly: 2}},
			want:    want{keep: ids(y2, y3), remove: ids(y1), reasons: map[string]string{y2.ID: "weekly 2026-W53", y3.ID: "weekly 2027-W01"}},
		},
		{
			name:    "keep-monthly and keep-yearly",
			entries: []Entry{a1, a5, a7, y1, y2, y3},
			opts:    RetentionOptions{Policy: Policy{Monthly: 2, Yearly: 2}},
			want: want{keep: ids(y1, y3), remove: ids(a1, a5, a7, y2),
				reasons: map[string]string{y3.ID: "monthly 2027-01, yearly 2027", y1.ID: "monthly 2026-12, yearly 2026"}},
		},
		{
			name:    "keep-within counts from the newest backup, not from now, and includes its boundary",
			entries: []Entry{a4, a5, a6, a7},
			opts:    RetentionOptions{Policy: Policy{Within: a7.Manifest.StartTime.Sub(a5.Manifest.StartTime)}, Now: now},
			want:    want{keep: ids(a5, a6, a7), remove: ids(a4)},
		},
		{
			name:    "rules add up and each says why",
			entries: []Entry{a1, a2, a3, a4, a5, a6, a7},
			opts:    RetentionOptions{Policy: Policy{Last: 2, Daily: 2, Monthly: 2}},
			want: want{keep: ids(a5, a6, a7), remove: ids(a1, a2, a3, a4),
				reasons: map[string]string{a7.ID: "last 1, daily 2026-12-02, monthly 2026-12", a6.ID: "last 2, daily 2026-12-01",
					a5.ID: "monthly 2026-11"}},
		},
		{
			name:    "a kept incremental keeps its whole chain",
			entries: []Entry{a1, f, i1, i2},
			opts:    RetentionOptions{Policy: Policy{Last: 1}},
			want: want{keep: ids(f, i1, i2), remove: ids(a1),
				reasons: map[string]string{i2.ID: "last 1", i1.ID: "parent of " + i2.ID, f.ID: "parent of " + i2.ID}},
		},
		{
			name:    "a removed chain goes whole",
			entries: []Entry{f, i1, i2, y1},
			opts:    RetentionOptions{Policy: Policy{Last: 1}},
			want:    want{keep: ids(y1), remove: ids(f, i1, i2)},
		},
		{
			name: "a parent in another job is kept for the chain",
			entries: func() []Entry {
				child := done("000060", "2026-12-05 01:00", "web", "h1", f.ID)
				return []Entry{f, child}
			}(),
			opts: RetentionOptions{Policy: Policy{Last: 1}},
			want: want{keep: []string{f.ID, at("2026-12-05 01:00").Format(idLayout) + "-000060"}},
		},
		{
			name:    "--name: other jobs are left alone, and so are the chains they need",
			entries: []Entry{f, o1, o2, func() Entry { e := done("000061", "2026-12-06 01:00", "web", "h1", f.ID); return e }()},
			opts:    RetentionOptions{Policy: Policy{Last: 1}, Label: ptr("db")},
			want: want{keep: ids(f), other: []string{o1.ID, o2.ID, at("2026-12-06 01:00").Format(idLayout) + "-000061"},
				reasons: map[string]string{f.ID: "last 1"}},
		},
		{
			name:    "--name of a job with older backups",
			entries: []Entry{o1, a6, o2, a7},
			opts:    RetentionOptions{Policy: Policy{Last: 1}, Label: ptr("web")},
			want:    want{keep: ids(o2), remove: ids(o1), other: ids(a6, a7)},
		},
		{
			name: "leftovers: stale after grace, young within, live whatever their age, needed when a kept chain names them",
			entries: []Entry{
				leftoverAt("0000a1", "2026-11-01 00:00", StateIncomplete, now.Add(-48*time.Hour)),
				leftoverAt("0000a2", "2026-11-01 00:00", StateDamaged, now.Add(-48*time.Hour)),
				leftoverAt("0000a3", "2026-11-01 00:00", StateIncomplete, now.Add(-48*time.Hour)),
				leftoverAt("0000a4", "2026-11-01 00:00", StateIncomplete, now.Add(-time.Hour)),
				leftoverAt("0000a5", "2026-11-01 00:00", StateDamaged, now.Add(-48*time.Hour)),
				done("0000a6", "2026-11-02 00:00", "db", "h1", at("2026-11-01 00:00").Format(idLayout)+"-0000a5"),
			},
			opts: RetentionOptions{Policy: Policy{Last: 1}, Grace: 24 * time.Hour, Now: now,
				Live: map[string]string{at("2026-11-01 00:00").Format(idLayout) + "-0000a3": "pid 1 on h1 is writing it"}},
			want: want{
				keep:   []string{at("2026-11-02 00:00").Format(idLayout) + "-0000a6"},
				stale:  []string{at("2026-11-01 00:00").Format(idLayout) + "-0000a1", at("2026-11-01 00:00").Format(idLayout) + "-0000a2"},
				live:   []string{at("2026-11-01 00:00").Format(idLayout) + "-0000a3"},
				young:  []string{at("2026-11-01 00:00").Format(idLayout) + "-0000a4"},
				needed: []string{at("2026-11-01 00:00").Format(idLayout) + "-0000a5"},
			},
		},
		{
			name:    "only complete backups count: a leftover between them does not use up keep-last",
			entries: []Entry{a5, leftoverAt("0000b1", "2026-12-01 00:00", StateIncomplete, now), a6, a7},
			opts:    RetentionOptions{Policy: Policy{Last: 2}, Grace: time.Hour, Now: now},
			want:    want{keep: ids(a6, a7), remove: ids(a5), young: []string{at("2026-12-01 00:00").Format(idLayout) + "-0000b1"}},
		},
		{
			name: "a chain that loops ends",
			entries: func() []Entry {
				x := done("0000c1", "2026-12-01 00:00", "db", "h1", "")
				y := done("0000c2", "2026-12-02 00:00", "db", "h1", x.ID)
				x.Manifest.Type, x.Manifest.Parent = "incremental", y.ID
				return []Entry{x, y}
			}(),
			opts: RetentionOptions{Policy: Policy{Last: 1}},
			want: want{keep: []string{at("2026-12-01 00:00").Format(idLayout) + "-0000c1", at("2026-12-02 00:00").Format(idLayout) + "-0000c2"}},
		},
		{
			name:    "one start time: the later in the catalogue is the newer",
			entries: []Entry{done("0000d1", "2026-12-01 00:00", "", "", ""), done("0000d2", "2026-12-01 00:00", "", "", "")},
			opts:    RetentionOptions{Policy: Policy{Last: 1}},
			want:    want{keep: []string{at("2026-12-01 00:00").Format(idLayout) + "-0000d2"}, remove: []string{at("2026-12-01 00:00").Format(idLayout) + "-0000d1"}},
		},
		{
			name:    "no policy removes nothing",
			entries: []Entry{a1, a2},
			opts:    RetentionOptions{},
			want:    want{keep: ids(a1, a2)},
		},
		{
			name:    "more to keep than there are",
			entries: []Entry{a1, a2},
			opts:    RetentionOptions{Policy: Policy{Last: 5, Daily: 5, Weekly: 5, Monthly: 5, Yearly: 5, Within: 1000 * time.Hour}},
			want:    want{keep: ids(a1, a2)},
		},
		{
			name: "an empty store",
			opts: RetentionOptions{Policy: Policy{Last: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := PlanRetention(tt.entries, tt.opts)
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"keep", plan.Keep, tt.want.keep}, {"remove", plan.Remove, tt.want.remove}, {"stale", plan.Stale, tt.want.stale},
				{"young", plan.Young, tt.want.young}, {"live", plan.Live, tt.want.live}, {"needed", plan.Needed, tt.want.needed},
				{"other", plan.Other, tt.want.other},
			} {
				if len(c.got) != 0 || len(c.want) != 0 {
					if !reflect.DeepEqual(c.got, c.want) {
						t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
					}
				}
			}
			for id, want := range tt.want.reasons {
				if got := strings.Join(plan.Reasons[id], ", "); got != want {
					t.Errorf("reasons of %s = %q, want %q", id, got, want)
				}
			}
			// Every entry is in exactly one list.
			n := len(plan.Keep) + len(plan.Remove) + len(plan.Stale) + len(plan.Young) + len(plan.Live) + len(plan.Needed) + len(plan.Other)
			if n != len(tt.entries) {
				t.Errorf("the plan places %d entries, the catalogue has %d: %+v", n, len(tt.entries), plan)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestPruneSummary(t *testing.T) {
	now := at("2026-12-31 12:00")
	a, b, c := done("000001", "2026-12-01 00:00", "", "", ""), done("000002", "2026-12-02 00:00", "", "", ""), done("000003", "2026-12-03 00:00", "", "", "")
	b.StoredBytes, c.StoredBytes = 2000, 30000
	old := leftoverAt("000004", "2026-11-01 00:00", StateIncomplete, now.Add(-48*time.Hour))
	young := leftoverAt("000005", "2026-12-31 00:00", StateIncomplete, now)
	entries := []Entry{old, a, b, c, young}
	plan := PlanRetention(entries, RetentionOptions{Policy: Policy{Last: 1}, Grace: time.Hour, Now: now})
	got := plan.Summary(entries)
	want := PruneSummary{Kept: 1, KeptBytes: 30000, Removed: 2, Leftovers: 1, RemovedBytes: 100 + 2000 + 7, Pending: 1}
	if got != want {
		t.Errorf("Summary = %+v, want %+v", got, want)
	}
}

func TestPolicyString(t *testing.T) {
	p := Policy{Last: 3, Weekly: 4, Within: 36 * time.Hour}
	if got, want := p.String(), "--keep-last 3 --keep-weekly 4 --keep-within 36h0m0s"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if !(Policy{}).Empty() || p.Empty() || !(Policy{Last: -1}).Empty() {
		t.Error("Empty is wrong")
	}
}

func TestResolveIDs(t *testing.T) {
	f := done("000001", "2026-12-01 00:00", "", "", "")
	i1 := done("000002", "2026-12-02 00:00", "", "", f.ID)
	i2 := done("000003", "2026-12-03 00:00", "", "", i1.ID)
	g := done("000004", "2026-12-04 00:00", "", "", "")
	left := leftoverAt("000005", "2026-12-05 00:00", StateIncomplete, time.Time{})
	entries := []Entry{f, i1, i2, g, left}
	missing := "20200101T000000Z-abcdef"
	for _, tc := range []struct {
		name    string
		entries []Entry
		refs    []string
		cascade bool
		want    []string
		err     error
		errSubs []string
	}{
		{name: "latest is the newest complete backup, not a leftover", entries: entries, refs: []string{"latest"}, want: ids(g)},
		{name: "several, newest first", entries: entries, refs: []string{g.ID, i2.ID}, want: ids(i2, g)},
		{name: "a chain named whole needs no cascade, children first", entries: entries, refs: []string{f.ID, i2.ID, i1.ID}, want: ids(i2, i1, f)},
		{name: "the same backup twice", entries: entries, refs: []string{g.ID, "latest"}, want: ids(g)},
		{name: "a leftover", entries: entries, refs: []string{left.ID}, want: ids(left)},
		{name: "a parent without cascade refuses the whole request", entries: entries, refs: []string{g.ID, i1.ID},
			err: ErrHasDependents, errSubs: []string{i1.ID + " (needed by " + i2.ID + ")", "nothing deleted", "--cascade"}},
		{name: "a parent with cascade", entries: entries, refs: []string{f.ID}, cascade: true, want: ids(i2, i1, f)},
		{name: "one missing refuses the whole request", entries: entries, refs: []string{g.ID, missing},
			err: ErrNoBackup, errSubs: []string{"no backup " + missing + " in /store", "nothing deleted", "`mybak list --storage /store` shows what there is"}},
		{name: "latest of a store without a complete backup", entries: []Entry{left}, refs: []string{"latest"},
			err: ErrNoBackup, errSubs: []string{"none is latest", "mybak list --storage /store"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveIDs(tc.entries, tc.refs, tc.cascade, ownLayout{}, "/store")
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				for _, s := range tc.errSubs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ResolveIDs = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
