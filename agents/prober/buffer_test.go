package prober

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

func openTestBuffer(t *testing.T, dir string, max int) *buffer {
	t.Helper()
	b, _, err := openBuffer(dir, max, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.close() })
	return b
}

func result(site string) *agentv1.ProbeResult {
	return &agentv1.ProbeResult{SiteId: site, Time: timestamppb.New(time.Unix(1_800_000_000, 0)), Ok: true, StatusCode: 200, TotalMs: 12.5}
}

func addN(t *testing.T, b *buffer, n int) {
	t.Helper()
	for i := range n {
		if _, err := b.add(result(fmt.Sprintf("site_%d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

func flush(t *testing.T, b *buffer) {
	t.Helper()
	if _, err := b.flush(); err != nil {
		t.Fatal(err)
	}
}

func TestBufferVisibleOnlyWhenWritten(t *testing.T) {
	dir := t.TempDir()
	b := openTestBuffer(t, dir, 100)
	addN(t, b, 3)
	if got := b.pending(10); len(got) != 0 {
		t.Fatalf("pending before the write = seqs %v, want none", seqs(got))
	}
	visible, err := b.flush()
	if err != nil || !visible {
		t.Fatalf("flush = %v, %v; want visible results", visible, err)
	}
	addN(t, b, 2) // handed out seqs 4 and 5, never written: a crash now
	if diff := cmp.Diff([]uint64{1, 2, 3}, seqs(b.pending(10))); diff != "" {
		t.Errorf("pending (-want +got):\n%s", diff)
	}
	b.close()

	// Seqs 4 and 5 were never visible, so handing them out again is safe.
	b = openTestBuffer(t, dir, 100)
	addN(t, b, 1)
	flush(t, b)
	got := b.pending(10)
	if diff := cmp.Diff([]uint64{1, 2, 3, 4}, seqs(got)); diff != "" {
		t.Errorf("after a crash (-want +got):\n%s", diff)
	}
	if got[0].GetSiteId() != "site_0" || got[0].GetTotalMs() != 12.5 || got[3].GetSiteId() != "site_0" {
		t.Errorf("results did not survive: %v", got)
	}
}

// TestBufferTornTail cuts the file as a crash in the middle of a write
// would, or damages its last record, and checks that loading keeps
// everything before it and that the file stays appendable.
func TestBufferTornTail(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(data []byte) []byte
	}{
		{"torn head", func(data []byte) []byte { return append(data, kindResult, 0, 0) }},
		{"torn payload", func(data []byte) []byte {
			rec := appendRecord(nil, kindResult, 4, []byte("a result that was being written"))
			return append(data, rec[:len(rec)-5]...)
		}},
		{"bad checksum", func(data []byte) []byte {
			rec := appendRecord(nil, kindResult, 4, []byte("payload"))
			rec[len(rec)-1] ^= 0xff
			return append(data, rec...)
		}},
		{"garbage head", func(data []byte) []byte {
			return append(data, []byte("\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00")...)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			b := openTestBuffer(t, dir, 100)
			addN(t, b, 3)
			flush(t, b)
			b.close()
			path := filepath.Join(dir, fileName)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(data), 0o600); err != nil {
				t.Fatal(err)
			}

			b = openTestBuffer(t, dir, 100)
			if diff := cmp.Diff([]uint64{1, 2, 3}, seqs(b.pending(10))); diff != "" {
				t.Fatalf("after damage (-want +got):\n%s", diff)
			}
			addN(t, b, 1)
			flush(t, b)
			b.close()
			b = openTestBuffer(t, dir, 100)
			if diff := cmp.Diff([]uint64{1, 2, 3, 4}, seqs(b.pending(10))); diff != "" {
				t.Errorf("after appending to the repaired file (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBufferNotAProbeBuffer(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, fileName), []byte("something else entirely\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openBuffer(dir, 10, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "not a probe buffer") {
		t.Errorf("openBuffer = %v, want an error naming the bad file", err)
	}
}

func TestBufferAck(t *testing.T) {
	dir := t.TempDir()
	b := openTestBuffer(t, dir, 100)
	addN(t, b, 5)
	flush(t, b)
	if !b.ack(2) || b.ack(2) || b.ack(1) {
		t.Error("ack reports a change wrongly")
	}
	flush(t, b)
	if diff := cmp.Diff([]uint64{3, 4, 5}, seqs(b.pending(10))); diff != "" {
		t.Errorf("after ack 2 (-want +got):\n%s", diff)
	}
	// berthd knows seqs beyond ours (a data directory restored from a
	// backup): new results continue after them.
	b.ack(10)
	flush(t, b)
	b.close()
	b = openTestBuffer(t, dir, 100)
	if got := b.pending(10); len(got) != 0 {
		t.Errorf("after ack 10, pending = %v", seqs(got))
	}
	addN(t, b, 1)
	flush(t, b)
	if diff := cmp.Diff([]uint64{11}, seqs(b.pending(10))); diff != "" {
		t.Errorf("after ack beyond the last seq (-want +got):\n%s", diff)
	}
}

func TestBufferBoundAndFloorOnDisk(t *testing.T) {
	dir := t.TempDir()
	b := openTestBuffer(t, dir, 3)
	dropped := 0
	for range 7 {
		n, err := b.add(result("s"))
		if err != nil {
			t.Fatal(err)
		}
		dropped += n
	}
	if dropped != 4 {
		t.Errorf("dropped %d, want 4", dropped)
	}
	flush(t, b)
	if diff := cmp.Diff([]uint64{5, 6, 7}, seqs(b.pending(10))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	b.close()
	// The dropped results were never written; the floor keeps the seqs.
	b = openTestBuffer(t, dir, 3)
	if diff := cmp.Diff([]uint64{5, 6, 7}, seqs(b.pending(10))); diff != "" {
		t.Errorf("after reopening (-want +got):\n%s", diff)
	}
}

func TestBufferCompaction(t *testing.T) {
	dir := t.TempDir()
	b := openTestBuffer(t, dir, 100_000)
	for range 30 {
		addN(t, b, 100)
		flush(t, b) // 30 batches, 30 syncs
	}
	path := filepath.Join(dir, fileName)
	before := fileSize(t, path)
	b.ack(2990)
	flush(t, b)
	if !b.needsCompaction() {
		t.Fatal("3000 records for 10 results: no compaction needed?")
	}
	if _, err := b.compact(); err != nil {
		t.Fatal(err)
	}
	if b.needsCompaction() {
		t.Error("compaction still needed after compacting")
	}
	if after := fileSize(t, path); after*50 > before {
		t.Errorf("file %d bytes after compaction, %d before; want it much smaller", after, before)
	}
	addN(t, b, 1)
	flush(t, b)
	b.close()
	b = openTestBuffer(t, dir, 100_000)
	want := []uint64{2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999, 3000, 3001}
	if diff := cmp.Diff(want, seqs(b.pending(100))); diff != "" {
		t.Errorf("after compaction and reopening (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only %s (no temporary files)", len(entries), fileName)
	}
}

func TestBufferRecoversFromFailedWrite(t *testing.T) {
	dir := t.TempDir()
	b := openTestBuffer(t, dir, 100)
	addN(t, b, 2)
	flush(t, b)
	// A write error (disk full, I/O error) leaves the tail in doubt; the
	// buffer drops the handle, and the next flush rewrites the file whole.
	b.fileMu.Lock()
	b.f.Close()
	b.fileMu.Unlock()
	addN(t, b, 1)
	if _, err := b.flush(); err == nil {
		t.Fatal("flush to a closed file succeeded")
	}
	if diff := cmp.Diff([]uint64{1, 2}, seqs(b.pending(10))); diff != "" {
		t.Errorf("after a failed write (-want +got):\n%s", diff)
	}
	flush(t, b)
	b.close()
	b = openTestBuffer(t, dir, 100)
	if diff := cmp.Diff([]uint64{1, 2, 3}, seqs(b.pending(10))); diff != "" {
		t.Errorf("after recovery (-want +got):\n%s", diff)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
