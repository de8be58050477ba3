package client

import "syscall"

// diskFreeMiB returns the space available to unprivileged users in the file
// system that holds dir, or 0 if it cannot be read.
func diskFreeMiB(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize) / (1 << 20)
}
