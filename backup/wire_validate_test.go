package backup

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

// rawRecord frames one record as the wire format does (type, length,
// payload, CRC), whatever the payload: for streams no writer would make.
func rawRecord(typ byte, p []byte) []byte {
	var b bytes.Buffer
	b.WriteByte(typ)
	binary.Write(&b, binary.BigEndian, uint32(len(p)))
	b.Write(p)
	crc := crc32.NewIEEE()
	crc.Write([]byte{typ})
	crc.Write(p)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

func rawStream(header string, more ...[]byte) []byte {
	b := append([]byte(WireMagic), rawRecord('H', []byte(header))...)
	for _, m := range more {
		b = append(b, m...)
	}
	return b
}

// TestWireHeaderValidated is the regression test of issue 10's first
// finding: the header's id became the extract directory and the log path
// of make-replica --from-stdin, so "/../../../../etc/cron.d" planted files
// in /etc/cron.d. Every field of the header is now checked as it is read.
func TestWireHeaderValidated(t *testing.T) {
	good := `{"format_version":1,"id":"20261121T162435Z-3fa9c1","engine":"mariabackup","type":"full","compression":{"kind":"gzip"}}`
	if _, err := NewWireReader(bytes.NewReader(rawStream(good)), WireReadOptions{}); err != nil {
		t.Fatalf("a valid version 1 header is refused: %v", err)
	}
	for _, tc := range []struct{ name, header, want string }{
		{"id escapes", strings.Replace(good, `"20261121T162435Z-3fa9c1"`, `"/../../../../etc/cron.d"`, 1), "not a backup ID"},
		{"id with slash", strings.Replace(good, `"20261121T162435Z-3fa9c1"`, `"20261121T162435Z-3fa9c1/x"`, 1), "not a backup ID"},
		{"id empty", strings.Replace(good, `"20261121T162435Z-3fa9c1"`, `""`, 1), "not a backup ID"},
		{"engine unknown", strings.Replace(good, `"mariabackup"`, `"../../bin/sh"`, 1), "engine"},
		{"type incremental", strings.Replace(good, `"full"`, `"incremental"`, 1), "type"},
		{"compression unknown", strings.Replace(good, `"gzip"`, `"lz4"`, 1), "compression"},
		{"level out of range", strings.Replace(good, `"kind":"gzip"`, `"kind":"gzip","level":99999`, 1), "level"},
		{"cipher unknown", strings.Replace(good, `}}`, `},"encryption":{"cipher":"rot13"}}`, 1), "cipher"},
		{"kdf bad", strings.Replace(good, `}}`, `},"encryption":{"cipher":"aes-256-cbc","kdf":{"name":"pbkdf2","digest":"sha256","iter":-1}}}`, 1), "kdf"},
		{"unknown field", strings.Replace(good, `"type"`, `"extract_to":"/etc","type"`, 1), "unknown field"},
		{"version 0", strings.Replace(good, `"format_version":1`, `"format_version":0`, 1), "format version"},
		{"version future", strings.Replace(good, `"format_version":1`, `"format_version":99`, 1), "format version"},
		{"not json", `{"id":`, "header"},
		{"trailing json", good + `{}`, "header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWireReader(bytes.NewReader(rawStream(tc.header)), WireReadOptions{})
			if err == nil || !errors.Is(err, ErrWire) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Fatalf("header %s: got %v, want ErrWire mentioning %q", tc.header, err, tc.want)
			}
		})
	}
}

// TestWireRecordBounds: record lengths are bounded per type before
// anything is allocated, and a foreign record type is refused.
func TestWireRecordBounds(t *testing.T) {
	good := `{"format_version":1,"id":"20261121T162435Z-3fa9c1","engine":"stdin","type":"full","compression":{"kind":"none"}}`
	huge := func(typ byte, n uint32) []byte {
		b := []byte{typ, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], n)
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"header too large", append([]byte(WireMagic), huge('H', 1<<20)...), "header record of"},
		{"data too large", rawStream(good, huge('D', WireChunk+1)), "data record of"},
		{"error too large", rawStream(good, huge('E', 1<<20)), "error record of"},
		{"unknown type", rawStream(good, rawRecord('X', []byte("x"))), "unknown record type"},
		{"header twice", rawStream(good, rawRecord('H', []byte(good))), "unknown record type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			wr, err := NewWireReader(bytes.NewReader(tc.b), WireReadOptions{})
			if err == nil {
				_, err = wr.Read(make([]byte, 10))
			}
			if err == nil || !errors.Is(err, ErrWire) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrWire mentioning %q", err, tc.want)
			}
		})
	}
}
