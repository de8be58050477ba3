// Package prober is the node agent's vantage point for uptime: it probes
// the sites that berthd assigns to the node (its own and its peers'), and
// keeps the results on disk until berthd has stored them.
//
//	DesiredState.probes ──SetAssignments──▶ one worker per site
//	                                           │ first probe at a random offset in the
//	                                           │ interval, then every interval
//	                                           ▼
//	                               probe.Prober.Probe (internal/shared/probe)
//	                                           │ metrics; seq = last + 1
//	                                           ▼
//	                         buffer (memory) ──writer: one write + fsync per batch──▶ DATA/probes/results.log
//	                                           │ visible once synced
//	                   Ready() ◀───────────────┤
//	  session: Pending(n) ──ProbeResults──▶ berthd ──ProbeAck{seq}──▶ Ack(seq): floor record + fsync
//
// # Delivery
//
// Every result gets a seq, one more than the last, that keeps increasing
// across restarts; berthd stores each (node, seq) once, so resending is
// always safe and the session resends whatever is not acknowledged. A
// result is handed to Pending only after it is on disk, so a seq berthd
// has seen is never given to another result after a crash.
//
// Bounds: at most MaxBuffered results (default 100,000, some 15 MB in
// memory) wait for berthd; beyond that the oldest are dropped and counted
// in berth_agent_probe_buffer_dropped_total. Results are written in
// batches at most every 200 ms, so a crash of the agent or the machine
// loses at most the results that finished in the last 200 ms before it
// (longer only while writes fail: the writer retries every 5 s),
// never one that berthd could have seen. A result is not lost to a
// restart, and none is stored twice.
//
// # The file
//
// DATA/probes/results.log is append-only: result records, and floor
// records that say "every seq up to here is gone" (acknowledged or
// dropped). Each record carries a CRC-32C; loading stops at the first torn
// or damaged record, which after a crash can only be the last one. When
// the file holds more than twice as many records as results waiting (plus
// 1024), it is rewritten with only those, through a temporary file and a
// rename, so it stays under about 2 × MaxBuffered records (some 25 MB at
// the default bound). It is also rewritten once at every start.
//
// Glossary: an assignment is one site the node probes (ProbeAssignment);
// a result is one probe's outcome (ProbeResult); seq numbers a node's
// results; the floor is the highest seq gone from the buffer; a batch is
// what one write of the writer appends.
package prober
