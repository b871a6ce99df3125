//go:build !amd64

package frame

// box32SIMD: no SIMD version of the 3:2 kernel on this architecture.
const box32SIMD = false

func vbox32(d0, d1, r0, r1, r2 []byte) { vbox32Go(d0, d1, r0, r1, r2, 0) }
func hbox32(out, in []byte)            { hbox32Go(out, in, 0) }
