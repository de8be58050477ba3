package client

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// HostFacts describes this machine without asking Docker: host name, CPUs,
// memory, free disk in dataDir and the agent's version. An engine may
// extend it (for example with the Docker version).
func HostFacts(dataDir string) *agentv1.NodeFacts {
	host, _ := os.Hostname()
	total, _ := memInfo()
	return &agentv1.NodeFacts{
		Hostname:      host,
		CpuMillicores: int32(runtime.NumCPU() * 1000),
		MemoryMib:     total,
		DiskMib:       diskFreeMiB(dataDir),
		AgentVersion:  Version(),
	}
}

// Version is the agent's version from its build information: the module
// version, or "devel" with the VCS revision for a build from a work tree.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel+" + rev + dirty
}

// memInfo returns MemTotal and the memory in use (MemTotal − MemAvailable)
// in MiB from /proc/meminfo, zeros where it cannot be read.
func memInfo() (totalMiB, usedMiB int64) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	return parseMemInfo(b)
}

func parseMemInfo(b []byte) (totalMiB, usedMiB int64) {
	var total, avail int64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		kib, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "MemTotal":
			total = kib
		case "MemAvailable":
			avail = kib
		}
	}
	if avail > total {
		avail = total
	}
	return total / 1024, (total - avail) / 1024
}
