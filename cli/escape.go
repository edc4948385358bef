package cli

import "github.com/mybak/mybak/internal/textsafe"

// Text from a manifest, a Trove header, a backup's stream or a server is
// input from outside: every text printer of the CLI passes such values
// through printable (a value) or printableText (a sentence); see package
// textsafe for why.

// printable is textsafe.Value: s, or s quoted when it holds a character
// that is not printable.
func printable(s string) string { return textsafe.Value(s) }

// printableText is textsafe.Text: s on one line, escaped.
func printableText(s string) string { return textsafe.Text(s) }
