//go:build !amd64

package frame

// hasSIMD: no SIMD kernels on this architecture.
const hasSIMD = false

func vbox32(d0, d1, r0, r1, r2 []byte)  { vbox32Go(d0, d1, r0, r1, r2, 0) }
func hbox32(out, in []byte)             { hbox32Go(out, in, 0) }
func vbox43(d, x, y, z []byte)          { vbox43Go(d, x, y, z, 0) }
func hbox43(out, in []byte)             { hbox43Go(out, in, 0) }
func avgRows(_, _, _ []byte) int        { return 0 }
func pairMeans(_, _ []byte, _ bool) int { return 0 }
