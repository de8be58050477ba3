package browsertest

import (
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Chromium aborts every request in flight with ERR_NETWORK_CHANGED when
// the machine's addresses change, and a Docker engine changes them each
// time it creates a network or starts a container. So, where it may
// (as root), Start runs Chromium in a network namespace of its own, which
// has only a loopback interface and the proxy's listener, and no change
// on the host reaches it.

// canIsolate reports whether this process may create a network namespace.
func canIsolate() bool {
	ok := make(chan bool)
	go func() {
		// The thread is left locked, so it ends with the goroutine
		// instead of going back to the scheduler in the new namespace.
		runtime.LockOSThread()
		ok <- unix.Unshare(unix.CLONE_NEWNET) == nil
	}()
	return <-ok
}

// isolateCmd makes cmd start in a new network namespace. Pdeathsig is what
// chromedp sets when no ModifyCmdFunc is given: Chromium dies with the test.
func isolateCmd(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Pdeathsig:    syscall.SIGKILL,
		Unshareflags: syscall.CLONE_NEWNET,
	}
}

// listenIn brings up the loopback interface of the network namespace of
// process pid and listens on addr there.
func listenIn(pid int, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	res := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		ln, err := func() (net.Listener, error) {
			fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, fmt.Errorf("open the browser's network namespace: %w", err)
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				return nil, fmt.Errorf("enter the browser's network namespace: %w", err)
			}
			if err := loopbackUp(); err != nil {
				return nil, err
			}
			// The socket belongs to the namespace it is made in.
			return net.Listen("tcp", addr)
		}()
		res <- result{ln, err}
	}()
	r := <-res
	return r.ln, r.err
}

// loopbackUp sets the lo interface of the current thread's network
// namespace up.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read the flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}
