package backup

import (
	"context"
	"fmt"
	"io"
)

// StdinEngine backs up whatever its reader yields (standard input for the
// `stdin` engine): a dump, a file, any stream. The stream is complete when
// the reader reaches io.EOF.
type StdinEngine struct {
	R io.Reader
}

// Name implements Engine.
func (StdinEngine) Name() string { return "stdin" }

// Extension implements Engine.
func (StdinEngine) Extension() string { return "" }

// Run copies the reader to w. A blocked read of a terminal or pipe cannot
// be interrupted, so on cancellation Run returns at once and leaves the
// read to finish with the process.
func (e StdinEngine) Run(ctx context.Context, w io.Writer, parent *Manifest) (EngineResult, error) {
	if parent != nil {
		return EngineResult{}, fmt.Errorf("the stdin engine cannot take incremental backups")
	}
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		_, err := io.CopyBuffer(w, onlyReader{e.R}, buf)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return EngineResult{}, fmt.Errorf("copy standard input: %w", err)
		}
		return EngineResult{}, nil
	case <-ctx.Done():
		return EngineResult{}, ctx.Err()
	}
}

// onlyReader hides WriterTo/ReaderFrom so CopyBuffer uses our buffer.
type onlyReader struct{ io.Reader }
