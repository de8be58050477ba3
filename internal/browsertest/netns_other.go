//go:build !linux

package browsertest

import (
	"errors"
	"net"
	"os/exec"
)

// Outside Linux, Chromium shares the machine's network.

func canIsolate() bool { return false }

func isolateCmd(*exec.Cmd) {}

func listenIn(int, string) (net.Listener, error) {
	return nil, errors.New("network namespaces are Linux only")
}
