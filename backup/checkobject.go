package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mybak/mybak/storage"
)

// CheckObject compares the stored object name with its manifest record o:
// presence, size, and a hash: the parts' MD5s where the store can check
// them without a download, the backend's MD5 when it reports one, else
// SHA-256 of the bytes read back. It returns nil for an intact object and
// an error that says what is wrong otherwise ("missing", the sizes or
// hashes that differ), or why the object could not be read.
func CheckObject(ctx context.Context, st storage.Backend, name string, o Object) error {
	oi, err := st.Stat(ctx, name)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return errors.New("missing")
		}
		return err
	}
	if oi.Size != o.Size {
		return fmt.Errorf("size %d, manifest says %d", oi.Size, o.Size)
	}
	if ps, ok := storage.As[storage.PartStatter](st); ok && len(o.Parts) > 0 {
		if err := ps.StatParts(ctx, o.Parts); err != nil {
			return err
		}
		return nil
	}
	if oi.MD5 != "" && o.MD5 != "" && len(o.Parts) == 0 {
		if !strings.EqualFold(oi.MD5, o.MD5) {
			return fmt.Errorf("md5 %s, manifest says %s", oi.MD5, o.MD5)
		}
		return nil
	}
	if o.SHA256 == "" {
		return nil
	}
	rc, err := st.Get(ctx, name, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, rc, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if n != o.Size {
		return fmt.Errorf("read %d bytes, manifest says %d", n, o.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != o.SHA256 {
		return fmt.Errorf("sha256 %s, manifest says %s", got, o.SHA256)
	}
	return nil
}
