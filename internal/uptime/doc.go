// Package uptime holds the rules that turn probe results into minutes,
// incidents and SLA numbers. Agencies quote these rules to their clients, so
// they are deliberately few and exact; README.md states them in plain
// language with examples.
//
// The package is pure. It does no I/O, reads no store, never asks for the
// time (every time is passed in) and starts no goroutines. Inputs are never
// modified. The caller stores results, minutes and TrackerState, and calls:
//
//   - RollupMinute once a minute is complete, to get that minute's verdict
//     (a quorum of the vantage points that reported);
//   - Step with each new minute, in order, to open and resolve incidents;
//   - Summarize, Daily and MonthRange to report uptime over 24 h, 7 d, 30 d,
//     90 d, a UTC day or a calendar month.
//
// All times are handled in UTC and truncated to the minute.
package uptime
