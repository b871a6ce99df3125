// Package encoder turns raw BGR24 frames into H.264 access units with an
// ffmpeg child used purely as a codec: frames go in on its stdin, H.264 in
// FLV comes out on its stdout, and the package splits that into access
// units (NAL units without start codes) stamped with the timestamps the
// caller gave the frames. It owns the ffmpeg command line of every
// encoder and latency profile, the probe that decides which encoder really
// runs on this machine (falling back to libx264), and the supervision of
// the child through publisher.Process (restart with backoff; the output
// resumes with an IDR carrying SPS and PPS).
//
// It must never make ffmpeg a network client: no URL, no credential, no
// network option ever reaches its command line. Publishing the access
// units is the caller's business.
package encoder
