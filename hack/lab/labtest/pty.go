package labtest

import "os"

// OpenPTY opens a pseudo-terminal pair: a test gives a command the slave as its terminal (stdin,
// controlling terminal) and types into the master, e.g. Ctrl-C ("\x03") at a prompt.
func OpenPTY() (master, slave *os.File, err error) { return openPTY() }
