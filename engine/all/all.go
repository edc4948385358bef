// Package all registers every engine: import it for its side effect
// (the cli does) where backups are taken or restored by name.
package all

import (
	// The engines register themselves in their init functions.
	_ "github.com/mybak/mybak/engine/dump"
	_ "github.com/mybak/mybak/engine/logical"
	_ "github.com/mybak/mybak/engine/physical"
	_ "github.com/mybak/mybak/engine/stdin"
)
