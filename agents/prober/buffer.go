package prober

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/fixaroo/berth/internal/shared/atomicfile"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// The buffer's file, DATA/probes/results.log, is a header and a sequence of
// records:
//
//	header  "berth-probes/v1\n"
//	record  kind (1 byte) | seq (8, big-endian) | n (4) | CRC-32C of the previous 13 bytes and the payload (4) | payload (n bytes)
//
// A result record (kind 1) holds a ProbeResult without its seq, which is in
// the record's head. A floor record (kind 2, no payload) says that every
// result with a seq up to its seq is gone: acknowledged by berthd or dropped
// to keep the bound. Records are only appended, so a crash can only leave a
// torn last record, which the CRC exposes and loading cuts off.
const (
	fileName     = "results.log"
	fileMagic    = "berth-probes/v1\n"
	recHead      = 17
	kindResult   = 1
	kindFloor    = 2
	maxPayload   = 1 << 20 // a result is a few hundred bytes; more is corruption
	compactSlack = 1024    // records beyond twice the live ones that trigger a rewrite
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// entry is one buffered result: its seq and the ProbeResult without seq,
// marshaled, as it is on disk.
type entry struct {
	seq  uint64
	data []byte
}

// buffer holds probe results until berthd acknowledges them, in memory and
// in an append-only file, rewritten whole (atomically) when acknowledged
// and dropped records outnumber the live ones.
//
// Seqs are handed out in memory by add, and a result becomes visible to
// pending only once flush has written and synced it. So a crash loses at
// most the results of the batch being written, and berthd can never have
// seen a seq that is handed out again after a restart.
type buffer struct {
	path string
	max  int
	log  *slog.Logger

	fileMu      sync.Mutex // serializes writing; taken before mu, never after
	f           *os.File   // the file, open for appending; nil until (re)written
	fileRecords int        // records in the file; guarded by fileMu

	mu        sync.Mutex // guards the fields below
	entries   []entry    // exactly the seqs in (low, last], ascending; never modified in place
	last      uint64     // the highest seq handed out
	durable   uint64     // the highest seq written and synced
	low       uint64     // every seq <= low is gone
	lowOnDisk uint64     // the floor that the file records
}

// openBuffer loads dir/results.log (creating dir if needed), drops the
// oldest results beyond max, and rewrites the file clean. It returns how
// many results it dropped.
func openBuffer(dir string, max int, log *slog.Logger) (*buffer, int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("create %s: %w", dir, err)
	}
	b := &buffer{path: filepath.Join(dir, fileName), max: max, log: log}
	// Left by a rewrite that a crash interrupted.
	stale, _ := filepath.Glob(filepath.Join(dir, "."+fileName+".tmp-*"))
	for _, name := range stale {
		os.Remove(name)
	}
	if err := b.load(); err != nil {
		return nil, 0, err
	}
	dropped := b.trimLocked()
	b.durable = b.last
	b.fileMu.Lock()
	defer b.fileMu.Unlock()
	if err := b.rewriteLocked(); err != nil {
		return nil, 0, err
	}
	return b, dropped, nil
}

// load reads the file, if any, up to its first damaged record.
func (b *buffer) load() error {
	f, err := os.Open(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open probe buffer: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	magic := make([]byte, len(fileMagic))
	if n, err := io.ReadFull(r, magic); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil // created, never written
		}
		return fmt.Errorf("read probe buffer %s: %w", b.path, err)
	}
	if string(magic) != fileMagic {
		return fmt.Errorf("read probe buffer %s: not a probe buffer (header %q)", b.path, magic)
	}
	var (
		results []entry
		head    [recHead]byte
		offset  = int64(len(fileMagic))
		damaged string
	)
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if !errors.Is(err, io.EOF) {
				damaged = "a torn record head"
			}
			break
		}
		kind, seq, n := head[0], binary.BigEndian.Uint64(head[1:9]), binary.BigEndian.Uint32(head[9:13])
		if n > maxPayload || (kind != kindResult && kind != kindFloor) {
			damaged = "an invalid record head"
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			damaged = "a torn record"
			break
		}
		crc := crc32.Update(crc32.Checksum(head[:13], crcTable), crcTable, payload)
		if crc != binary.BigEndian.Uint32(head[13:17]) {
			damaged = "a record with a bad checksum"
			break
		}
		offset += recHead + int64(n)
		b.last = max(b.last, seq)
		switch kind {
		case kindFloor:
			b.low = max(b.low, seq)
		case kindResult:
			if len(results) > 0 && seq <= results[len(results)-1].seq {
				b.log.Warn("probe buffer: result out of order, skipped", "seq", seq)
				continue
			}
			results = append(results, entry{seq: seq, data: payload})
		}
	}
	if damaged != "" {
		// Expected after a crash in the middle of a write; anything after
		// it was never synced.
		b.log.Warn("probe buffer: cut off at "+damaged, "offset", offset, "path", b.path)
	}
	i := sort.Search(len(results), func(i int) bool { return results[i].seq > b.low })
	b.entries = results[i:]
	b.last = max(b.last, b.low)
	b.lowOnDisk = b.low
	return nil
}

// add hands out the next seq to r, buffers it, and drops the oldest results
// beyond the bound; it returns how many it dropped. r is not modified.
func (b *buffer) add(r *agentv1.ProbeResult) (int, error) {
	data, err := proto.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encode probe result: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last++
	b.entries = append(b.entries, entry{seq: b.last, data: data})
	return b.trimLocked(), nil
}

// trimLocked drops the oldest entries beyond max.
func (b *buffer) trimLocked() int {
	k := len(b.entries) - b.max
	if k <= 0 {
		return 0
	}
	b.low = b.entries[k-1].seq
	b.entries = b.entries[k:]
	return k
}

// ack drops every result with a seq up to seq. It reports whether that
// changed anything. A seq beyond the last one handed out (berthd knows a
// later seq than this buffer, e.g. after the data directory was restored
// from a backup) moves the next seq past it, so that berthd does not take
// new results for ones it already has.
func (b *buffer) ack(seq uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if seq <= b.low {
		return false
	}
	b.low = seq
	b.last = max(b.last, seq)
	i := sort.Search(len(b.entries), func(i int) bool { return b.entries[i].seq > seq })
	b.entries = b.entries[i:]
	return true
}

// len returns how many results are buffered (written or not).
func (b *buffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}

// pending returns up to n of the oldest written results.
func (b *buffer) pending(n int) []*agentv1.ProbeResult {
	b.mu.Lock()
	var es []entry
	for _, e := range b.entries {
		if len(es) >= n || e.seq > b.durable {
			break
		}
		es = append(es, e)
	}
	b.mu.Unlock()
	out := make([]*agentv1.ProbeResult, 0, len(es))
	for _, e := range es {
		r := &agentv1.ProbeResult{}
		if err := proto.Unmarshal(e.data, r); err != nil {
			// The CRC matched, so this is a bug rather than a bad disk;
			// the result is skipped, and acknowledged with its neighbours.
			b.log.Error("probe buffer: undecodable result", "seq", e.seq, "err", err)
			continue
		}
		r.Seq = e.seq
		out = append(out, r)
	}
	return out
}

// flush appends the results not yet written and the current floor, and
// syncs the file once for all of them. It reports whether results became
// visible to pending. After a failed write or sync the file's tail is in
// doubt, so the next flush rewrites the file whole.
func (b *buffer) flush() (bool, error) {
	b.fileMu.Lock()
	defer b.fileMu.Unlock()
	if b.f == nil {
		return b.rewriteLockedReport()
	}
	b.mu.Lock()
	i := sort.Search(len(b.entries), func(i int) bool { return b.entries[i].seq > b.durable })
	todo := b.entries[i:len(b.entries):len(b.entries)]
	low, writeFloor := b.low, b.low != b.lowOnDisk
	b.mu.Unlock()
	if len(todo) == 0 && !writeFloor {
		return false, nil
	}

	var buf []byte
	for _, e := range todo {
		buf = appendRecord(buf, kindResult, e.seq, e.data)
	}
	if writeFloor {
		buf = appendRecord(buf, kindFloor, low, nil)
	}
	_, err := b.f.Write(buf)
	if err == nil {
		err = b.f.Sync()
	}
	if err != nil {
		b.f.Close()
		b.f = nil
		return false, fmt.Errorf("write probe buffer: %w", err)
	}
	b.fileRecords += len(todo)
	if writeFloor {
		b.fileRecords++
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	b.lowOnDisk = low
	if len(todo) > 0 && todo[len(todo)-1].seq > b.durable {
		b.durable = todo[len(todo)-1].seq
		return true, nil
	}
	return false, nil
}

// needsCompaction reports whether the file holds many more records than
// results buffered.
func (b *buffer) needsCompaction() bool {
	b.fileMu.Lock()
	records := b.fileRecords
	b.fileMu.Unlock()
	return records > 2*b.len()+compactSlack
}

// compact rewrites the file with the buffered results only. It reports
// whether results became visible to pending.
func (b *buffer) compact() (bool, error) {
	b.fileMu.Lock()
	defer b.fileMu.Unlock()
	return b.rewriteLockedReport()
}

func (b *buffer) rewriteLockedReport() (bool, error) {
	b.mu.Lock()
	before := b.durable
	b.mu.Unlock()
	if err := b.rewriteLocked(); err != nil {
		return false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.durable > before, nil
}

// rewriteLocked replaces the file with one that holds the floor and every
// buffered result, written or not, and opens it for appending.
func (b *buffer) rewriteLocked() (err error) {
	b.mu.Lock()
	entries := slices.Clone(b.entries)
	low := b.low
	b.mu.Unlock()

	tmp, err := os.CreateTemp(filepath.Dir(b.path), "."+fileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("rewrite probe buffer: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 256<<10)
	var rec []byte
	rec = appendRecord(append(rec, fileMagic...), kindFloor, low, nil)
	if _, err := w.Write(rec); err != nil {
		return fmt.Errorf("rewrite probe buffer: %w", err)
	}
	for _, e := range entries {
		rec = appendRecord(rec[:0], kindResult, e.seq, e.data)
		if _, err := w.Write(rec); err != nil {
			return fmt.Errorf("rewrite probe buffer: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("rewrite probe buffer: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("rewrite probe buffer: %w", err)
	}
	if err := os.Rename(tmp.Name(), b.path); err != nil {
		return fmt.Errorf("rewrite probe buffer: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(b.path)); err != nil {
		return fmt.Errorf("rewrite probe buffer: %w", err)
	}
	// tmp, renamed, is the file now; it stays open for appending.
	if b.f != nil {
		b.f.Close()
	}
	b.f = tmp
	b.fileRecords = 1 + len(entries)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.lowOnDisk = low
	if len(entries) > 0 {
		b.durable = max(b.durable, entries[len(entries)-1].seq)
	}
	return nil
}

// close closes the file; a later flush reopens it by rewriting it.
func (b *buffer) close() error {
	b.fileMu.Lock()
	defer b.fileMu.Unlock()
	if b.f == nil {
		return nil
	}
	err := b.f.Close()
	b.f = nil
	return err
}

func appendRecord(dst []byte, kind byte, seq uint64, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	crc := crc32.Update(crc32.Checksum(dst[start:], crcTable), crcTable, payload)
	dst = binary.BigEndian.AppendUint32(dst, crc)
	return append(dst, payload...)
}
