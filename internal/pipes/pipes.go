// Package pipes enlarges the kernel buffer of the pipes a backup streams
// through (a tool's standard output, mybak's standard input).
//
// A Linux pipe holds 64 KiB by default: a tool writing 10 MiB xbstream
// chunks, or cat feeding standard input, then wakes the reader and blocks
// every 64 KiB, thousands of context switches per gigabyte on each side.
// With 1 MiB (the default /proc/sys/fs/pipe-max-size, allowed to any
// user) each wake-up moves sixteen times as much.
package pipes

import "os"

// Size is the buffer Grow asks for.
const Size = 1 << 20

// Grow asks the kernel for a Size-byte buffer on f when f is a pipe. It
// does nothing elsewhere (files, terminals, sockets; other systems) and
// ignores refusals: a larger buffer is an optimization, never needed.
func Grow(f *os.File) {
	if f == nil {
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	grow(f)
}
