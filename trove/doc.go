// Package trove maps the backups OpenStack Trove keeps in Swift onto
// mybak's model, so that mybak can list, verify and restore them straight
// from their container, and write backups that Trove's restore reads.
//
// # Trove's layout
//
// A backup is one object at the root of the container (database_backups
// by default), named after the backup's ID (a UUID):
// <id>.xbstream.gz.enc for the xtrabackup family, <id>.gz.enc for
// mysqldump; without ".enc" when Trove did not encrypt. Its bytes are
// `gzip | openssl enc -aes-256-cbc -salt` with a key derived by MD5
// (OpenSSL < 1.1.0), SHA-256 (1.1.0+) or PBKDF2-SHA512 10000 (Victoria);
// nothing records which, so restore detects it (stream.Decode with a nil
// KDF tries crypto.LegacyCandidates against the gzip magic). The key is
// the user's: Trove's default "default_aes_cbc_key" is never assumed.
//
// Large backups are cut into segments <id>_00000000, <id>_00000001, ...
// in the same container, joined by a Static Large Object manifest (or,
// before 2015, a Dynamic Large Object: an empty object with
// X-Object-Manifest: container/<id>_). One segment is copied to the
// object's name. Trove's checksum is the object's ETag: for a large object
// the MD5 of the concatenated hex MD5s of the segments ("etag of etags").
//
// Metadata headers X-Object-Meta-Lsn, -Parent-Location, -Parent-Checksum,
// -Datastore and -Datastore-Version describe the backup; a backup with a
// Parent-Location is an incremental of the backup stored there. Older
// releases did not put them on multi-segment backups: such a backup is
// taken to be a full one with unknown LSN.
//
// # The mapping
//
// Trove's layout is registered twice from this package's init: its naming
// (backup.RegisterLayout: IDs, <id>.mybak.json, <id>.mybak.started.json)
// and its repository (repo.Register under --layout trove). Repository is
// the repo.Repository the command line uses; the rest of mybak does not
// branch on the layout.
//
// Catalogue lists a container's Trove backups and synthesizes a
// backup.Manifest for each (Layout "trove", engine from the extension,
// gzip, encryption with no recorded KDF, the stored size and segments from
// Swift, no hashes of the original). A backup that mybak wrote in Trove's
// layout has its real manifest beside it as <id>.mybak.json (Trove ignores
// it), which Catalogue prefers. Store is the storage.Backend restore reads
// through: it streams a data object's segments checking each one's MD5.
// Writer is the backup.Writer that makes backup.Run write Trove's layout.
// Catalogue.Delete and Catalogue.Prune (with PlanPrune, mybak's retention
// rule) remove backups, Trove's included: the data object first, then its
// segments and <id>.mybak.json, so that an interrupted removal leaves an
// incomplete backup (segments without a data object, which prune removes
// once older than its grace period), never a complete-looking one.
package trove
