package validate

import "fmt"

// Limits for a site's resources.
const (
	MinMemoryMiB     = 64
	MaxMemoryMiB     = 65536
	MinCPUMillicores = 50
	MaxCPUMillicores = 64000
)

// MemoryMiB checks a site's memory limit in MiB: 64 to 65536.
func MemoryMiB(field string, v int32) error {
	if v < MinMemoryMiB || v > MaxMemoryMiB {
		return &Error{Field: field, Msg: fmt.Sprintf("memory must be between %d and %d MiB, got %d", MinMemoryMiB, MaxMemoryMiB, v)}
	}
	return nil
}

// CPUMillicores checks a site's CPU limit in millicores (1000 = one core):
// 50 to 64000.
func CPUMillicores(field string, v int32) error {
	if v < MinCPUMillicores || v > MaxCPUMillicores {
		return &Error{Field: field, Msg: fmt.Sprintf("CPU must be between %d and %d millicores, got %d", MinCPUMillicores, MaxCPUMillicores, v)}
	}
	return nil
}
