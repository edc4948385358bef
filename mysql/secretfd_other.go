//go:build !linux

package mysql

import "os"

// defaultsReopen: without memfd (darwin) the child's defaults come through
// a pipe, which it can read once (see secretPipe, checkDefaultsReopen).
const defaultsReopen = false

// secretFD returns the child's defaults file where there is no memfd: a
// pipe holding content (secretPipe), never a file on disk. name is unused
// (a pipe has none).
func secretFD(_ string, content []byte) (*os.File, error) {
	return secretPipe(content)
}
