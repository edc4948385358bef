package cli

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mybak/mybak/storage"
)

// openSwift opens a swift:// store.
func openSwift(ctx context.Context, c *cli.Context, loc string) (storage.Backend, error) {
	return nil, fmt.Errorf("--storage %s: Swift storage is not available in this build yet", loc)
}
