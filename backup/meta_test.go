package backup

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFreeSpace(t *testing.T) {
	dir := t.TempDir()
	n, err := freeSpace(filepath.Join(dir, "not", "yet", "there"))
	if err != nil || n <= 0 {
		t.Errorf("freeSpace of a missing path: %d, %v", n, err)
	}
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	if n, err := freeSpace("relative/missing"); err != nil || n <= 0 {
		t.Errorf("freeSpace of a relative path: %d, %v", n, err)
	}
}
