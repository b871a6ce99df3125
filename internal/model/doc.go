// Package model holds the streaming domain: transmissions, their outputs and the
// engine settings, with every default, range and rule the API promises, the
// engine-path rules and the whole-settings uniqueness checks.
//
// It is pure: no I/O, no clocks except the ones callers pass in, no goroutines.
// Decoding collects every field error at once (FastAPI-style locations) so the
// API can answer a bad request with the full list instead of the first problem.
package model
