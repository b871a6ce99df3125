package frame

// useSIMD selects the SIMD kernels (simd_amd64.go): the 3:2 box filter for
// the plans built from now on, and the row averages of the halving stages.
// It is true where the CPU can run them; tests set it to false to run the
// portable code on the same input.
var useSIMD = hasSIMD
