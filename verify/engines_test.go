package verify

// The engines register themselves: Run finds a backup's engine (its chain
// check, its content check) from the manifest, as in the cli.
import _ "github.com/mybak/mybak/engine/all"
