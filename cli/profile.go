package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of the whole run to the file named by
// MYBAK_CPU_PROFILE, when set: for finding where a slow backup spends its
// time (go tool pprof mybak FILE). It returns the function that ends the
// profile.
func startProfile(stderr io.Writer) func() {
	path := os.Getenv("MYBAK_CPU_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "mybak: MYBAK_CPU_PROFILE: %v (no profile written)\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "mybak: MYBAK_CPU_PROFILE: %v (no profile written)\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "mybak: MYBAK_CPU_PROFILE: %v\n", err)
		}
	}
}
