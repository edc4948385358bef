// Package local implements storage.Backend on a local directory; it is
// mybak's default store. storage.Open opens it from a plain path or a
// file:///path URL (OpenPath, OpenFileURL in register.go). It declares the
// capabilities storage.CheapRanges and storage.StaleTempRemover.
//
// An object name maps to a file below the directory: "ID/manifest.json" is
// DIR/ID/manifest.json. Files are created 0600 and directories 0700.
//
// Put writes to a temporary file in DIR/.mybak-tmp/, fsyncs it, renames it
// into place (creating parent directories) and fsyncs the directory that
// received it, so a crash at any moment leaves either the old object, the
// new one, or an invisible temporary file; never a file under the object's
// name that looks finished but is not. Because replacing is a rename, a
// reader that opened the object before a Put replaced it keeps reading the
// old content wholly.
//
// Temporary files of a process killed with kill -9 (or of a crash) stay in
// DIR/.mybak-tmp/; Backend.RemoveStaleTemp deletes them and prune calls it.
// The first path element ".mybak-tmp" is reserved: names starting with it
// are rejected with storage.ErrInvalidName.
//
// Limits of a file system compared with an object store: a name cannot be
// both an object and a prefix of other objects ("a" and "a/b"); Put of the
// second one fails. Objects are regular files: List, Get, Stat and Delete
// ignore symbolic links, other file types, and files whose names
// storage.ValidateName rejects. All access goes through an os.Root, so no
// name and no symbolic link inside DIR can make mybak read or write outside
// DIR.
package local
