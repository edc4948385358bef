package backup

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mybak/mybak/stream"
	"github.com/mybak/mybak/xbstream"
)

// TestToolStreamUnsafeNames: a tool stream naming a file outside the
// extract dir (or a file that is also a directory) fails the backup like a
// damaged one, so that no backup holds a stream restore must refuse.
func TestToolStreamUnsafeNames(t *testing.T) {
	for _, name := range []string{"../escaped.txt", "/etc/cron.d/x", "ibdata1/x", "db/t.ibd\x00"} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			b.Write(goodXbstream(t))
			xbstream.NewWriter(&b).WriteFile(name, strings.NewReader("planted"))
			st := newStore(t)
			_, err := Run(context.Background(), Options{Store: st, Engine: xbEngine{b.Bytes()},
				Encode: stream.EncodeOptions{Compression: stream.Compression{Kind: stream.None}}})
			if !errors.Is(err, ErrToolStream) || !errors.Is(err, xbstream.ErrUnsafePath) {
				t.Fatalf("backup of a stream naming %q: %v, want ErrToolStream (unsafe name)", name, err)
			}
			if entries, lerr := Catalogue(context.Background(), st); lerr != nil || len(entries) != 0 {
				t.Errorf("the store holds %v (%v) after the failed backup", entries, lerr)
			}
		})
	}
}
