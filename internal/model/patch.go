package model

import (
	"bytes"
	"encoding/json"
	"time"
)

// ApplyPatch returns current with a PATCH /settings body merged in: objects
// merge recursively, lists and scalars replace, null members are ignored.
// A transmission sent without created_at keeps the stored one when its id is
// known. The merged whole is decoded and checked like a stored document, so
// an invalid patch changes nothing and says what is wrong.
func ApplyPatch(current Settings, patch json.RawMessage, now time.Time) (Settings, error) {
	r := newReader("body")
	pm, ok := r.object(patch)
	if !ok {
		return current, r.err()
	}
	r.forbidExtra(pm, "transmissions", "engine", "runtime")
	if err := r.err(); err != nil {
		return current, err
	}

	base, err := toGeneric(current)
	if err != nil {
		return current, err
	}
	var p map[string]any
	if err := decodeGeneric(patch, &p); err != nil {
		return current, err
	}
	keepCreatedAt(p, current)
	merged, err := json.Marshal(mergeObjects(base.(map[string]any), p))
	if err != nil {
		return current, err
	}
	return DecodeSettings(merged, now, "body")
}

// keepCreatedAt fills created_at of patched transmissions whose id exists.
func keepCreatedAt(patch map[string]any, current Settings) {
	items, _ := patch["transmissions"].([]any)
	for _, item := range items {
		obj, ok := item.(map[string]any)
		if !ok || obj["created_at"] != nil {
			continue
		}
		id, _ := obj["id"].(string)
		if i := current.Find(id); i >= 0 && id != "" {
			obj["created_at"] = FormatTime(current.Transmissions[i].CreatedAt)
		}
	}
}

func mergeObjects(base, patch map[string]any) map[string]any {
	for k, pv := range patch {
		if pv == nil {
			continue
		}
		bo, baseIsObj := base[k].(map[string]any)
		po, patchIsObj := pv.(map[string]any)
		if baseIsObj && patchIsObj {
			base[k] = mergeObjects(bo, po)
			continue
		}
		base[k] = pv
	}
	return base
}

func toGeneric(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var g any
	err = decodeGeneric(raw, &g)
	return g, err
}

// decodeGeneric keeps numbers as json.Number so they survive the round trip.
func decodeGeneric(raw []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(dst)
}
