package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/uptime"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type uptimeService struct {
	*API
	berthv1.UnimplementedUptimeServiceServer
}

// maxCustomRange bounds a custom uptime window.
const maxCustomRange = 400 * 24 * time.Hour

var minuteStatuses = map[uptime.Status]berthv1.MinuteStatus{
	uptime.StatusNoData:      berthv1.MinuteStatus_MINUTE_STATUS_NO_DATA,
	uptime.StatusUp:          berthv1.MinuteStatus_MINUTE_STATUS_UP,
	uptime.StatusDegraded:    berthv1.MinuteStatus_MINUTE_STATUS_DEGRADED,
	uptime.StatusDown:        berthv1.MinuteStatus_MINUTE_STATUS_DOWN,
	uptime.StatusMaintenance: berthv1.MinuteStatus_MINUTE_STATUS_MAINTENANCE,
}

// visibleSite reads a site the caller may see (NotFound otherwise).
func (a *API) visibleSite(ctx context.Context, tx store.ReadTx, id string) (*store.Site, error) {
	if err := validate.ID("site_id", "site", id); err != nil {
		return nil, err
	}
	site, err := tx.GetSite(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("site", id)
	} else if err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).MayAccessClient(site.ClientID) {
		return nil, rpc.Deny(ctx, "site", id)
	}
	rpc.SetResource(ctx, id, site.ClientID)
	return site, nil
}

// siteMinutes returns the site's minutes in [from, to) with maintenance
// windows applied as they stand now, so that a window added afterwards
// still excludes its minutes.
func siteMinutes(tx store.ReadTx, site *store.Site, from, to time.Time) ([]uptime.Minute, error) {
	rows, err := tx.ListSiteMinutes(site.ID, from, to)
	if err != nil {
		return nil, err
	}
	windows, err := tx.ListMaintenanceWindows(site.ClientID, site.ID, from, to)
	if err != nil {
		return nil, err
	}
	// The store returns one row per minute, in order; a minute inside a
	// window becomes maintenance, with or without a row.
	out := make([]uptime.Minute, len(rows))
	for i, r := range rows {
		out[i] = uptime.Minute{Start: r.Minute, Status: uptime.Status(r.Status), Up: int(r.Up), Total: int(r.Total),
			P50MS: r.P50MS, P95MS: r.P95MS, P99MS: r.P99MS, ErrorClasses: r.ErrorClasses, FailedVantages: r.FailedVantages}
	}
	stored := len(out)
	added := map[time.Time]bool{}
	for _, w := range windows {
		for m := maxTime(w.Start.Truncate(time.Minute), from); m.Before(w.End) && m.Before(to); m = m.Add(time.Minute) {
			if m.Before(w.Start) {
				continue
			}
			i, found := slices.BinarySearchFunc(out[:stored], m, func(x uptime.Minute, t time.Time) int { return x.Start.Compare(t) })
			switch {
			case found:
				out[i].Status = uptime.StatusMaintenance
			case !added[m]:
				added[m] = true
				out = append(out, uptime.Minute{Start: m, Status: uptime.StatusMaintenance})
			}
		}
	}
	return out, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func windowToProto(name string, w uptime.Window) *berthv1.UptimeWindow {
	return &berthv1.UptimeWindow{Name: name, StartTime: timestamppb.New(w.Start), EndTime: timestamppb.New(w.End),
		UptimeRatio: w.Ratio, CountedMinutes: w.Counted, DownMinutes: w.Down, DegradedMinutes: w.Degraded,
		NoDataMinutes: w.NoData, MaintenanceMinutes: w.Maintenance}
}

func (s uptimeService) GetSiteUptime(ctx context.Context, req *berthv1.GetSiteUptimeRequest) (*berthv1.GetSiteUptimeResponse, error) {
	now := s.now().Truncate(time.Minute)
	var custom [2]time.Time
	if req.GetStartTime() != nil || req.GetEndTime() != nil {
		if req.GetStartTime() == nil || req.GetEndTime() == nil {
			return nil, &validate.Error{Field: "start_time", Msg: "set both start_time and end_time for a custom window"}
		}
		custom = [2]time.Time{req.GetStartTime().AsTime().Truncate(time.Minute), req.GetEndTime().AsTime().Truncate(time.Minute)}
		if !custom[0].Before(custom[1]) || custom[1].Sub(custom[0]) > maxCustomRange {
			return nil, &validate.Error{Field: "end_time", Msg: "must be after start_time, at most 400 days later"}
		}
	}
	var resp *berthv1.GetSiteUptimeResponse
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		site, err := s.visibleSite(ctx, tx, req.GetSiteId())
		if err != nil {
			return err
		}
		if resp, err = siteUptime(tx, site, now); err != nil {
			return err
		}
		if !custom[0].IsZero() {
			cm, err := siteMinutes(tx, site, custom[0], custom[1])
			if err != nil {
				return err
			}
			resp.Windows = append(resp.Windows, windowToProto("custom", uptime.Summarize(custom[0], custom[1], cm)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// standardWindows are GetSiteUptime's windows, ending now.
var standardWindows = []struct {
	name string
	d    time.Duration
}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}, {"90d", 90 * 24 * time.Hour}}

// siteUptime is GetSiteUptime's answer for a site, without a custom window,
// at now (a whole minute). Status pages show the same numbers from it.
//
// Without a maintenance window in its 90 days, the store counts the minutes
// of each day and of the windows' first partial days, and only the last 24
// hours are read minute by minute, for latency; with one, every minute is
// read (siteUptimeByMinute). Both give the same answer.
func siteUptime(tx store.ReadTx, site *store.Site, now time.Time) (*berthv1.GetSiteUptimeResponse, error) {
	from := now.AddDate(0, 0, -90).Truncate(24 * time.Hour)
	windows, err := tx.ListMaintenanceWindows(site.ClientID, site.ID, from, now)
	if err != nil {
		return nil, err
	}
	if len(windows) > 0 {
		return siteUptimeByMinute(tx, site, now)
	}
	days, err := tx.CountSiteMinutesByDay(site.ID, from, now)
	if err != nil {
		return nil, err
	}
	byDay := make(map[time.Time]store.MinuteCounts, len(days))
	var last []uptime.Minute
	for _, d := range days {
		byDay[d.Day] = d.MinuteCounts
		if !d.Last.IsZero() {
			last = []uptime.Minute{{Start: d.Last, Status: uptime.Status(d.LastStatus)}}
		}
	}
	count := func(dst *[uptime.StatusMaintenance + 1]int64, c store.MinuteCounts, sign int64) {
		for st, n := range c.ByStatus {
			if st >= 0 && st <= int32(uptime.StatusMaintenance) {
				dst[st] += sign * n
			}
		}
	}
	window := func(start, end time.Time, c [uptime.StatusMaintenance + 1]int64) uptime.Window {
		return uptime.Count(start, end, c[uptime.StatusUp], c[uptime.StatusDegraded], c[uptime.StatusDown], c[uptime.StatusMaintenance])
	}
	resp := &berthv1.GetSiteUptimeResponse{SiteId: site.ID, Status: lastStatus(last, now)}
	for _, w := range standardWindows {
		start := now.Add(-w.d)
		day := start.Truncate(24 * time.Hour)
		var c [uptime.StatusMaintenance + 1]int64
		for _, d := range days {
			if !d.Day.Before(day) {
				count(&c, d.MinuteCounts, 1)
			}
		}
		if start.After(day) {
			before, err := tx.CountSiteMinutes(site.ID, day, start)
			if err != nil {
				return nil, err
			}
			count(&c, before, -1)
		}
		resp.Windows = append(resp.Windows, windowToProto(w.name, window(start, now, c)))
	}
	for day := from; day.Before(now); day = day.Add(24 * time.Hour) {
		var c [uptime.StatusMaintenance + 1]int64
		count(&c, byDay[day], 1)
		end := day.Add(24 * time.Hour)
		if end.After(now) {
			end = now
		}
		d := window(day, end, c)
		resp.Daily = append(resp.Daily, &berthv1.DailyBar{Date: d.Start.Format(time.DateOnly), Uptime: windowToProto("day", d)})
	}
	minutes, err := siteMinutes(tx, site, now.Add(-24*time.Hour), now)
	if err != nil {
		return nil, err
	}
	addLatency(resp, minutes, now)
	return resp, nil
}

// siteUptimeByMinute is siteUptime from every minute of the 90 days.
func siteUptimeByMinute(tx store.ReadTx, site *store.Site, now time.Time) (*berthv1.GetSiteUptimeResponse, error) {
	from := now.AddDate(0, 0, -90).Truncate(24 * time.Hour)
	minutes, err := siteMinutes(tx, site, from, now)
	if err != nil {
		return nil, err
	}
	resp := &berthv1.GetSiteUptimeResponse{SiteId: site.ID, Status: lastStatus(minutes, now)}
	series := uptime.NewSeries(from, now, minutes)
	for _, w := range standardWindows {
		resp.Windows = append(resp.Windows, windowToProto(w.name, series.Summarize(now.Add(-w.d), now)))
	}
	for _, d := range series.Daily(from, now) {
		resp.Daily = append(resp.Daily, &berthv1.DailyBar{Date: d.Start.Format(time.DateOnly), Uptime: windowToProto("day", d)})
	}
	addLatency(resp, minutes, now)
	return resp, nil
}

// addLatency sets the response's latency over the 24 hours before now, from
// minutes in order.
func addLatency(resp *berthv1.GetSiteUptimeResponse, minutes []uptime.Minute, now time.Time) {
	var lat []float64
	for _, m := range minutes {
		if !m.Start.Before(now.Add(-24*time.Hour)) && m.P50MS > 0 {
			lat = append(lat, m.P50MS)
		}
	}
	p50, p95, p99 := uptime.Percentiles(lat)
	resp.Latency_24H = &berthv1.Latency{P50Ms: p50, P95Ms: p95, P99Ms: p99, Samples: int64(len(lat))}
	resp.LatencyHourly = latencyHourly(minutes, now)
}

// latencyHourly is the last 24 hours' latency hour by hour, computed as
// Latency_24H is: percentiles of the minutes' median latencies.
func latencyHourly(minutes []uptime.Minute, now time.Time) []*berthv1.LatencyPoint {
	var out []*berthv1.LatencyPoint
	// The first hour holds only its minutes inside the 24 hours.
	cut := now.Add(-24 * time.Hour)
	start := cut.Truncate(time.Hour)
	var lat []float64
	flush := func(hour time.Time) {
		if len(lat) > 0 {
			p50, p95, _ := uptime.Percentiles(lat)
			out = append(out, &berthv1.LatencyPoint{Time: timestamppb.New(hour), P50Ms: p50, P95Ms: p95, Samples: int64(len(lat))})
		}
		lat = lat[:0]
	}
	hour := start
	for _, m := range minutes {
		if m.Start.Before(cut) || m.P50MS <= 0 {
			continue
		}
		if h := m.Start.Truncate(time.Hour); h != hour {
			flush(hour)
			hour = h
		}
		lat = append(lat, m.P50MS)
	}
	flush(hour)
	return out
}

// lastStatus is the verdict of the latest of minutes, or no data when that
// is more than five minutes before now: a site nobody probes is not up.
func lastStatus(minutes []uptime.Minute, now time.Time) berthv1.MinuteStatus {
	st := berthv1.MinuteStatus_MINUTE_STATUS_NO_DATA
	var last time.Time
	for _, m := range minutes {
		if m.Start.After(last) {
			last, st = m.Start, minuteStatuses[m.Status]
		}
	}
	if now.Sub(last) > 5*time.Minute {
		return berthv1.MinuteStatus_MINUTE_STATUS_NO_DATA
	}
	return st
}

// statusSummary is a site's status now and its uptime ratio over
// [from, now), as GetSiteUptime computes them. Without a maintenance window
// in the span, the store counts the minutes instead of returning each one.
func statusSummary(tx store.ReadTx, site *store.Site, from, now time.Time) (berthv1.MinuteStatus, float64, error) {
	windows, err := tx.ListMaintenanceWindows(site.ClientID, site.ID, from, now)
	if err != nil {
		return 0, 0, err
	}
	if len(windows) > 0 {
		minutes, err := siteMinutes(tx, site, from, now)
		if err != nil {
			return 0, 0, err
		}
		return lastStatus(minutes, now), uptime.Summarize(from, now, minutes).Ratio, nil
	}
	c, err := tx.CountSiteMinutes(site.ID, from, now)
	if err != nil {
		return 0, 0, err
	}
	n := func(s uptime.Status) int64 { return c.ByStatus[int32(s)] }
	w := uptime.Count(from, now, n(uptime.StatusUp), n(uptime.StatusDegraded), n(uptime.StatusDown), n(uptime.StatusMaintenance))
	last := []uptime.Minute{}
	if !c.Last.IsZero() {
		last = append(last, uptime.Minute{Start: c.Last, Status: uptime.Status(c.LastStatus)})
	}
	return lastStatus(last, now), w.Ratio, nil
}

// maxBatchSites bounds BatchGetSiteStatus.
const maxBatchSites = 100

// BatchGetSiteStatus reads only the last 24 hours of each site's minutes, in
// one transaction: the status and the 24 h ratio are GetSiteUptime's.
func (s uptimeService) BatchGetSiteStatus(ctx context.Context, req *berthv1.BatchGetSiteStatusRequest) (*berthv1.BatchGetSiteStatusResponse, error) {
	ids := req.GetSiteIds()
	if len(ids) == 0 || len(ids) > maxBatchSites {
		return nil, &validate.Error{Field: "site_ids", Msg: fmt.Sprintf("name 1 to %d sites (got %d)", maxBatchSites, len(ids))}
	}
	now := s.now().Truncate(time.Minute)
	from := now.Add(-24 * time.Hour)
	resp := &berthv1.BatchGetSiteStatusResponse{}
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		done := make(map[string]*berthv1.SiteStatusSummary, len(ids))
		for _, id := range ids {
			if sum, ok := done[id]; ok {
				resp.Statuses = append(resp.Statuses, proto.CloneOf(sum))
				continue
			}
			site, err := s.visibleSite(ctx, tx, id)
			if err != nil {
				return err
			}
			st, ratio, err := statusSummary(tx, site, from, now)
			if err != nil {
				return err
			}
			open, err := tx.CountIncidents(store.IncidentFilter{SiteID: site.ID, OpenOnly: true})
			if err != nil {
				return err
			}
			sum := &berthv1.SiteStatusSummary{SiteId: site.ID, Status: st, UptimeRatio_24H: ratio, HasOpenIncident: open > 0}
			done[id] = sum
			resp.Statuses = append(resp.Statuses, sum)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func incidentToProto(i *store.Incident, now time.Time) *berthv1.Incident {
	p := &berthv1.Incident{Id: i.ID, SiteId: i.SiteID, ClientId: i.ClientID, StartTime: timestamppb.New(i.Start),
		Open: i.End.IsZero(), ErrorClasses: i.ErrorClasses, Vantages: i.Vantages}
	end := now
	if !i.End.IsZero() {
		p.EndTime, end = timestamppb.New(i.End), i.End
	}
	p.DurationSeconds = int64(end.Sub(i.Start) / time.Second)
	return p
}

func (s uptimeService) ListIncidents(ctx context.Context, req *berthv1.ListIncidentsRequest) (*berthv1.ListIncidentsResponse, error) {
	p := auth.FromContext(ctx)
	f := store.IncidentFilter{ClientID: req.GetClientId(), SiteID: req.GetSiteId(), OpenOnly: req.GetOpenOnly()}
	if f.ClientID != "" {
		if err := validate.ID("client_id", "cl", f.ClientID); err != nil {
			return nil, err
		}
	}
	if f.SiteID != "" {
		if err := validate.ID("site_id", "site", f.SiteID); err != nil {
			return nil, err
		}
	}
	if t := req.GetStartTime(); t != nil {
		f.From = t.AsTime()
	}
	if t := req.GetEndTime(); t != nil {
		f.To = t.AsTime()
	}
	if !p.IsAdmin() {
		if f.ClientID != "" && f.ClientID != p.ClientID {
			return nil, rpc.Deny(ctx, "client", f.ClientID)
		}
		f.ClientID = p.ClientID
	}
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "inc")
	if err != nil {
		return nil, err
	}
	var list []*store.Incident
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		list, err = tx.ListIncidents(f, page)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, next := pageOf(list, n, func(i *store.Incident) string { return i.ID })
	resp := &berthv1.ListIncidentsResponse{NextPageToken: next}
	now := s.now()
	for _, i := range list {
		resp.Incidents = append(resp.Incidents, incidentToProto(i, now))
	}
	return resp, nil
}

func (s uptimeService) GetIncident(ctx context.Context, req *berthv1.GetIncidentRequest) (*berthv1.GetIncidentResponse, error) {
	if err := validate.ID("id", "inc", req.GetId()); err != nil {
		return nil, err
	}
	var inc *store.Incident
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		inc, err = tx.GetIncident(req.GetId())
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("incident", req.GetId())
	} else if err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).MayAccessClient(inc.ClientID) {
		return nil, rpc.Deny(ctx, "incident", req.GetId())
	}
	rpc.SetResource(ctx, inc.ID, inc.ClientID)
	return &berthv1.GetIncidentResponse{Incident: incidentToProto(inc, s.now())}, nil
}

// SLAReport computes a client's monthly report; the dashboard renders the
// same numbers.
func SLAReport(tx store.ReadTx, clientID, month string) (*berthv1.GetSLAReportResponse, error) {
	start, end, err := uptime.MonthRange(month)
	if err != nil {
		return nil, &validate.Error{Field: "month", Value: month, Msg: err.Error()}
	}
	resp := &berthv1.GetSLAReportResponse{ClientId: clientID, Month: month}
	for site, err := range store.AllSites(tx, store.SiteFilter{ClientID: clientID}) {
		if err != nil {
			return nil, err
		}
		minutes, err := siteMinutes(tx, site, start, end)
		if err != nil {
			return nil, err
		}
		n, err := tx.CountIncidents(store.IncidentFilter{SiteID: site.ID, From: start, To: end})
		if err != nil {
			return nil, err
		}
		resp.Sites = append(resp.Sites, &berthv1.SLASite{SiteId: site.ID, Name: site.Name, PrimaryDomain: site.PrimaryDomain,
			Uptime: windowToProto(month, uptime.Summarize(start, end, minutes)), Incidents: int32(n)})
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"site_id", "name", "primary_domain", "month", "uptime_percent", "counted_minutes", "down_minutes",
		"degraded_minutes", "no_data_minutes", "maintenance_minutes", "incidents"})
	for _, s := range resp.Sites {
		u := s.Uptime
		w.Write([]string{s.SiteId, s.Name, s.PrimaryDomain, month, strconv.FormatFloat(u.UptimeRatio*100, 'f', 3, 64),
			fmt.Sprint(u.CountedMinutes), fmt.Sprint(u.DownMinutes), fmt.Sprint(u.DegradedMinutes), fmt.Sprint(u.NoDataMinutes),
			fmt.Sprint(u.MaintenanceMinutes), fmt.Sprint(s.Incidents)})
	}
	w.Flush()
	resp.Csv = buf.String()
	return resp, nil
}

func (s uptimeService) GetSLAReport(ctx context.Context, req *berthv1.GetSLAReportRequest) (*berthv1.GetSLAReportResponse, error) {
	id := req.GetClientId()
	if err := validate.ID("client_id", "cl", id); err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).MayAccessClient(id) {
		return nil, rpc.Deny(ctx, "client", id)
	}
	rpc.SetResource(ctx, id, id)
	var resp *berthv1.GetSLAReportResponse
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		if _, err := tx.GetClient(id); errors.Is(err, store.ErrNotFound) {
			return rpc.NotFound("client", id)
		} else if err != nil {
			return err
		}
		var err error
		resp, err = SLAReport(tx, id, req.GetMonth())
		return err
	})
	return resp, err
}

func windowFromStore(w *store.MaintenanceWindow) *berthv1.MaintenanceWindow {
	return &berthv1.MaintenanceWindow{Id: w.ID, SiteId: w.SiteID, ClientId: w.ClientID, StartTime: timestamppb.New(w.Start),
		EndTime: timestamppb.New(w.End), Reason: w.Reason, CreatedBy: w.CreatedBy}
}

func (s uptimeService) CreateMaintenanceWindow(ctx context.Context, req *berthv1.CreateMaintenanceWindowRequest) (*berthv1.CreateMaintenanceWindowResponse, error) {
	in := req.GetWindow()
	now := s.now()
	w := &store.MaintenanceWindow{ID: store.NewID("mw", now), SiteID: in.GetSiteId(), ClientID: in.GetClientId(),
		Reason: in.GetReason(), CreatedBy: auth.FromContext(ctx).Actor(), CreateTime: now}
	switch {
	case (w.SiteID == "") == (w.ClientID == ""):
		return nil, &validate.Error{Field: "window", Msg: "set exactly one of site_id and client_id"}
	case in.GetStartTime() == nil || in.GetEndTime() == nil:
		return nil, &validate.Error{Field: "window.start_time", Msg: "set start_time and end_time"}
	case len(w.Reason) > 500:
		return nil, &validate.Error{Field: "window.reason", Msg: "is longer than 500 characters"}
	}
	w.Start, w.End = in.GetStartTime().AsTime().UTC(), in.GetEndTime().AsTime().UTC()
	if !w.Start.Before(w.End) || w.End.Sub(w.Start) > 31*24*time.Hour {
		return nil, &validate.Error{Field: "window.end_time", Msg: "must be after start_time, at most 31 days later"}
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		clientID := w.ClientID
		if w.SiteID != "" {
			if err := validate.ID("window.site_id", "site", w.SiteID); err != nil {
				return err
			}
			site, err := tx.GetSite(w.SiteID)
			if errors.Is(err, store.ErrNotFound) {
				return rpc.NotFound("site", w.SiteID)
			} else if err != nil {
				return err
			}
			clientID = site.ClientID
		} else {
			if err := validate.ID("window.client_id", "cl", w.ClientID); err != nil {
				return err
			}
			if _, err := tx.GetClient(w.ClientID); errors.Is(err, store.ErrNotFound) {
				return rpc.NotFound("client", w.ClientID)
			} else if err != nil {
				return err
			}
		}
		rpc.SetResource(ctx, w.ID, clientID)
		if err := tx.CreateMaintenanceWindow(w); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, w.ID, clientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.CreateMaintenanceWindowResponse{Window: windowFromStore(w)}, nil
}

func (s uptimeService) ListMaintenanceWindows(ctx context.Context, req *berthv1.ListMaintenanceWindowsRequest) (*berthv1.ListMaintenanceWindowsResponse, error) {
	p := auth.FromContext(ctx)
	clientID, siteID := req.GetClientId(), req.GetSiteId()
	var from time.Time
	if t := req.GetEndAfter(); t != nil {
		from = t.AsTime()
	}
	resp := &berthv1.ListMaintenanceWindowsResponse{}
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		if siteID != "" {
			site, err := s.visibleSite(ctx, tx, siteID)
			if err != nil {
				return err
			}
			clientID = site.ClientID
		} else if clientID != "" {
			if err := validate.ID("client_id", "cl", clientID); err != nil {
				return err
			}
			if !p.MayAccessClient(clientID) {
				return rpc.Deny(ctx, "client", clientID)
			}
		} else if !p.IsAdmin() {
			clientID = p.ClientID
		}
		ws, err := tx.ListMaintenanceWindows(clientID, siteID, from, time.Time{})
		if err != nil {
			return err
		}
		if siteID == "" && clientID != "" {
			// A client's list holds the windows of each of its sites too.
			for site, err := range store.AllSites(tx, store.SiteFilter{ClientID: clientID}) {
				if err != nil {
					return err
				}
				own, err := tx.ListMaintenanceWindows("", site.ID, from, time.Time{})
				if err != nil {
					return err
				}
				ws = append(ws, own...)
			}
			slices.SortFunc(ws, func(a, b *store.MaintenanceWindow) int {
				return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
			})
		}
		for _, w := range ws {
			resp.Windows = append(resp.Windows, windowFromStore(w))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s uptimeService) DeleteMaintenanceWindow(ctx context.Context, req *berthv1.DeleteMaintenanceWindowRequest) (*berthv1.DeleteMaintenanceWindowResponse, error) {
	if err := validate.ID("id", "mw", req.GetId()); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		w, err := tx.GetMaintenanceWindow(req.GetId())
		if errors.Is(err, store.ErrNotFound) {
			return rpc.NotFound("maintenance window", req.GetId())
		} else if err != nil {
			return err
		}
		rpc.SetResource(ctx, w.ID, w.ClientID)
		if err := tx.DeleteMaintenanceWindow(w.ID); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, w.ID, w.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.DeleteMaintenanceWindowResponse{}, nil
}
