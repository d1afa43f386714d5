//go:build windows

package file

import (
	"os"
	"syscall"
	"unsafe"
)

// LockFileEx and UnlockFileEx, from kernel32.dll (a KnownDLL, always loaded
// from the system directory).
var (
	kernel32         = syscall.NewLazyDLL("kernel32.dll")
	procLockFileEx   = kernel32.NewProc("LockFileEx")
	procUnlockFileEx = kernel32.NewProc("UnlockFileEx")
)

// Flags and errors of LockFileEx.
const (
	lockfileFailImmediately = 0x00000001
	lockfileExclusiveLock   = 0x00000002

	errorLockViolation syscall.Errno = 33  // ERROR_LOCK_VIOLATION
	errorIOPending     syscall.Errno = 997 // ERROR_IO_PENDING
)

// tryLockFile takes an exclusive lock on the first byte of f without
// waiting (LockFileEx with LOCKFILE_EXCLUSIVE_LOCK |
// LOCKFILE_FAIL_IMMEDIATELY). It reports false (and no error) when another
// handle holds it. The lock file is never read, so the mandatory nature of
// Windows byte-range locks does not matter.
func tryLockFile(f *os.File) (bool, error) {
	var ol syscall.Overlapped
	r, _, err := procLockFileEx.Call(f.Fd(), lockfileExclusiveLock|lockfileFailImmediately,
		0, 1, 0, uintptr(unsafe.Pointer(&ol)))
	if r != 0 {
		return true, nil
	}
	if err == errorLockViolation || err == errorIOPending {
		return false, nil
	}
	return false, err
}

// unlockFile releases the lock tryLockFile took. Closing the handle would
// release it too, but Windows may do that some time after the close.
func unlockFile(f *os.File) {
	var ol syscall.Overlapped
	procUnlockFileEx.Call(f.Fd(), 0, 1, 0, uintptr(unsafe.Pointer(&ol)))
}
