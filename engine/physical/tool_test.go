package physical

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mybak/mybak/backup"
	"github.com/mybak/mybak/mysql"
	"github.com/mybak/mybak/trove"
)

// fakeTools puts executables named names on a PATH of their own.
func fakeTools(t *testing.T, names ...string) string {
	t.Helper()
	bin := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(bin, n), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	return bin
}

func TestEngineSourceOf(t *testing.T) {
	if troveMetaDatastore != trove.ManifestMetaDatastore {
		t.Fatalf("troveMetaDatastore %q is not trove.ManifestMetaDatastore %q", troveMetaDatastore, trove.ManifestMetaDatastore)
	}
	mybak := &backup.Manifest{Layout: backup.LayoutTrove, RawSHA256: "ab", Engine: backup.EngineInfo{Name: "mariabackup"}}
	withDS := &backup.Manifest{Layout: backup.LayoutTrove, Engine: backup.EngineInfo{Name: "mariabackup"}, Meta: map[string]string{trove.ManifestMetaDatastore: "mariadb"}}
	bare := &backup.Manifest{Layout: backup.LayoutTrove, Engine: backup.EngineInfo{Name: "xtrabackup"}, Meta: map[string]string{backup.MetaToLSN: "5"}}
	for _, tc := range []struct {
		m    *backup.Manifest
		sure bool
		why  string
	}{
		{mybak, true, "its manifest says engine=mariabackup"},
		{withDS, false, "Trove's Datastore metadata says mariadb, whose tool is mariabackup"},
		{bare, false, "assumed: Trove recorded no Datastore"},
	} {
		if got := engineSourceOf(tc.m); got.sure != tc.sure || !strings.Contains(got.why, tc.why) {
			t.Errorf("%+v: got %+v, want sure=%v and %q", tc.m, got, tc.sure, tc.why)
		}
	}
}

func TestToolBeforeExtract(t *testing.T) {
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	fakeTools(t, "mariabackup")
	if _, err := toolBeforeExtract(mysql.EngineXtrabackup, engineSource{why: "its manifest", sure: true}, log); !errors.Is(err, mysql.ErrToolNotFound) {
		t.Errorf("a sure engine whose tool is missing: %v, want it to fail before extracting", err)
	}
	if tool, err := toolBeforeExtract(mysql.EngineXtrabackup, engineSource{why: "assumed"}, log); err != nil || tool.Path != "" {
		t.Errorf("an assumed engine with mariabackup installed: %+v, %v: want the decision deferred", tool, err)
	}
	fakeTools(t)
	if _, err := toolBeforeExtract(mysql.EngineXtrabackup, engineSource{why: "assumed"}, log); !errors.Is(err, mysql.ErrToolNotFound) {
		t.Errorf("no physical tool at all: %v", err)
	}
}

func TestPrepareTool(t *testing.T) {
	assumed := engineSource{why: "assumed: Trove recorded no Datastore"}
	cases := []struct {
		name   string
		tools  []string
		files  map[string]string
		eng    mysql.Engine
		src    engineSource
		want   mysql.Engine
		log    string // in the log, or in the error when want is ""
		errIs  error
		warned bool
	}{
		{name: "the stream overrules an assumption", tools: []string{"mariabackup"}, files: map[string]string{"xtrabackup_info": "tool_name = mariabackup\ntool_version = 10.11.19-MariaDB\n"},
			eng: mysql.EngineXtrabackup, src: assumed, want: mysql.EngineMariabackup, warned: true,
			log: `msg="preparing with mariabackup (the stream's xtrabackup_info says tool_name=mariabackup)"`},
		{name: "the stream agrees with the manifest", tools: []string{"mariabackup", "xtrabackup"}, files: map[string]string{"xtrabackup_info": "tool_name = mariabackup\n"},
			eng: mysql.EngineMariabackup, src: engineSource{why: "its manifest says engine=mariabackup", sure: true}, want: mysql.EngineMariabackup,
			log: "preparing with mariabackup (the stream's xtrabackup_info says tool_name=mariabackup)"},
		{name: "no stream evidence: the metadata", tools: []string{"mariabackup"}, files: map[string]string{"ibdata1": "x"},
			eng: mysql.EngineMariabackup, src: engineSource{why: "Trove's Datastore metadata says mariadb, whose tool is mariabackup"}, want: mysql.EngineMariabackup,
			log: "preparing with mariabackup (Trove's Datastore metadata says mariadb, whose tool is mariabackup; the stream names no tool"},
		{name: "no evidence, the assumed tool missing", tools: []string{"mariabackup"}, files: map[string]string{"ibdata1": "x"},
			eng: mysql.EngineXtrabackup, src: assumed, errIs: mysql.ErrToolNotFound,
			log: "prepare the backup with xtrabackup (assumed: Trove recorded no Datastore; the stream names no tool"},
		{name: "the stream's tool missing", tools: []string{"mariabackup"}, files: map[string]string{"xtrabackup_info": "tool_name = xtrabackup\n"},
			eng: mysql.EngineXtrabackup, src: assumed, errIs: mysql.ErrToolNotFound,
			log: "prepare the backup with xtrabackup (the stream's xtrabackup_info says tool_name=xtrabackup): xtrabackup not found on PATH"},
		{name: "innobackupex's stream with xtrabackup only", tools: []string{"xtrabackup"}, files: map[string]string{"xtrabackup_info": "tool_name = innobackupex\n"},
			eng: mysql.EngineXtrabackup, src: assumed, want: mysql.EngineXtrabackup, warned: true,
			log: "preparing with xtrabackup (the stream's xtrabackup_info says tool_name=innobackupex)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bin := fakeTools(t, tc.tools...)
			dir := t.TempDir()
			for n, c := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			tool, err := prepareTool(dir, tc.eng, tc.src, slog.New(slog.NewTextHandler(&buf, nil)))
			if tc.want == "" {
				if !errors.Is(err, tc.errIs) || !strings.Contains(err.Error(), tc.log) {
					t.Errorf("got %+v, %v; want an error containing %q", tool, err, tc.log)
				}
				return
			}
			if err != nil || tool.Engine != tc.want || tool.Path != filepath.Join(bin, string(tc.want)) {
				t.Fatalf("got %+v, %v; want %s from %s", tool, err, tc.want, bin)
			}
			if !strings.Contains(buf.String(), tc.log) || strings.Contains(buf.String(), "level=WARN") != tc.warned {
				t.Errorf("log:\n%s\nwant %q (warned: %v)", buf.String(), tc.log, tc.warned)
			}
		})
	}
}
