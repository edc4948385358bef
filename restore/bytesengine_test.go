package restore

import (
	"context"
	"io"

	"github.com/mybak/mybak/backup"
)

// bytesEngine is an engine named name whose stream is data.
type bytesEngine struct {
	name string
	data []byte
}

func (e bytesEngine) Name() string      { return e.name }
func (e bytesEngine) Extension() string { return "" }
func (e bytesEngine) Run(_ context.Context, w io.Writer, _ *backup.Manifest) (backup.EngineResult, error) {
	_, err := w.Write(e.data)
	return backup.EngineResult{}, err
}
