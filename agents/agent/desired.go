package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/fixaroo/berth/internal/shared/atomicfile"
	"github.com/fixaroo/berth/internal/shared/seal"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// Files of the saved desired state in the data directory.
const (
	desiredFile  = "desired.state" // sealed, proto-marshalled DesiredState
	stateKeyFile = "state.key"     // AES-256 key, 0600
)

// desiredAD binds the sealed file to its purpose, so that another value
// sealed with the same key cannot pass for it.
var desiredAD = []byte("berth-agent desired state v1")

// ErrNoDesiredState means no desired state has been saved yet.
var ErrNoDesiredState = errors.New("agent: no saved desired state")

// SaveDesired writes ds to dataDir/desired.state, encrypted with the key in
// dataDir/state.key (created on first use). The write is atomic: a crash
// leaves the previous state or the new one. The site secrets in ds never
// reach the disk in plaintext.
func SaveDesired(dataDir string, ds *agentv1.DesiredState) error {
	box, err := seal.LoadOrCreateKey(filepath.Join(dataDir, stateKeyFile))
	if err != nil {
		return fmt.Errorf("save desired state: %w", err)
	}
	plain, err := proto.Marshal(ds)
	if err != nil {
		return fmt.Errorf("save desired state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dataDir, desiredFile), box.Seal(plain, desiredAD), 0o600); err != nil {
		return fmt.Errorf("save desired state: %w", err)
	}
	return nil
}

// LoadDesired reads the desired state that SaveDesired wrote last. It
// returns ErrNoDesiredState if there is none.
func LoadDesired(dataDir string) (*agentv1.DesiredState, error) {
	sealed, err := os.ReadFile(filepath.Join(dataDir, desiredFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoDesiredState
	} else if err != nil {
		return nil, fmt.Errorf("load desired state: %w", err)
	}
	box, err := seal.LoadOrCreateKey(filepath.Join(dataDir, stateKeyFile))
	if err != nil {
		return nil, fmt.Errorf("load desired state: %w", err)
	}
	plain, err := box.Open(sealed, desiredAD)
	if err != nil {
		return nil, fmt.Errorf("load desired state %s (was %s replaced?): %w", filepath.Join(dataDir, desiredFile), stateKeyFile, err)
	}
	ds := &agentv1.DesiredState{}
	if err := proto.Unmarshal(plain, ds); err != nil {
		return nil, fmt.Errorf("load desired state: %w", err)
	}
	return ds, nil
}
