//go:build !unix

package regfile

// openFlags is zero here: there are no named pipes to open without waiting.
const openFlags = 0
