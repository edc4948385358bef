package local

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// explain's advice for the errors a human must fix, without having to
// provoke each of them on a real file system.
func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		errno syscall.Errno
		want  string
	}{
		{syscall.ENOSPC, "no space left on device writing /st/ID/x: free space or choose another --storage"},
		{syscall.EDQUOT, "disk quota exceeded writing /st/ID/x: free space, raise the quota or choose another --storage"},
		{syscall.EROFS, "/st/ID/x is on a read-only file system: remount it read-write or choose another --storage"},
		{syscall.EACCES, "permission denied on /st/ID/x: give the user running mybak access to it or choose another --storage"},
		{syscall.EPERM, "permission denied on /st/ID/x"},
		{syscall.EIO, `put "ID/x": write /st/ID/x: input/output error`},
	} {
		cause := &fs.PathError{Op: "write", Path: "/st/ID/x", Err: tc.errno}
		err := explain(`put "ID/x"`, "/st/ID/x", cause)
		if !errors.Is(err, tc.errno) {
			t.Errorf("%v: error %q does not wrap the cause", tc.errno, err)
		}
		if !strings.HasPrefix(err.Error(), `put "ID/x": `) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %q, want it to contain %q", tc.errno, err, tc.want)
		}
	}
}
