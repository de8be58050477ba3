package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fixaroo/berth/internal/store"
)

// Alert channels and deliveries.

const alertChannelCols = `id, client_id, name, kind, config, create_time`

// scanAlertChannel scans a row of alertChannelCols and opens its config.
func (r *readTx) scanAlertChannel(sc scanner) (*store.AlertChannel, error) {
	c := new(store.AlertChannel)
	var config []byte
	err := sc.Scan(&c.ID, strCol{&c.ClientID}, &c.Name, &c.Kind, &config, timeCol{&c.CreateTime})
	if err != nil {
		return nil, err
	}
	if config != nil {
		plain, err := r.box.Open(config, []byte(c.ID))
		if err != nil {
			return nil, fmt.Errorf("alert channel %s config: %w", c.ID, err)
		}
		if err := json.Unmarshal(plain, &c.Config); err != nil {
			return nil, fmt.Errorf("alert channel %s config: %w", c.ID, err)
		}
	}
	return c, nil
}

func (r *readTx) GetAlertChannel(id string) (*store.AlertChannel, error) {
	c, err := get(r, r.scanAlertChannel, `SELECT `+alertChannelCols+` FROM alert_channels WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("alert channel %q", id)
	}
	return c, wrap("get alert channel "+id, err)
}

func (r *readTx) ListAlertChannels(clientID string) ([]*store.AlertChannel, error) {
	var (
		cs  []*store.AlertChannel
		err error
	)
	if clientID == "" {
		cs, err = list(r, r.scanAlertChannel, `SELECT `+alertChannelCols+` FROM alert_channels ORDER BY id`)
	} else {
		cs, err = list(r, r.scanAlertChannel,
			`SELECT `+alertChannelCols+` FROM alert_channels WHERE client_id = ? ORDER BY id`, clientID)
	}
	return cs, wrap("list alert channels", err)
}

func (w *writeTx) CreateAlertChannel(c *store.AlertChannel) error {
	if c.ClientID != "" {
		if err := w.clientExists(c.ClientID); err != nil {
			return err
		}
	}
	// Sealed like Site.Secrets: the config holds passwords and URLs that
	// are credentials.
	var config []byte
	if len(c.Config) > 0 {
		plain, err := json.Marshal(c.Config)
		if err != nil {
			return fmt.Errorf("create alert channel: encode config: %w", err)
		}
		config = w.box.Seal(plain, []byte(c.ID))
	}
	_, err := w.exec(`INSERT INTO alert_channels (`+alertChannelCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, strArg(c.ClientID), c.Name, c.Kind, config, timeArg(c.CreateTime))
	if cols, _ := uniqueViolation(err); cols == "alert_channels.id" {
		return conflict("alert channel %q already exists", c.ID)
	}
	return wrap("create alert channel", err)
}

func (w *writeTx) DeleteAlertChannel(id string) error {
	// Its deliveries go with it (ON DELETE CASCADE).
	err := w.execOne(`DELETE FROM alert_channels WHERE id = ?`, id)
	if errors.Is(err, errNoRow) {
		return notFound("alert channel %q", id)
	}
	return wrap("delete alert channel "+id, err)
}

// channelExists returns a not-found error naming the channel if it does not
// exist.
func (r *readTx) channelExists(id string) error {
	ok, err := r.exists(`SELECT 1 FROM alert_channels WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("look up alert channel %s: %w", id, err)
	}
	if !ok {
		return notFound("alert channel %q", id)
	}
	return nil
}

// Deliveries

const alertDeliveryCols = `id, channel_id, event, dedup_key, subject, body, state, attempts, last_error,
	next_attempt, create_time, deliver_time`

func scanAlertDelivery(sc scanner) (*store.AlertDelivery, error) {
	d := new(store.AlertDelivery)
	err := sc.Scan(&d.ID, &d.ChannelID, &d.Event, strCol{&d.DedupKey}, &d.Subject, &d.Body, &d.State, &d.Attempts,
		strCol{&d.LastError}, timeCol{&d.NextAttempt}, timeCol{&d.CreateTime}, timeCol{&d.DeliverTime})
	return d, err
}

func (r *readTx) GetAlertDelivery(id string) (*store.AlertDelivery, error) {
	d, err := get(r, scanAlertDelivery, `SELECT `+alertDeliveryCols+` FROM alert_deliveries WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("alert delivery %q", id)
	}
	return d, wrap("get alert delivery "+id, err)
}

// DueAlertDeliveries names the state store.AlertDeliveryPending as a literal,
// not a parameter, so that the partial index on pending deliveries applies.
func (r *readTx) DueAlertDeliveries(now time.Time, limit int) ([]*store.AlertDelivery, error) {
	ds, err := list(r, scanAlertDelivery, `SELECT `+alertDeliveryCols+` FROM alert_deliveries
		WHERE state = 'pending' AND (next_attempt IS NULL OR next_attempt <= ?)
		ORDER BY create_time, id LIMIT ?`, timeArg(now), pageLimit(store.Page{Limit: limit}))
	return ds, wrap("list due alert deliveries", err)
}

// ListAlertDeliveries lists deliveries newest (highest id) first.
func (r *readTx) ListAlertDeliveries(channelID string, p store.Page) ([]*store.AlertDelivery, error) {
	q := `SELECT ` + alertDeliveryCols + ` FROM alert_deliveries WHERE 1`
	var args []any
	if channelID != "" {
		q += ` AND channel_id = ?`
		args = append(args, channelID)
	}
	if p.After != "" {
		q += ` AND id < ?`
		args = append(args, p.After)
	}
	ds, err := list(r, scanAlertDelivery, q+` ORDER BY id DESC LIMIT ?`, append(args, pageLimit(p))...)
	return ds, wrap("list alert deliveries", err)
}

func alertDeliveryConflict(d *store.AlertDelivery, err error) error {
	switch cols, _ := uniqueViolation(err); cols {
	case "alert_deliveries.channel_id, alert_deliveries.dedup_key":
		return conflict("alert channel %q already has a delivery with dedup key %q", d.ChannelID, d.DedupKey)
	case "alert_deliveries.id":
		return conflict("alert delivery %q already exists", d.ID)
	}
	return err
}

func (w *writeTx) CreateAlertDelivery(d *store.AlertDelivery) error {
	if err := w.channelExists(d.ChannelID); err != nil {
		return err
	}
	_, err := w.exec(`INSERT INTO alert_deliveries (`+alertDeliveryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.ChannelID, d.Event, strArg(d.DedupKey), d.Subject, d.Body, d.State, d.Attempts,
		strArg(d.LastError), timeArg(d.NextAttempt), timeArg(d.CreateTime), timeArg(d.DeliverTime))
	return wrap("create alert delivery", alertDeliveryConflict(d, err))
}

func (w *writeTx) UpdateAlertDelivery(d *store.AlertDelivery) error {
	if err := w.channelExists(d.ChannelID); err != nil {
		return err
	}
	err := w.execOne(`UPDATE alert_deliveries SET (channel_id, event, dedup_key, subject, body, state, attempts,
		last_error, next_attempt, deliver_time) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ?`,
		d.ChannelID, d.Event, strArg(d.DedupKey), d.Subject, d.Body, d.State, d.Attempts,
		strArg(d.LastError), timeArg(d.NextAttempt), timeArg(d.DeliverTime), d.ID)
	if errors.Is(err, errNoRow) {
		return notFound("alert delivery %q", d.ID)
	}
	return wrap("update alert delivery "+d.ID, alertDeliveryConflict(d, err))
}
