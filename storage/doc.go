// Package storage defines Backend, the small interface through which mybak
// stores and reads the objects of a backup; the optional capabilities a
// backend may declare; and the registry that opens a backend from the
// location a user writes (--storage).
//
// storage knows nothing about MySQL, compression or encryption: it moves
// named byte streams.
//
// # Stores
//
// Each store is a package below storage/ (local, swift) that implements
// Backend and registers a Factory for its URL scheme in an init function:
//
//	func init() { storage.Register("swift", OpenURL) }
//
// Open picks the factory by the location's scheme ("" for a plain
// directory) and passes it OpenOptions: whether it may create the store,
// the logger, and Settings, the values of the command line's store flags
// by name, which each factory reads itself. Errors of a wrong location or
// setting match ErrUsage. The cli links the stores it offers by importing
// their packages (cli/store.go) and knows nothing else about them.
//
// Adding a store (S3, say) is one package, storage/s3, with its Backend, a
// Factory registered for "s3", `storagetest.RunOptions` in its tests (with
// Options.Features listing the capabilities it declares), plus one line,
// its blank import, in cli/store.go; its flags go next to swiftFlags in the
// cli. A network store without retries of its own returns
// retry.New(backend, retry.Policy{...}) from its Factory.
//
// # Capabilities
//
// What only some stores can do is a named interface in capability.go
// (CheapRanges, ChecksParts, Multipart, PartStatter, UncommittedSweeper,
// StaleTempRemover, RetriesItself), found with As, which looks through
// decorators (backends with an Unwrap method, like storage/retry's), never
// with a type assertion on the Backend at hand, which a decorator would
// defeat without a word. Features lists what a backend declares.
//
// # Related packages
//
// storage/retry is the retry policy and the decorator that applies it to
// any Backend; storage/spool uploads a stream through Multipart from local
// files; storage/storagetest is the conformance suite every backend passes:
// the Backend contract and the contract of each capability it declares.
package storage
