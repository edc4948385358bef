// Package crypto reads and writes the OpenSSL `enc` file format for
// AES-256-CBC, byte for byte what
//
//	openssl enc -aes-256-cbc -salt [-pbkdf2 [-iter N]] [-md DIGEST] -pass file:FILE
//
// writes and reads: the 8 bytes "Salted__", an 8-byte random salt, then the
// AES-256-CBC ciphertext of the data with PKCS#7 padding. The key and IV are
// derived from the passphrase and the salt by a KDF (see KDF, ParseKDF).
//
// A backup written by this package can always be decrypted by hand with the
// openssl command line printed by KDF.OpenSSLArgs, and any file written by
// `openssl enc -aes-256-cbc` (with any OpenSSL version's defaults) can be read
// here, using Detect when the KDF is not known.
//
// CBC with PKCS#7 padding is not authenticated. A wrong key is detected by
// the padding of the last block (which a wrong key still produces by chance
// about once in 256 times) and, by Detect, by asking the caller whether the
// first decrypted bytes look right (e.g. a gzip header). Callers that need
// certainty compare a hash of the plaintext with one recorded at write
// time, as package stream does.
package crypto
