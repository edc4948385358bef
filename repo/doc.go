// Package repo is the one seam between mybak's commands and the layouts
// a store's backups can be kept in: mybak's own (this package, on top of
// package backup's catalogue) and OpenStack Trove's (package trove). A
// Repository lists a store's backups with their states, resolves ID|latest,
// walks a chain, opens a backup's data, checks a stored object, deletes and prunes (one Removal
// type for both), validates IDs, says what is there of a backup that is
// not complete, and hands backup.Run the Writer of its layout.
//
// Layouts register a Kind (Register) under the value of --layout that
// selects them; the command line looks the flag up (Lookup) and opens the
// store as a repository once. Nothing outside a layout's package branches
// on which layout it is.
//
// Adding a layout: a package that implements backup.Layout (how the
// layout names objects; backup.RegisterLayout) and Repository, and
// registers its Kind from init; the command line imports it for that
// side effect.
package repo
