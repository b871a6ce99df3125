package model

// ForAnswer returns the copy of the transmission an API answer shows: each
// output's authentication tells "password_set", and unless includeSecrets
// its password is left out (null).
func (t Transmission) ForAnswer(includeSecrets bool) Transmission {
	outputs := make([]Output, len(t.Outputs))
	for i, o := range t.Outputs {
		if o.Authentication != nil {
			a := *o.Authentication
			a.answer = true
			a.passwordSet = a.Password != nil && *a.Password != ""
			if !includeSecrets {
				a.Password = nil
			}
			o.Authentication = &a
		}
		outputs[i] = o
	}
	t.Outputs = outputs
	return t
}

// ForAnswer returns the copy of the settings an API answer shows (see
// Transmission.ForAnswer).
func (s Settings) ForAnswer(includeSecrets bool) Settings {
	ts := make([]Transmission, len(s.Transmissions))
	for i, t := range s.Transmissions {
		ts[i] = t.ForAnswer(includeSecrets)
	}
	s.Transmissions = ts
	return s
}

// KeepOutputPasswords gives every output of next whose authentication has
// no password (omitted or null) the password stored for the same output
// (same transmission id and output id) in prev, so a client that saves what
// it read, passwords left out, changes nothing it did not mean to. An empty
// string clears a password.
func KeepOutputPasswords(prev []Transmission, next []Transmission) {
	stored := map[[2]string]*string{}
	for _, t := range prev {
		for _, o := range t.Outputs {
			if o.Authentication != nil && o.Authentication.Password != nil {
				stored[[2]string{t.ID, o.ID}] = o.Authentication.Password
			}
		}
	}
	for i := range next {
		t := &next[i]
		for j := range t.Outputs {
			a := t.Outputs[j].Authentication
			if a == nil || a.Password != nil || a.cleared {
				continue
			}
			if p, ok := stored[[2]string{t.ID, t.Outputs[j].ID}]; ok {
				kept := *a
				kept.Password = p
				t.Outputs[j].Authentication = &kept
			}
		}
	}
}
