package testutil

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

// Update commits fn to st or fails the test.
func Update(t testing.TB, st *store.Store, fn func(*model.Settings) error) {
	t.Helper()
	if _, err := st.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// AddTransmission decodes body (a stored transmission's JSON), stamps its
// times and appends it to st's transmissions.
func AddTransmission(t testing.TB, st *store.Store, body string) model.Transmission {
	t.Helper()
	tr, err := model.DecodeTransmission(json.RawMessage(body))
	if err != nil {
		t.Fatal(err)
	}
	tr.StampMissing(time.Now())
	Update(t, st, func(s *model.Settings) error {
		s.Transmissions = append(s.Transmissions, tr)
		return nil
	})
	return tr
}
