package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// signalError is the cause of the root context's cancellation by a signal.
// It is context.Canceled to errors.Is, so that an interrupted command
// exits ExitSignal however its error is wrapped.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string        { return fmt.Sprintf("interrupted by %v", e.sig) }
func (e signalError) Is(target error) bool { return target == context.Canceled }

// signalContext returns the root context of a run: the first SIGINT or
// SIGTERM cancels it (the command stops and cleans up: a backup removes
// its objects, a drill stops its server) and says so on stderr; a second
// one ends the process at once with ExitSignal, without cleanup, for when
// the cleanup itself hangs (a write to a pipe nobody reads, a store that
// does not answer). stop releases the signals.
func signalContext(stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		fmt.Fprintf(stderr, "mybak: %v: stopping and cleaning up; send it again (Ctrl-C) to exit at once without cleanup\n", sig)
		cancel(signalError{sig})
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		fmt.Fprintf(stderr, "mybak: %v again: exiting at once, without cleanup\n", sig)
		os.Exit(ExitSignal) // the one exit outside Main: what it would wait for hangs
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}
